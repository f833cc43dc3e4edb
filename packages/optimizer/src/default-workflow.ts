/**
 * The built-in workflow `fuselab optimize` runs when no `--workflow` is given: cleanup first (so
 * fusion patterns see plain graphs), then fusions, then dead code. Passes not (yet) registered in
 * this build are left out.
 */
import { PASSES } from './registry.ts';
import { WORKFLOW_FORMAT, WORKFLOW_VERSION, type Workflow } from './workflow.ts';

export const DEFAULT_PASS_ORDER = [
  'fold-constants',
  'eliminate-identity',
  'eliminate-common-subexpressions',
  'simplify-chains',
  'fold-shapes',
  'fuse-bias',
  'fuse-layer-norm',
  'fuse-rms-norm',
  'fuse-skip-layer-norm',
  'fuse-gelu',
  'fuse-attention',
  'eliminate-dead-code',
];

export function defaultWorkflow(): Workflow {
  return {
    format: WORKFLOW_FORMAT,
    version: WORKFLOW_VERSION,
    name: 'default: cleanup + fusion',
    passes: DEFAULT_PASS_ORDER.filter((p) => PASSES.has(p)).map((pass) => ({ pass })),
    fixedPoint: true,
  };
}
