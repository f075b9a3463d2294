/**
 * Random run-time data and options for the pipeline fuzz test.
 *
 * Finite data: every leaf gets finite values in [-2, 2] (with exact zeros and small
 * integers mixed in, where kinks and pow(0, 0) live). Hostile data: one or more leaves
 * get NaN, +-Infinity, 1e308, -0, denormals, a wrong length, a string, null, ... and
 * the property is only that the failure is a GradcError (a SampleError).
 * Compile options are mostly valid; `badCompileOption` and `badFitOptions` give the
 * invalid ones item 9 and 18 of issue 7 name, minus those that hang today (see
 * KNOWN_HANGS in known.ts; a hang cannot be caught in process).
 */
import type { Gen, Shape } from './models.js';

export type Value = number | number[] | Float64Array | unknown;
export type Env = Record<string, Value>;

const sizeOf = (s: Shape) => s.reduce((a, b) => a * b, 1);

export function finiteNumber(g: Gen): number {
  const r = g.rand();
  if (r < 0.1) return 0;
  if (r < 0.2) return g.pick([1, -1, 2, 0.5]);
  return Math.round((g.rand() * 4 - 2) * 1e6) / 1e6;
}

export function finiteValue(g: Gen, s: Shape): number | number[] {
  return s.length === 0 ? finiteNumber(g) : Array.from({ length: sizeOf(s) }, () => finiteNumber(g));
}

export const HOSTILE_NUMBERS = [NaN, Infinity, -Infinity, 1e308, -1e308, -0, 5e-324, 1e-300, 1e154, 2 ** 53 + 1];

/** A hostile value for a leaf of shape `s`, and a word for it. */
export function hostileValue(g: Gen, s: Shape): [unknown, string] {
  const n = sizeOf(s);
  const r = g.rand();
  if (r < 0.45) {
    const h = g.pick(HOSTILE_NUMBERS);
    if (s.length === 0) return [h, String(h)];
    const v = Array.from({ length: n }, () => finiteNumber(g));
    v[g.int(0, n - 1)] = h;
    return [v, `an array with ${h}`];
  }
  const others: [unknown, string][] = [
    [null, 'null'], [undefined, 'undefined'], ['abc', "'abc'"], ['1', "'1'"], [true, 'true'], [{}, '{}'],
    [Array.from({ length: n + 1 }, () => 1), `${n + 1} values`], [[], '[]'],
    [Array.from({ length: n }, () => '1'), 'an array of strings'], [[[1, 2], [3, 4]], 'a nested array'],
    [s.length === 0 ? [1] : 1, s.length === 0 ? '[1] for a scalar' : 'a number for a tensor'],
    [Array.from({ length: n }, () => null), 'an array of nulls'],
  ];
  return g.pick(others);
}

export interface CompileOptions {
  lowering?: unknown;
  precision?: unknown;
  maxBatch?: unknown;
  chunkSize?: unknown;
  unrollLimit?: unknown;
  unrollElements?: unknown;
}

export function validCompileOptions(g: Gen): CompileOptions {
  const o: CompileOptions = {};
  if (g.chance(0.3)) o.precision = g.pick(['f64', 'f32']);
  if (g.chance(0.4)) o.maxBatch = g.pick([1, 2, 3, 64]);
  if (g.chance(0.3)) o.chunkSize = g.pick([1, 3, 10, 1000]);
  if (g.chance(0.2)) o.unrollLimit = g.pick([0, 5, 300]);
  if (g.chance(0.3)) o.unrollElements = g.pick([0, 1, 2, 16]);
  return o;
}

/** One invalid compile option (never one of KNOWN_HANGS, which the caller filters). */
export function badCompileOption(g: Gen): [keyof CompileOptions, unknown] {
  return g.pick<[keyof CompileOptions, unknown]>([
    ['maxBatch', 0], ['maxBatch', 2.5], ['maxBatch', -1], ['maxBatch', NaN], ['maxBatch', '3'],
    ['chunkSize', 0], ['chunkSize', -1], ['chunkSize', 2.5], ['chunkSize', NaN],
    ['lowering', 'fast'], ['precision', 'f16'], ['unrollLimit', -1], ['unrollLimit', NaN],
    ['unrollElements', -1], ['unrollElements', NaN],
  ]);
}

export interface FitOptions {
  epochs?: unknown; learningRate?: unknown; batchSize?: unknown; shuffleSeed?: unknown; tolerance?: unknown; divergence?: unknown;
}

export function validFitOptions(g: Gen): FitOptions {
  return {
    epochs: g.int(1, 3),
    learningRate: g.pick([1e-3, 0.01, 0.1, 1, 10]),
    batchSize: g.pick([undefined, 1, 2, 3, 100]),
    shuffleSeed: g.pick([undefined, 1, 7]),
    ...(g.chance(0.3) ? { tolerance: g.pick([0, 1e-9, 1e-3]) } : {}),
    ...(g.chance(0.3) ? { divergence: g.pick([2, 1e3, 1e6]) } : {}),
  };
}

export function badFitOptions(g: Gen): [FitOptions, string] {
  const o = validFitOptions(g);
  const [k, v] = g.pick<[keyof FitOptions, unknown]>([
    ['learningRate', NaN], ['learningRate', Infinity], ['learningRate', -Infinity], ['learningRate', '0.1'],
    ['epochs', -1], ['epochs', NaN], ['epochs', 2.5], ['epochs', '2'],
    ['batchSize', 0], ['batchSize', -1], ['batchSize', NaN], ['batchSize', 1.5],
    ['divergence', NaN], ['divergence', -1], ['tolerance', NaN], ['shuffleSeed', NaN],
  ]);
  return [{ ...o, [k]: v }, `${k}: ${String(v)}`];
}
