/**
 * The op registry: every op schema graph-core knows, keyed by domain and type and ordered by opset
 * version. Shape inference, the optimizer's rewrite builder and the editor's node palette all read
 * it. `defaultOpRegistry` holds the built-in families; `registerOp` adds custom ops to it, or make
 * an `OpRegistry` of your own and pass it to `inferShapes`.
 */
import { constantOps } from './constants.ts';
import { contribOps } from './contrib.ts';
import { controlFlowOps } from './control-flow.ts';
import { elementwiseOps } from './elementwise.ts';
import { indexingOps } from './indexing.ts';
import { matmulOps } from './matmul.ts';
import { nnOps } from './nn.ts';
import { normalizationOps } from './normalization.ts';
import { reduceOps } from './reduce.ts';
import { normalizeDomain, OpSchemaError, type OpSchema } from './schema.ts';
import { tensorShapeOps } from './tensor-shape.ts';

export { defineOp } from './schema.ts';

/** A set of op schemas with version-aware lookup. */
export class OpRegistry {
  private readonly byKey = new Map<string, OpSchema[]>();

  constructor(schemas: Iterable<OpSchema> = []) {
    for (const s of schemas) this.register(s);
  }

  /** Adds a schema. A second schema with the same domain, opType and since replaces the first only with `replace`. */
  register(schema: OpSchema, options: { replace?: boolean } = {}): void {
    const list = this.byKey.get(schema.key) ?? [];
    const at = list.findIndex((s) => s.since === schema.since);
    if (at >= 0) {
      if (!options.replace) throw new OpSchemaError(schema.key, `a schema since opset ${schema.since} is already registered (pass { replace: true } to override)`);
      list[at] = schema;
    } else {
      list.push(schema);
      list.sort((a, b) => a.since - b.since);
    }
    this.byKey.set(schema.key, list);
  }

  /**
   * The schema for `opType` in `domain` at opset `version`: the newest one with `since <= version`
   * (the newest of all when `version` is undefined), or undefined.
   */
  lookup(domain: string, opType: string, version?: number): OpSchema | undefined {
    const d = normalizeDomain(domain);
    const list = this.byKey.get(d ? `${d}::${opType}` : opType);
    if (!list) return undefined;
    if (version === undefined) return list[list.length - 1];
    for (let i = list.length - 1; i >= 0; i--) if (list[i].since <= version) return list[i];
    return undefined;
  }

  /** Every version of one op, oldest first. */
  versions(domain: string, opType: string): readonly OpSchema[] {
    const d = normalizeDomain(domain);
    return this.byKey.get(d ? `${d}::${opType}` : opType)?.slice() ?? [];
  }

  /**
   * Schemas for a palette: by default the newest version of each op, sorted by domain then type;
   * `{ allVersions: true }` lists every version; `opsets` picks, per domain, the version in force.
   */
  list(options: { allVersions?: boolean; opsets?: ReadonlyMap<string, number> | Record<string, number> } = {}): OpSchema[] {
    const opsets = options.opsets instanceof Map ? options.opsets : new Map(Object.entries(options.opsets ?? {}));
    const out: OpSchema[] = [];
    for (const list of this.byKey.values()) {
      if (options.allVersions) {
        out.push(...list);
        continue;
      }
      const v = opsets.get(list[0].domain) ?? (list[0].domain === '' ? opsets.get('ai.onnx') : undefined);
      const s = v === undefined ? list[list.length - 1] : this.lookup(list[0].domain, list[0].opType, v);
      if (s) out.push(s);
    }
    return out.sort((a, b) => (a.domain === b.domain ? (a.opType === b.opType ? a.since - b.since : a.opType < b.opType ? -1 : 1) : a.domain < b.domain ? -1 : 1));
  }

  get size(): number {
    let n = 0;
    for (const l of this.byKey.values()) n += l.length;
    return n;
  }
}

/** Every built-in schema, family by family. */
export const builtinOps: readonly OpSchema[] = [
  ...elementwiseOps,
  ...tensorShapeOps,
  ...constantOps,
  ...indexingOps,
  ...matmulOps,
  ...nnOps,
  ...normalizationOps,
  ...reduceOps,
  ...controlFlowOps,
  ...contribOps,
];

/** The registry shape inference uses unless told otherwise. */
export const defaultOpRegistry = new OpRegistry(builtinOps);

/** Looks up a schema in the default registry (see {@link OpRegistry.lookup}). */
export function lookupOp(domain: string, opType: string, opsetVersion?: number): OpSchema | undefined {
  return defaultOpRegistry.lookup(domain, opType, opsetVersion);
}

/** Lists schemas of the default registry (see {@link OpRegistry.list}). */
export function listOps(options?: Parameters<OpRegistry['list']>[0]): OpSchema[] {
  return defaultOpRegistry.list(options);
}

/** Adds a schema to the default registry (custom ops, plugins). */
export function registerOp(schema: OpSchema, options?: { replace?: boolean }): void {
  defaultOpRegistry.register(schema, options);
}
