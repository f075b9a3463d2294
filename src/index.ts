/**
 * gradc: formulas in, gradients derived by the chain rule, straight-line TypeScript out.
 *
 * The pipeline, in order (each phase is a folder; each file says what it guarantees;
 * pipeline.ts calls them top to bottom: build -> simplify -> differentiate -> simplify ->
 * lower -> emit, and is the one door the tools beside it use):
 *   1-parse      formula lines -> mathjs syntax trees                 1-parse/formula.ts
 *   2-build      syntax trees or builder calls -> checked Model (IR)  2-build/builder.ts
 *   3-diff       reverse mode over the IR, one rule table             3-diff/rules.ts, grad.ts, steps.ts
 *   4-simplify   algebra and stability rewrites to a fixed point      4-simplify/simplify.ts
 *   5-lower      IR -> flat instruction lists per kernel              5-lower/schedule.ts
 *   6-emit       instruction lists -> one TypeScript module           6-emit/module.ts
 * Options are checked before any phase runs (options.ts); every generated and displayed
 * name comes from naming.ts; the layering is checked by scripts/imports.ts.
 * Beside the pipeline: the IR itself (ir/), the reference interpreter (interp/), the
 * in-process loader (load/), data-parallel training over threads (train/team.ts; parallel.ts in Node, browser.ts on Web Workers, also the package's gradc/threads), the CLI (cli/), the inspection tools (inspect/) and the
 * bundler plugin (plugin/, the package's gradc/vite, gradc/rollup and gradc/esbuild).
 */
export { generate, compile, derive, gradientDoc, gradientSteps, formatSteps, type ArraysOf, type GenerateOptions, type Generated, type GradientSteps, type StepLine } from './pipeline.js';
export { defineModel, buildModel, compileOptionsOf, type ModelDefinition, type ModelSpec } from './2-build/define.js';
export { ModelBuilder, type Expr, type Activation } from './2-build/builder.js';
export { GradcError } from './errors.js';
export { differentiate } from './3-diff/grad.js';
export type { Derived } from './model.js';
export { evaluate as interpret, evaluateScalar } from './interp/evaluate.js';
export { printIr, formula } from './ir/print.js';
export { loadModule, type GeneratedModule, type Floats, type Params, type Values, type Sample, type FitOptions, type FitResult, type EpochRecord, type OptimizerOptions, type OptimizerState, type Schedule, type SavedParams, type SavedArray } from './load/loader.js';
export type { Model } from './model.js';
export { fitParallel, chooseThreads, type ParallelFitOptions, type ParallelFitResult } from './train/parallel.js';
export { fitParallelInBrowser, threadsUnavailable, type BrowserFitOptions, type BrowserFitResult } from './train/browser.js';
export { gradientFormulas, formatFormulas } from './inspect/formulas.js';
export { explain, formatWalkthrough } from './inspect/explain.js';
export { computationalGraph, toDot, toMermaid, toSvg } from './inspect/graph.js';

/** The HTML report (inspect/report.ts); KaTeX and Graphviz load only when it is called. */
export async function report(...args: Parameters<typeof import('./inspect/report.js').report>): Promise<string> {
  return (await import('./inspect/report.js')).report(...args);
}


/** What a `gradc.config.ts` default-exports (cli/config.ts), and a model file's own `compile` options. */
export type { GradcConfig } from './cli/config.js';
export type { ModelCompileOptions } from './2-build/define.js';
