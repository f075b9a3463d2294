/**
 * Phase 5, lower (looped form): a small recurrence's step as straight-line scalar code.
 *
 * A time loop's body is normally planned like a kernel of its own (loops.ts lowerTime):
 * one element loop or gemm per node, each over the batch, each value through a buffer. For
 * a small cell (an Elman net of 8 units, an LSTM of 4) that is mostly loop overhead and
 * buffer traffic, so a step of small operations (`cellFits`) is instead one loop over the samples whose body is the step unrolled to
 * scalars by the unrolled lowering's own expansion (scalarize.ts): every element the step
 * reads (a row of the history, of a sequence, of a stored value, a constant) bound once to
 * a scalar leaf, the step's nodes as scalar ops, and a store per element it writes.
 * Guarantees: the code's size depends on the cell, never on T; each value is the unrolled
 * lowering's formula for that element (matrix products as left-folded sums in index order,
 * like the loops), so results equal the looped body's to rounding (1e-12; tested); only
 * steps whose writes are all per-sample rows are made scalar (a write to an unbatched buffer
 * once per sample would repeat it), and only nodes every lowering table kind here expands
 * (no gathers, scatters or nested time loops).
 */
import type { Node } from '../ir/node.js';
import { sizeOf } from '../ir/shape.js';
import { slot } from '../ir/scan.js';
import { topoOrder } from '../ir/walk.js';
import { scalarize } from './scalarize.js';
import { LOWERING, unflat } from './table.js';
import type { Access, CellRead, CellWrite, LoopStep } from './plan.js';

/**
 * The mean scalar work per operation of a step (its multiply-adds and elements made, over
 * its operations, views not counted) up to which the step is straight-line scalar code
 * (`scalarCell` option; 0: never, Infinity: always), and the total work it may have, as a
 * multiple of that bound. Measured (bench/cell.ts, interleaved rounds, README "Recurrences"):
 * a looped step pays a loop per operation, which a step of many small operations (an LSTM's
 * or GRU's gates at 4-8 units, the gradient loops) feels and a step of one large product
 * (an Elman net's forward step over 16 inputs, mean 43) does not: there the straight-line
 * code, its parameters held in hundreds of locals, was 0.7-0.9x the loops.
 */
export const DEFAULT_SCALAR_CELL = 32;
export const SCALAR_CELL_TOTAL = 64;

/** Whether a step of nodes `inner` is made scalar under bound `scalarCell` (see DEFAULT_SCALAR_CELL). */
export function cellFits(inner: readonly Node[], scalarCell: number): boolean {
  const ops = inner.filter((n) => LOWERING[n.op].kind !== 'view').length;
  const work = cellWork(inner);
  return work <= scalarCell * Math.max(1, ops) && work <= scalarCell * SCALAR_CELL_TOTAL;
}

/** The scalar work of one step of a body whose nodes are `inner`: elements made, multiply-adds counted once each. */
export function cellWork(inner: readonly Node[]): number {
  let work = 0;
  for (const n of inner) {
    const e = LOWERING[n.op];
    if (e.kind === 'contract') {
      const { red } = e.of(n.args.map((a) => a.shape));
      work += sizeOf(n.shape) * (red.length ? sizeOf(red) : 1);
    } else if (e.kind !== 'view') work += sizeOf(n.shape);
  }
  return work;
}

/** Whether the nodes of a body can all be expanded to scalars here. */
export function cellExpands(inner: readonly Node[]): boolean {
  return inner.every((n) => {
    const k = LOWERING[n.op].kind;
    return k === 'elementwise' || k === 'view' || k === 'contract' || k === 'place' || k === 'shifted' || (k === 'leaf' && n.op === 'const');
  });
}

/** A value the step stores: every element of node `value` into `to` (`add`: added to what is there). */
export interface CellOutput { readonly value: Node; readonly to: Access; readonly add: boolean }

/**
 * The step: `slots` the accesses the body reads (bound once per element), `outputs` what it
 * writes. Undefined when some write is not per-sample (the caller keeps the looped body).
 */
export function cellStep(slots: ReadonlyMap<Node, Access>, outputs: readonly CellOutput[], comment: string): Extract<LoopStep, { kind: 'cell' }> | undefined {
  if (outputs.some((o) => o.to.bs === 0 || !o.to.buf || o.to.inline)) return undefined;
  const el = new Map<Node, Node[]>();
  const leaves: CellRead[] = [];
  let i = 0;
  for (const [node, from] of slots) {
    const j = i++;
    // One scalar leaf per element, named uniquely within this step.
    const elements = Array.from({ length: sizeOf(node.shape) }, (_, k) => slot(`$cell${j}_${k}`, []));
    elements.forEach((leaf, k) => leaves.push({ leaf, from, at: unflat(node.shape, k) }));
    el.set(node, elements);
  }
  scalarize(outputs.map((o) => o.value), el);
  const writes: CellWrite[] = outputs.flatMap((o) => el.get(o.value)!.map((value, k) => ({ to: o.to, at: unflat(o.value.shape, k), value, add: o.add })));
  const bound = new Set(leaves.map((r) => r.leaf));
  const values = topoOrder(writes.map((w) => w.value), bound).filter((n) => n.op !== 'const');
  const used = new Set<Node>(writes.map((w) => w.value));
  for (const n of values) for (const a of n.args) used.add(a);
  return { kind: 'cell', reads: leaves.filter((r) => used.has(r.leaf)), values: values.filter((n) => !bound.has(n)), writes, comment };
}
