/**
 * Loading generated code in process.
 *
 * Guarantees: `loadModule(code)` turns the exact text that `gradc build` writes into a
 * live module object, by transpiling it with the TypeScript compiler API (no type
 * check: `gradc build` output is type-checked by the test suite) to CommonJS and
 * running it in a fresh function scope. Nothing is written to disk, no module loader
 * is involved, and the result is synchronous.
 */
import { createRequire } from 'node:module';
import type TS from 'typescript';

// The TypeScript compiler loads on the first transpile, not on import.
let typescript: typeof TS | undefined;
const tsc = (): typeof TS => (typescript ??= createRequire(import.meta.url)('typescript') as typeof TS);

/**
 * What every generated module exports, with the model-specific types widened. Bad
 * run-time data (a missing or non-finite value, rows outside X and Y, a bad option or
 * parameter object) throws the module's SampleError; training steps are all or nothing.
 */
export interface GeneratedModule {
  readonly shapes: {
    readonly params: Record<string, readonly number[]>;
    readonly inputs: Record<string, readonly number[]>;
    readonly targets: Record<string, readonly number[]>;
    readonly outputs: Record<string, readonly number[]>;
  };
  readonly INPUT_SIZE: number;
  readonly TARGET_SIZE: number;
  readonly OUTPUT_SIZE: number;
  initParams(seed?: number): Params;
  copyParams(p: Params): Params;
  zeroParams(): Params;
  forward(params: Params, inputs: Values): Record<string, number | Float64Array>;
  loss(params: Params, inputs: Values, targets: Values): number;
  gradient(params: Params, inputs: Values, targets: Values): { loss: number; grad: Params };
  step(params: Params, inputs: Values, targets: Values, optimizer: number | OptimizerState): number;
  gradientBatch(params: Params, X: Float64Array, Y: Float64Array, count: number, first?: number, grad?: Params): { loss: number; grad: Params };
  stepBatch(params: Params, X: Float64Array, Y: Float64Array, count: number, optimizer: number | OptimizerState, first?: number): number;
  initOptimizer(params: Params, options: OptimizerOptions): OptimizerState;
  packSamples(samples: readonly Sample[]): { X: Float64Array; Y: Float64Array; count: number };
  fit(samples: readonly Sample[], options?: FitOptions): FitResult;
  fitRows(X: Float64Array, Y: Float64Array, count: number, options?: FitOptions): FitResult;
  predict(params: Params, inputs: readonly Values[]): Record<string, number | Float64Array>[];
  evaluate(params: Params, samples: readonly Sample[]): number;
  /** The model's name and its structure hash (SHA-256 of names, shapes and the forward graph). */
  readonly MODEL_NAME: string;
  readonly STRUCTURE_HASH: string;
  /** Parameters (and optimizer state) as a JSON document, exact on round trip. */
  saveParams(params: Params, optimizer?: OptimizerState): SavedParams;
  /** Reads a document from `saveParams` (object or JSON text), checking model, structure, shapes and values. */
  loadParams(doc: SavedParams | string): { params: Params; optimizer?: OptimizerState | undefined };
}
/** One saved array: its shape and row-major values ("-0" stands for -0). */
export interface SavedArray { readonly shape: readonly number[]; readonly values: readonly (number | string)[] }
/** The document of `saveParams` (see the generated module's doc comment). */
export interface SavedParams {
  readonly format: 'gradc-params';
  readonly version: 1;
  readonly model: string;
  readonly structure: string;
  readonly precision: 'f64' | 'f32';
  readonly params: { readonly [name: string]: SavedArray };
  readonly optimizer?: {
    readonly options: OptimizerOptions;
    readonly step: number;
    readonly m?: { readonly [name: string]: SavedArray } | undefined;
    readonly v?: { readonly [name: string]: SavedArray } | undefined;
  } | undefined;
}
export type Params = Record<string, number | Float64Array>;
/** See the generated module's doc comments for each optimizer's hyperparameters. */
export type Schedule =
  | { readonly kind: 'constant' }
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma: number }
  | { readonly kind: 'exponential'; readonly gamma: number }
  | { readonly kind: 'cosine'; readonly totalSteps: number; readonly warmupSteps?: number; readonly minLearningRate?: number };
export type OptimizerOptions = {
  readonly learningRate?: number;
  readonly weightDecay?: number;
  readonly clipNorm?: number;
  readonly schedule?: Schedule;
} & (
  | { readonly kind: 'sgd' }
  | { readonly kind: 'momentum'; readonly momentum?: number; readonly nesterov?: boolean }
  | { readonly kind: 'adam' | 'adamw'; readonly beta1?: number; readonly beta2?: number; readonly epsilon?: number }
  | { readonly kind: 'rmsprop'; readonly rho?: number; readonly momentum?: number; readonly epsilon?: number }
);
export interface OptimizerState {
  readonly options: OptimizerOptions;
  step: number;
  readonly m: Params | null;
  readonly v: Params | null;
}
export type Values = Readonly<Record<string, number | ArrayLike<number>>>;
export interface Sample { readonly inputs: Values; readonly targets: Values }
export interface FitOptions {
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly optimizer?: OptimizerOptions | OptimizerState;
  readonly batchSize?: number;
  readonly shuffleSeed?: number;
  readonly tolerance?: number;
  readonly divergence?: number;
  readonly params?: Params;
  readonly onEpoch?: (epoch: number, loss: number, params: Params, record: EpochRecord) => boolean | void;
  readonly validation?: readonly Sample[] | { readonly X: Float64Array; readonly Y: Float64Array; readonly count: number } | { readonly fraction: number; readonly seed?: number };
  readonly earlyStopping?: { readonly patience: number; readonly minDelta?: number; readonly restoreBest?: boolean };
  readonly signal?: { readonly aborted: boolean };
  /** Called after every step taken: epoch (from 0), samples of the epoch done, their mean loss. */
  readonly onBatch?: (epoch: number, samples: number, loss: number) => void;
  readonly metrics?: readonly ('accuracy' | 'mse' | 'mae')[];
  readonly metricsOn?: { readonly output: string; readonly target: string };
}
export interface Metrics { readonly accuracy?: number; readonly mse?: number; readonly mae?: number }
export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss: number | undefined;
  readonly learningRate: number;
  readonly metrics: { readonly train: Metrics; readonly validation: Metrics };
  readonly elapsedMs: number;
  readonly params: Params;
}
export interface FitResult {
  readonly params: Params;
  readonly losses: number[];
  /** Mean loss of the starting parameters (the divergence guard's first reference). */
  readonly initialLoss: number;
  readonly epochs: number;
  readonly stopped: 'epochs' | 'converged' | 'diverged' | 'callback' | 'early-stopping' | 'aborted';
  readonly history: { readonly loss: number[]; readonly valLoss: number[]; readonly metrics: { readonly train: Metrics[]; readonly validation: Metrics[] } };
  readonly bestEpoch: number;
  readonly optimizer: OptimizerState;
}

export function transpile(code: string): string {
  const ts = tsc();
  return ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, removeComments: false },
  }).outputText;
}

export function loadModule(code: string): GeneratedModule {
  return runModule(transpile(code));
}

/** A module from the JavaScript of \`transpile\` (what a worker thread is given to run the same module). */
export function runModule(js: string): GeneratedModule {
  const module = { exports: {} as Record<string, unknown> };
  new Function('exports', 'module', js)(module.exports, module);
  return module.exports as unknown as GeneratedModule;
}
