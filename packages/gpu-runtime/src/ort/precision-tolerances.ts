/**
 * Named tolerances for precision changes. A quantized model is not expected to match its float
 * original element by element: these bound the logits' cosine similarity (the elementwise bound is
 * off, `atol: Infinity`) and the reports still carry max abs / rel errors. Kernel-against-reference
 * checks (onnxruntime's MatMulNBits vs our dequantize-then-matmul) stay tight.
 */
import type { Tolerance } from './compare.ts';

/** onnxruntime's MatMulNBits against our reference dequantize-then-MatMul, fp32 math (accuracy_level 0). */
export const NBITS_KERNEL: Tolerance = { name: 'nbits-kernel', atol: 1e-4, rtol: 1e-3, minCosine: 0.99999 };
/** float16 weights and compute against the float32 original. */
export const FP16: Tolerance = { name: 'fp16', atol: 5e-2, rtol: 1e-2, minCosine: 0.9999 };
/** INT8 weight-only (MatMulNBits bits 8) against the float original. */
export const INT8_WEIGHT_ONLY: Tolerance = { name: 'int8-weight-only', atol: Infinity, rtol: 0, minCosine: 0.9995 };
/**
 * INT4 weight-only (MatMulNBits bits 4) against the float original. Measured: the trained kjv-llama's
 * logits keep cosine ≥ 0.99; random-weight fixtures (d = 64, two blocks per row) fall to ~0.965.
 */
export const INT4_WEIGHT_ONLY: Tolerance = { name: 'int4-weight-only', atol: Infinity, rtol: 0, minCosine: 0.95 };
/** INT8 QDQ (weights and activations) against the float original. */
export const INT8_QDQ: Tolerance = { name: 'int8-qdq', atol: Infinity, rtol: 0, minCosine: 0.99 };
