/**
 * Ops that move or re-view data without computing on it: Shape, Size, Reshape, Flatten, Squeeze,
 * Unsqueeze, Transpose, Expand, Tile, Concat, Split, Slice, Pad. These carry the shape data of
 * exported graphs (`Shape → Slice → Concat → Reshape`), so each one also propagates known contents.
 */
import type { Dim, Shape } from '../ir/shape.ts';
import { dimAdd, dimDivExact, dimEquals, dimMul, dimProduct, dimSub, dimCeilDiv } from '../symbolic.ts';
import { broadcastShapes, fmt, HUGE, MAX_DATA_ELEMENTS, normalizeAxes, normalizeAxis, unifyDim, unknownShape, vectorData, scalarData } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema, type TensorData } from './schema.ts';

// ---- Shape / Size -------------------------------------------------------------------------------

function shapeInfer(ctx: InferenceContext): void {
  const shape = ctx.inputShape(0);
  if (!shape) {
    ctx.setOutput(0, 'int64', [null]);
    return;
  }
  const r = shape.length;
  const clamp = (x: number): number => Math.min(r, Math.max(0, x < 0 ? x + r : x));
  const start = ctx.hasAttr('start') ? clamp(ctx.attrInt('start')) : 0;
  const end = ctx.hasAttr('end') ? clamp(ctx.attrInt('end')) : r;
  const dims = shape.slice(start, Math.max(start, end));
  ctx.setOutput(0, 'int64', [dims.length], vectorData(dims));
}

// ---- Reshape ------------------------------------------------------------------------------------

function reshapeInfer(ctx: InferenceContext, target: readonly Dim[] | null, allowZero: boolean): void {
  const input = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  if (!target) {
    const ts = ctx.inputShape(1);
    const rank = ts && ts.length === 1 && typeof ts[0] === 'number' ? ts[0] : null;
    ctx.note('the target shape is not a known constant');
    ctx.setOutput(0, dtype, rank === null ? null : unknownShape(rank));
    return;
  }
  const out: Dim[] = [];
  let inferIndex = -1;
  for (let i = 0; i < target.length; i++) {
    const t = target[i];
    if (t === 0 && !allowZero) {
      if (input && i >= input.length) ctx.fail(`target [${target.join(',')}] copies dim ${i} (0) but the input ${fmt(input)} has rank ${input.length}`);
      out.push(input ? input[i] : null);
    } else if (t === -1) {
      if (inferIndex >= 0) ctx.fail(`target [${target.join(',')}] has more than one -1`);
      inferIndex = i;
      out.push(null);
    } else if (typeof t === 'number' && t < 0) {
      ctx.fail(`target [${target.join(',')}] has invalid dim ${t}`);
    } else {
      out.push(t);
    }
  }
  const total = input ? dimProduct(input) : null;
  if (inferIndex >= 0) {
    const known = dimProduct(out.filter((_, i) => i !== inferIndex));
    if (total !== null && known !== null && known !== 0) {
      const q = dimDivExact(total, known);
      if (q === null && typeof total === 'number' && typeof known === 'number') {
        ctx.fail(`cannot reshape ${fmt(input)} (${total} elements) to [${target.join(',')}]: ${total} is not divisible by ${known}`);
      }
      out[inferIndex] = q;
    }
  } else if (total !== null) {
    const product = dimProduct(out);
    if (product !== null && dimEquals(total, product) === false && typeof total === 'number' && typeof product === 'number') {
      ctx.fail(`cannot reshape ${fmt(input)} (${total} elements) to [${target.join(',')}] (${product} elements)`);
    }
  }
  const data = ctx.inputData(0);
  const outData = data && out.every((d) => typeof d === 'number') ? { dtype: data.dtype, dims: out as number[], values: data.values } : null;
  ctx.setOutput(0, dtype, out, outData);
}

// ---- Squeeze / Unsqueeze ------------------------------------------------------------------------

function squeezeInfer(ctx: InferenceContext, axes: number[] | null, axesGiven: boolean): void {
  const input = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  const data = ctx.inputData(0);
  if (!input || (axesGiven && !axes)) {
    ctx.setOutput(0, dtype, null);
    return;
  }
  let keep: Dim[];
  if (!axesGiven || axes!.length === 0) {
    if (input.some((d) => typeof d !== 'number')) {
      ctx.note('Squeeze without axes on a shape with non-static dims');
      ctx.setOutput(0, dtype, null);
      return;
    }
    keep = input.filter((d) => d !== 1);
  } else {
    const norm = new Set(normalizeAxes(ctx, axes!, input.length));
    for (const a of norm) {
      const d = input[a];
      if (typeof d === 'number' && d !== 1) ctx.fail(`cannot squeeze axis ${a} of ${fmt(input)}: its size is ${d}, not 1`);
    }
    keep = input.filter((_, i) => !norm.has(i));
  }
  const outData = data && keep.every((d) => typeof d === 'number') ? { ...data, dims: keep as number[] } : null;
  ctx.setOutput(0, dtype, keep, outData);
}

function unsqueezeInfer(ctx: InferenceContext, axes: number[] | null): void {
  const input = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  if (!input || !axes) {
    ctx.setOutput(0, dtype, null);
    return;
  }
  const rank = input.length + axes.length;
  const norm = new Set(normalizeAxes(ctx, axes, rank));
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : input[k++]);
  const data = ctx.inputData(0);
  const outData = data && out.every((d) => typeof d === 'number') ? { ...data, dims: out as number[] } : null;
  ctx.setOutput(0, dtype, out, outData);
}

// ---- Concat / Split -----------------------------------------------------------------------------

function concatInfer(ctx: InferenceContext): void {
  const shapes: Array<Shape | null> = [];
  const datas: Array<TensorData | null> = [];
  let dtype = null;
  for (let i = 0; i < ctx.inputCount; i++) {
    if (!ctx.hasInput(i)) continue;
    shapes.push(ctx.inputShape(i));
    datas.push(ctx.inputData(i));
    dtype ??= ctx.inputDType(i);
  }
  const known = shapes.filter((s): s is Shape => s !== null);
  if (known.length === 0) {
    ctx.setOutput(0, dtype, null);
    return;
  }
  const rank = known[0].length;
  for (const s of known) if (s.length !== rank) ctx.fail(`inputs have different ranks: ${shapes.map(fmt).join(', ')}`);
  if (rank === 0) ctx.fail('cannot concatenate scalars');
  const axis = normalizeAxis(ctx, ctx.attrInt('axis'), rank);
  const out: Dim[] = unknownShape(rank);
  let sum: Dim = 0;
  for (let i = 0; i < rank; i++) {
    if (i === axis) continue;
    let d: Dim = null;
    let first = true;
    for (const s of known) {
      const u: Dim | undefined = first ? s[i] : unifyDim(d, s[i]);
      if (u === undefined) ctx.fail(`inputs differ on dim ${i} (not the concat axis ${axis}): ${shapes.map(fmt).join(', ')}`);
      d = u;
      first = false;
    }
    out[i] = d;
  }
  for (const s of shapes) sum = s ? dimAdd(sum, s[axis]) : null;
  out[axis] = sum;
  let outData: TensorData | null = null;
  if (rank === 1 && dtype && datas.every((d) => d !== null)) {
    const values = datas.flatMap((d) => d!.values);
    if (values.length <= MAX_DATA_ELEMENTS) outData = vectorData(values, dtype);
  }
  ctx.setOutput(0, dtype, out, outData);
}

function splitInfer(ctx: InferenceContext, sizes: readonly Dim[] | null, sizesGiven: boolean, numOutputs: number | null): void {
  const input = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  const n = ctx.outputCount;
  if (numOutputs !== null && numOutputs !== n) ctx.fail(`num_outputs is ${numOutputs} but the node has ${n} outputs`);
  if (!input) {
    for (let i = 0; i < n; i++) ctx.setOutput(i, dtype, null);
    return;
  }
  const axis = normalizeAxis(ctx, ctx.attrInt('axis'), input.length);
  const d = input[axis];
  let parts: Dim[];
  if (sizesGiven) {
    if (!sizes) {
      parts = unknownShape(n);
    } else {
      if (sizes.length !== n) ctx.fail(`split has ${sizes.length} sizes but the node has ${n} outputs`);
      if (sizes.some((x) => typeof x === 'number' && x < 0)) ctx.fail(`split sizes [${sizes.join(',')}] has a negative size`);
      const total = sizes.reduce<Dim>((a, b) => dimAdd(a, b), 0);
      if (typeof total === 'number' && typeof d === 'number' && total !== d) {
        ctx.fail(`split sizes [${sizes.join(',')}] add up to ${total}, but axis ${axis} of ${fmt(input)} is ${d}`);
      }
      parts = sizes.slice();
    }
  } else if (numOutputs !== null) {
    const chunk = dimCeilDiv(d, n);
    if (typeof d === 'number' && d < n) ctx.fail(`cannot split ${d} elements into ${n} outputs`);
    parts = Array.from({ length: n }, (_, i) => (i < n - 1 ? chunk : chunk === null ? null : dimSub(d, dimMul(chunk, n - 1))));
  } else {
    const each = dimDivExact(d, n);
    if (each === null && typeof d === 'number') ctx.fail(`cannot split axis ${axis} of ${fmt(input)} (${d}) evenly into ${n} outputs`);
    parts = new Array<Dim>(n).fill(each);
  }
  const data = ctx.inputData(0);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const shape = input.slice();
    shape[axis] = parts[i];
    let outData: TensorData | null = null;
    const p = parts[i];
    if (data && data.dims.length === 1 && typeof p === 'number') outData = vectorData(data.values.slice(offset, offset + p), data.dtype);
    offset += typeof p === 'number' ? p : NaN;
    ctx.setOutput(i, dtype, shape, outData);
  }
}

// ---- Slice --------------------------------------------------------------------------------------

/**
 * Length of `[start, end)` by `step` along a dim. Exact for numbers (ONNX clamping rules); for
 * symbols, step 1 assumes the bounds lie inside the dim (what any valid model does).
 */
export function sliceLength(d: Dim, start: Dim, end: Dim, step: Dim): Dim {
  if (typeof step !== 'number') return null;
  if (typeof d === 'number' && typeof start === 'number' && typeof end === 'number') {
    let s = start < 0 ? start + d : start;
    let e = end < 0 ? end + d : end;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, -1), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    return Math.max(0, Math.ceil((e - s) / step));
  }
  if (step === 1) {
    const s: Dim = typeof start === 'number' ? (start >= HUGE ? d : start < 0 ? (start <= -HUGE ? 0 : dimAdd(d, start)) : start) : start;
    const e: Dim = typeof end === 'number' ? (end >= HUGE ? d : end < 0 ? (end <= -HUGE ? 0 : dimAdd(d, end)) : end) : end;
    const len = dimSub(e, s);
    return typeof len === 'number' ? Math.max(0, len) : len;
  }
  if (step === -1 && typeof start === 'number' && typeof end === 'number' && (start === -1 || start >= HUGE) && end <= -HUGE) return d;
  return null;
}

function sliceInfer(ctx: InferenceContext, starts: readonly Dim[] | null, ends: readonly Dim[] | null, axesIn: readonly number[] | null, steps: readonly Dim[] | null): void {
  const input = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  if (!input) {
    ctx.setOutput(0, dtype, null);
    return;
  }
  const r = input.length;
  if (!starts || !ends) {
    // rank is preserved; dims along unknown axes are unknown
    const out: Dim[] = input.slice();
    const axes = axesIn ? normalizeAxes(ctx, axesIn, r) : null;
    for (let i = 0; i < r; i++) if (!axes || axes.includes(i)) out[i] = null;
    ctx.note('the slice bounds are not known constants');
    ctx.setOutput(0, dtype, out);
    return;
  }
  if (starts.length !== ends.length) ctx.fail(`starts has ${starts.length} entries but ends has ${ends.length}`);
  const axes = normalizeAxes(ctx, axesIn ?? starts.map((_, i) => i), r);
  if (axes.length !== starts.length) ctx.fail(`axes has ${axes.length} entries but starts has ${starts.length}`);
  if (steps && steps.length !== starts.length) ctx.fail(`steps has ${steps.length} entries but starts has ${starts.length}`);
  const out: Dim[] = input.slice();
  for (let k = 0; k < axes.length; k++) {
    const step = steps ? steps[k] : 1;
    if (step === 0) ctx.fail('a slice step is 0');
    out[axes[k]] = sliceLength(input[axes[k]], starts[k], ends[k], step);
  }
  let outData: TensorData | null = null;
  const data = ctx.inputData(0);
  if (data && data.dims.length === 1 && axes.length === 1) {
    const d = data.dims[0];
    const s = starts[0];
    const e = ends[0];
    const st = steps ? steps[0] : 1;
    if (typeof s === 'number' && typeof e === 'number' && typeof st === 'number') {
      const len = sliceLength(d, s, e, st) as number;
      let first = s < 0 ? s + d : s;
      first = st > 0 ? Math.min(Math.max(first, 0), d) : Math.min(Math.max(first, -1), d - 1);
      const values: Dim[] = [];
      for (let i = 0; i < len; i++) values.push(data.values[first + i * st]);
      outData = vectorData(values, data.dtype);
    }
  }
  ctx.setOutput(0, dtype, out, outData);
}

// ---- Pad ----------------------------------------------------------------------------------------

function padInfer(ctx: InferenceContext, pads: readonly Dim[] | null, axesIn: readonly number[] | null): void {
  const input = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  if (!input) {
    ctx.setOutput(0, dtype, null);
    return;
  }
  const r = input.length;
  const axes = axesIn ? normalizeAxes(ctx, axesIn, r) : Array.from({ length: r }, (_, i) => i);
  if (!pads) {
    const out = input.slice();
    for (const a of axes) out[a] = null;
    ctx.note('the pads are not known constants');
    ctx.setOutput(0, dtype, out);
    return;
  }
  if (pads.length !== 2 * axes.length) ctx.fail(`pads has ${pads.length} entries; ${2 * axes.length} expected (begin and end for ${axes.length} axes)`);
  const out = input.slice();
  axes.forEach((a, k) => {
    const d = dimAdd(dimAdd(input[a], pads[k]), pads[k + axes.length]);
    if (typeof d === 'number' && d < 0) ctx.fail(`padding axis ${a} of ${fmt(input)} by ${pads[k]} and ${pads[k + axes.length]} leaves ${d} elements`);
    out[a] = d;
  });
  ctx.setOutput(0, dtype, out);
}

const PAD_MODE: AttrSpec = { type: 'string', default: 'constant', doc: "'constant', 'reflect', 'edge' or 'wrap'." };

/** Tensor reshaping and data-movement op schemas. */
export const tensorShapeOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'Shape', since: 1, doc: 'The shape of the input as a 1-D int64 tensor.',
    inputs: [{ name: 'data' }], outputs: [{ name: 'shape' }], inferShape: shapeInfer,
  }),
  defineOp({
    domain: '', opType: 'Shape', since: 15, doc: 'The shape of the input (dims start..end) as a 1-D int64 tensor.',
    inputs: [{ name: 'data' }], outputs: [{ name: 'shape' }],
    attrs: {
      end: { type: 'int', doc: 'End dim (exclusive); negative counts from the back. Default: rank.' },
      start: { type: 'int', default: 0, doc: 'First dim; negative counts from the back.' },
    },
    inferShape: shapeInfer,
  }),
  defineOp({
    domain: '', opType: 'Size', since: 1, doc: 'The number of elements of the input, as an int64 scalar.',
    inputs: [{ name: 'data' }], outputs: [{ name: 'size' }],
    inferShape(ctx) {
      const s = ctx.inputShape(0);
      ctx.setOutput(0, 'int64', [], s ? scalarData(dimProduct(s)) : null);
    },
  }),
  defineOp({
    domain: '', opType: 'Reshape', since: 5, doc: 'Re-views the data with a new shape (0 copies a dim, -1 is inferred).',
    inputs: [{ name: 'data' }, { name: 'shape' }], outputs: [{ name: 'reshaped' }],
    inferShape: (ctx) => reshapeInfer(ctx, ctx.inputDims(1), false),
  }),
  defineOp({
    domain: '', opType: 'Reshape', since: 14, doc: 'Re-views the data with a new shape (0 copies a dim unless allowzero, -1 is inferred).',
    inputs: [{ name: 'data' }, { name: 'shape' }], outputs: [{ name: 'reshaped' }],
    attrs: { allowzero: { type: 'int', default: 0, doc: '1: a 0 in the shape means an empty dim, not a copy.' } },
    inferShape: (ctx) => reshapeInfer(ctx, ctx.inputDims(1), ctx.attrInt('allowzero') === 1),
  }),
  defineOp({
    domain: '', opType: 'Flatten', since: 1, doc: 'Flattens to 2-D: dims before axis, and dims from axis on.',
    inputs: [{ name: 'input' }], outputs: [{ name: 'output' }],
    attrs: { axis: { type: 'int', default: 1, doc: 'Split point; negative counts from the back.' } },
    inferShape(ctx) {
      const s = ctx.inputShape(0);
      const dtype = ctx.inputDType(0);
      if (!s) return ctx.setOutput(0, dtype, [null, null]);
      let axis = ctx.attrInt('axis');
      if (axis < 0) axis += s.length;
      if (axis < 0 || axis > s.length) ctx.fail(`axis ${ctx.attrInt('axis')} is out of range for rank ${s.length}`);
      const out = [dimProduct(s.slice(0, axis)), dimProduct(s.slice(axis))];
      const data = ctx.inputData(0);
      ctx.setOutput(0, dtype, out, data && out.every((d) => typeof d === 'number') ? { ...data, dims: out as number[] } : null);
    },
  }),
  defineOp({
    domain: '', opType: 'Squeeze', since: 1, doc: 'Removes size-1 dims (the given axes, or all of them).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'squeezed' }],
    attrs: { axes: { type: 'ints', doc: 'Axes to remove; all size-1 dims when absent.' } },
    inferShape: (ctx) => squeezeInfer(ctx, ctx.attrInts('axes'), ctx.hasAttr('axes')),
  }),
  defineOp({
    domain: '', opType: 'Squeeze', since: 13, doc: 'Removes size-1 dims (the given axes, or all of them).',
    inputs: [{ name: 'data' }, { name: 'axes', optional: true }], outputs: [{ name: 'squeezed' }],
    inferShape: (ctx) => squeezeInfer(ctx, ctx.hasInput(1) ? ctx.inputNumbers(1) : null, ctx.hasInput(1)),
  }),
  defineOp({
    domain: '', opType: 'Unsqueeze', since: 1, doc: 'Inserts size-1 dims at the given axes (of the output).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'expanded' }],
    attrs: { axes: { type: 'ints', required: true, doc: 'Positions of the new dims in the output.' } },
    inferShape: (ctx) => unsqueezeInfer(ctx, ctx.attrInts('axes')),
  }),
  defineOp({
    domain: '', opType: 'Unsqueeze', since: 13, doc: 'Inserts size-1 dims at the given axes (of the output).',
    inputs: [{ name: 'data' }, { name: 'axes' }], outputs: [{ name: 'expanded' }],
    inferShape(ctx) {
      const axes = ctx.inputNumbers(1);
      if (!axes) ctx.note('the axes are not a known constant');
      unsqueezeInfer(ctx, axes);
    },
  }),
  defineOp({
    domain: '', opType: 'Transpose', since: 1, doc: 'Permutes the dims (reverses them by default).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'transposed' }],
    attrs: { perm: { type: 'ints', doc: 'Output dim i is input dim perm[i]. Default: reversed.' } },
    inferShape(ctx) {
      const s = ctx.inputShape(0);
      const dtype = ctx.inputDType(0);
      const perm = ctx.attrInts('perm');
      if (!s) return ctx.setOutput(0, dtype, perm ? unknownShape(perm.length) : null);
      const p = perm ?? s.map((_, i) => s.length - 1 - i);
      if (p.length !== s.length || new Set(p).size !== p.length || p.some((x) => x < 0 || x >= s.length)) {
        ctx.fail(`perm [${p.join(',')}] is not a permutation of the ${s.length} dims of ${fmt(s)}`);
      }
      const data = ctx.inputData(0);
      ctx.setOutput(0, dtype, p.map((i) => s[i]), s.length <= 1 ? data : null);
    },
  }),
  defineOp({
    domain: '', opType: 'Expand', since: 8, doc: 'Broadcasts the input to the given shape (numpy rules).',
    inputs: [{ name: 'input' }, { name: 'shape' }], outputs: [{ name: 'output' }],
    inferShape(ctx) {
      const s = ctx.inputShape(0);
      const dtype = ctx.inputDType(0);
      let target: readonly Dim[] | null = ctx.inputDims(1);
      if (!target) {
        const ts = ctx.inputShape(1);
        if (ts && ts.length === 1 && typeof ts[0] === 'number') target = unknownShape(ts[0]);
        ctx.note('the target shape is not a known constant');
      }
      if (target?.some((d) => typeof d === 'number' && d < 0)) ctx.fail(`target shape [${target.join(',')}] has a negative dim`);
      ctx.setOutput(0, dtype, target ? broadcastShapes(ctx, [s, target]) : null);
    },
  }),
  defineOp({
    domain: '', opType: 'Tile', since: 6, doc: 'Repeats the input repeats[i] times along each dim i.',
    inputs: [{ name: 'input' }, { name: 'repeats' }], outputs: [{ name: 'output' }],
    inferShape(ctx) {
      const s = ctx.inputShape(0);
      const dtype = ctx.inputDType(0);
      if (!s) return ctx.setOutput(0, dtype, null);
      const reps = ctx.inputDims(1);
      if (reps && reps.length !== s.length) ctx.fail(`repeats has ${reps.length} entries but the input ${fmt(s)} has rank ${s.length}`);
      ctx.setOutput(0, dtype, reps ? s.map((d, i) => dimMul(d, reps[i])) : unknownShape(s.length));
    },
  }),
  defineOp({
    domain: '', opType: 'Concat', since: 4, doc: 'Joins the inputs along axis; the other dims must match.',
    inputs: [{ name: 'inputs', variadic: true }], outputs: [{ name: 'concat_result' }],
    attrs: { axis: { type: 'int', required: true, doc: 'The axis to join along; negative counts from the back.' } },
    inferShape: concatInfer,
  }),
  defineOp({
    domain: '', opType: 'Split', since: 2, doc: 'Splits along axis into parts (sizes from split, else equal).',
    inputs: [{ name: 'input' }], outputs: [{ name: 'outputs', variadic: true }],
    attrs: { axis: { type: 'int', default: 0, doc: 'Axis to split.' }, split: { type: 'ints', doc: 'Part sizes; equal parts when absent.' } },
    inferShape: (ctx) => splitInfer(ctx, ctx.attrInts('split'), ctx.hasAttr('split'), null),
  }),
  defineOp({
    domain: '', opType: 'Split', since: 13, doc: 'Splits along axis into parts (sizes from split, else equal).',
    inputs: [{ name: 'input' }, { name: 'split', optional: true }], outputs: [{ name: 'outputs', variadic: true }],
    attrs: { axis: { type: 'int', default: 0, doc: 'Axis to split.' } },
    inferShape: (ctx) => splitInfer(ctx, ctx.hasInput(1) ? ctx.inputDims(1) : null, ctx.hasInput(1), null),
  }),
  defineOp({
    domain: '', opType: 'Split', since: 18, doc: 'Splits along axis into parts (sizes from split, else num_outputs near-equal parts).',
    inputs: [{ name: 'input' }, { name: 'split', optional: true }], outputs: [{ name: 'outputs', variadic: true }],
    attrs: {
      axis: { type: 'int', default: 0, doc: 'Axis to split.' },
      num_outputs: { type: 'int', doc: 'Number of parts when split is absent; the last may be smaller.' },
    },
    inferShape: (ctx) => splitInfer(ctx, ctx.hasInput(1) ? ctx.inputDims(1) : null, ctx.hasInput(1), ctx.hasAttr('num_outputs') ? ctx.attrInt('num_outputs') : null),
  }),
  defineOp({
    domain: '', opType: 'Slice', since: 1, doc: 'Takes [starts, ends) along the given axes (bounds as attributes).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'output' }],
    attrs: {
      axes: { type: 'ints', doc: 'Axes the bounds apply to. Default: 0..len(starts)-1.' },
      ends: { type: 'ints', required: true, doc: 'End indices (exclusive), clamped to the dim.' },
      starts: { type: 'ints', required: true, doc: 'Start indices, clamped to the dim.' },
    },
    inferShape: (ctx) => sliceInfer(ctx, ctx.attrInts('starts'), ctx.attrInts('ends'), ctx.attrInts('axes'), null),
  }),
  defineOp({
    domain: '', opType: 'Slice', since: 10, doc: 'Takes [starts, ends) by steps along the given axes.',
    inputs: [{ name: 'data' }, { name: 'starts' }, { name: 'ends' }, { name: 'axes', optional: true }, { name: 'steps', optional: true }],
    outputs: [{ name: 'output' }],
    inferShape(ctx) {
      const axes = ctx.hasInput(3) ? ctx.inputNumbers(3) : null;
      if (ctx.hasInput(3) && !axes) {
        ctx.note('the slice axes are not a known constant');
        const s = ctx.inputShape(0);
        return ctx.setOutput(0, ctx.inputDType(0), s ? unknownShape(s.length) : null);
      }
      const steps = ctx.hasInput(4) ? ctx.inputDims(4) : null;
      if (ctx.hasInput(4) && !steps) return sliceInfer(ctx, null, null, axes, null);
      sliceInfer(ctx, ctx.inputDims(1), ctx.inputDims(2), axes, steps);
    },
  }),
  defineOp({
    domain: '', opType: 'Pad', since: 2, doc: 'Pads each dim by pads[begin..., end...] (pads as an attribute).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'output' }],
    attrs: { mode: PAD_MODE, pads: { type: 'ints', required: true, doc: 'Begin pads for all dims, then end pads.' }, value: { type: 'float', default: 0, doc: 'Fill value for constant mode.' } },
    inferShape: (ctx) => padInfer(ctx, ctx.attrInts('pads'), null),
  }),
  defineOp({
    domain: '', opType: 'Pad', since: 11, doc: 'Pads each dim by pads[begin..., end...].',
    inputs: [{ name: 'data' }, { name: 'pads' }, { name: 'constant_value', optional: true }], outputs: [{ name: 'output' }],
    attrs: { mode: PAD_MODE },
    inferShape: (ctx) => padInfer(ctx, ctx.inputDims(1), null),
  }),
  defineOp({
    domain: '', opType: 'Pad', since: 18, doc: 'Pads the given axes (all by default) by pads[begin..., end...].',
    inputs: [{ name: 'data' }, { name: 'pads' }, { name: 'constant_value', optional: true }, { name: 'axes', optional: true }], outputs: [{ name: 'output' }],
    attrs: { mode: PAD_MODE },
    inferShape(ctx) {
      const axes = ctx.hasInput(3) ? ctx.inputNumbers(3) : null;
      if (ctx.hasInput(3) && !axes) return padInfer(ctx, null, null);
      padInfer(ctx, ctx.inputDims(1), axes);
    },
  }),
];
