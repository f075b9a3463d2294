/**
 * A recurrence as `gradc graph` draws it: its cell, once, whatever its length.
 *
 * Takes a `scan` (forward, or the reverse scan of backpropagation through time) or a
 * `tsum` node, and how to refer to the nodes outside it; returns the nodes and edges of
 * its step (ir/ops.ts Body) inside one cluster. Guarantees:
 * - every node of the step is drawn once, labelled with its op and shape; the step's
 *   inputs by what they hold at step t: the carry as `h[t-1]` (states named as the
 *   builder named them: `(h, c)[t-1]`; the reverse scan's as `dloss/dh[t]`), each
 *   sequence as its row (`x[t]`, `h[t-1]` for a history read by the backward pass), and
 *   the step's result as `h[t]`;
 * - the constants the step reads (parameters, values computed before the loop) are not
 *   copied into the cell: their edges come from the nodes outside;
 * - a scan's initial state enters the carry by an edge labelled `h[0]` (`h[T]` going
 *   backwards), each sequence by an edge labelled `per step`, and the result goes back to
 *   the carry by one `recurrent` edge, labelled, the back edge of the loop;
 * - `readLabel(consumer)` says which step a node outside reads (`h[T]`, `h[3]`), or
 *   `sum over t` for a tsum, `all steps` otherwise;
 * - ids are `<id>_<k>` in the step's topological order: deterministic.
 */
import type { Node } from '../ir/node.js';
import { showShape } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import { adjointLabel } from '../naming.js';
import type { GraphCluster, GraphEdge, GraphNode } from './graph.js';
import { showValue } from './sample.js';

export interface Cell {
  readonly cluster: GraphCluster;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** The id of the step's result: edges to the nodes reading the recurrence start there. */
  readonly result: string;
  readonly readLabel: (consumer: Node) => string;
}

export interface CellContext {
  readonly id: string;
  readonly side: 'forward' | 'backward';
  /** The id of a node outside the cell (constants: a fresh node per use). */
  readonly argId: (n: Node) => string;
  readonly labels: ReadonlyMap<Node, string>;
}

const at = (k: number) => (k === 0 ? 't' : k > 0 ? `t+${k}` : `t${k}`);

/** The states of a forward scan as displayed: `h`, or `(h, c)`. */
function title(scan: Node): string {
  const names = scan.attrs.body!.states?.map((s) => s.name) ?? ['h'];
  return names.length === 1 ? names[0] : `(${names.join(', ')})`;
}

/** What a time node's rows hold, as displayed: `h` for a forward scan, `dloss/dh` for its reverse. */
function rowsName(n: Node, labels: ReadonlyMap<Node, string>): string | undefined {
  if (n.op !== 'scan') return labels.get(n);
  const b = n.attrs.body!;
  if (!b.reverse) return title(n);
  const fwd = n.args[2];
  return fwd?.op === 'scan' ? adjointLabel(title(fwd)) : 'G';
}

const opText = (n: Node) => `${n.op}${n.attrs.start !== undefined ? `[${n.attrs.start + 1}]` : ''}`;

export function drawCell(n: Node, ctx: CellContext): Cell {
  const b = n.attrs.body!;
  const scan = n.op === 'scan';
  const self = scan ? rowsName(n, ctx.labels)! : 'term';
  const state = (k: string | number) => `${self}[${k}]`;
  const first = scan ? 1 : 0;
  const nS = b.seqs.length;
  const seqArgs = n.args.slice(first, first + nS);
  const constArgs = n.args.slice(first + nS);
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const ids = new Map<Node, string>();
  let k = 0;
  let consts = 0;
  const fresh = () => `${ctx.id}_${k++}`;
  const inCell = (lines: string[], kind: GraphNode['kind']): string => {
    const id = fresh();
    nodes.push({ id, kind, side: ctx.side, cluster: ctx.id, lines });
    return id;
  };
  const constSlot = new Map<Node, Node>(b.consts.map((s, j) => [s, constArgs[j]]));
  const idOf = (a: Node): string => {
    if (constSlot.has(a)) return ctx.argId(constSlot.get(a)!);
    if (a.op === 'const') { // drawn once per use, inside the cell
      const id = `${ctx.id}_c${consts++}`;
      nodes.push({ id, kind: 'const', side: ctx.side, cluster: ctx.id, lines: [showValue([a.attrs.value!], [], 6) + (a.shape.length ? ` ${showShape(a.shape)}` : '')] });
      return id;
    }
    return ids.get(a)!;
  };

  // The step's inputs: the carry and each sequence's row at t.
  if (scan) ids.set(b.carry!, inCell([state(b.reverse ? 't' : 't-1'), `carry · ${showShape(b.carry!.shape)}`], 'named'));
  b.seqs.forEach((s, i) => {
    const arg = seqArgs[i];
    const history = arg.shape.length === 2 && arg.shape[0] === b.steps + 1; // row r is the state after step r
    const name = rowsName(arg, ctx.labels) ?? (b.reverse && i === 0 ? `${adjointLabel(title(n.args[2]))} (direct)` : arg.op);
    const label = `${/^[A-Za-z0-9_]+$/.test(name) ? name : `(${name})`}[${at(b.shifts[i] - (history ? 1 : 0))}]`;
    ids.set(s, inCell([label, `row · ${showShape(s.shape)}`], 'input'));
    edges.push({ from: ctx.argId(arg), to: ids.get(s)!, kind: 'data', label: 'per step' });
  });

  // A forward scan's states by name where the step splits its carry and joins its result.
  const stateNames = new Map<Node, string>();
  const parts = scan && !b.reverse ? b.states : undefined;
  if (parts && parts.length > 1) {
    for (const m of topoOrder([b.result])) {
      if (m.args[0] !== b.carry || (m.op !== 'slice' && m.op !== 'index')) continue;
      const p = parts.find((x) => x.at === m.attrs.start && (m.op === 'index') === x.scalar);
      if (p) stateNames.set(m, `${p.name}[t-1]`);
    }
    if (b.result.op === 'concat' && b.result.args.length === parts.length) b.result.args.forEach((a, i) => { if (!stateNames.has(a)) stateNames.set(a, `${parts[i].name}[t]`); });
  }
  // The step's nodes, once.
  const resultName = scan ? state(b.reverse ? 't-1' : 't') : state('t');
  for (const m of topoOrder([b.result])) {
    if (ids.has(m) || constSlot.has(m) || m.op === 'const') continue;
    const lines = [`${opText(m)} · ${showShape(m.shape)}`];
    const named = stateNames.get(m);
    if (m === b.result) lines.unshift(resultName);
    else if (named) lines.unshift(named);
    ids.set(m, inCell(lines, m === b.result ? 'named' : 'op'));
    for (const a of m.args) edges.push({ from: idOf(a), to: ids.get(m)!, kind: 'data' });
  }
  const result = idOf(b.result);

  if (scan) {
    const carry = ids.get(b.carry!)!;
    edges.push({ from: ctx.argId(n.args[0]), to: carry, kind: 'data', label: state(b.reverse ? b.steps : 0) });
    edges.push({
      from: result, to: carry, kind: 'recurrent',
      label: b.reverse ? `${state('t-1')} is ${state('t')} of step t-1` : `${state('t')} is ${state('t-1')} of step t+1`,
    });
  }
  const C = n.shape.length === 2 ? n.shape[1] : 1;
  const readLabel = (consumer: Node): string => {
    if (!scan) return 'sum over t';
    const start = consumer.attrs.start;
    if (consumer.op === 'slice' && start !== undefined && start % C === 0 && consumer.shape.length === 1 && consumer.shape[0] === C) {
      const r = start / C;
      return state(r === b.steps && !b.reverse ? 'T' : r);
    }
    return 'all steps';
  };
  const label = !scan ? `sum over t = ${b.first}..${b.steps}, its term drawn once`
    : b.reverse ? `backpropagation through time: step t = ${b.steps}..${b.first}, drawn once`
    : `recurrence ${self}: step t = ${b.first}..${b.steps}, drawn once (T = ${b.steps})`;
  return { cluster: { id: ctx.id, side: ctx.side, label }, nodes, edges, result, readLabel };
}
