/**
 * Reverse-mode differentiation over the IR DAG.
 *
 * Takes a scalar node `loss` and the leaves `wrt`; returns, for each of them, an IR node
 * for dloss/dleaf (of the leaf's shape). Guarantees:
 * - only nodes on a path from some `wrt` leaf to the loss are differentiated (the rest
 *   of the graph gets no adjoint and costs nothing);
 * - the adjoints of a node used several times are summed;
 * - adjoints of broadcast scalars are summed back to a scalar;
 * - the result is ordinary IR, built through the smart constructors (so it is already
 *   locally simplified and hash-consed with the forward graph), and can be
 *   differentiated again;
 * - `origin` maps every node the backward pass created to the forward node whose rule
 *   created it, so emitters can comment each backward statement with the forward
 *   statement it differentiates;
 * - the walk is iterative: deep graphs do not overflow the stack.
 */
import { add, constant, make } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { sameShape } from '../ir/shape.js';
import { dependsOn, topoOrder } from '../ir/walk.js';
import { RULES } from './rules.js';

export interface Gradient {
  readonly loss: Node;
  /** dloss/dleaf for each requested leaf, in the order requested. */
  readonly grads: readonly Node[];
  /** Adjoint of every differentiated forward node (dloss/dnode). */
  readonly adjoints: ReadonlyMap<Node, Node>;
  /** Backward node -> the forward node whose rule created it. */
  readonly origin: ReadonlyMap<Node, Node>;
}

export function differentiate(loss: Node, wrt: readonly Node[]): Gradient {
  if (loss.shape.length !== 0) throw new Error(`the loss must be a scalar, got shape [${loss.shape.join('x')}]`);
  const order = topoOrder([loss]);
  const forward = new Set(order);
  const leaves = new Set(wrt);
  const active = dependsOn(order, (n) => leaves.has(n));
  const adjoints = new Map<Node, Node>();
  const origin = new Map<Node, Node>();

  // Mark the nodes a rule created (not forward nodes, not already marked) as coming from `y`.
  const claim = (root: Node, y: Node) => {
    const stack = [root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (forward.has(n) || origin.has(n)) continue;
      origin.set(n, y);
      for (const a of n.args) stack.push(a);
    }
  };

  if (active.has(loss)) adjoints.set(loss, constant(1));
  for (let i = order.length - 1; i >= 0; i--) {
    const y = order[i];
    const g = adjoints.get(y);
    if (g === undefined || y.args.length === 0) continue;
    const contributions = RULES[y.op](y, g);
    y.args.forEach((a, k) => {
      let c = contributions[k];
      if (!c || !active.has(a)) return;
      if (!sameShape(c.shape, a.shape)) c = make('sum', [c]); // the argument was a broadcast scalar
      const prev = adjoints.get(a);
      const total = prev === undefined ? c : add(prev, c);
      claim(total, y);
      adjoints.set(a, total);
    });
  }
  const grads = wrt.map((p) => adjoints.get(p) ?? constant(0, p.shape));
  return { loss, grads, adjoints, origin };
}
