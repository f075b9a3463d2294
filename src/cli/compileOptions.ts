/**
 * The compile options in one table: each one's key (as in `generate(def, { lowering })`,
 * the bundler plugin's options and, in phase 2 of issue 10, config files and
 * `defineModel(..., { compile })`), its command-line flag (`--lowering`), and what it accepts.
 *
 * Guarantees:
 * - `compileOptionsFromArgs(args, command)` reads every compile flag; a bad value is a
 *   GradcError naming the flag, the value given and what the flag accepts.
 * - `checkCompileOptions(x, where)` accepts a plain object holding only these keys, each
 *   with a value of its kind; an unknown key is a GradcError naming it (and the closest
 *   known key), and `where` says where the object came from (a file, a config key).
 * - `mergeCompileOptions(...layers)` combines layers key by key, later layers winning
 *   (phase 2: model file < config file < per-glob override < flags); undefined never wins.
 * User-given keys are looked up in a Map, never on a plain object.
 */
import type { EmitOptions } from '../pipeline.js';
import { didYouMean, GradcError, type SourceLocation } from '../errors.js';
import { type Args, value } from './args.js';
import { optionProblem } from '../options.js';

export type CompileOptions = Pick<EmitOptions, 'lowering' | 'precision' | 'simd' | 'unrollLimit' | 'maxBatch' | 'unrollElements' | 'scalarCell' | 'chunkSize'>;
type Key = keyof CompileOptions;

interface OptionSpec {
  readonly flag: string;
  /** What the option accepts, for messages (from options.ts, the one table of what is valid). */
  readonly accepts: string;
  readonly fromText: (text: string) => unknown;
}

const spec = (key: Key, flag: string, fromText: (text: string) => unknown): OptionSpec =>
  ({ flag, accepts: optionProblem(key, undefined) ?? '', fromText });
const text = (t: string): unknown => t;
const integer = (t: string): unknown => (t.trim() === 'Infinity' ? Infinity : /^\d+$/.test(t.trim()) ? Number(t) : Number.NaN);

/** Every compile option and its flag; a key missing here does not compile. Validity: options.ts. */
const COMPILE_OPTIONS: { readonly [K in Key]-?: OptionSpec } = {
  lowering: spec('lowering', 'lowering', text), // 'auto': unrolled up to unrollLimit parameters
  precision: spec('precision', 'precision', text), // element type of every array
  simd: spec('simd', 'simd', text), // Wasm SIMD kernels for the looped lowering's large products
  unrollLimit: spec('unrollLimit', 'unroll-limit', integer),
  maxBatch: spec('maxBatch', 'max-batch', integer),
  unrollElements: spec('unrollElements', 'unroll-elements', integer),
  scalarCell: spec('scalarCell', 'scalar-cell', integer), // a small recurrence's step as straight-line scalar code
  chunkSize: spec('chunkSize', 'chunk-size', integer),
};
const valid = (key: Key, v: unknown): boolean => optionProblem(key, v) === undefined;
const SPECS = new Map(Object.entries(COMPILE_OPTIONS) as [Key, OptionSpec][]);

/** The command-line flags of the compile options, for `expectFlags`. */
export const COMPILE_FLAGS: readonly string[] = [...SPECS.values()].map((s) => s.flag);

/** The compile options given as flags (`--lowering loops --max-batch 32`). */
export function compileOptionsFromArgs(args: Args, command: string): CompileOptions {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of SPECS) {
    const text = value(args, spec.flag, command, spec.accepts);
    if (text === undefined) continue;
    const v = spec.fromText(text);
    if (!valid(key, v)) throw new GradcError(`option --${spec.flag} must be ${spec.accepts}, got '${text}' (gradc ${command})`);
    out[key] = v;
  }
  return out as CompileOptions;
}

/** `x` as compile options, checked; see the header. `what` names the object in messages. */
export function checkCompileOptions(x: unknown, what: string, where: SourceLocation = {}): CompileOptions {
  if (x === undefined) return {};
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new GradcError(`${what} must be an object of compile options, got ${Array.isArray(x) ? 'an array' : x === null ? 'null' : typeof x}`, where);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(x)) {
    const spec = SPECS.get(key as Key);
    if (!spec) {
      const guess = didYouMean(key, [...SPECS.keys()]);
      throw new GradcError(`${what}: unknown compile option '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}; the options are ${[...SPECS.keys()].join(', ')}`, { ...where, symbol: key });
    }
    if (v === undefined) continue;
    if (!valid(key as Key, v)) throw new GradcError(`${what}: '${key}' must be ${spec.accepts}, got ${JSON.stringify(v) ?? String(v)}`, { ...where, symbol: key });
    out[key] = v;
  }
  return out as CompileOptions;
}

/** The layers combined, key by key, later ones winning. */
export function mergeCompileOptions(...layers: readonly (CompileOptions | undefined)[]): CompileOptions {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const key of SPECS.keys()) {
      const v = layer[key];
      if (v !== undefined) out[key] = v;
    }
  }
  return out as CompileOptions;
}
