/**
 * Elementwise ops: unary math and activations, broadcasting binary arithmetic, comparisons and
 * logic, Where, Cast/CastLike, Clip, Identity, Dropout, Softmax/LogSoftmax, Trilu. Integer
 * arithmetic on known small tensors is evaluated (symbolically where it can be), which is how
 * `Shape → Gather → Mul → Concat → Reshape` chains get symbolic targets.
 */
import { dtypeFromOnnx, type DType } from '../ir/dtype.ts';
import { arith, broadcastShapes, castValue, compare, evalBroadcast, normalizeAxis, passThrough, type ScalarFn } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema, type PortSpec, type TensorData } from './schema.ts';

const X: PortSpec[] = [{ name: 'X' }];
const Y: PortSpec[] = [{ name: 'Y' }];
const INPUT: PortSpec[] = [{ name: 'input' }];
const OUTPUT: PortSpec[] = [{ name: 'output' }];

/** Same type and shape as the input; data is mapped when `f` is given and the input is known. */
function unary(opType: string, since: number, doc: string, io: 'XY' | 'io', options: { attrs?: Record<string, AttrSpec>; f?: (x: number) => number; outDType?: DType; keepSymbols?: boolean } = {}): OpSchema {
  return defineOp({
    domain: '',
    opType,
    since,
    doc,
    inputs: io === 'XY' ? X : INPUT,
    outputs: io === 'XY' ? Y : OUTPUT,
    attrs: options.attrs,
    inferShape(ctx) {
      const t = ctx.input(0);
      const dtype = options.outDType ?? t?.dtype ?? null;
      const f = options.f;
      const data = f ? ctx.inputData(0) : null;
      const keep = options.keepSymbols;
      const out: TensorData | null = data && f && dtype
        ? { dtype, dims: data.dims, values: data.values.map((v) => (typeof v === 'number' ? castNumber(f(v), dtype) : keep ? v : null)) }
        : null;
      ctx.setOutput(0, dtype, t?.shape ?? null, out);
    },
  });
}

function castNumber(v: number, dtype: DType): number | null {
  const c = castValue(v, dtype);
  return typeof c === 'number' ? c : null;
}

/** Broadcasting binary op with inputs A, B and output C. */
function binary(opType: string, since: number, doc: string, kind: 'arith' | 'compare' | 'logic', f?: (dtype: DType, ctx: InferenceContext) => ScalarFn | null, attrs?: Record<string, AttrSpec>, names: [string, string, string] = ['A', 'B', 'C']): OpSchema {
  return defineOp({
    domain: '',
    opType,
    since,
    doc,
    inputs: [{ name: names[0] }, { name: names[1] }],
    outputs: [{ name: names[2] }],
    attrs,
    inferShape(ctx) {
      const a = ctx.input(0);
      const b = ctx.input(1);
      const shape = broadcastShapes(ctx, [a?.shape ?? null, b?.shape ?? null]);
      if (kind === 'arith' && a?.dtype && b?.dtype && a.dtype !== b.dtype && opType !== 'Pow') {
        ctx.fail(`input types differ: ${a.dtype} and ${b.dtype}`);
      }
      const dtype = kind === 'arith' ? a?.dtype ?? b?.dtype ?? null : 'bool';
      let data: TensorData | null = null;
      const d0 = f && dtype ? ctx.inputData(0) : null;
      const d1 = d0 ? ctx.inputData(1) : null;
      if (f && dtype && d0 && d1) {
        const g = f(a?.dtype ?? dtype, ctx);
        data = g && evalBroadcast([d0, d1], dtype, (args) => g(args[0], args[1]));
      }
      ctx.setOutput(0, dtype, shape, data);
    },
  });
}

/** Variadic broadcasting op (Max, Min, Sum, Mean). */
function variadic(opType: string, since: number, doc: string, out: string, f?: (dtype: DType) => ScalarFn): OpSchema {
  return defineOp({
    domain: '',
    opType,
    since,
    doc,
    inputs: [{ name: 'data_0', variadic: true }],
    outputs: [{ name: out }],
    inferShape(ctx) {
      const shapes = [];
      let dtype: DType | null = null;
      for (let i = 0; i < ctx.inputCount; i++) {
        if (!ctx.hasInput(i)) continue;
        shapes.push(ctx.inputShape(i));
        dtype ??= ctx.inputDType(i);
      }
      const shape = broadcastShapes(ctx, shapes);
      let data: TensorData | null = null;
      const datas: Array<TensorData | null> = [];
      for (let i = 0; f && i < ctx.inputCount; i++) {
        if (!ctx.hasInput(i)) continue;
        const d = ctx.inputData(i);
        datas.push(d);
        if (!d) break;
      }
      if (f && dtype && datas.every((d) => d !== null)) {
        const g = f(dtype);
        data = evalBroadcast(datas, dtype, (args) => args.reduce((x, y) => g(x, y)));
      }
      ctx.setOutput(0, dtype, shape, data);
    },
  });
}

const logicOf = (f: (a: boolean, b: boolean) => boolean): (() => ScalarFn) => () => (a, b) =>
  typeof a === 'number' && typeof b === 'number' ? (f(a !== 0, b !== 0) ? 1 : 0) : null;

/** Input `to` attribute (an ONNX TensorProto.DataType number) as a DType; fails when unknown. */
function castTarget(ctx: InferenceContext): DType {
  const code = ctx.attrInt('to');
  const dtype = dtypeFromOnnx(code);
  if (!dtype) ctx.fail(`attribute 'to' is ${code}, not a known ONNX data type`);
  return dtype;
}

function castInfer(ctx: InferenceContext, to: DType): void {
  const t = ctx.input(0);
  const data = ctx.inputData(0);
  const out = data ? { dtype: to, dims: data.dims, values: data.values.map((v) => castValue(v, to)) } : null;
  ctx.setOutput(0, to, t?.shape ?? null, out);
}

const SATURATE: AttrSpec = { type: 'int', default: 1, doc: 'Float8 targets: clamp out-of-range values to the largest finite value (1) or not (0).' };
const ROUND_MODE: AttrSpec = { type: 'string', default: 'up', doc: "Rounding for float8e8m0 targets: 'up', 'down' or 'nearest'." };

function castOp(since: number, attrs: Record<string, AttrSpec>): OpSchema {
  return defineOp({
    domain: '', opType: 'Cast', since, doc: "Converts elements to the type given by 'to'.",
    inputs: INPUT, outputs: OUTPUT,
    attrs: { to: { type: 'int', required: true, doc: 'Target element type (TensorProto.DataType).' }, ...attrs },
    inferShape: (ctx) => castInfer(ctx, castTarget(ctx)),
  });
}

function castLikeOp(since: number, attrs: Record<string, AttrSpec>): OpSchema {
  return defineOp({
    domain: '', opType: 'CastLike', since, doc: 'Converts elements to the element type of target_type.',
    inputs: [{ name: 'input' }, { name: 'target_type' }], outputs: OUTPUT, attrs,
    inferShape(ctx) {
      const to = ctx.inputDType(1);
      if (to) castInfer(ctx, to);
      else ctx.setOutput(0, null, ctx.inputShape(0));
    },
  });
}

function softmaxLike(opType: string, since: number, doc: string, defaultAxis: number): OpSchema {
  return defineOp({
    domain: '', opType, since, doc, inputs: INPUT, outputs: OUTPUT,
    attrs: { axis: { type: 'int', default: defaultAxis, doc: 'The axis the normalization runs along.' } },
    inferShape(ctx) {
      const r = ctx.inputRank(0);
      if (r !== null && r > 0) normalizeAxis(ctx, ctx.attrInt('axis'), r);
      passThrough(ctx);
    },
  });
}

function clipData(ctx: InferenceContext, lo: number | null, hi: number | null): TensorData | null {
  const d = ctx.inputData(0);
  if (!d) return null;
  return {
    ...d,
    values: d.values.map((v) => (typeof v === 'number' ? Math.min(hi ?? Infinity, Math.max(lo ?? -Infinity, v)) : lo !== null && lo <= 0 && hi === null ? v : null)),
  };
}

/** Elementwise op schemas. */
export const elementwiseOps: readonly OpSchema[] = [
  // ---- unary math and activations ----
  unary('Abs', 6, 'Absolute value, elementwise.', 'XY', { f: Math.abs, keepSymbols: true }),
  unary('Neg', 6, 'Negation, elementwise.', 'XY', { f: (x) => -x }),
  unary('Sqrt', 6, 'Square root, elementwise.', 'XY', { f: Math.sqrt }),
  unary('Reciprocal', 6, '1/x, elementwise.', 'XY', { f: (x) => 1 / x }),
  unary('Exp', 6, 'e^x, elementwise.', 'io', { f: Math.exp }),
  unary('Log', 6, 'Natural logarithm, elementwise.', 'io', { f: Math.log }),
  unary('Erf', 9, 'Gauss error function, elementwise.', 'io'),
  unary('Tanh', 6, 'Hyperbolic tangent, elementwise.', 'io', { f: Math.tanh }),
  unary('Sigmoid', 6, '1/(1+e^-x), elementwise.', 'XY'),
  unary('Relu', 6, 'max(x, 0), elementwise.', 'XY', { f: (x) => Math.max(x, 0), keepSymbols: true }),
  unary('Floor', 6, 'Round down, elementwise.', 'XY', { f: Math.floor, keepSymbols: true }),
  unary('Ceil', 6, 'Round up, elementwise.', 'XY', { f: Math.ceil, keepSymbols: true }),
  unary('Round', 11, 'Round half to even, elementwise.', 'XY', { f: roundHalfEven, keepSymbols: true }),
  unary('Sign', 9, 'Sign (-1, 0, 1), elementwise.', 'io', { f: Math.sign }),
  unary('Sin', 7, 'Sine, elementwise.', 'io', { f: Math.sin }),
  unary('Cos', 7, 'Cosine, elementwise.', 'io', { f: Math.cos }),
  unary('Softplus', 1, 'log(1 + e^x), elementwise.', 'XY'),
  unary('Mish', 18, 'x * tanh(softplus(x)), elementwise.', 'XY'),
  unary('HardSwish', 14, 'x * max(0, min(1, x/6 + 1/2)), elementwise.', 'XY'),
  unary('LeakyRelu', 16, 'x if x >= 0 else alpha * x, elementwise.', 'XY', { attrs: { alpha: { type: 'float', default: 0.009999999776482582, doc: 'Slope for x < 0.' } } }),
  unary('Elu', 6, 'x if x >= 0 else alpha * (e^x - 1), elementwise.', 'XY', { attrs: { alpha: { type: 'float', default: 1, doc: 'Scale for x < 0.' } } }),
  unary('Selu', 6, 'Scaled exponential linear unit, elementwise.', 'XY', {
    attrs: { alpha: { type: 'float', default: 1.6732631921768188, doc: 'Alpha.' }, gamma: { type: 'float', default: 1.0507010221481323, doc: 'Gamma.' } },
  }),
  unary('HardSigmoid', 6, 'max(0, min(1, alpha * x + beta)), elementwise.', 'XY', {
    attrs: { alpha: { type: 'float', default: 0.20000000298023224, doc: 'Slope.' }, beta: { type: 'float', default: 0.5, doc: 'Offset.' } },
  }),
  unary('Gelu', 20, "Gaussian error linear unit, exact or with the tanh approximation ('tanh').", 'XY', {
    attrs: { approximate: { type: 'string', default: 'none', doc: "'none' (erf) or 'tanh'." } },
  }),
  unary('Not', 1, 'Logical not, elementwise.', 'XY', { f: (x) => (x ? 0 : 1), outDType: 'bool' }),
  unary('IsNaN', 9, 'True where the element is NaN.', 'XY', { f: (x) => (Number.isNaN(x) ? 1 : 0), outDType: 'bool' }),
  unary('IsInf', 10, 'True where the element is +/-infinity (as selected).', 'XY', {
    outDType: 'bool',
    attrs: {
      detect_negative: { type: 'int', default: 1, doc: 'Map -inf to true.' },
      detect_positive: { type: 'int', default: 1, doc: 'Map +inf to true.' },
    },
  }),
  defineOp({
    domain: '', opType: 'Identity', since: 1, doc: 'Passes the input through unchanged.', inputs: INPUT, outputs: OUTPUT,
    inferShape(ctx) {
      const t = ctx.inputType(0);
      if (t && t.kind !== 'tensor') ctx.setOutputType(0, t);
      else ctx.setOutput(0, ctx.inputDType(0), ctx.inputShape(0), ctx.inputData(0));
    },
  }),
  defineOp({
    domain: '', opType: 'PRelu', since: 9, doc: 'x if x >= 0 else slope * x, with slope broadcast to x.',
    inputs: [{ name: 'X' }, { name: 'slope' }], outputs: Y,
    inferShape(ctx) {
      ctx.setOutput(0, ctx.inputDType(0), broadcastShapes(ctx, [ctx.inputShape(0), ctx.inputShape(1)]));
    },
  }),

  // ---- binary arithmetic ----
  binary('Add', 7, 'A + B with numpy broadcasting.', 'arith', (t) => arith('Add', t)),
  binary('Sub', 7, 'A - B with numpy broadcasting.', 'arith', (t) => arith('Sub', t)),
  binary('Mul', 7, 'A * B with numpy broadcasting.', 'arith', (t) => arith('Mul', t)),
  binary('Div', 7, 'A / B with numpy broadcasting (integer division truncates).', 'arith', (t) => arith('Div', t)),
  binary('Pow', 7, 'X ^ Y with numpy broadcasting; the result has the type of X.', 'arith', (t) => arith('Pow', t), undefined, ['X', 'Y', 'Z']),
  binary('Mod', 10, 'Remainder of A / B (sign of the divisor unless fmod=1).', 'arith', (t, ctx) => (ctx.attrInt('fmod') ? null : arith('Mod', t)), {
    fmod: { type: 'int', default: 0, doc: '1: C fmod semantics (sign of the dividend); required for floats.' },
  }),
  variadic('Max', 8, 'Elementwise maximum of the inputs, broadcast.', 'max', (t) => arith('Max', t)),
  variadic('Min', 8, 'Elementwise minimum of the inputs, broadcast.', 'min', (t) => arith('Min', t)),
  variadic('Sum', 8, 'Elementwise sum of the inputs, broadcast.', 'sum', (t) => arith('Add', t)),
  variadic('Mean', 8, 'Elementwise mean of the inputs, broadcast.', 'mean'),

  // ---- comparisons and logic ----
  binary('Equal', 7, 'A == B, elementwise with broadcasting.', 'compare', () => compare('Equal')),
  binary('Less', 7, 'A < B, elementwise with broadcasting.', 'compare', () => compare('Less')),
  binary('Greater', 7, 'A > B, elementwise with broadcasting.', 'compare', () => compare('Greater')),
  binary('LessOrEqual', 12, 'A <= B, elementwise with broadcasting.', 'compare', () => compare('LessOrEqual')),
  binary('GreaterOrEqual', 12, 'A >= B, elementwise with broadcasting.', 'compare', () => compare('GreaterOrEqual')),
  binary('And', 7, 'Logical and, elementwise with broadcasting.', 'logic', logicOf((a, b) => a && b)),
  binary('Or', 7, 'Logical or, elementwise with broadcasting.', 'logic', logicOf((a, b) => a || b)),
  binary('Xor', 7, 'Logical xor, elementwise with broadcasting.', 'logic', logicOf((a, b) => a !== b)),
  defineOp({
    domain: '', opType: 'Where', since: 9, doc: 'Picks X where condition is true, else Y (all three broadcast).',
    inputs: [{ name: 'condition' }, { name: 'X' }, { name: 'Y' }], outputs: OUTPUT,
    inferShape(ctx) {
      const shape = broadcastShapes(ctx, [ctx.inputShape(0), ctx.inputShape(1), ctx.inputShape(2)]);
      const dtype = ctx.inputDType(1) ?? ctx.inputDType(2);
      const cond = dtype ? ctx.inputData(0) : null;
      const data = cond
        ? evalBroadcast([cond, ctx.inputData(1), ctx.inputData(2)], dtype as DType, ([c, x, y]) => (c === null ? (x === y ? x : null) : c ? x : y))
        : null;
      ctx.setOutput(0, dtype, shape, data);
    },
  }),

  // ---- conversions ----
  castOp(6, {}),
  castOp(19, { saturate: SATURATE }),
  castOp(24, { round_mode: ROUND_MODE, saturate: SATURATE }),
  castLikeOp(15, {}),
  castLikeOp(19, { saturate: SATURATE }),
  castLikeOp(24, { round_mode: ROUND_MODE, saturate: SATURATE }),

  // ---- clipping, dropout, softmax ----
  defineOp({
    domain: '', opType: 'Clip', since: 6, doc: 'Limits elements to [min, max] (bounds as attributes).', inputs: INPUT, outputs: OUTPUT,
    attrs: {
      max: { type: 'float', default: 3.4028234663852886e38, doc: 'Upper bound.' },
      min: { type: 'float', default: -3.4028234663852886e38, doc: 'Lower bound.' },
    },
    inferShape(ctx) {
      ctx.setOutput(0, ctx.inputDType(0), ctx.inputShape(0), clipData(ctx, ctx.attrFloat('min'), ctx.attrFloat('max')));
    },
  }),
  defineOp({
    domain: '', opType: 'Clip', since: 11, doc: 'Limits elements to [min, max]; omitted bounds are unbounded.',
    inputs: [{ name: 'input' }, { name: 'min', optional: true }, { name: 'max', optional: true }], outputs: OUTPUT,
    inferShape(ctx) {
      const lo = ctx.hasInput(1) ? ctx.inputNumbers(1)?.[0] ?? null : null;
      const hi = ctx.hasInput(2) ? ctx.inputNumbers(2)?.[0] ?? null : null;
      const known = (!ctx.hasInput(1) || lo !== null) && (!ctx.hasInput(2) || hi !== null);
      ctx.setOutput(0, ctx.inputDType(0), ctx.inputShape(0), known ? clipData(ctx, lo, hi) : null);
    },
  }),
  defineOp({
    domain: '', opType: 'Dropout', since: 12, doc: 'Identity at inference; in training mode, zeroes elements at random.',
    inputs: [{ name: 'data' }, { name: 'ratio', optional: true }, { name: 'training_mode', optional: true }],
    outputs: [{ name: 'output' }, { name: 'mask', optional: true }],
    attrs: { seed: { type: 'int', doc: 'Random seed.' } },
    inferShape(ctx) {
      const t = ctx.input(0);
      ctx.setOutput(0, t?.dtype ?? null, t?.shape ?? null, ctx.inputData(0));
      if (ctx.hasOutput(1)) ctx.setOutput(1, 'bool', t?.shape ?? null);
    },
  }),
  defineOp({
    domain: '', opType: 'Dropout', since: 7, doc: 'Identity at inference; in training, zeroes elements at random.',
    inputs: [{ name: 'data' }], outputs: [{ name: 'output' }, { name: 'mask', optional: true }],
    attrs: { ratio: { type: 'float', default: 0.5, doc: 'Drop probability.' } },
    inferShape(ctx) {
      const t = ctx.input(0);
      ctx.setOutput(0, t?.dtype ?? null, t?.shape ?? null, ctx.inputData(0));
      if (ctx.hasOutput(1)) ctx.setOutput(1, ctx.opset >= 10 ? 'bool' : t?.dtype ?? null, t?.shape ?? null);
    },
  }),
  softmaxLike('Softmax', 1, 'Softmax over the dims from axis on (flattened to 2-D).', 1),
  softmaxLike('Softmax', 13, 'Softmax along axis.', -1),
  softmaxLike('LogSoftmax', 1, 'Log of softmax over the dims from axis on (flattened to 2-D).', 1),
  softmaxLike('LogSoftmax', 13, 'Log of softmax along axis.', -1),
  defineOp({
    domain: '', opType: 'Trilu', since: 14, doc: 'Keeps the upper (or lower) triangle of the last two dims, offset by k.',
    inputs: [{ name: 'input' }, { name: 'k', optional: true }], outputs: OUTPUT,
    attrs: { upper: { type: 'int', default: 1, doc: '1: keep the upper triangle; 0: the lower.' } },
    inferShape(ctx) {
      const r = ctx.inputRank(0);
      if (r !== null && r < 2) ctx.fail(`input must have rank >= 2, got ${r}`);
      passThrough(ctx);
    },
  }),
];

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
