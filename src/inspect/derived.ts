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
 * pipeline.ts. Each inspected model owns the graph its nodes are interned in (ir/node.ts),
 * and a tool that builds more nodes for it (explain's stand-in leaves) builds them there,
 * so they go when the Inspected goes.
 */
import { Graph, withGraph } from '../ir/node.js';
import type { Derived, Model } from '../model.js';
import { buildModel, derive, type ModelDefinition } from '../pipeline.js';

export interface Inspected {
  /** The model as the user built it (formulas as written). */
  readonly original: Model;
  /** The simplified model, its gradients, adjoints and origins: what gradc differentiates. */
  readonly derived: Derived;
  /** The graph that owns their nodes. */
  readonly graph: Graph;
}

const cache = new WeakMap<ModelDefinition | Model, Inspected>();

export function inspectModel(x: ModelDefinition | Model | Inspected): Inspected {
  if ('derived' in x && 'original' in x) return x;
  let found = cache.get(x);
  if (!found) {
    const graph = new Graph();
    found = withGraph(() => {
      const original = buildModel(x);
      return { original, derived: derive(original), graph };
    }, graph);
    cache.set(x, found);
  }
  return found;
}
