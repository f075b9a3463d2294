/**
 * The options of `generate` and `compile`, checked once before any phase runs.
 *
 * Guarantees: `checkOptions` returns normally only when every key is known and every
 * value has the type and range its phase needs; otherwise it throws a GradcError naming
 * the option, what it must be, and what it got. (Today's phases loop forever on
 * `maxBatch: 0` and never return on `chunkSize: 0`, so these checks are not cosmetic.)
 * An option given as `undefined` counts as not given.
 */
import { didYouMean, GradcError } from './errors.js';

/** Default bound on the elements of one tensor (a [1000 x 1000] matrix is 1e6). */
export const DEFAULT_MAX_ELEMENTS = 1e7;

type Check = (v: unknown) => string | undefined; // what is wrong, or undefined when fine

const positiveInteger: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? undefined : 'a positive integer');
const nonNegativeIntegerOrInfinity: Check = (v) =>
  typeof v === 'number' && ((Number.isSafeInteger(v) && v >= 0) || v === Infinity) ? undefined : 'a non-negative integer (or Infinity)';
const oneOf = (...values: string[]): Check => (v) => (typeof v === 'string' && values.includes(v) ? undefined : `one of ${values.map((x) => `'${x}'`).join(', ')}`);
const aString: Check = (v) => (typeof v === 'string' ? undefined : 'a string');

/** Every option `generate` and `compile` know, with what it must be. */
const OPTIONS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['lowering', oneOf('auto', 'unrolled', 'loops')],
  ['unrollLimit', nonNegativeIntegerOrInfinity],
  ['maxBatch', positiveInteger],
  ['unrollElements', nonNegativeIntegerOrInfinity],
  ['scalarCell', nonNegativeIntegerOrInfinity],
  ['precision', oneOf('f64', 'f32')],
  ['simd', oneOf('auto', 'on', 'off')],
  ['chunkSize', positiveInteger],
  ['maxElements', positiveInteger],
  ['sourcePath', aString],
  ['source', aString],
]);

const show = (v: unknown): string => {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v;
};

/**
 * What `value` must be for option `key` ("a positive integer"), or undefined when it is
 * fine. The one table of what each option accepts: the CLI's flags, config files, model
 * files and the bundler plugin check their values through here too.
 */
export function optionProblem(key: string, value: unknown): string | undefined {
  const check = OPTIONS.get(key);
  return check ? check(value) : 'a known option';
}

/** Throws a GradcError for an unknown option or a value out of range (see OPTIONS). */
export function checkOptions(options: unknown, call = 'compile'): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new GradcError(`${call}(model, options): options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    const check = OPTIONS.get(key);
    if (!check) {
      const guess = didYouMean(key, [...OPTIONS.keys()]);
      throw new GradcError(
        `${call}(model, options): unknown option '${key.length > 40 ? `${key.slice(0, 40)}...` : key}'${guess ? ` (did you mean '${guess}'?)` : ''} (known: ${[...OPTIONS.keys()].join(', ')})`,
        { symbol: key },
      );
    }
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const expected = check(value);
    if (expected) throw new GradcError(`${call}(model, options): '${key}' must be ${expected}, got ${show(value)}`, { symbol: key });
  }
}
