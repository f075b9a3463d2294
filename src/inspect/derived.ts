/**
 * The one door from the inspection tools into the pipeline: a model, built and derived.
 *
 * Guarantees: `inspectModel(x)` builds the model (phases 1-2) and derives it (phases
 * 3-4) once per Model object (later calls return the same result), so `report`, which
 * uses every other tool, derives once. Each inspected model owns the graph its nodes are
 * interned in (ir/node.ts), and a tool that builds more nodes for it (explain's stand-in
 * leaves) builds them there, so they go when the Inspected goes. `forwardNodes` lists
 * the forward graph: every node that the loss or a definition reads, in topological order.
 */
import { buildModel, type ModelDefinition } from '../2-build/define.js';
import { derive, type Derived } from '../derive.js';
import { Graph, type Node, withGraph } from '../ir/node.js';
import { topoOrder } from '../ir/walk.js';
import type { Model } from '../model.js';

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

/** The simplified forward graph in topological order: definitions in definition order, then the loss. */
export function forwardNodes(model: Model): Node[] {
  return topoOrder([...model.defs.map((d) => d.node), model.loss]);
}
