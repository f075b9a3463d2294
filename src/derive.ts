/**
 * Phases 3 and 4 together, for a whole model (beside index.ts, so that no phase imports a
 * later one): simplify the forward graph (including
 * the stability rewrites), differentiate the loss with respect to every parameter, and
 * simplify the derived gradients.
 *
 * Guarantees: `Derived.model` is the input model with every node replaced by its
 * simplified form (labels, definitions and outputs follow their nodes); `grads[i]` is
 * dloss/d(params[i]) as simplified IR of that parameter's shape; `origin` names, for
 * each backward node, the forward node whose rule created it (after simplification).
 * With DEBUG=2 the IR is printed after each phase.
 */
import { debugPhase } from './debug.js';
import type { Node } from './ir/node.js';
import { printIr } from './ir/print.js';
import type { Model } from './model.js';
import { simplify } from './4-simplify/simplify.js';
import { differentiate } from './3-diff/grad.js';

export interface Derived {
  readonly model: Model;
  readonly grads: readonly Node[];
  /** Backward node -> forward node it differentiates. */
  readonly origin: ReadonlyMap<Node, Node>;
  /** Forward node -> its adjoint dloss/dnode (for naming adjoints after user labels). */
  readonly adjoints: ReadonlyMap<Node, Node>;
}

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
