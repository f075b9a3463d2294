/**
 * Loading generated code in process.
 *
 * Guarantees: `loadModule(code)` turns the exact text that `gradc build` writes into a
 * live module object, by transpiling it with the TypeScript compiler API (no type
 * check: `gradc build` output is type-checked by the test suite) to CommonJS and
 * running it in a fresh function scope; `runModule(js)` runs JavaScript the emitter wrote
 * directly (what `compile()` does: no TypeScript compiler involved). Nothing is written to
 * disk, no module loader is involved, and the result is synchronous. Every load is a module
 * of its own to V8 as well (SEPARATE_LOADS below).
 */
import { createRequire } from 'node:module';
import type TS from 'typescript';
import type * as Api from '../6-emit/api.js';

// The TypeScript compiler loads on the first transpile, not on import.
let typescript: typeof TS | undefined;
const tsc = (): typeof TS => (typescript ??= createRequire(import.meta.url)('typescript') as typeof TS);

/** The element type of a generated module's arrays: Float64Array at f64, Float32Array at f32. */
export type Floats = Float64Array | Float32Array;
/** A module's parameters (or gradients), widened: scalars are numbers, tensors arrays of its precision. */
export type Params<F extends Floats = Float64Array> = Record<string, number | F>;
export type Values = Readonly<Record<string, number | ArrayLike<number>>>;
export interface Sample { readonly inputs: Values; readonly targets: Values }

// The model-independent API types, from the declarations the emitter writes into every module (6-emit/api.ts).
export type { Metrics, Schedule, OptimizerOptions, SavedArray, SavedOptimizer, SavedParams } from '../6-emit/api.js';
export type OptimizerState<F extends Floats = Float64Array> = Api.OptimizerState<Params<F>>;
export type FitOptions<F extends Floats = Float64Array> = Api.FitOptions<Params<F>, Sample, F>;
export type EpochRecord<F extends Floats = Float64Array> = Api.EpochRecord<Params<F>>;
export type FitResult<F extends Floats = Float64Array> = Api.FitResult<Params<F>>;

/**
 * What every generated module exports, with the model-specific types widened, for a
 * module of precision F (Float64Array at f64, Float32Array at f32). Bad run-time data (a
 * missing or non-finite value, rows outside X and Y, a bad option or parameter object)
 * throws the module's SampleError; training steps are all or nothing.
 */
export interface GeneratedModule<F extends Floats = Float64Array> {
  readonly shapes: {
    readonly params: Record<string, readonly number[]>;
    readonly inputs: Record<string, readonly number[]>;
    readonly targets: Record<string, readonly number[]>;
    readonly outputs: Record<string, readonly number[]>;
    /** Integer inputs and their number of ids (present only when the model has some). */
    readonly ids?: Record<string, number>;
    /** Parameters with sparse gradients (embedding tables; present only when the model has some). */
    readonly sparse?: readonly string[];
    /** Length inputs and their sequences' T (each an integer in 1 .. T; present only when the model has some). */
    readonly lengths?: Record<string, number>;
  };
  readonly INPUT_SIZE: number;
  readonly TARGET_SIZE: number;
  readonly OUTPUT_SIZE: number;
  initParams(seed?: number): Params<F>;
  copyParams(p: Params<F>): Params<F>;
  zeroParams(): Params<F>;
  forward(params: Params<F>, inputs: Values): Record<string, number | F>;
  loss(params: Params<F>, inputs: Values, targets: Values): number;
  gradient(params: Params<F>, inputs: Values, targets: Values): { loss: number; grad: Params<F> };
  step(params: Params<F>, inputs: Values, targets: Values, optimizer: number | OptimizerState<F>): number;
  gradientBatch(params: Params<F>, X: F, Y: F, count: number, first?: number, grad?: Params<F>): { loss: number; grad: Params<F> };
  stepBatch(params: Params<F>, X: F, Y: F, count: number, optimizer: number | OptimizerState<F>, first?: number): number;
  initOptimizer(params: Params<F>, options: Api.OptimizerOptions): OptimizerState<F>;
  packSamples(samples: readonly Sample[]): { X: F; Y: F; count: number };
  fit(samples: readonly Sample[], options?: FitOptions<F>): FitResult<F>;
  fitRows(X: F, Y: F, count: number, options?: FitOptions<F>): FitResult<F>;
  predict(params: Params<F>, inputs: readonly Values[]): Record<string, number | F>[];
  evaluate(params: Params<F>, samples: readonly Sample[]): number;
  /** The model's name and its structure hash (SHA-256 of names, shapes and the forward graph). */
  readonly MODEL_NAME: string;
  readonly STRUCTURE_HASH: string;
  /** Parameters (and optimizer state) as a JSON document, exact on round trip. */
  saveParams(params: Params<F>, optimizer?: OptimizerState<F>): Api.SavedParams;
  /** Reads a document from `saveParams` (object or JSON text), checking model, structure, shapes and values. */
  loadParams(doc: Api.SavedParams | string): { params: Params<F>; optimizer?: OptimizerState<F> | undefined };
}

export function transpile(code: string): string {
  const ts = tsc();
  return ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, removeComments: false },
  }).outputText;
}

/** The module; F is its precision's array type (Float32Array for a module generated at f32). */
export function loadModule<F extends Floats = Float64Array>(code: string): GeneratedModule<F> {
  return runModule<F>(transpile(code));
}

/**
 * A module from its JavaScript: the ES module the emitter writes for `compile()`
 * (6-emit/flavour.ts), whose top-level `export` declarations (each at the start of a line,
 * one name each, as the emitter writes them) become the module object, or the CommonJS of
 * `transpile` (what a worker thread is given to run the same module).
 */
/**
 * SEPARATE_LOADS: V8 caches the compilation of `new Function` by its source text, with the
 * type feedback of the functions inside, so two loads of the same text (compile() of one model
 * twice, a benchmark's SGD and Adam modules) would share feedback: the second module's calls
 * into its own kernels look polymorphic to the JIT, which then inlines less. Measured at 2-2-1
 * batch 1 with three other loads of the same module trained first (bench/sameSource.ts): SGD
 * steps 7.8-10.4M/s against 15.7M/s, Adam 5.5-7.2M/s against 9.0M/s. So each load's text ends
 * with its own number: no cache hit, nothing shared (the cost is one parse and compile per
 * load, which a first load pays anyway).
 */
let loads = 0;

/** `separate` false (bench/sameSource.ts only, to measure what SEPARATE_LOADS avoids): the text as given. */
export function runModule<F extends Floats = Float64Array>(js: string, separate = true): GeneratedModule<F> {
  const names: string[] = [];
  const script = js.replace(/^export (function|class|const|let) ([\w$]+)/gm, (_, keyword: string, name: string) => {
    names.push(name);
    return `${keyword} ${name}`;
  });
  const module = { exports: {} as Record<string, unknown> };
  // Strict, as a module is (a write to a frozen object throws: the optimizer checks rely on it).
  new Function('exports', 'module', `'use strict';\n${script}\n;Object.assign(exports, { ${names.join(', ')} });${separate ? `\n// gradc load ${++loads} (SEPARATE_LOADS)` : ''}`)(module.exports, module);
  return module.exports as unknown as GeneratedModule<F>;
}
