/**
 * The typed op registry: schemas (`defineOp`), version-aware lookup, and the built-in families.
 */
export {
  defineOp, normalizeDomain, OpSchemaError,
  type OpSchema, type OpSpec, type AttrSpec, type AttrKind, type AttrDefault, type PortSpec,
  type InferenceContext, type TensorInfo, type TensorData, type LazyTensorData, type SubgraphResult,
} from './schema.ts';
export { OpRegistry, defaultOpRegistry, builtinOps, lookupOp, listOps, registerOp } from './registry.ts';
