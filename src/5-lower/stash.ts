/**
 * Phase 5, lower (looped form): the step values a recurrence's gradient loops read, stored
 * by the forward time loop instead of recomputed.
 *
 * The BPTT rule (3-diff/recurrence.ts) writes the reverse scan and the sums over time over
 * slots of their own that read h[t-1], x[t] and the constants again, so a cell's gates
 * (an LSTM's i, f, g, o and tanh(c), with the products that make them) would be computed
 * twice more per step. Given a forward scan and the kernel's other time nodes, `stashPlan`
 * finds, for each gradient body that reads the same rows (the scan's own history at the
 * same shift, the same sequences at the same shifts, the same constants), its frontier:
 * the costly nodes that depend on those rows only and that a node depending on the
 * cotangent reads. Each is matched structurally (op, attributes, shape and arguments, as
 * the intern key says) to a node of the forward body after renaming the slots.
 * Guarantees: a matched node computes, at step t, exactly the value the gradient body's
 * node does (same op over the same values), so reading it from a store changes no number;
 * a node that does not match is left to be recomputed; views and slots are never stored
 * (reading them costs nothing). A scan with a checkpoint stores nothing (it trades time
 * for memory on purpose).
 */
import { type Node, keyOf } from '../ir/node.js';
import { topoOrder } from '../ir/walk.js';
import { LOWERING } from './table.js';

/** One stored value: the forward body's node, and the gradient bodies' nodes that read it. */
export interface Stored { readonly forward: Node; readonly readers: Node[] }

/** The values forward scan `n`'s step stores for the gradient bodies among `order`. */
export function stashPlan(n: Node, order: readonly Node[]): Stored[] {
  const b = n.attrs.body!;
  if (n.op !== 'scan' || b.reverse || b.checkpoint !== undefined) return [];
  const nS = b.seqs.length;
  const forwardNodes = topoOrder([b.result]);
  const byKey = new Map(forwardNodes.map((f) => [keyOf(f.op, f.args, f.attrs, f.shape), f]));
  const stored = new Map<Node, Stored>();
  for (const m of order) {
    const c = m.attrs.body;
    if (m === n || !c || (m.op === 'scan' && !c.reverse) || c.steps !== b.steps) continue;
    const first = m.op === 'scan' ? 1 : 0;
    // The consumer's slots that read what a forward slot reads.
    const rename = new Map<Node, Node>();
    c.seqs.forEach((s, i) => {
      const arg = m.args[first + i], at = c.shifts[i], by = c.strides?.[i] ?? 1;
      if (arg === n && at === 0 && by === 1) rename.set(s, b.carry!);
      const j = b.seqs.findIndex((_, q) => n.args[1 + q] === arg && b.shifts[q] === at && (b.strides?.[q] ?? 1) === by);
      if (j >= 0) rename.set(s, b.seqs[j]);
    });
    c.consts.forEach((s, i) => {
      const j = b.consts.findIndex((_, q) => n.args[1 + nS + q] === m.args[first + c.seqs.length + i]);
      if (j >= 0) rename.set(s, b.consts[j]);
    });
    if (![...rename.values()].includes(b.carry!)) continue;
    // Pure nodes: those that read renamed slots and constants only, matched to forward nodes.
    const nodes = topoOrder([c.result]);
    const match = new Map<Node, Node>(rename);
    for (const p of nodes) {
      if (match.has(p) || p.op === 'slot') continue;
      if (p.op === 'const') { match.set(p, p); continue; }
      const args = p.args.map((a) => match.get(a));
      if (args.some((a) => a === undefined)) continue;
      const f = byKey.get(keyOf(p.op, args as Node[], p.attrs, p.shape));
      if (f) match.set(p, f);
    }
    const cheap = new Set<Node>();
    for (const p of nodes) if (p.op === 'slot' || p.op === 'const' || (LOWERING[p.op].kind === 'view' && cheap.has(p.args[0]))) cheap.add(p);
    for (const p of nodes) {
      if (!match.has(p) || cheap.has(p)) continue;
      const f = match.get(p)!;
      for (const u of nodes) {
        if (u.args.includes(p) && !match.has(u)) {
          const s = stored.get(f) ?? stored.set(f, { forward: f, readers: [] }).get(f)!;
          s.readers.push(p);
          break;
        }
      }
    }
  }
  return [...stored.values()];
}
