/**
 * Recurrences in the IR: building `scan` and `tsum` nodes (ir/ops.ts `Body`), and the
 * graph substitution their derivative rules use.
 *
 * Guarantees:
 * - `recurrence` takes a step function written over any nodes (parameters, inputs,
 *   computed values) and returns a scan whose body is closed: every maximal
 *   subexpression of the step that reads neither the carry nor a sequence row becomes a
 *   constant argument of the scan, read in the body through a slot of its own (closure
 *   conversion), so the body is a pure function of its slots and the rule table can
 *   differentiate with respect to each argument;
 * - slots are named after their body's id (`~<id>.c`, `~<id>.s<i>`, `~<id>.k<j>`), which is
 *   unique in the graph and given in creation order, so two bodies never share a slot and
 *   the names do not depend on what else the process built;
 * - `substitute` rebuilds a graph bottom-up through the smart constructors with some
 *   nodes replaced, iteratively; nodes that reach no replaced node are kept as they are.
 */
import { make } from './build.js';
import { type Node, currentGraph, intern } from './node.js';
import { type Body, type StatePart, rowShape } from './ops.js';
import { type Shape, sizeOf } from './shape.js';
import { dependsOn, topoOrder } from './walk.js';

export const slot = (name: string, s: Shape): Node => intern('slot', [], { name }, s);

/** A sequence argument of a recurrence: its rows are read at step t as row (t-1)*stride+shift. */
export interface Sequence { readonly node: Node; readonly shift?: number; readonly stride?: number }

/** `roots` with each key of `map` replaced by its value, rebuilt bottom-up (make: local rewrites apply). */
export function substitute(roots: readonly Node[], map: ReadonlyMap<Node, Node>): Node[] {
  const order = topoOrder(roots);
  const done = new Map<Node, Node>();
  for (const n of order) {
    const r = map.get(n);
    if (r !== undefined) { done.set(n, r); continue; }
    const args = n.args.map((a) => done.get(a)!);
    done.set(n, args.every((a, i) => a === n.args[i]) ? n : make(n.op, args, n.attrs, n.shape));
  }
  return roots.map((r) => done.get(r)!);
}

/**
 * Closure conversion: the free subexpressions of `result` (maximal ones that read no node
 * of `bound`, constants aside) as constant arguments, each read through a fresh slot.
 */
function close(id: number, result: Node, bound: readonly Node[]): { result: Node; consts: Node[]; slots: Node[] } {
  const order = topoOrder([result]);
  const boundSet = new Set(bound);
  const inner = dependsOn(order, (n) => boundSet.has(n));
  const free: Node[] = [];
  const seen = new Set<Node>();
  const visit = (n: Node) => { if (!inner.has(n) && n.op !== 'const' && !seen.has(n)) { seen.add(n); free.push(n); } };
  for (const n of order) if (inner.has(n)) n.args.forEach(visit);
  visit(result);
  const slots = free.map((f, j) => slot(`~${id}.k${j}`, f.shape));
  const [closed] = substitute([result], new Map(free.map((f, j) => [f, slots[j]])));
  return { result: closed, consts: free, slots };
}

/** A sequence's slot for body `id`. */
const seqSlot = (id: number, i: number, seq: Node): Node => slot(`~${id}.s${i}`, rowShape(seq.shape));

/** The steps a sequence allows: its rows, less its shift. */
const stepsOf = (seqs: readonly Sequence[]): number => Math.min(...seqs.map((s) => Math.floor(((s.node.shape[0] ?? 0) - (s.shift ?? 0) - 1) / (s.stride ?? 1)) + 1));

/**
 * The recurrence carry[t] = step(carry[t-1], rows of the sequences at t), carry[0] = init,
 * t = 1..T with T the sequences' length (or `steps`): a [(T+1) x C] node whose row t is carry[t].
 */
export function recurrence(init: Node, seqs: readonly Sequence[], step: (carry: Node, rows: Node[]) => Node, options: { steps?: number; truncate?: number; checkpoint?: number; states?: readonly StatePart[] } = {}): Node {
  const steps = options.steps ?? stepsOf(seqs);
  const id = currentGraph().nextBody();
  const carry = slot(`~${id}.c`, init.shape);
  const rows = seqs.map((s, i) => seqSlot(id, i, s.node));
  const { result, consts, slots } = close(id, step(carry, rows), [carry, ...rows]);
  const strided = seqs.some((s) => (s.stride ?? 1) !== 1);
  const body: Body = {
    id, steps, first: 1, reverse: false, ...(options.truncate === undefined ? {} : { truncate: options.truncate }),
    ...(options.checkpoint === undefined ? {} : { checkpoint: options.checkpoint }),
    carry, seqs: rows, shifts: seqs.map((s) => s.shift ?? 0), ...(strided ? { strides: seqs.map((s) => s.stride ?? 1) } : {}), consts: slots, result, ...(options.states ? { states: options.states } : {}),
  };
  return make('scan', [init, ...seqs.map((s) => s.node), ...consts], { body });
}

/** Options of a body built over explicit slots (the derivative rules build these). */
export interface BodyParts {
  readonly steps: number;
  readonly truncate?: number;
  readonly first: number;
  readonly reverse: boolean;
  readonly carry?: Node;
  readonly seqs: readonly Node[];
  readonly shifts: readonly number[];
  readonly strides?: readonly number[];
  readonly consts: readonly Node[];
  readonly result: Node;
}

/** A scan or tsum over a body given with its slots; `args` in the order of ir/ops.ts Body. */
export function timeNode(op: 'scan' | 'tsum', args: readonly Node[], parts: BodyParts, id = currentGraph().nextBody()): Node {
  return make(op, args, { body: { id, ...parts } });
}

/** Elements one step's state holds per sample (for the memory note): the carry. */
export const carrySize = (scan: Node): number => sizeOf(scan.shape) / scan.shape[0];
