/**
 * Dead code elimination: removes nodes none of whose outputs are read (by a node or as a graph
 * output), and initializers nothing reads. Runs on subgraphs too. Walks consumers-first so whole
 * dead chains go in one pass.
 */
import type { Graph } from '@fuselab/graph-core';
import { emptyResult, type Pass } from '../pass.ts';

export const eliminateDeadCode: Pass = {
  name: 'eliminate-dead-code',
  description: 'Remove nodes whose outputs are never used, and unused initializers',
  category: 'cleanup',
  params: {},
  run(model) {
    const result = emptyResult(model);
    let nodes = 0;
    let initializers = 0;
    const visit = (g: Graph): void => {
      const order = g.nodes;
      for (let i = order.length - 1; i >= 0; i--) {
        const n = order[i];
        for (const s of n.subgraphs()) visit(s);
        const used = n.outputs.some((v) => v && (v.useCount > 0 || v.isGraphOutput));
        if (used) continue;
        g.removeNode(n);
        result.removed.push({ node: n.name, opType: n.opType, pass: 'eliminate-dead-code', reason: 'no output is used' });
        nodes++;
      }
      for (const v of [...g.initializers.values()]) {
        if (v.useCount === 0 && !v.isGraphOutput && !v.isGraphInput) {
          g.removeInitializer(v);
          initializers++;
        }
      }
    };
    visit(model.graph);
    result.modified = nodes + initializers > 0;
    result.stats = { removedNodes: nodes, removedInitializers: initializers };
    return result;
  },
};
