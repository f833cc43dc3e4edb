/**
 * Control flow: If, Loop, Scan. Output types come from inferring the subgraphs: both If branches
 * (merged, or the taken branch when the condition is known), Loop bodies run to a fixed point of
 * the loop-carried types, Scan bodies on one slice of the scanned inputs.
 */
import type { Dim } from '../ir/shape.ts';
import { tensorType, type ValueType } from '../ir/value.ts';
import { fmt, joinTypes, normalizeAxis, sameType } from './infer-utils.ts';
import { defineOp, type InferenceContext, type OpSchema } from './schema.ts';

function ifInfer(ctx: InferenceContext): void {
  const thenG = ctx.attrGraph('then_branch');
  const elseG = ctx.attrGraph('else_branch');
  if (!thenG || !elseG) ctx.fail('needs then_branch and else_branch graphs');
  const cond = ctx.inputNumbers(0);
  const t = ctx.inferSubgraph(thenG, []);
  const e = ctx.inferSubgraph(elseG, []);
  const n = ctx.outputCount;
  if (thenG.outputs.length !== n || elseG.outputs.length !== n) {
    ctx.fail(`the node has ${n} outputs but then_branch has ${thenG.outputs.length} and else_branch ${elseG.outputs.length}`);
  }
  for (let i = 0; i < n; i++) {
    if (cond && cond.length === 1) {
      const r = cond[0] ? t : e;
      const ty = r.outputs[i];
      if (ty?.kind === 'tensor') ctx.setOutput(i, ty.dtype, ty.shape, r.data[i]);
      else ctx.setOutputType(i, ty);
      continue;
    }
    const a = t.outputs[i];
    const b = e.outputs[i];
    if (a?.kind === 'tensor' && b?.kind === 'tensor' && a.dtype && b.dtype && a.dtype !== b.dtype) {
      ctx.fail(`output ${i} is ${a.dtype} in then_branch but ${b.dtype} in else_branch`);
    }
    ctx.setOutputType(i, joinTypes(a, b));
  }
}

function loopInfer(ctx: InferenceContext): void {
  const body = ctx.attrGraph('body');
  if (!body) ctx.fail('needs a body graph');
  const nCarried = Math.max(0, ctx.inputCount - 2);
  if (body.inputs.length !== nCarried + 2) ctx.fail(`body has ${body.inputs.length} inputs; ${nCarried + 2} expected (iteration_num, cond, ${nCarried} carried)`);
  const nScan = body.outputs.length - 1 - nCarried;
  if (nScan < 0) ctx.fail(`body has ${body.outputs.length} outputs; at least ${nCarried + 1} expected (cond, ${nCarried} carried)`);
  if (ctx.outputCount > nCarried + nScan) ctx.fail(`the node has ${ctx.outputCount} outputs but the body yields ${nCarried} carried and ${nScan} scan outputs`);
  const head: ValueType[] = [tensorType('int64', []), tensorType('bool', [])];
  let carried: Array<ValueType | null> = [];
  for (let i = 0; i < nCarried; i++) carried.push(ctx.inputType(i + 2));
  let result = ctx.inferSubgraph(body, [...head, ...carried]);
  for (let pass = 0; pass < 3; pass++) {
    const next = carried.map((c, i) => joinTypes(c, result.outputs[i + 1]));
    if (next.every((t, i) => sameType(t, carried[i]))) break;
    carried = next;
    result = ctx.inferSubgraph(body, [...head, ...carried]);
  }
  for (let i = 0; i < nCarried; i++) ctx.setOutputType(i, carried[i]);
  // trip count: M when the body's condition cannot stop the loop early
  const m = ctx.hasInput(0) ? ctx.inputDims(0)?.[0] ?? null : null;
  const condOut = body.outputs[0];
  const condIn = body.inputs[1];
  const passThroughCond = condOut === condIn || (condOut?.producer?.opType === 'Identity' && condOut.producer.inputs[0] === condIn) || result.data[0]?.values[0] === 1;
  const trips: Dim = passThroughCond && (!ctx.hasInput(1) || ctx.inputNumbers(1)?.[0] === 1) ? m : null;
  if (trips === null) ctx.note('the loop trip count is not known');
  for (let k = 0; k < nScan; k++) {
    const t = result.outputs[1 + nCarried + k];
    if (t?.kind === 'tensor') ctx.setOutput(nCarried + k, t.dtype, t.shape ? [trips, ...t.shape] : null);
    else ctx.setOutputType(nCarried + k, null);
  }
}

function scanInfer(ctx: InferenceContext): void {
  const body = ctx.attrGraph('body');
  if (!body) ctx.fail('needs a body graph');
  const m = ctx.attrInt('num_scan_inputs');
  const n = ctx.inputCount - m;
  if (n < 0) ctx.fail(`num_scan_inputs is ${m} but the node has ${ctx.inputCount} inputs`);
  const inAxes = ctx.attrInts('scan_input_axes') ?? new Array<number>(m).fill(0);
  const k = body.outputs.length - n;
  const outAxes = ctx.attrInts('scan_output_axes') ?? new Array<number>(Math.max(k, 0)).fill(0);
  const inputs: Array<ValueType | null> = [];
  for (let i = 0; i < n; i++) inputs.push(ctx.inputType(i));
  let seq: Dim = null;
  for (let j = 0; j < m; j++) {
    const s = ctx.inputShape(n + j);
    if (!s) {
      inputs.push(tensorType(ctx.inputDType(n + j), null));
      continue;
    }
    const axis = normalizeAxis(ctx, inAxes[j] ?? 0, s.length, 'scan_input_axes');
    const len = s[axis];
    if (j === 0 || seq === null) seq = len;
    else if (typeof len === 'number' && typeof seq === 'number' && len !== seq) ctx.fail(`scan input ${j} ${fmt(s)} has length ${len} on its scan axis, input 0 has ${seq}`);
    inputs.push(tensorType(ctx.inputDType(n + j), s.filter((_, i) => i !== axis)));
  }
  const result = ctx.inferSubgraph(body, inputs);
  for (let i = 0; i < n; i++) ctx.setOutputType(i, joinTypes(inputs[i], result.outputs[i]) ?? result.outputs[i]);
  for (let j = 0; j < k; j++) {
    const t = result.outputs[n + j];
    if (t?.kind !== 'tensor' || !t.shape) {
      ctx.setOutput(n + j, t?.kind === 'tensor' ? t.dtype : null, null);
      continue;
    }
    const axis = normalizeAxis(ctx, outAxes[j] ?? 0, t.shape.length + 1, 'scan_output_axes');
    const shape = t.shape.slice();
    shape.splice(axis, 0, seq);
    ctx.setOutput(n + j, t.dtype, shape);
  }
}

const BODY = { type: 'graph', required: true } as const;

/** Control-flow op schemas. */
export const controlFlowOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'If', since: 1, doc: 'Runs then_branch or else_branch depending on cond; both must yield the same outputs.',
    inputs: [{ name: 'cond' }], outputs: [{ name: 'outputs', variadic: true }],
    attrs: {
      else_branch: { ...BODY, doc: 'Graph run when cond is false.' },
      then_branch: { ...BODY, doc: 'Graph run when cond is true.' },
    },
    inferShape: ifInfer,
  }),
  defineOp({
    domain: '', opType: 'Loop', since: 1, doc: 'Runs body up to M times while cond holds; yields the carried values and stacked scan outputs.',
    inputs: [{ name: 'M', optional: true }, { name: 'cond', optional: true }, { name: 'v_initial', optional: true, variadic: true }],
    outputs: [{ name: 'v_final_and_scan_outputs', variadic: true }],
    attrs: { body: { ...BODY, doc: '(iteration_num, cond, carried...) → (cond, carried..., scan outputs...).' } },
    inferShape: loopInfer,
  }),
  defineOp({
    domain: '', opType: 'Scan', since: 9, doc: 'Runs body once per slice of the scan inputs, carrying state; stacks the scan outputs.',
    inputs: [{ name: 'initial_state_and_scan_inputs', variadic: true }], outputs: [{ name: 'final_state_and_scan_outputs', variadic: true }],
    attrs: {
      body: { ...BODY, doc: '(states..., scan slices...) → (states..., scan output slices...).' },
      num_scan_inputs: { type: 'int', required: true, doc: 'How many of the trailing inputs are scanned.' },
      scan_input_axes: { type: 'ints', doc: 'Scan axis of each scan input. Default: 0s.' },
      scan_input_directions: { type: 'ints', doc: '0 forward, 1 reverse, per scan input.' },
      scan_output_axes: { type: 'ints', doc: 'Stacking axis of each scan output. Default: 0s.' },
      scan_output_directions: { type: 'ints', doc: '0 append, 1 prepend, per scan output.' },
    },
    inferShape: scanInfer,
  }),
];
