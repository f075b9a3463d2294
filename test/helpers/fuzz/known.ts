/**
 * Known-open defects the fuzz test finds on today's code, each tied to its item of
 * issue 7. A finding that matches an entry here is counted and printed, not failed;
 * anything else fails the test. When a fix merges, delete its entry: the fuzz test then
 * holds the line for it. `GRADC_FUZZ_STRICT=1` ignores this list (every finding fails).
 *
 * KNOWN_HANGS lists inputs that hang today (a hang cannot be caught in process); the
 * harness skips them until the entry is removed.
 */
import type { CompileOptions } from './data.js';
import type { Finding } from './check.js';
import { formulaText } from './models.js';

export interface KnownHang { readonly item: string; readonly what: string; readonly matches: (c: { options: CompileOptions }) => boolean }

export const KNOWN_HANGS: readonly KnownHang[] = [
  { item: '9', what: 'chunkSize 0 with the unrolled lowering: compile never returns', matches: ({ options: o }) => o.chunkSize === 0 && o.lowering !== 'loops' },
  { item: '9', what: 'maxBatch 0 or negative with the loops lowering: gradientBatch loops forever (negative: when the model has no inputs, else a RangeError at load)',
    matches: ({ options: o }) => typeof o.maxBatch === 'number' && o.maxBatch <= 0 && o.lowering === 'loops' },
];

export function isKnownHang(c: { options: CompileOptions }): boolean {
  return KNOWN_HANGS.some((h) => h.matches(c));
}

export interface KnownOpen { readonly item: string; readonly what: string; readonly matches: (f: Finding) => boolean }

/** A compile option outside what item 9 allows (any finding on such a model is item 9's). */
export function badCompileOptions(o: CompileOptions): boolean {
  const posInt = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 1);
  const natural = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0);
  return !posInt(o.maxBatch) || !posInt(o.chunkSize) || !natural(o.unrollLimit) || !natural(o.unrollElements) ||
    !(o.lowering === undefined || o.lowering === 'auto' || o.lowering === 'unrolled' || o.lowering === 'loops') ||
    !(o.precision === undefined || o.precision === 'f64' || o.precision === 'f32');
}

const hostileCount = (f: Finding) => /^count /.test(f.hostile ?? '');
const fitOption = (f: Finding, ...keys: string[]) => f.call === 'fit' && keys.some((k) => (f.hostile ?? '').startsWith(`${k}:`));

export const KNOWN_OPEN: readonly KnownOpen[] = [
  { item: '6', what: "a parameter named '__proto__' vanishes from initParams/zeroParams/gradient (object literals set the prototype)",
    matches: (f) => (f.property === 'disagree' || f.property === 'bad-params') && f.model.leaves.some((l) => l.name === '__proto__' && l.kind === 'param') },
  { item: '6', what: "an output (definition) named '__proto__' vanishes from forward()'s result",
    matches: (f) => f.property === 'disagree' && f.call === 'forward' && /^forward\(\)\.__proto__ /.test(f.what) },
  { item: '20', what: 'literals NaN, Infinity, 1e400, 1e-400 in a formula are accepted',
    matches: (f) => f.property === 'accepted-bad-input' && f.call === 'build' && f.model.mutation === 'a bad literal' && /\b(NaN|Infinity|1e400|1e-400)\b/.test(formulaText(f.model)) },
  { item: '9', what: 'bad compile options (maxBatch, chunkSize, unrollLimit, unrollElements, lowering, precision) are accepted, crash or give loss undefined',
    matches: (f) => badCompileOptions(f.options) },
  { item: '10', what: 'exp(v) ./ sum(exp(v)) -> softmax(v) fires on scalars and matrices: internal ShapeError at compile',
    matches: (f) => f.call === 'compile' && /ShapeError: softmax: needs a vector/.test(f.what) },
  { item: '11', what: 'log(1 + exp(x)) / log(1 - sigmoid(x)) rewrites shrink a tensor 1 (x .^ 0) to a scalar: wrong loss and gradient',
    matches: (f) => (f.property === 'disagree' || f.property === 'not-finite') && f.lowering !== 'interpreter' && /log\(/.test(formulaText(f.model)) && /\.\^ 0\b/.test(formulaText(f.model)) },
  { item: '11', what: 'the same rewrite on log(M .^ 0 - sigmoid(s)) with a matrix M: the shrunk node then crashes a matmul (internal ShapeError)',
    matches: (f) => f.property === 'internal-error' && f.call === 'compile' && /^ShapeError: /.test(f.what) && /log\(/.test(formulaText(f.model)) && /\.\^ 0\b/.test(formulaText(f.model)) },
  { item: '5', what: "Object.prototype names as functions (toString(...), constructor(...)) or an unknown mlp activation crash",
    matches: (f) => f.property === 'internal-error' && f.call === 'build' && (f.model.mutation === 'an unknown or prototype function' || (f.model.mlp !== undefined && !['tanh', 'relu', 'sigmoid', 'softplus', 'exp', 'linear'].includes(f.model.mlp.activation))) },
  { item: '12/13', what: 'derivative rules give NaN where the loss has a finite slope (pow at 0^0, zero adjoint times the infinite derivative of sqrt/log/div at 0)',
    matches: (f) => f.property === 'not-finite' && f.lowering === 'interpreter' },
  { item: '14', what: "fit's divergence guard: divergence NaN or negative accepted",
    matches: (f) => fitOption(f, 'divergence') },
  { item: '16', what: 'stepBatch with count/first outside the rows: NaN parameters, meaningless loss, no SampleError',
    matches: (f) => f.call === 'stepBatch' && hostileCount(f) },
  { item: '17', what: 'a step whose loss or gradient is not finite writes NaN/Infinity into the parameters',
    matches: (f) => f.property === 'bad-params' && (f.call === 'step' || f.call === 'stepBatch') && !hostileCount(f) },
  { item: 'NEW-1', what: 'builder methods (m.add, m.sub, m.times, m.call, ...) throw a raw ShapeError, not a GradcError, on a shape mismatch',
    matches: (f) => f.call === 'build' && f.model.door === 'builder' && /^ShapeError: /.test(f.what) },
  { item: '18', what: 'fit options (learningRate, epochs, batchSize, tolerance, shuffleSeed) not validated',
    matches: (f) => fitOption(f, 'learningRate', 'epochs', 'batchSize', 'tolerance', 'shuffleSeed') },
  { item: '18', what: 'malformed run-time data (null, a string, {}, wrong length, NaN in evaluate) accepted or a TypeError instead of a SampleError',
    matches: (f) => f.hostile !== undefined && !hostileCount(f) && ['loss', 'gradient', 'forward', 'evaluate', 'step'].includes(f.call) &&
      (f.property === 'accepted-bad-input' || /^TypeError: Cannot read properties of (null|undefined)/.test(f.what)) },
];

export function knownOpen(f: Finding): KnownOpen | undefined {
  if (process.env.GRADC_FUZZ_STRICT === '1') return undefined;
  return KNOWN_OPEN.find((k) => k.matches(f));
}
