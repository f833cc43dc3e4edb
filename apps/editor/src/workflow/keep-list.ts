/**
 * From INT8 sensitivity to quantization in one flow. Sensitivity is measured on the model the
 * quantize-qdq step sees (the chain's passes before it: fused names and fused activations, which is
 * what its `exclude` names and `calibration` ranges must match); "apply" then writes the keep-higher
 * list and those ranges into that step — or inserts the step at the chain's end — as one edit, so
 * one undo takes it back.
 */
import type { Workflow } from '@fuselab/optimizer';
import { nextId, passChain, toWorkflow, type Edit, type FlowDoc, type FlowNode, type XY } from './document.ts';
import { PASS_PREFIX } from './kinds.ts';

export const QUANTIZE_KIND = `${PASS_PREFIX}quantize-qdq`;

/** The chain's quantize-qdq step (the first one), or null. */
export function quantizeStep(doc: FlowDoc): FlowNode | null {
  return passChain(doc).find((n) => n.kind === QUANTIZE_KIND) ?? null;
}

/** The passes the quantize step sees: the chain up to it, or the whole chain when there is none yet. */
export function workflowBeforeQuantize(doc: FlowDoc): Workflow {
  const chain = passChain(doc);
  const at = chain.findIndex((n) => n.kind === QUANTIZE_KIND);
  if (at < 0) return toWorkflow(doc);
  const before = at === 0 ? (doc.nodes.find((n) => n.kind === 'source') as FlowNode).id : chain[at - 1].id;
  return toWorkflow(doc, before);
}

export interface KeepList {
  /** MatMul names kept in float (most sensitive first). */
  keep: string[];
  /** The activation ranges sensitivity calibrated (`encodeCalibration` JSON). */
  calibration: string;
  activationSymmetric: boolean;
}

/** A free spot near `at` on the canvas (cards are about 240 × 180). */
function freeSpot(doc: FlowDoc, at: XY): XY {
  const taken = (p: XY) => doc.nodes.some((n) => Math.abs(n.position.x - p.x) < 250 && Math.abs(n.position.y - p.y) < 190);
  for (let ring = 1; ring < 12; ring++) {
    for (const p of [{ x: at.x, y: at.y + 200 * ring }, { x: at.x + 280 * ring, y: at.y }, { x: at.x - 280 * ring, y: at.y + 200 }, { x: at.x + 280 * ring, y: at.y + 200 * ring }]) {
      if (!taken(p)) return p;
    }
  }
  return { x: at.x, y: at.y + 2600 };
}

/**
 * The edit that applies `k`: the keep list becomes `exclude` (the LM head included: the list alone
 * decides what stays float), the ranges `calibration`, and `include` is cleared. Without a
 * quantize-qdq step the edit inserts one after the chain's last pass and moves what read the
 * chain's end (validate, build...) onto it.
 */
export function keepListEdit(doc: FlowDoc, k: KeepList): { edit: Edit; node: string; inserted: boolean } {
  const params: Record<string, unknown> = { exclude: [...k.keep], calibration: k.calibration, activationSymmetric: k.activationSymmetric, lmHead: true, include: [] };
  const existing = quantizeStep(doc);
  if (existing) {
    return { edit: { type: 'group', edits: Object.entries(params).map(([key, value]) => ({ type: 'set-param', node: existing.id, key, value })) }, node: existing.id, inserted: false };
  }
  const chain = passChain(doc);
  const end = chain.at(-1) ?? (doc.nodes.find((n) => n.kind === 'source') as FlowNode);
  const node: FlowNode = { id: nextId(doc), kind: QUANTIZE_KIND, position: freeSpot(doc, end.position), params, enabled: true };
  const readers = doc.edges.filter((e) => e.source === end.id && e.sourceHandle === 'out:model');
  const edits: Edit[] = [
    { type: 'remove', nodeIds: [], edgeIds: readers.map((e) => e.id) },
    { type: 'add-node', node, connectFrom: end.id },
    ...readers.map((e): Edit => ({ type: 'connect', edge: { source: node.id, sourceHandle: 'out:model', target: e.target, targetHandle: e.targetHandle } })),
  ];
  return { edit: { type: 'group', edits }, node: node.id, inserted: true };
}
