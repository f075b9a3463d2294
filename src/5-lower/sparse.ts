/**
 * Phase 5, lower: the sparse part of a parameter's gradient.
 *
 * The gradient of an embedding lookup `E[ids]` is `scatter(g, ids)`: rows of g added into
 * rows ids of a zero matrix of E's shape. Materialized, that would be a dense matrix of
 * zeros per sample; instead both lowerings add g's rows straight into the touched rows of
 * the gradient accumulator and note which rows they touched (`$touch`), and the update pass
 * visits only those rows when every term of the parameter's gradient is such a scatter.
 * Guarantees: `gradientTerms(g)` splits g along sums of its own shape into the scatter
 * terms and the rest (`dense`, summed back; a constant 0 when there is none), so that
 * g = sum(scatters) + dense exactly; iterative.
 */
import { add, constant } from '../ir/build.js';
import type { Node } from '../ir/node.js';

export interface GradientTerms {
  /** Terms `scatter(g, ids)`, each added into the touched rows only. */
  readonly scatters: readonly Node[];
  /** Everything else, as one node (constant 0 when every term is a scatter). */
  readonly dense: Node;
}

export function gradientTerms(g: Node): GradientTerms {
  const scatters: Node[] = [];
  const rest: Node[] = [];
  const stack = [g];
  while (stack.length) {
    const v = stack.pop()!;
    if (v.op === 'add' && v.args.every((a) => a.shape.length === v.shape.length) && containsScatter(v)) { stack.push(v.args[1], v.args[0]); continue; }
    (v.op === 'scatter' ? scatters : rest).push(v);
  }
  const dense = rest.length === 0 ? constant(0, g.shape) : rest.reduce((a, b) => add(a, b));
  return { scatters, dense };
}

/** Whether a sum has a scatter among its terms (only such sums are taken apart). */
function containsScatter(v: Node): boolean {
  const stack = [v];
  while (stack.length) {
    const x = stack.pop()!;
    if (x.op === 'scatter') return true;
    if (x.op === 'add') stack.push(...x.args);
  }
  return false;
}

/** Whether every term of gradient g is a scatter (then the update pass visits the touched rows only). */
export const isSparse = (g: Node): boolean => {
  const t = gradientTerms(g);
  return t.scatters.length > 0 && t.dense.op === 'const' && t.dense.attrs.value === 0;
};
