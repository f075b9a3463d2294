/**
 * The one door from the inspection tools into the pipeline: a model, built and derived.
 *
 * The inspection tools (each its own file; the package entry index.ts exports them):
 *   gradientFormulas   the simplified gradient formulas, with shared steps named    formulas.ts
 *   explain            the chain rule for one sample, in four tables with numbers   explain.ts
 *   computationalGraph the forward and backward graph, as DOT, Mermaid or SVG       graph.ts
 *   report             all of it on one self-contained HTML page (KaTeX, SVG)       report.ts
 * LaTeX comes from tex.ts, samples and number formatting from sample.ts, every name from
 * naming.ts.
 *
 * Guarantees: `inspectModel(x)` builds the model (phases 1-2) and derives it (phases
 * 3-4) once per Model object (later calls return the same result), so `report`, which
 * uses every other tool, derives once. The phases themselves are reached only through
 * pipeline.ts.
 */
import type { Derived, Model } from '../model.js';
import { buildModel, derive, type ModelDefinition } from '../pipeline.js';

export interface Inspected {
  /** The model as the user built it (formulas as written). */
  readonly original: Model;
  /** The simplified model, its gradients, adjoints and origins: what gradc differentiates. */
  readonly derived: Derived;
}

const cache = new WeakMap<Model, Inspected>();

export function inspectModel(x: ModelDefinition | Model | Inspected): Inspected {
  if ('derived' in x && 'original' in x) return x;
  const original = buildModel(x as ModelDefinition | Model);
  let found = cache.get(original);
  if (!found) {
    found = { original, derived: derive(original) };
    cache.set(original, found);
  }
  return found;
}
