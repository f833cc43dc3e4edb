/**
 * Typed errors of graph-core. Every message says what was wrong, where (file, byte offset, node,
 * field) and, where it helps, what to do.
 */

/** Base class: `code` is stable and machine-readable; `message` is for people. */
export class FuselabError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

export interface ParseErrorLocation {
  /** The file (or source name) being read. */
  file: string;
  /** Absolute byte offset in the file where the problem was found. */
  offset: number;
  /** Dotted protobuf field path, e.g. `ModelProto.graph.node[12].attribute[0].t.raw_data`. */
  field: string;
}

/** The bytes are not a well-formed ONNX ModelProto (truncated, wrong wire type, absurd lengths...). */
export class OnnxParseError extends FuselabError {
  readonly file: string;
  readonly offset: number;
  readonly field: string;
  readonly reason: string;
  constructor(reason: string, where: ParseErrorLocation) {
    super('ONNX_PARSE', `${where.file}: ${reason} at byte ${where.offset} (field ${where.field})`);
    this.file = where.file;
    this.offset = where.offset;
    this.field = where.field;
    this.reason = reason;
  }
}

/** The model decodes but is not a valid graph (dangling input, duplicate output, cycle, bad tensor size). */
export class OnnxModelError extends FuselabError {
  readonly where: string;
  constructor(where: string, reason: string) {
    super('ONNX_MODEL', `${where}: ${reason}`);
    this.where = where;
  }
}

/** An external-data reference is unsafe (escapes the model folder) or points past the end of its file. */
export class ExternalDataError extends FuselabError {
  readonly tensor: string;
  readonly location: string;
  constructor(tensor: string, location: string, reason: string) {
    super('ONNX_EXTERNAL_DATA', `tensor '${tensor}': external data '${location}': ${reason}`);
    this.tensor = tensor;
    this.location = location;
  }
}

/** Shape inference found shapes that cannot work together. */
export class ShapeInferenceError extends FuselabError {
  readonly node: string;
  constructor(node: string, opType: string, reason: string) {
    super('SHAPE_INFERENCE', `node '${node}' (${opType}): ${reason}`);
    this.node = node;
  }
}

/** A graph mutation that would break an invariant (rewire a graph output, remove a used value...). */
export class GraphMutationError extends FuselabError {
  constructor(reason: string) {
    super('GRAPH_MUTATION', reason);
  }
}
