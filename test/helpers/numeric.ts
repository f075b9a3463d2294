/**
 * Numerical helpers shared by the correctness tests: a seeded generator, central
 * differences, closeness with a stated tolerance, and an error log the tests print so
 * a run shows how close the gradients really were.
 *
 * Guarantees: everything is deterministic for a given seed (no Math.random); the
 * difference quotient is a Richardson-extrapolated central difference, error O(h^4) on
 * smooth functions, so tolerances can be tight without choosing h per function.
 */

/** A seeded generator of uniform numbers in [0, 1) (mulberry32, as in generated code: src/rng.ts). */
import { mulberry32 as seeded } from '../../src/rng.js';
export { seeded };

export const uniform = (rand: () => number, low: number, high: number): number => low + (high - low) * rand();
export const randomArray = (rand: () => number, n: number, low = -1, high = 1): number[] =>
  Array.from({ length: n }, () => uniform(rand, low, high));

/** The default step: relative to |x|, never below 1e-5 in absolute size. */
export const defaultStep = (x: number): number => 1e-4 * Math.max(1, Math.abs(x));

/**
 * df/dx at x by central differences with one Richardson step:
 *   D(h) = (f(x+h) - f(x-h)) / 2h,   f' ~ (4 D(h/2) - D(h)) / 3.
 */
export function centralDifference(f: (x: number) => number, x: number, h = defaultStep(x)): number {
  const d = (s: number) => (f(x + s) - f(x - s)) / (2 * s);
  return (4 * d(h / 2) - d(h)) / 3;
}

/** Central differences of `f` with respect to every element of `x` (x is restored). */
export function gradientByDifferences(f: () => number, x: Float64Array | number[], h?: (v: number) => number): number[] {
  return Array.from(x, (v, i) => {
    const g = centralDifference((t) => {
      x[i] = t;
      return f();
    }, v, h ? h(v) : defaultStep(v));
    x[i] = v;
    return g;
  });
}

/** |a - b| / max(floor, |b|): relative error with a floor, so values near 0 compare absolutely. */
export function relativeError(a: number, b: number, floor = 1): number {
  if (a === b) return 0; // also equal infinities
  return Math.abs(a - b) / Math.max(floor, Math.abs(b));
}

/** Largest relative error over paired arrays. */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Number.isNaN(a[i]) || Number.isNaN(b[i]) ? Infinity : relativeError(a[i], b[i], floor));
  return m;
}

/** Keeps the worst error seen per category; `report()` is printed by the tests. */
export class ErrorLog {
  private readonly worst = new Map<string, { err: number; where: string }>();
  note(category: string, err: number, where = ''): number {
    const w = this.worst.get(category);
    if (!w || err > w.err) this.worst.set(category, { err, where });
    return err;
  }
  get(category: string): number {
    return this.worst.get(category)?.err ?? 0;
  }
  report(title: string): string {
    const lines = [...this.worst].map(([k, v]) => `  ${k.padEnd(44)} ${v.err.toExponential(2)}${v.where ? `  (${v.where})` : ''}`);
    return `${title}\n${lines.join('\n')}`;
  }
}

/** A flat copy of parameters (numbers and Float64Arrays) keyed by name. */
export function flatten(values: Readonly<Record<string, number | ArrayLike<number>>>): number[] {
  return Object.keys(values).flatMap((k) => {
    const v = values[k];
    return typeof v === 'number' ? [v] : Array.from(v);
  });
}
