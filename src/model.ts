/**
 * What a model is once built: the data every phase after the front ends reads.
 *
 * Guarantees: a `Model` is checked. Its leaves have distinct names (across params,
 * inputs and targets, and distinct from every defined name); `loss` is a scalar node
 * that depends on at least one parameter; every node reachable from the loss is built
 * from the declared leaves and constants; `defs` lists the user's named intermediates
 * in definition order; `outputs` are what `forward` returns. A Model is produced only
 * by `2-build/builder.ts` (which the formula front end also uses). A `Derived` is a Model
 * after phases 3 and 4 (pipeline.ts `derive`): what lowering and the inspection tools read.
 */
import type { Node } from './ir/node.js';
import type { Shape } from './ir/shape.js';
import { topoOrder } from './ir/walk.js';

/** How a parameter starts. Random initializers draw from a seeded generator. */
export type Init =
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'values'; readonly values: readonly number[] }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'glorot' } // uniform in +-sqrt(6 / (fanIn + fanOut))
  | { readonly kind: 'he' }; // normal with std sqrt(2 / fanIn)

export interface Leaf {
  readonly name: string;
  readonly shape: Shape;
  readonly node: Node;
}

export interface ParamLeaf extends Leaf {
  readonly init: Init;
}

export interface Definition {
  readonly name: string;
  readonly node: Node;
  /** Formula text as the user wrote it, when defined by a formula. */
  readonly formula?: string;
  readonly line?: number;
}

export interface Model {
  readonly name: string;
  /** Where the model came from (a file path, or `<inline model 'name'>`). */
  readonly source: string;
  readonly params: readonly ParamLeaf[];
  readonly inputs: readonly Leaf[];
  readonly targets: readonly Leaf[];
  readonly defs: readonly Definition[];
  readonly outputs: readonly Definition[];
  readonly loss: Node;
  /** The user's name for each named node (first definition wins). */
  readonly labels: ReadonlyMap<Node, string>;
  /** Seed for random initializers. */
  readonly seed: number;
}

/**
 * A model after phases 3 and 4 (pipeline.ts `derive`). `model` is the input model with
 * every node replaced by its simplified form (labels, definitions and outputs follow their
 * nodes); `grads[i]` is dloss/d(params[i]) as simplified IR of that parameter's shape;
 * `origin` names, for each backward node, the forward node whose rule created it.
 */
export interface Derived {
  readonly model: Model;
  readonly grads: readonly Node[];
  /** Backward node -> forward node it differentiates. */
  readonly origin: ReadonlyMap<Node, Node>;
  /** Forward node -> its adjoint dloss/dnode (naming.ts names adjoints after their forward nodes). */
  readonly adjoints: ReadonlyMap<Node, Node>;
}

/** The forward graph in topological order: every node the definitions and the loss read, definitions first. */
export function forwardNodes(model: Model): Node[] {
  return topoOrder([...model.defs.map((d) => d.node), model.loss]);
}
