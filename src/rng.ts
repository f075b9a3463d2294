/**
 * The one seeded generator on the compiler's side: mulberry32, the same algorithm as the
 * `$rng` pasted into every generated module (6-emit/runtime.ts), so the inspection tools
 * (initial values) and the data tools (train/validation split) draw exactly the numbers a
 * generated module would draw from the same seed.
 */

/** A seeded generator of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
