/**
 * A value is an edge of the graph: produced by one node output (or a graph input, or an initializer)
 * and used by any number of node inputs and graph outputs. Only the IR mutates `uses`.
 */
import type { DType } from './dtype.ts';
import type { Shape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import type { Node } from './node.ts';
import type { Graph } from './graph.ts';

export type ValueType =
  | { readonly kind: 'tensor'; readonly dtype: DType | null; readonly shape: Shape | null }
  | { readonly kind: 'sparse'; readonly dtype: DType | null; readonly shape: Shape | null }
  | { readonly kind: 'sequence'; readonly elem: ValueType | null }
  | { readonly kind: 'optional'; readonly elem: ValueType | null }
  | { readonly kind: 'map'; readonly key: DType | null; readonly value: ValueType | null };

export interface Use {
  readonly node: Node;
  readonly index: number;
}

export function tensorType(dtype: DType | null, shape: Shape | null = null): ValueType {
  return { kind: 'tensor', dtype, shape };
}

export class Value {
  name: string;
  type: ValueType | null;
  /** The graph (scope) the value belongs to. */
  graph: Graph | null = null;
  /** Set when the value is an initializer (a constant of its graph). */
  initializer: Tensor | null = null;
  docString: string | undefined;
  metadata = new Map<string, string>();
  /** Raw unknown ValueInfoProto fields, kept for round trips. */
  unknownFields: Uint8Array[] | undefined;

  /** @internal maintained by Node/Graph */
  _producer: Node | null = null;
  /** @internal */
  _producerIndex = -1;
  /** @internal */
  readonly _uses: Use[] = [];

  constructor(name: string, type: ValueType | null = null) {
    this.name = name;
    this.type = type;
  }

  /** The node whose output this is, or null for graph inputs and initializers. */
  get producer(): Node | null {
    return this._producer;
  }

  /** Which output of the producer this value is (-1 when there is no producer). */
  get producerIndex(): number {
    return this._producerIndex;
  }

  /** A snapshot of the node inputs that read this value. */
  get uses(): readonly Use[] {
    return this._uses.slice();
  }

  get useCount(): number {
    return this._uses.length;
  }

  get dtype(): DType | null {
    const t = this.type;
    return t && (t.kind === 'tensor' || t.kind === 'sparse') ? t.dtype : null;
  }

  get shape(): Shape | null {
    const t = this.type;
    return t && (t.kind === 'tensor' || t.kind === 'sparse') ? t.shape : null;
  }

  get isGraphInput(): boolean {
    return !!this.graph && this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return !!this.graph && this.graph.outputs.includes(this);
  }

  get isConstant(): boolean {
    return this.initializer !== null;
  }

  toString(): string {
    return `Value(${this.name})`;
  }
}
