/**
 * Static shapes.
 *
 * Guarantees: a shape is a frozen array of positive integers of rank 0 (scalar),
 * 1 (vector) or 2 (matrix, row-major). Every IR node carries one from the moment it
 * is built; nothing in gradc ever learns a shape at run time.
 */

export type Shape = readonly number[];

export const SCALAR: Shape = Object.freeze([]);

export function shape(...dims: number[]): Shape {
  for (const d of dims) {
    if (!Number.isInteger(d) || d <= 0) throw new RangeError(`bad dimension ${d} in shape [${dims.join(', ')}]`);
  }
  if (dims.length > 2) throw new RangeError(`rank ${dims.length} is not supported (at most 2): [${dims.join(', ')}]`);
  return dims.length === 0 ? SCALAR : Object.freeze(dims.slice());
}

export const isScalar = (s: Shape): boolean => s.length === 0;

export function sizeOf(s: Shape): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** `[]`, `[3]`, `[3x4]`: how shapes are printed in errors and in the IR dump. */
export function showShape(s: Shape): string {
  return s.length === 0 ? 'scalar' : `[${s.join('x')}]`;
}

/**
 * Elementwise broadcasting: equal shapes, or one side scalar. Returns null when the
 * two shapes do not broadcast; callers turn that into an error naming both shapes.
 */
export function broadcastShapes(a: Shape, b: Shape): Shape | null {
  if (sameShape(a, b)) return a;
  if (isScalar(a)) return b;
  if (isScalar(b)) return a;
  return null;
}
