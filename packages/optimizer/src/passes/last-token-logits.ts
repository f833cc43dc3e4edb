/**
 * Last-token logits: a decoder only needs the logits of the last position to pick the next token,
 * but exports compute (and a runtime reads back) all of them — for a 512-token prompt on a
 * 50k-vocabulary model that is a [512, 50257] LM-head MatMul and 100 MB copied to the CPU. This pass
 * slices the hidden state to its last position right before the LM head:
 *
 *   logits = MatMul(h, W) [+ b]   →   logits = MatMul(Slice(h, -1:, axis 1), W) [+ b]
 *
 * It changes the model's output contract (`logits` becomes [batch, 1, vocab]), so it is not part of
 * the default workflow: `fuselab build` applies it to both the original and the optimized model
 * before validating, and records the change in the engine's IO notes. Rejections say why.
 */
import { Tensor, type Model, type Value } from '@fuselab/graph-core';
import { emptyResult, type Pass, type PassResult } from '../pass.ts';

const PASS = 'last-token-logits';

type Params = {
  output: string;
};

function reject(result: PassResult, node: string, message: string): PassResult {
  result.diagnostics.push({ pass: PASS, rule: 'slice-lm-head', kind: 'rejected', nodes: node ? [node] : [], message });
  return result;
}

export const lastTokenLogits: Pass<Params> = {
  name: PASS,
  description: 'Compute logits for the last position only (changes the logits output to [batch, 1, vocab]; for generation engines)',
  category: 'shape',
  params: {
    output: { type: 'string', default: 'logits', doc: 'The graph output holding the logits.' },
  },
  run(model: Model, _ctx, params): PassResult {
    const result = emptyResult(model);
    const g = model.graph;
    const out = g.outputs.find((o) => o.name === params.output);
    if (!out) return reject(result, '', `no graph output '${params.output}'`);
    // walk back to the LM-head MatMul through a Cast, a bias Add or a scale Mul (per-position ops)
    let node = out.producer;
    const between: Value[] = [];
    for (let hop = 0; hop < 4 && node && node.domain === '' && ['Cast', 'Identity', 'Add', 'Mul', 'Div'].includes(node.opType); hop++) {
      const next = node.inputs.map((v) => v?.producer).find((p) => p && p.output(0).useCount === 1);
      if (!next) break;
      between.push(next.output(0));
      node = next;
    }
    if (!node || node.opType !== 'MatMul' || node.domain !== '') return reject(result, node?.name ?? '', `'${params.output}' is not produced by a MatMul (optionally + bias): found ${node ? `${node.opType} '${node.name}'` : 'no producer'}`);
    const h = node.inputs[0] as Value;
    if (h.shape && h.shape.length !== 3) return reject(result, node.name, `the LM head input '${h.name}' has rank ${h.shape.length}, expected [batch, sequence, hidden]`);
    if (h.shape && h.shape[1] === 1) return reject(result, node.name, `'${h.name}' already has one position`);
    // other readers of h (if any) keep the full hidden state: only the LM head's edge is sliced
    const i64 = (name: string, v: number) => g.addInitializer(Tensor.from('int64', [1], BigInt64Array.of(BigInt(v)), g.uniqueName(name)));
    const slice = g.createNode({
      opType: 'Slice',
      name: g.uniqueName(`${node.name}_last_position`),
      inputs: [h, i64(`${node.name}_last_start`, -1), i64(`${node.name}_last_end`, 2 ** 31 - 1), i64(`${node.name}_last_axis`, 1)],
    });
    const sliced = slice.output(0);
    if (h.dtype) sliced.type = { kind: 'tensor', dtype: h.dtype, shape: h.shape ? [h.shape[0], 1, h.shape[2]] : null };
    node.setInput(0, sliced);
    // the logits (and anything between them and the MatMul) now have one position
    for (const v of [...between, out]) {
      if (v.shape && v.shape.length === 3 && v.dtype) v.type = { kind: 'tensor', dtype: v.dtype, shape: [v.shape[0], 1, v.shape[2]] };
    }
    result.modified = true;
    result.stats = { sliced: 1 };
    result.provenance.push({ node: slice.name, opType: 'Slice', sources: [node.name], pass: PASS, rule: 'slice-lm-head' });
    return result;
  },
};
