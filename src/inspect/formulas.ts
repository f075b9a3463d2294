/**
 * The derived gradient formulas, readable: what `gradc grad` prints, with LaTeX.
 *
 * The steps themselves (which subexpressions get a name, which name, in what order) come
 * from the core (3-diff/steps.ts, through pipeline.ts), the same lines the generated
 * module's doc comment shows; this file adds each line's LaTeX and shape, and each
 * gradient without steps. Guarantees: as steps.ts, and
 * - every line has text (mathjs syntax, step names standing for their values) and LaTeX
 *   of the same formula;
 * - `expanded` is the gradient without steps (named definitions still appear by name);
 * - the output depends only on the model, never on node ids.
 */
import { formula } from '../ir/print.js';
import { showShape } from '../ir/shape.js';
import type { Model } from '../model.js';
import { formatSteps, gradientSteps, MAX_LENGTH, type ModelDefinition } from '../pipeline.js';
import { inspectModel, type Inspected } from './derived.js';
import { formatRecurrence, recurrenceForms, recurrenceFormulas, type RecurrenceFormulas } from './recurrence.js';
import { tex, texName } from './tex.js';
export interface FormulaLine {
  /** `dloss/dw`, `dloss/dz`, `g1`. */
  readonly name: string;
  readonly nameTex: string;
  /** Formula text (mathjs syntax; step names stand for their values). */
  readonly text: string;
  readonly tex: string;
  readonly shape: string;
  /** The parameter whose gradient this line is, if it is one. */
  readonly param?: string;
  /** For a step: the forward node it is the adjoint of (its name, or its formula). */
  readonly adjointOf?: string;
  /** Step names this formula refers to. */
  readonly uses: readonly string[];
}

export interface ParamGradient {
  readonly param: string;
  readonly name: string;
  readonly shape: string;
  /** With steps: the step's name when the gradient is a shared step of another name. */
  readonly text: string;
  readonly tex: string;
  /** Without steps (named definitions still appear by name). */
  readonly expanded: string;
  readonly expandedTex: string;
}

export interface GradientFormulas {
  readonly model: string;
  readonly source: string;
  /** Everything to print, in order: steps before their first use, then each gradient. */
  readonly lines: readonly FormulaLine[];
  /** Named steps: lines other formulas refer to. */
  readonly steps: readonly FormulaLine[];
  readonly gradients: readonly ParamGradient[];
  /** Each recurrence in recurrence form (inspect/recurrence.ts): its step, and backpropagation through time as dloss/dh[t-1] from dloss/dh[t]. */
  readonly recurrences: readonly RecurrenceFormulas[];
}

export function gradientFormulas(def: ModelDefinition | Model | Inspected, options: { wrt?: readonly string[] } = {}): GradientFormulas {
  const ins = inspectModel(def);
  const { derived } = ins;
  const model = derived.model;
  const steps = gradientSteps(derived, options);
  const lines: FormulaLine[] = steps.lines.map((l) => ({
    name: l.name,
    nameTex: texName(l.name),
    text: l.text,
    tex: l.alias ? texName(l.alias) : tex(l.node, steps.labels, { maxLength: MAX_LENGTH }),
    shape: showShape(l.node.shape),
    ...(l.param ? { param: l.param } : {}),
    ...(l.adjointOf ? { adjointOf: l.adjointOf } : {}),
    uses: l.uses,
  }));
  const shown = new Map(steps.lines.map((l, i) => [l, lines[i]]));
  // Several parameters often share one gradient node (every term of a sum): expand it once.
  const expandedOf = new Map<object, { text: string; tex: string }>();
  const gradients = steps.gradients.map((g): ParamGradient => {
    const p = model.params[g.index];
    const r = derived.grads[g.index];
    let e = expandedOf.get(r);
    if (!e) expandedOf.set(r, (e = { text: formula(r, model.labels, { maxLength: MAX_LENGTH }), tex: tex(r, model.labels, { maxLength: MAX_LENGTH }) }));
    const line = shown.get(g.line)!;
    return { param: p.name, name: g.name, shape: showShape(p.shape), text: line.text, tex: line.tex, expanded: e.text, expandedTex: e.tex };
  });
  const referenced = new Set(lines.flatMap((l) => l.uses));
  return {
    model: model.name,
    source: model.source,
    lines,
    steps: lines.filter((l) => referenced.has(l.name)),
    gradients,
    recurrences: recurrenceForms(ins, steps.labels).map(recurrenceFormulas),
  };
}

/** The text `gradc grad` prints: one `name = formula` line each, names aligned. */
export function formatFormulas(f: GradientFormulas, options: { tex?: boolean } = {}): string {
  const main = options.tex ? f.lines.map((l) => `${l.nameTex} = ${l.tex}`).join('\n') : formatSteps(f.lines);
  return [main, ...f.recurrences.map((r) => formatRecurrence(r, options))].join('\n\n');
}
