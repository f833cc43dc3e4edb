/**
 * A node: one operator application. Inputs are values (null for an omitted optional input, written as
 * "" in ONNX); outputs are values this node produces (null for an omitted optional output).
 */
import { GraphMutationError } from '../errors.ts';
import { isAttribute, type Attribute, type AttributeInput } from './attribute.ts';
import { Tensor } from './tensor.ts';
import type { Value } from './value.ts';
import { Graph } from './graph.ts';

export interface NodeInit {
  opType: string;
  domain?: string;
  name?: string;
  overload?: string;
  inputs?: ReadonlyArray<Value | null>;
  outputs?: ReadonlyArray<Value | null>;
  attributes?: Record<string, AttributeInput> | ReadonlyMap<string, Attribute>;
  docString?: string;
}

/** Turns a plain JS value into a typed attribute. Arrays of integers become `ints`, others `floats`. */
export function toAttribute(name: string, v: AttributeInput): Attribute {
  if (isAttribute(v)) return v;
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) ? { type: 'int', value: v } : { type: 'float', value: v };
  if (typeof v === 'bigint') return { type: 'int', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (v instanceof Tensor) return { type: 'tensor', value: v };
  if (v instanceof Graph) return { type: 'graph', value: v };
  if (Array.isArray(v)) {
    if (v.length === 0) return { type: 'ints', value: [] };
    if (v.every((x) => typeof x === 'string')) return { type: 'strings', value: v as string[] };
    if (v.every((x) => typeof x === 'bigint' || (typeof x === 'number' && Number.isInteger(x)))) return { type: 'ints', value: v as number[] };
    if (v.every((x) => typeof x === 'number')) return { type: 'floats', value: v as number[] };
  }
  throw new GraphMutationError(`attribute '${name}': cannot infer an ONNX attribute type for ${String(v)}`);
}

export class Node {
  name: string;
  opType: string;
  /** '' is the default ONNX domain (ai.onnx). */
  domain: string;
  overload: string | undefined;
  readonly attributes: Map<string, Attribute>;
  docString: string | undefined;
  metadata = new Map<string, string>();
  /** Raw unknown NodeProto fields, kept for round trips. */
  unknownFields: Uint8Array[] | undefined;
  /** The graph that owns the node (null until added). */
  graph: Graph | null = null;

  /** @internal */
  readonly _inputs: Array<Value | null> = [];
  /** @internal */
  readonly _outputs: Array<Value | null> = [];
  /** @internal insertion sequence, used for stable ordering */
  _seq = 0;

  constructor(init: NodeInit) {
    this.opType = init.opType;
    this.domain = init.domain ?? '';
    this.name = init.name ?? '';
    this.overload = init.overload;
    this.docString = init.docString;
    this.attributes = new Map();
    if (init.attributes instanceof Map) {
      for (const [k, a] of init.attributes) this.attributes.set(k, a);
    } else if (init.attributes) {
      for (const [k, v] of Object.entries(init.attributes)) this.attributes.set(k, toAttribute(k, v));
    }
    for (const v of init.inputs ?? []) this.appendInput(v);
    for (const v of init.outputs ?? []) this.appendOutput(v);
  }

  get inputs(): ReadonlyArray<Value | null> {
    return this._inputs;
  }

  get outputs(): ReadonlyArray<Value | null> {
    return this._outputs;
  }

  /** `domain::opType`, or just opType for the default domain. */
  get qualifiedType(): string {
    return this.domain && this.domain !== 'ai.onnx' ? `${this.domain}::${this.opType}` : this.opType;
  }

  input(i: number): Value {
    const v = this._inputs[i];
    if (!v) throw new GraphMutationError(`node '${this.name}' (${this.opType}) has no input ${i}`);
    return v;
  }

  output(i: number): Value {
    const v = this._outputs[i];
    if (!v) throw new GraphMutationError(`node '${this.name}' (${this.opType}) has no output ${i}`);
    return v;
  }

  appendInput(v: Value | null): void {
    const index = this._inputs.length;
    this._inputs.push(v);
    if (v) v._uses.push({ node: this, index });
  }

  /** Replaces input `i` (null to omit it), keeping use lists correct. */
  setInput(i: number, v: Value | null): void {
    if (i < 0 || i > this._inputs.length) throw new GraphMutationError(`node '${this.name}': input index ${i} out of range`);
    if (i === this._inputs.length) return this.appendInput(v);
    const old = this._inputs[i];
    if (old === v) return;
    if (old) removeUse(old, this, i);
    this._inputs[i] = v;
    if (v) v._uses.push({ node: this, index: i });
  }

  appendOutput(v: Value | null): void {
    if (v) {
      if (v._producer && v._producer !== this) {
        throw new GraphMutationError(`value '${v.name}' is already produced by node '${v._producer.name}'`);
      }
      v._producer = this;
      v._producerIndex = this._outputs.length;
    }
    this._outputs.push(v);
  }

  /** Removes trailing omitted inputs ("" at the end is the same as absent in ONNX). */
  trimInputs(): void {
    while (this._inputs.length && this._inputs[this._inputs.length - 1] === null) this._inputs.pop();
  }

  /** Drops all input uses (called when the node is removed). @internal */
  _detachInputs(): void {
    for (let i = 0; i < this._inputs.length; i++) {
      const v = this._inputs[i];
      if (v) removeUse(v, this, i);
    }
  }

  attr(name: string): Attribute | undefined {
    return this.attributes.get(name);
  }

  attrInt(name: string, fallback: number): number;
  attrInt(name: string): number | undefined;
  attrInt(name: string, fallback?: number): number | undefined {
    const a = this.attributes.get(name);
    if (!a) return fallback;
    if (a.type === 'int') return Number(a.value);
    throw new GraphMutationError(`node '${this.name}': attribute '${name}' is ${a.type}, expected int`);
  }

  attrFloat(name: string, fallback: number): number;
  attrFloat(name: string): number | undefined;
  attrFloat(name: string, fallback?: number): number | undefined {
    const a = this.attributes.get(name);
    if (!a) return fallback;
    if (a.type === 'float') return a.value;
    if (a.type === 'int') return Number(a.value);
    throw new GraphMutationError(`node '${this.name}': attribute '${name}' is ${a.type}, expected float`);
  }

  attrInts(name: string): number[] | undefined {
    const a = this.attributes.get(name);
    if (!a) return undefined;
    if (a.type === 'ints') return a.value.map((x) => (typeof x === 'bigint' ? clampBig(x) : x));
    throw new GraphMutationError(`node '${this.name}': attribute '${name}' is ${a.type}, expected ints`);
  }

  attrString(name: string, fallback: string): string;
  attrString(name: string): string | undefined;
  attrString(name: string, fallback?: string): string | undefined {
    const a = this.attributes.get(name);
    if (!a) return fallback;
    if (a.type === 'string') return a.value;
    throw new GraphMutationError(`node '${this.name}': attribute '${name}' is ${a.type}, expected string`);
  }

  setAttr(name: string, v: AttributeInput): void {
    this.attributes.set(name, toAttribute(name, v));
  }

  /** Graphs held by this node's attributes (If branches, Loop/Scan bodies). */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attributes.values()) {
      if (a.type === 'graph') out.push(a.value);
      else if (a.type === 'graphs') out.push(...a.value);
    }
    return out;
  }

  toString(): string {
    return `Node(${this.name}: ${this.qualifiedType})`;
  }
}

function clampBig(x: bigint): number {
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (x < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(x);
}

function removeUse(v: Value, node: Node, index: number): void {
  const uses = v._uses;
  for (let k = 0; k < uses.length; k++) {
    if (uses[k].node === node && uses[k].index === index) {
      uses.splice(k, 1);
      return;
    }
  }
}
