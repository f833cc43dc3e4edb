/**
 * Op schemas: what an operator takes and gives (named inputs/outputs, typed attributes with
 * defaults, a one-line doc) and how its output types follow from its inputs. One schema per
 * signature change: `since` is the opset version from which this signature applies, and a lookup
 * for opset N picks the newest schema with `since <= N`.
 *
 * Shape functions see an {@link InferenceContext}: typed inputs, known input contents (small
 * integer tensors that shape subgraphs compute: `Shape → Gather → Concat → Reshape`), attributes
 * with their schema defaults, and ways to set outputs or report a contradiction.
 */
import type { AttributeType } from '../ir/attribute.ts';
import type { DType } from '../ir/dtype.ts';
import type { Graph } from '../ir/graph.ts';
import type { Node } from '../ir/node.ts';
import type { Dim, Shape } from '../ir/shape.ts';
import type { Tensor } from '../ir/tensor.ts';
import type { ValueType } from '../ir/value.ts';

/** Attribute types a schema can declare (every ONNX attribute type except function-body refs). */
export type AttrKind = Exclude<AttributeType, 'ref'>;

/** Plain default values, as a palette would show them. */
export type AttrDefault = number | string | readonly number[] | readonly string[];

/** One attribute of an op: its type, default, whether it is required, and a doc line. */
export interface AttrSpec {
  readonly type: AttrKind;
  /** The value used when the node does not set the attribute. */
  readonly default?: AttrDefault;
  /** A node must set it (ONNX `required`). */
  readonly required?: boolean;
  readonly doc?: string;
}

/** One input or output of an op. */
export interface PortSpec {
  readonly name: string;
  /** May be omitted (an empty name in ONNX). */
  readonly optional?: boolean;
  /** Takes any number (≥ 1 unless also optional) of values; only the last port may be variadic. */
  readonly variadic?: boolean;
  readonly doc?: string;
}

/** What `defineOp` takes. */
export interface OpSpec {
  /** '' is the default ONNX domain (`ai.onnx` is normalized to ''). */
  readonly domain: string;
  readonly opType: string;
  /** First opset version of `domain` with this signature. */
  readonly since: number;
  /** One line for palettes and tooltips. */
  readonly doc: string;
  readonly inputs: readonly PortSpec[];
  readonly outputs: readonly PortSpec[];
  readonly attrs?: Readonly<Record<string, AttrSpec>>;
  /** Sets the output types (and, for shape computations, known output contents). */
  readonly inferShape: (ctx: InferenceContext) => void;
}

/** A registered op signature (what `defineOp` returns). */
export interface OpSchema extends OpSpec {
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  /** `domain::opType` with '' for the default domain. */
  readonly key: string;
  readonly minInputs: number;
  /** Infinity when the last input is variadic. */
  readonly maxInputs: number;
  readonly minOutputs: number;
  readonly maxOutputs: number;
}

/** The type of a tensor value as inference sees it: either part may be unknown. */
export interface TensorInfo {
  readonly dtype: DType | null;
  readonly shape: Shape | null;
}

/**
 * Known contents of a small tensor (a shape vector, a scalar constant). Integer elements may be
 * symbolic (`'sequence_length'`); float elements are numbers; null elements are unknown.
 */
export interface TensorData {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly values: readonly Dim[];
}

/** Contents computed only when a consumer asks (decoding every Constant up front is wasted work). */
export type LazyTensorData = () => TensorData | null;

/** What a subgraph (If branch, Loop/Scan body) gives back: its output types and known contents. */
export interface SubgraphResult {
  readonly outputs: ReadonlyArray<ValueType | null>;
  readonly data: ReadonlyArray<TensorData | null>;
}

/** The view of one node that a schema's `inferShape` gets. */
export interface InferenceContext {
  readonly node: Node;
  readonly schema: OpSchema;
  /** The imported opset version of the node's domain. */
  readonly opset: number;
  /** Number of input slots the node has (omitted optional inputs count). */
  readonly inputCount: number;
  readonly outputCount: number;
  /** The input is present (not omitted). */
  hasInput(i: number): boolean;
  /** The output is wanted (not omitted). */
  hasOutput(i: number): boolean;
  /** Tensor type of input i, or null when absent or untyped (sequence inputs: null). */
  input(i: number): TensorInfo | null;
  /** Full IR type of input i (sequences, optionals), or null. */
  inputType(i: number): ValueType | null;
  inputShape(i: number): Shape | null;
  inputDType(i: number): DType | null;
  inputRank(i: number): number | null;
  /** Known contents of input i (constants, propagated shape data), or null. */
  inputData(i: number): TensorData | null;
  /** Known contents as one dim per element, or null when unknown or too large. */
  inputDims(i: number): Dim[] | null;
  /** Known contents as numbers, or null unless every element is a known number. */
  inputNumbers(i: number): number[] | null;

  hasAttr(name: string): boolean;
  /** An int attribute, falling back to the schema default; fails when required and missing. */
  attrInt(name: string): number;
  attrIntOr(name: string, fallback: number): number;
  attrInts(name: string): number[] | null;
  attrFloat(name: string): number;
  attrFloats(name: string): number[] | null;
  attrString(name: string): string;
  attrStrings(name: string): string[] | null;
  attrTensor(name: string): Tensor | null;
  attrGraph(name: string): Graph | null;

  /** Sets output i to a tensor type. `data` gives its contents when known (or a function computing them on demand). */
  setOutput(i: number, dtype: DType | null, shape: Shape | null, data?: TensorData | LazyTensorData | null): void;
  /** Sets output i to any IR type (sequences, optionals). */
  setOutputType(i: number, type: ValueType | null): void;
  /** Explains why an output stays partly unknown (shown in the report). */
  note(reason: string): void;
  /** Reports a contradiction (a ShapeInferenceError) and stops inference of this node. */
  fail(reason: string): never;
  /** Infers a subgraph with the given types for its inputs and returns its outputs. */
  inferSubgraph(graph: Graph, inputs: ReadonlyArray<ValueType | null>, inputData?: ReadonlyArray<TensorData | null>): SubgraphResult;
}

const ATTR_KINDS = new Set<AttrKind>([
  'float', 'int', 'string', 'tensor', 'graph', 'sparse_tensor', 'type_proto',
  'floats', 'ints', 'strings', 'tensors', 'graphs', 'sparse_tensors', 'type_protos',
]);

/** Thrown by `defineOp` for a malformed schema (a programming error in an op definition). */
export class OpSchemaError extends Error {
  constructor(key: string, reason: string) {
    super(`op schema '${key}': ${reason}`);
    this.name = 'OpSchemaError';
  }
}

/** Normalizes a domain name: 'ai.onnx' and '' are the same domain. */
export function normalizeDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

/** Checks a schema and computes its arities. */
export function defineOp(spec: OpSpec): OpSchema {
  const domain = normalizeDomain(spec.domain);
  const key = domain ? `${domain}::${spec.opType}` : spec.opType;
  if (!spec.opType) throw new OpSchemaError(key, 'opType is empty');
  if (!Number.isInteger(spec.since) || spec.since < 1) throw new OpSchemaError(key, `since must be a positive integer, got ${spec.since}`);
  const arity = (ports: readonly PortSpec[], what: string): [number, number] => {
    const names = new Set<string>();
    let min = 0;
    ports.forEach((p, i) => {
      if (names.has(p.name)) throw new OpSchemaError(key, `${what} '${p.name}' is declared twice`);
      names.add(p.name);
      if (p.variadic && i !== ports.length - 1) throw new OpSchemaError(key, `only the last ${what} may be variadic ('${p.name}' is not last)`);
      if (!p.optional) min = i + 1;
    });
    const last = ports[ports.length - 1];
    return [min, last?.variadic ? Infinity : ports.length];
  };
  const [minInputs, maxInputs] = arity(spec.inputs, 'input');
  const [minOutputs, maxOutputs] = arity(spec.outputs, 'output');
  const attrs = spec.attrs ?? {};
  for (const [name, a] of Object.entries(attrs)) {
    if (!ATTR_KINDS.has(a.type)) throw new OpSchemaError(key, `attribute '${name}' has unknown type '${a.type}'`);
    if (a.required && a.default !== undefined) throw new OpSchemaError(key, `attribute '${name}' is required and has a default`);
  }
  return Object.freeze({ ...spec, domain, attrs, key, minInputs, maxInputs, minOutputs, maxOutputs });
}
