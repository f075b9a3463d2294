/**
 * gradc: formulas in, gradients derived by the chain rule, straight-line TypeScript out.
 *
 * The pipeline, in order (each phase is a folder; each file says what it guarantees):
 *   1-parse      formula lines -> mathjs syntax trees                 1-parse/formula.ts
 *   2-build      syntax trees or builder calls -> checked Model (IR)  2-build/builder.ts
 *   3-diff       reverse mode over the IR, one rule table             3-diff/rules.ts, grad.ts (derive.ts: 3 and 4 for a model)
 *   4-simplify   algebra and stability rewrites to a fixed point      4-simplify/simplify.ts
 *   5-lower      IR -> flat instruction lists per kernel              5-lower/schedule.ts
 *   6-emit       instruction lists -> one TypeScript module           6-emit/module.ts
 * Options are checked before any phase runs (options.ts).
 * Beside the pipeline: the IR itself (ir/), the reference interpreter (interp/), the
 * in-process loader (load/), the CLI (cli/), the inspection tools (inspect/) and the
 * bundler plugin (plugin/, the package's gradc/vite, gradc/rollup and gradc/esbuild).
 */
import { buildModel, compileOptionsOf, type ModelDefinition } from './2-build/define.js';
import { derive, type Derived } from './derive.js';
import { schedule, type Program } from './5-lower/schedule.js';
import { emitModule, type EmitOptions } from './6-emit/module.js';
import { loadModule, type GeneratedModule } from './load/loader.js';
import { formatFormulas, gradientFormulas } from './inspect/formulas.js';
import { topoOrder } from './ir/walk.js';
import { currentGraph, withGraph } from './ir/node.js';
import { checkOptions } from './options.js';

/** Options of `generate` and `compile` (each checked by options.ts before anything runs). */
export interface GenerateOptions extends EmitOptions {
  /** Model file shown in errors. */
  readonly source?: string;
  /** Bound on the elements of one tensor and of all parameters together (default 1e7). */
  readonly maxElements?: number;
}

/** Gradient graphs up to this many nodes get the named-steps formulas in the doc comment. */
const DOC_STEPS_LIMIT = 10_000;
import type { Model } from './model.js';

export interface Generated {
  readonly model: Model;
  readonly derived: Derived;
  readonly program: Program;
  /** The module text, exactly as `gradc build` writes it. */
  readonly code: string;
}

/** The whole pipeline: model definition -> generated module text. */
export function generate(def: ModelDefinition | Model, given: GenerateOptions = {}): Generated {
  // Every node of this compile is interned in a graph of its own, dropped with the results.
  return withGraph(() => generateInGraph(def, given));
}

function generateInGraph(def: ModelDefinition | Model, given: GenerateOptions): Generated {
  checkOptions(given, 'generate');
  // The model file's own compile options (defineModel(..., { compile })), under those given here.
  const own = compileOptionsOf(def);
  checkOptions(own, 'defineModel(...) compile');
  const options: GenerateOptions = { ...(own as GenerateOptions | undefined), ...definedOnly(given) };
  const model = buildModel(def, options.source, { maxElements: options.maxElements }); // phases 1 and 2
  const derived = derive(model); // phases 3 and 4
  const program = schedule(derived, options); // phase 5
  // The gradient's doc comment shows the formulas exactly as `gradc grad` prints them, while
  // the gradient graph is small enough to read; beyond that, one bounded formula per parameter.
  const gradientDoc = topoOrder(derived.grads).length <= DOC_STEPS_LIMIT
    ? formatFormulas(gradientFormulas({ original: model, derived, graph: currentGraph() })).split('\n')
    : undefined;
  const code = emitModule(program, { ...options, gradientDoc }); // phase 6
  return { model, derived, program, code };
}

const definedOnly = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/**
 * A compiled module's array type from its options: Float32Array for `precision: 'f32'`,
 * else Float64Array (also when the precision is not known statically, as for a variable
 * of type GenerateOptions: then the default, f64, is assumed).
 */
export type ArraysOf<O> =
  [O] extends [{ readonly precision?: 'f64' | undefined }] ? Float64Array
  : [O] extends [{ readonly precision: 'f32' }] ? Float32Array
  : Float64Array;

/**
 * Generate and load in process: define, compile and train in one script. The module's
 * arrays (and its type) are Float32Array with `precision: 'f32'`, else Float64Array (a
 * model whose own compile options choose f32: pass `precision: 'f32'` here too for the type).
 */
export function compile<O extends GenerateOptions = GenerateOptions>(def: ModelDefinition | Model, options?: O): GeneratedModule<ArraysOf<O>> & { readonly code: string } {
  checkOptions(options ?? {}, 'compile');
  const { code } = generate(def, options);
  return Object.assign(loadModule<ArraysOf<O>>(code), { code });
}

export { defineModel, buildModel, compileOptionsOf, type ModelDefinition, type ModelSpec } from './2-build/define.js';
export { ModelBuilder, type Expr, type Activation } from './2-build/builder.js';
export { GradcError } from './errors.js';
export { differentiate } from './3-diff/grad.js';
export { derive } from './derive.js';
export { evaluate as interpret, evaluateScalar } from './interp/evaluate.js';
export { printIr, formula } from './ir/print.js';
export { loadModule, type GeneratedModule, type Floats, type Params, type Values, type Sample, type FitOptions, type FitResult, type EpochRecord, type OptimizerOptions, type OptimizerState, type Schedule, type SavedParams, type SavedArray } from './load/loader.js';
export type { Model } from './model.js';
export { gradientFormulas } from './inspect/formulas.js';
export { explain, formatWalkthrough } from './inspect/explain.js';
export { computationalGraph, toDot, toMermaid, toSvg } from './inspect/graph.js';

/** The HTML report (inspect/report.ts); KaTeX and Graphviz load only when it is called. */
export async function report(...args: Parameters<typeof import('./inspect/report.js').report>): Promise<string> {
  return (await import('./inspect/report.js')).report(...args);
}


/** What a `gradc.config.ts` default-exports (cli/config.ts), and a model file's own `compile` options. */
export type { GradcConfig } from './cli/config.js';
export type { ModelCompileOptions } from './2-build/define.js';
