/**
 * Block-wise weight quantization in onnxruntime's `com.microsoft.MatMulNBits` layout, its reference
 * dequantizer, and a reader that checks a MatMulNBits node's attributes against its tensors before
 * touching a byte.
 *
 * `Y = A · dequant(B)ᵀ` where the constant weight is stored transposed, one row per output feature:
 *
 *   - `B`           uint8 `[N, n_blocks, blob_size]`, `n_blocks = ceil(K / block_size)`,
 *                   `blob_size = block_size · bits / 8`; codes run along K, packed low bits first
 *                   (4-bit: element 2i in the low nibble, 2i+1 in the high nibble). K is padded up to
 *                   a whole block with the zero-point code (dequantizes to exactly 0).
 *   - `scales`      `[N · n_blocks]`, the activation dtype (float32 or float16), row-major (n, block).
 *   - `zero_points` optional uint8 `[N · ceil(n_blocks · bits / 8)]`: per row, the blocks' zero points
 *                   packed like B (4-bit: two per byte, low nibble first; a row's last byte padded).
 *                   Absent: the zero point is `2^(bits-1)` (8 for 4-bit, 128 for 8-bit) — symmetric.
 *   - `dequant(q) = (q − zero_point) · scale`.
 *
 * Symmetric blocks use `scale = max|w| / (2^(bits-1) − 1)` (codes `zp ± (2^(bits-1) − 1)`, the lowest
 * code unused) so every weight is within `scale / 2` of its dequantized value. Asymmetric blocks map
 * `[min(w, 0), max(w, 0)]` onto `[0, 2^bits − 1]`.
 */
import { FuselabError, floatToHalf, halfToFloat, int64ToNumber, type DType, type Node, type Tensor } from '@fuselab/graph-core';

export type NBits = 4 | 8;

export interface NBitsLayout {
  /** Input features (rows of the original `[K, N]` weight). */
  K: number;
  /** Output features. */
  N: number;
  bits: NBits;
  blockSize: number;
}

/** Sizes derived from a layout. */
export interface NBitsSizes {
  nBlocks: number;
  blobSize: number;
  /** Bytes of zero points per row (packed). */
  zpBytesPerRow: number;
}

export interface QuantizedNBits {
  layout: NBitsLayout;
  symmetric: boolean;
  /** `[N, n_blocks, blob_size]`. */
  b: Uint8Array;
  /** `[N · n_blocks]` as float32 values (store them in the activation dtype with {@link scalesTensorData}). */
  scales: Float32Array;
  /** Packed `[N · zpBytesPerRow]`, or null when symmetric (the default zero point applies). */
  zeroPoints: Uint8Array | null;
}

/** A MatMulNBits node whose attributes and tensors disagree, or a layout we cannot write. */
export class MatMulNBitsLayoutError extends FuselabError {
  readonly node: string;
  constructor(node: string, reason: string) {
    super('MATMUL_NBITS_LAYOUT', `MatMulNBits '${node}': ${reason}`);
    this.node = node;
  }
}

export const NBITS_BLOCK_SIZES = [16, 32, 64, 128, 256] as const;

export function nbitsSizes({ K, bits, blockSize }: NBitsLayout): NBitsSizes {
  const nBlocks = Math.ceil(K / blockSize);
  return { nBlocks, blobSize: (blockSize * bits) / 8, zpBytesPerRow: Math.ceil((nBlocks * bits) / 8) };
}

/** Throws unless the layout is one this module writes (bits 4/8, block a power of two ≥ 16, K and N ≥ 1). */
export function checkLayout(layout: NBitsLayout, where = 'quantize'): void {
  const { K, N, bits, blockSize } = layout;
  if (bits !== 4 && bits !== 8) throw new MatMulNBitsLayoutError(where, `bits ${bits} is not supported (4 or 8)`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new MatMulNBitsLayoutError(where, `block_size ${blockSize} must be a power of two ≥ 16`);
  if (!Number.isSafeInteger(K) || K < 1 || !Number.isSafeInteger(N) || N < 1) throw new MatMulNBitsLayoutError(where, `K ${K} and N ${N} must be positive integers`);
}

const q = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

/**
 * Quantizes a float weight `w` of shape `[K, N]` (row-major, as a MatMul's B) block-wise along K.
 * Scales are rounded to `scaleDType` first, so codes are computed against the scale onnxruntime
 * will actually use.
 */
export function quantizeNBits(w: Float32Array, layout: NBitsLayout, options: { symmetric: boolean; scaleDType?: 'float32' | 'float16' }): QuantizedNBits {
  checkLayout(layout);
  const { K, N, bits, blockSize } = layout;
  if (w.length !== K * N) throw new MatMulNBitsLayoutError('quantize', `weight has ${w.length} elements, [K, N] = [${K}, ${N}] needs ${K * N}`);
  const { nBlocks, blobSize, zpBytesPerRow } = nbitsSizes(layout);
  const maxCode = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const half = options.scaleDType === 'float16';
  const round = (s: number) => (half ? halfToFloat(floatToHalf(s)) : Math.fround(s));
  const b = new Uint8Array(N * nBlocks * blobSize);
  const scales = new Float32Array(N * nBlocks);
  const zeroPoints = options.symmetric ? null : new Uint8Array(N * zpBytesPerRow);
  const codes = new Uint8Array(blockSize);
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const k0 = blk * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let lo = 0;
      let hi = 0;
      for (let k = k0; k < k1; k++) {
        const x = w[k * N + n];
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      let scale: number;
      let zp: number;
      if (options.symmetric) {
        zp = mid;
        scale = round(Math.max(hi, -lo) / (mid - 1));
      } else {
        scale = round((hi - lo) / maxCode);
        zp = scale === 0 ? mid : q(Math.round(-lo / scale), 0, maxCode);
      }
      if (!Number.isFinite(scale)) throw new MatMulNBitsLayoutError('quantize', `weight block (n ${n}, block ${blk}) has a non-finite scale (${scale}): the weight holds Inf/NaN or exceeds the scale dtype`);
      codes.fill(zp);
      if (scale !== 0) for (let k = k0; k < k1; k++) codes[k - k0] = q(Math.round(w[k * N + n] / scale) + zp, 0, maxCode);
      scales[n * nBlocks + blk] = scale;
      const base = (n * nBlocks + blk) * blobSize;
      if (bits === 8) b.set(codes, base);
      else for (let i = 0; i < blobSize; i++) b[base + i] = codes[2 * i] | (codes[2 * i + 1] << 4);
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpBytesPerRow + blk] = zp;
        else zeroPoints[n * zpBytesPerRow + (blk >> 1)] |= blk & 1 ? zp << 4 : zp;
      }
    }
  }
  return { layout: { ...layout }, symmetric: options.symmetric, b, scales, zeroPoints };
}

/** The scales as raw data in `dtype` (float32 as is, float16 as bits). */
export function scalesTensorData(scales: Float32Array, dtype: 'float32' | 'float16'): Float32Array | Uint16Array {
  if (dtype === 'float32') return scales;
  const out = new Uint16Array(scales.length);
  for (let i = 0; i < scales.length; i++) out[i] = floatToHalf(scales[i]);
  return out;
}

/** The code of element `k` of row `n`. */
function codeAt(b: Uint8Array, bits: NBits, rowBlobBase: number, kInBlock: number): number {
  if (bits === 8) return b[rowBlobBase + kInBlock];
  const byte = b[rowBlobBase + (kInBlock >> 1)];
  return kInBlock & 1 ? byte >> 4 : byte & 15;
}

function zeroPointAt(zps: Uint8Array | null, bits: NBits, zpBytesPerRow: number, n: number, blk: number): number {
  if (!zps) return 1 << (bits - 1);
  if (bits === 8) return zps[n * zpBytesPerRow + blk];
  const byte = zps[n * zpBytesPerRow + (blk >> 1)];
  return blk & 1 ? byte >> 4 : byte & 15;
}

/**
 * Reference dequantizer: the float32 weight `[K, N]` (MatMul's B layout) that `quantized` stands for.
 * Sizes are checked first; a mismatch is a {@link MatMulNBitsLayoutError}, never an out-of-bounds read.
 */
export function dequantizeNBits(quantized: Pick<QuantizedNBits, 'layout' | 'b' | 'scales' | 'zeroPoints'>, where = 'dequantize'): Float32Array {
  const { layout, b, scales, zeroPoints } = quantized;
  checkLayout(layout, where);
  const { K, N, bits, blockSize } = layout;
  const { nBlocks, blobSize, zpBytesPerRow } = nbitsSizes(layout);
  if (b.length !== N * nBlocks * blobSize) throw new MatMulNBitsLayoutError(where, `B has ${b.length} bytes, [N, n_blocks, blob_size] = [${N}, ${nBlocks}, ${blobSize}] needs ${N * nBlocks * blobSize}`);
  if (scales.length !== N * nBlocks) throw new MatMulNBitsLayoutError(where, `scales has ${scales.length} elements, N · n_blocks = ${N * nBlocks}`);
  if (zeroPoints && zeroPoints.length !== N * zpBytesPerRow) throw new MatMulNBitsLayoutError(where, `zero_points has ${zeroPoints.length} bytes, N · ceil(n_blocks · bits / 8) = ${N * zpBytesPerRow}`);
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const scale = scales[n * nBlocks + blk];
      const zp = zeroPointAt(zeroPoints, bits, zpBytesPerRow, n, blk);
      const base = (n * nBlocks + blk) * blobSize;
      const k0 = blk * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      for (let k = k0; k < k1; k++) w[k * N + n] = (codeAt(b, bits, base, k - k0) - zp) * scale;
    }
  }
  return w;
}

/** A MatMulNBits node read back: layout, tensors, and the float dtype of its scales. */
export interface MatMulNBitsWeights extends QuantizedNBits {
  node: string;
  accuracyLevel: number;
  scaleDType: DType;
}

const floatsOf = (t: Tensor): Float32Array => {
  if (t.dtype === 'float32') return Float32Array.from(t.data() as Float32Array);
  if (t.dtype === 'float16') return Float32Array.from(t.data() as Uint16Array, halfToFloat);
  throw new Error(`unsupported dtype ${t.dtype}`);
};

/**
 * Reads a MatMulNBits node whose B, scales and zero points are constants, cross-checking every
 * attribute against the tensors' dims and byte counts. Throws {@link MatMulNBitsLayoutError} on any
 * disagreement (including float zero points and prepacked weights, which this reader does not decode).
 */
export function readMatMulNBits(node: Node, constant: (i: number) => Tensor | null): MatMulNBitsWeights {
  const where = node.name || 'MatMulNBits';
  const fail = (why: string): never => {
    throw new MatMulNBitsLayoutError(where, why);
  };
  if (node.opType !== 'MatMulNBits' || node.domain !== 'com.microsoft') fail(`is ${node.domain || 'ai.onnx'}::${node.opType}, not com.microsoft::MatMulNBits`);
  const attr = (name: string, fallback?: number): number => {
    const a = node.attr(name);
    if (!a) {
      if (fallback === undefined) fail(`attribute '${name}' is missing`);
      return fallback as number;
    }
    if (a.type !== 'int') fail(`attribute '${name}' is ${a.type}, not int`);
    return int64ToNumber((a as { value: number | bigint }).value);
  };
  const layout = { K: attr('K'), N: attr('N'), bits: attr('bits', 4) as NBits, blockSize: attr('block_size') };
  checkLayout(layout, where);
  if (attr('weight_prepacked', 0) !== 0) fail('weight_prepacked=1: B is in an execution-provider layout this reader does not decode');
  if (node.inputs[4]) fail('g_idx (deprecated) is not supported');
  const { nBlocks, blobSize, zpBytesPerRow } = nbitsSizes(layout);
  const bT = constant(1) ?? fail('B is not a constant');
  const sT = constant(2) ?? fail('scales is not a constant');
  const zT = node.inputs[3] ? constant(3) ?? fail('zero_points is not a constant') : null;
  const dims = (t: Tensor) => `[${t.dims.join(', ')}]`;
  if (bT.dtype !== 'uint8') fail(`B is ${bT.dtype}, not uint8`);
  const wantB = [layout.N, nBlocks, blobSize];
  if (bT.dims.length !== 3 || bT.dims.some((d, i) => d !== wantB[i])) fail(`B is ${dims(bT)}, attributes K=${layout.K} N=${layout.N} bits=${layout.bits} block_size=${layout.blockSize} need [${wantB.join(', ')}]`);
  if (sT.dtype !== 'float32' && sT.dtype !== 'float16') fail(`scales is ${sT.dtype}, not float32/float16`);
  if (sT.size !== layout.N * nBlocks || (sT.dims.length === 2 && (sT.dims[0] !== layout.N || sT.dims[1] !== nBlocks)) || sT.dims.length > 2) {
    fail(`scales is ${dims(sT)}, need [${layout.N * nBlocks}] or [${layout.N}, ${nBlocks}]`);
  }
  if (zT && zT.dtype !== 'uint8') fail(`zero_points is ${zT.dtype}: only packed uint8 zero points are read`);
  if (zT && zT.size !== layout.N * zpBytesPerRow) fail(`zero_points is ${dims(zT)}, need ${layout.N * zpBytesPerRow} packed bytes (N · ceil(n_blocks · bits / 8))`);
  // byte counts of the stored data, not just the dims (a tensor may be lazy or external)
  for (const [name, t] of [['B', bT], ['scales', sT], ['zero_points', zT]] as const) {
    if (t && t.byteLength !== null && t.byteLength !== t.expectedByteLength) fail(`${name} holds ${t.byteLength} bytes but ${dims(t)} ${t.dtype} needs ${t.expectedByteLength}`);
  }
  return {
    node: where,
    layout,
    symmetric: !zT,
    accuracyLevel: attr('accuracy_level', 0),
    b: bT.data() as Uint8Array,
    scales: floatsOf(sT),
    zeroPoints: zT ? (zT.data() as Uint8Array) : null,
    scaleDType: sT.dtype,
  };
}
