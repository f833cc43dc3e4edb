/**
 * The pass registry: every pass by its stable name. The CLI's `--workflow`, the editor's palette and
 * workflow validation read it.
 */
import type { Pass } from './pass.ts';
import { eliminateCommonSubexpressions } from './passes/eliminate-common-subexpressions.ts';
import { eliminateDeadCode } from './passes/eliminate-dead-code.ts';
import { eliminateIdentity } from './passes/eliminate-identity.ts';
import { foldConstants } from './passes/fold-constants.ts';
import { foldShapes } from './passes/fold-shapes.ts';
import { fuseAttention } from './passes/fuse-attention.ts';
import { fuseBias } from './passes/fuse-bias.ts';
import { fuseGelu } from './passes/fuse-gelu.ts';
import { fuseLayerNorm } from './passes/fuse-layer-norm.ts';
import { fuseRmsNorm } from './passes/fuse-rms-norm.ts';
import { fuseSkipLayerNorm } from './passes/fuse-skip-layer-norm.ts';
import { simplifyChains } from './passes/simplify-chains.ts';
import { convertFp16 } from './passes/convert-fp16.ts';
import { quantizeMatMulNBits } from './passes/quantize-matmul-nbits.ts';
import { quantizeQdq } from './passes/quantize-qdq.ts';

const ALL: Pass[] = [
  foldConstants, foldShapes, eliminateIdentity, simplifyChains, eliminateCommonSubexpressions,
  fuseBias, fuseLayerNorm, fuseRmsNorm, fuseSkipLayerNorm, fuseGelu, fuseAttention,
  eliminateDeadCode,
  // precision (not in the default workflow: chosen with --fp16 / --int8 / --int4 or in the editor)
  convertFp16, quantizeMatMulNBits, quantizeQdq,
];

/** Name → pass, in palette order. */
export const PASSES: ReadonlyMap<string, Pass> = new Map(ALL.map((p) => [p.name, p]));

export function getPass(name: string): Pass {
  const p = PASSES.get(name);
  if (!p) throw new Error(`unknown pass '${name}' (known: ${[...PASSES.keys()].join(', ')})`);
  return p;
}
