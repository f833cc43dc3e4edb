/**
 * A small builder for making graphs in code (tests, fixtures, rewrite replacements):
 *
 *   const b = new GraphBuilder({ opsets: { '': 17 } });
 *   const x = b.input('x', 'float32', ['batch', 64]);
 *   const w = b.initializer('w', Tensor.from('float32', [64, 64], weights));
 *   b.output(b.op('Relu', [b.op('MatMul', [x, w])]), 'y');
 *   const model = b.build();
 */
import type { AttributeInput } from './attribute.ts';
import type { DType } from './dtype.ts';
import { Graph } from './graph.ts';
import { Model } from './model.ts';
import type { Node } from './node.ts';
import type { Shape } from './shape.ts';
import { Tensor } from './tensor.ts';
import { tensorType, type Value, type ValueType } from './value.ts';

export interface OpOptions {
  domain?: string;
  name?: string;
  /** Names for the outputs (default: generated). */
  outputNames?: string[];
  /** Number of outputs (default 1, or outputNames.length). */
  outputs?: number;
}

export class GraphBuilder {
  readonly graph: Graph;
  private readonly opsets: Map<string, number>;

  constructor(options: { name?: string; opsets?: Record<string, number>; graph?: Graph } = {}) {
    this.graph = options.graph ?? new Graph(options.name ?? 'main_graph');
    this.opsets = new Map(Object.entries(options.opsets ?? { '': 17 }));
  }

  input(name: string, dtype: DType, shape: Shape | null): Value {
    return this.graph.addInput(name, tensorType(dtype, shape));
  }

  /** Adds an initializer from a Tensor, or from dtype + dims + data. */
  initializer(name: string, tensor: Tensor): Value;
  initializer(name: string, dtype: DType, dims: readonly number[], data: ArrayBufferView): Value;
  initializer(name: string, t: Tensor | DType, dims?: readonly number[], data?: ArrayBufferView): Value {
    const tensor = t instanceof Tensor ? t : Tensor.from(t, dims ?? [], data as ArrayBufferView);
    return this.graph.addInitializer(tensor, this.graph.uniqueName(name));
  }

  /** A float32 initializer from plain numbers. */
  f32(name: string, dims: readonly number[], values: ArrayLike<number>): Value {
    return this.initializer(name, 'float32', dims, Float32Array.from(values));
  }

  /** An int64 initializer from plain numbers. */
  i64(name: string, dims: readonly number[], values: ArrayLike<number>): Value {
    return this.initializer(name, 'int64', dims, BigInt64Array.from(Array.from(values, (v) => BigInt(v))));
  }

  /** Adds a node and returns its first output. */
  op(opType: string, inputs: ReadonlyArray<Value | null>, attributes: Record<string, AttributeInput> = {}, options: OpOptions = {}): Value {
    return this.node(opType, inputs, attributes, options).output(0);
  }

  /** Adds a node with several outputs and returns them all. */
  opN(opType: string, inputs: ReadonlyArray<Value | null>, attributes: Record<string, AttributeInput>, outputs: number, options: OpOptions = {}): Value[] {
    const n = this.node(opType, inputs, attributes, { ...options, outputs });
    return n.outputs.map((v) => v as Value);
  }

  /** Adds a node and returns it. */
  node(opType: string, inputs: ReadonlyArray<Value | null>, attributes: Record<string, AttributeInput> = {}, options: OpOptions = {}): Node {
    if (options.domain && !this.opsets.has(options.domain)) this.opsets.set(options.domain, 1);
    return this.graph.createNode({
      opType,
      domain: options.domain ?? '',
      name: options.name,
      inputs,
      attributes,
      outputNames: options.outputNames,
      outputCount: options.outputs,
    });
  }

  /** Marks `v` as a graph output, renaming it to `name` when given. */
  output(v: Value, name?: string, type?: ValueType): Value {
    if (name) v.name = name;
    if (type) v.type = type;
    return this.graph.addOutput(v);
  }

  build(options: { irVersion?: number; producerName?: string } = {}): Model {
    return new Model({ graph: this.graph, opsetImports: this.opsets, irVersion: options.irVersion ?? 8, producerName: options.producerName ?? 'fuselab-builder' });
  }
}
