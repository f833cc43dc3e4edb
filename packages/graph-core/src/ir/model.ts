/**
 * A model: the main graph plus opset imports, local functions (dynamo exports use them) and metadata.
 */
import type { Attribute } from './attribute.ts';
import { Graph } from './graph.ts';
import type { Value } from './value.ts';

/** A model-local function (FunctionProto). Its body is a Graph whose inputs/outputs are untyped. */
export interface ModelFunction {
  domain: string;
  name: string;
  overload?: string;
  /** Names of the attributes a call may set. */
  attributes: string[];
  /** Attributes with default values (attribute_proto). */
  attributeDefaults: Map<string, Attribute>;
  opsetImports: Map<string, number>;
  body: Graph;
  docString?: string;
  metadata: Map<string, string>;
  unknownFields?: Uint8Array[];
}

/** The key under which a function is found: `domain::name` plus `::overload` when set. */
export function functionKey(domain: string, name: string, overload?: string): string {
  return overload ? `${domain}::${name}::${overload}` : `${domain}::${name}`;
}

export interface ModelInit {
  graph?: Graph;
  irVersion?: number;
  opsetImports?: Iterable<readonly [string, number]>;
  producerName?: string;
  producerVersion?: string;
}

export class Model {
  graph: Graph;
  irVersion: number;
  /** domain ('' = ai.onnx) → opset version. */
  opsetImports: Map<string, number>;
  producerName: string;
  producerVersion: string;
  domain: string | undefined;
  modelVersion: number | bigint | undefined;
  docString: string | undefined;
  metadata = new Map<string, string>();
  readonly functions = new Map<string, ModelFunction>();
  /** Raw encoded fields the IR doesn't model (training_info...), kept for round trips. */
  unknownFields: Uint8Array[] | undefined;

  constructor(init: ModelInit = {}) {
    this.graph = init.graph ?? new Graph();
    this.irVersion = init.irVersion ?? 10;
    this.opsetImports = new Map(init.opsetImports ?? [['', 21]]);
    this.producerName = init.producerName ?? 'fuselab';
    this.producerVersion = init.producerVersion ?? '0.1.0';
  }

  /** The imported opset version of `domain` ('' and 'ai.onnx' are the same), or undefined. */
  opset(domain = ''): number | undefined {
    return this.opsetImports.get(domain === 'ai.onnx' ? '' : domain) ?? (domain === '' ? this.opsetImports.get('ai.onnx') : undefined);
  }

  /** The local function a node calls, if any. */
  functionFor(domain: string, opType: string, overload?: string): ModelFunction | undefined {
    return this.functions.get(functionKey(domain, opType, overload));
  }

  /** Total parameter count and bytes of all initializers (main graph and subgraphs). */
  parameterStats(): { count: number; bytes: number; byDType: Record<string, { count: number; bytes: number }> } {
    const byDType: Record<string, { count: number; bytes: number }> = {};
    let count = 0;
    let bytes = 0;
    const visit = (g: Graph): void => {
      for (const v of g.initializers.values()) addTensor(v);
      for (const n of g.nodes) {
        for (const a of n.attributes.values()) {
          if (a.type === 'tensor' && n.opType === 'Constant') addCount(a.value.dtype, a.value.size, a.value.byteLength ?? 0);
        }
        for (const s of n.subgraphs()) visit(s);
      }
    };
    const addTensor = (v: Value): void => {
      const t = v.initializer;
      if (t) addCount(t.dtype, t.size, t.byteLength ?? t.expectedByteLength ?? 0);
    };
    const addCount = (dtype: string, n: number, b: number): void => {
      const e = (byDType[dtype] ??= { count: 0, bytes: 0 });
      e.count += n;
      e.bytes += b;
      count += n;
      bytes += b;
    };
    visit(this.graph);
    return { count, bytes, byDType };
  }

  /** Deep copy of the graph and functions (tensor bytes shared). */
  clone(): Model {
    const m = new Model({ graph: this.graph.clone(null), irVersion: this.irVersion, opsetImports: this.opsetImports, producerName: this.producerName, producerVersion: this.producerVersion });
    m.domain = this.domain;
    m.modelVersion = this.modelVersion;
    m.docString = this.docString;
    m.metadata = new Map(this.metadata);
    m.unknownFields = this.unknownFields;
    for (const [k, f] of this.functions) m.functions.set(k, { ...f, attributeDefaults: new Map(f.attributeDefaults), opsetImports: new Map(f.opsetImports), body: f.body.clone(null), metadata: new Map(f.metadata) });
    return m;
  }
}
