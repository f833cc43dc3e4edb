/**
 * ONNX protobuf wire format: `decodeModel` (bytes or a random-access source → plain `ModelProto`
 * objects, zero-copy or streamed) and `encodeModel` (objects → a rope of chunks, large tensors not
 * copied). The object types mirror onnx.proto; see `onnx-types.ts`.
 */
export { decodeModel, decodeModelBytes, MAX_DEPTH_LIMIT, type DecodeOptions } from './decode.ts';
export { encodeModel, encodeModelToBytes, concatChunks, OnnxEncodeError, type EncodeOptions, type EncodedModel } from './encode.ts';
export * from './onnx-types.ts';
