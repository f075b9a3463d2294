/**
 * The pipeline, top to bottom, and the one door into it.
 *
 *   build -> simplify -> differentiate -> simplify -> lower -> emit
 *
 * `generate` runs every phase in that order, visibly, on one model; `derive` is the middle
 * (phases 3 and 4: simplify the forward graph with the stability rewrites, differentiate
 * the loss with respect to every parameter, simplify the gradients). Phases never import
 * this file or each other out of order (scripts/imports.ts checks it), and the tools
 * beside the pipeline (inspect/, cli/, plugin/) reach the phases only through what it
 * exports here. Guarantees:
 * - `derive(model).model` is the input model with every node replaced by its simplified
 *   form (labels, definitions and outputs follow their nodes); `grads[i]` is
 *   dloss/d(params[i]) as simplified IR of that parameter's shape; `origin` names, for
 *   each backward node, the forward node whose rule created it (after simplification);
 * - `generate` checks its options before any phase runs (options.ts) and returns the
 *   module text `gradc build` writes, byte for byte the same for the same input;
 * - with DEBUG=2 the IR is printed after each phase under a heading (debug.ts).
 */
import { debugPhase } from './debug.js';
import { type Node, withGraph } from './ir/node.js';
import { formulas, printIr } from './ir/print.js';
import { reachesAtMost } from './ir/walk.js';
import type { Derived, Model } from './model.js';
import { adjointLabel } from './naming.js';
import { checkOptions } from './options.js';
import { buildModel, compileOptionsOf, type ModelDefinition } from './2-build/define.js';
import { differentiate } from './3-diff/grad.js';
import { formatSteps, gradientSteps } from './3-diff/steps.js';
import { simplify } from './4-simplify/simplify.js';
import { schedule, type Program } from './5-lower/schedule.js';
import { emitModule, type EmitOptions } from './6-emit/module.js';
import type { Flavour } from './6-emit/kernels.js';
import { runModule, type GeneratedModule } from './load/loader.js';

/** Options of `generate` and `compile` (each checked by options.ts before anything runs). */
export interface GenerateOptions extends EmitOptions {
  /** Model file shown in errors. */
  readonly source?: string;
  /** Bound on the elements of one tensor and of all parameters together (default 1e7). */
  readonly maxElements?: number;
}

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
  return withGraph(() => generateInGraph(def, given, 'ts'));
}

/** The pipeline, writing the module in `flavour`: TypeScript (`generate`) or JavaScript (`compile`). */
function generateInGraph(def: ModelDefinition | Model, given: GenerateOptions, flavour: Flavour): Generated {
  checkOptions(given, 'generate');
  // The model file's own compile options (defineModel(..., { compile })), under those given here.
  const own = compileOptionsOf(def);
  checkOptions(own, 'defineModel(...) compile');
  const options: GenerateOptions = { ...(own as GenerateOptions | undefined), ...definedOnly(given) };
  const model = buildModel(def, options.source, { maxElements: options.maxElements }); // 1 parse, 2 build
  const derived = derive(model); // 4 simplify, 3 differentiate, 4 simplify
  const program = schedule(derived, options, { comments: flavour === 'ts' }); // 5 lower (the JavaScript needs no comments)
  // The derived formulas are a doc comment of the TypeScript; the JavaScript compile() loads goes without.
  const code = emitModule(program, options, flavour === 'ts' ? gradientDoc(derived) : [], flavour); // 6 emit
  return { model, derived, program, code };
}

/** Phases 3 and 4 for a model: simplify, differentiate, simplify (see the header). */
export function derive(model: Model): Derived {
  debugPhase('build', () => printIr([model.loss], model.labels, ['loss']));
  const roots = [model.loss, ...model.defs.map((d) => d.node), ...model.params.map((p) => p.node)];
  const fwd = simplify(roots);
  const m = (n: Node) => fwd.map.get(n) ?? n;
  const labels = new Map<Node, string>();
  for (const [n, name] of model.labels) if (!labels.has(m(n)) && m(n).op !== 'const') labels.set(m(n), name);
  const simplified: Model = Object.freeze({
    ...model,
    loss: m(model.loss),
    defs: model.defs.map((d) => ({ ...d, node: m(d.node) })),
    outputs: model.outputs.map((d) => ({ ...d, node: m(d.node) })),
    labels,
  });
  debugPhase('simplify (forward)', () => printIr([simplified.loss], labels, ['loss']));

  const params = model.params.map((p) => p.node);
  const g = differentiate(simplified.loss, params);
  debugPhase('differentiate', () => printIr(g.grads, labels, model.params.map((p) => `d${p.name}`)));

  const back = simplify(g.grads);
  const origin = new Map<Node, Node>();
  for (const [b, f] of g.origin) {
    const nb = back.map.get(b);
    if (nb && !origin.has(nb)) origin.set(nb, f);
  }
  const adjoints = new Map<Node, Node>();
  for (const [f, a] of g.adjoints) adjoints.set(f, back.map.get(a) ?? a);
  debugPhase('simplify (gradients)', () => printIr(back.roots, labels, model.params.map((p) => `d${p.name}`)));
  return { model: simplified, grads: back.roots, origin, adjoints };
}

/**
 * Phases 3 and 4 for one expression: d(root)/d(wrt[i]) for each i, simplified. The
 * inspection tools use it for local derivatives (`gradc explain`), over stand-in leaves.
 */
export function deriveExpression(root: Node, wrt: readonly Node[]): readonly Node[] {
  return simplify(differentiate(root, wrt).grads).roots;
}

/**
 * Phase 4 for expressions the inspection tools build (a recurrence's step over stand-in
 * leaves, inspect/recurrence.ts): simplified as the model's graphs are.
 */
export function simplifyExpressions(roots: readonly Node[]): readonly Node[] {
  return simplify(roots).roots;
}

/** Gradient graphs up to this many nodes get the named-steps formulas in the doc comment. */
const DOC_STEPS_LIMIT = 10_000;
/** Beyond DOC_STEPS_LIMIT, each parameter's formula is cut at this many characters. */
const DOC_FORMULA_LENGTH = 400;

/**
 * The lines of the gradient's doc comment: the formulas exactly as `gradc grad` prints
 * them (3-diff/steps.ts), while the gradient graph is small enough to read; beyond that,
 * one bounded formula per parameter.
 */
export function gradientDoc(derived: Derived): string[] {
  if (reachesAtMost(derived.grads, DOC_STEPS_LIMIT)) return formatSteps(gradientSteps(derived).lines).split('\n');
  const texts = formulas(derived.grads, derived.model.labels, { maxLength: DOC_FORMULA_LENGTH });
  return derived.model.params.map((p, i) => `${adjointLabel(p.name)} = ${texts[i]}`);
}

const definedOnly = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/**
 * A compiled module's array type from its options: Float32Array for `precision: 'f32'`,
 * Float64Array for 'f64' or none; `Float32Array | Float64Array` when the options name a
 * precision known only at run time (`{ precision: p }` with `p: 'f32' | 'f64'`). A variable
 * of type GenerateOptions (precision optional and unknown) gets the default, f64.
 */
export type ArraysOf<O> =
  [O] extends [{ readonly precision?: 'f64' | undefined }] ? Float64Array
  : [O] extends [{ readonly precision: 'f32' }] ? Float32Array
  : [O] extends [{ readonly precision: 'f32' | 'f64' }] ? Float32Array | Float64Array
  : Float64Array;

/**
 * The module as JavaScript, as `compile()` loads it: the same program as `generate(...).code`
 * (an ES2022 module), written directly by the emitter (6-emit/flavour.ts).
 */
export function generateJavaScript(def: ModelDefinition | Model, options: GenerateOptions = {}): string {
  checkOptions(options, 'generate');
  return withGraph(() => generateInGraph(def, options, 'js')).code;
}

/**
 * Generate and load in process: define, compile and train in one script. The module's
 * arrays (and its type) are Float32Array with `precision: 'f32'`, else Float64Array (a
 * model whose own compile options choose f32: pass `precision: 'f32'` here too for the type).
 * The emitter writes the module as JavaScript for this (no TypeScript compile); `code`, the
 * TypeScript text `gradc build` writes for the same options, is generated when first read.
 */
export function compile<O extends GenerateOptions = GenerateOptions>(def: ModelDefinition | Model, options?: O): GeneratedModule<ArraysOf<O>> & { readonly code: string } {
  checkOptions(options ?? {}, 'compile');
  const js = generateJavaScript(def, options);
  let code: string | undefined;
  return Object.defineProperty(runModule<ArraysOf<O>>(js), 'code', { get: () => (code ??= generate(def, options).code), enumerable: true }) as GeneratedModule<ArraysOf<O>> & { readonly code: string };
}

// What the tools beside the pipeline use of the phases: building a model (cli, inspect),
// the gradient steps (inspect), and the option types (cli).
export { buildModel, compileOptionsOf, defineModel, isModelDefinition, type ModelDefinition, type ModelSpec, type ModelCompileOptions } from './2-build/define.js';
export { formatSteps, gradientSteps, MAX_LENGTH, selectParams, type GradientSteps, type StepLine } from './3-diff/steps.js';
export type { Program, LowerOptions } from './5-lower/schedule.js';
export type { EmitOptions } from './6-emit/module.js';
