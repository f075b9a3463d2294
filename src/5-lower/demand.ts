/**
 * Phase 5, lower (looped form): which nodes a kernel computes, and how each parameter's
 * gradient reaches its accumulator.
 *
 * Guarantees: `demandOf` returns the nodes the kernel's results need (the outputs for
 * `forward`, the loss for `loss`, the loss and every parameter's gradient for
 * `gradient`), closed under arguments, in topological order, and nothing else; `roots`
 * are the results themselves (never fused away). A parameter's gradient is split along
 * same-rank sums into terms, each summed over the batch into the accumulator: an outer
 * product of two per-sample vectors as a gemm over the batch (`gemm`, its two factors
 * demanded instead of the product), a per-sample term as a batch sum (`sum`), a term that
 * depends on parameters only as `nb` times its value (`shared`), a scatter (the gradient
 * of an embedding lookup) into the looked-up rows only (`scatter`, its two arguments
 * demanded instead: sparse.ts); zero terms are dropped.
 * Iterative; linear in the size of the graph.
 */
import type { Node } from '../ir/node.js';
import { topoOrder } from '../ir/walk.js';
import type { Derived } from '../model.js';

export type KernelKind = 'forward' | 'loss' | 'gradient';

export interface Reduction {
  readonly node: Node;
  /** Index of the parameter in the model. */
  readonly param: number;
  readonly how: 'gemm' | 'sum' | 'shared' | 'scatter';
}

export interface Demand {
  readonly demanded: ReadonlySet<Node>;
  readonly roots: ReadonlySet<Node>;
  readonly order: readonly Node[];
  readonly reductions: readonly Reduction[];
}

export function demandOf(kind: KernelKind, derived: Derived, batched: ReadonlySet<Node>): Demand {
  const { model, grads } = derived;
  const demanded = new Set<Node>();
  const reductions: Reduction[] = [];
  if (kind === 'forward') for (const o of model.outputs) demanded.add(o.node);
  else demanded.add(model.loss);
  if (kind === 'gradient') {
    grads.forEach((g, param) => {
      const stack = [g];
      while (stack.length) {
        const v = stack.pop()!;
        if (v.op === 'const' && v.attrs.value === 0) continue;
        if (v.op === 'add' && v.args.every((a) => a.shape.length === v.shape.length)) { stack.push(v.args[1], v.args[0]); continue; }
        if (v.op === 'scatter') {
          reductions.push({ node: v, param, how: 'scatter' });
          demanded.add(v.args[0]); demanded.add(v.args[1]);
          continue;
        }
        if (v.op === 'outer' && batched.has(v.args[0]) && batched.has(v.args[1])) {
          reductions.push({ node: v, param, how: 'gemm' });
          demanded.add(v.args[0]); demanded.add(v.args[1]);
          continue;
        }
        reductions.push({ node: v, param, how: batched.has(v) ? 'sum' : 'shared' });
        demanded.add(v);
      }
    });
  }
  const roots = new Set(demanded);
  const all = topoOrder([...demanded]);
  for (let i = all.length - 1; i >= 0; i--) if (demanded.has(all[i])) for (const a of all[i].args) demanded.add(a);
  return { demanded, roots, order: all.filter((n) => demanded.has(n)), reductions };
}
