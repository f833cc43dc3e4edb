/**
 * @packageDocumentation
 * `@fuselab/graph-core`: ONNX in and out, the graph IR, the op registry and shape inference.
 * Pure TypeScript: no DOM and no Node builtins, so it runs unchanged in a browser worker, Node and
 * Electron. File access comes in through `RandomAccessSource` / `ExternalDataResolver` adapters.
 */

// Errors
export { FuselabError, OnnxParseError, OnnxModelError, ExternalDataError, ShapeInferenceError, GraphMutationError } from './errors.ts';

// Byte sources
export { memorySource, blobSource, type RandomAccessSource } from './io/byte-source.ts';

// Wire format (plain-object mirror of onnx.proto)
export * as onnx from './proto/onnx-types.ts';
export { decodeModel, decodeModelBytes, encodeModel, encodeModelToBytes, concatChunks, OnnxEncodeError, type DecodeOptions, type EncodeOptions, type EncodedModel } from './proto/index.ts';

// IR
export { type DType, ALL_DTYPES, dtypeBits, byteSizeOf, dtypeFromOnnx, dtypeToOnnx, isFloatDType, isIntegerDType, isDType } from './ir/dtype.ts';
export { type Dim, type Shape, formatShape, formatDim, isStaticShape, shapeSize, sameShape, sameDim } from './ir/shape.ts';
export { Tensor, type TensorStorage, type TensorInit, type ExternalDataResolver, checkExternalLocation, halfToFloat, floatToHalf, bfloat16ToFloat } from './ir/tensor.ts';
export { Value, tensorType, type ValueType, type Use } from './ir/value.ts';
export { type Attribute, type AttributeType, type AttributeInput, type SparseTensor, int64ToNumber } from './ir/attribute.ts';
export { Node, type NodeInit, toAttribute } from './ir/node.ts';
export { Graph, type ReplaceOptions } from './ir/graph.ts';
export { Model, type ModelFunction, type ModelInit, functionKey } from './ir/model.ts';
export { GraphBuilder, type OpOptions } from './ir/builder.ts';
export { modelFromProto, type FromProtoOptions } from './ir/from-proto.ts';
export { modelToProto, type ToProtoOptions, type ExternalPlacement } from './ir/to-proto.ts';

// Whole-model IO
export { loadModel, serializeModel, serializeModelToBytes, serializeModelSplit, serializeModelsSplit, externalizeLarge, ModelTooLargeError, PROTOBUF_LIMIT, type LoadModelOptions, type SplitModel } from './model-io.ts';

// Op registry and shape inference
export {
  defineOp, lookupOp, listOps, registerOp, OpRegistry, defaultOpRegistry, builtinOps, normalizeDomain, OpSchemaError,
  type OpSchema, type OpSpec, type AttrSpec, type AttrKind, type AttrDefault, type PortSpec,
  type InferenceContext, type TensorInfo, type TensorData, type LazyTensorData, type SubgraphResult,
} from './ops/index.ts';
export { inferShapes, type ShapeInferenceOptions, type ShapeInferenceReport, type UnknownOp, type UnresolvedValue } from './shape-inference.ts';
export { canonicalDim, dimAdd, dimSub, dimMul, dimDivExact, dimFloorDiv, dimCeilDiv, dimProduct, dimEquals, substituteDim, dimSymbols, isKnownDim } from './symbolic.ts';
