/**
 * Shapes with symbolic dimensions. A dimension is a number (static), a string (a symbol such as
 * `batch_size`, or an expression such as `past_sequence_length + 1`), or null (unknown). A shape of
 * `null` means the rank itself is unknown.
 */
export type Dim = number | string | null;
export type Shape = readonly Dim[];

export function isStaticShape(shape: Shape | null | undefined): shape is readonly number[] {
  return !!shape && shape.every((d) => typeof d === 'number');
}

/** Number of elements of a static shape (1 for a scalar). */
export function shapeSize(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function formatDim(d: Dim): string {
  return d === null ? '?' : String(d);
}

/** `[batch_size,12,?,64]`, or `?` for unknown rank. */
export function formatShape(shape: Shape | null | undefined): string {
  if (!shape) return '?';
  return `[${shape.map(formatDim).join(',')}]`;
}

export function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}

export function sameShape(a: Shape | null, b: Shape | null): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameDim(a[i], b[i])) return false;
  return true;
}
