/**
 * `gradc explain` through time: each recurrence of the model walked step by step for one
 * sample, forward (h[t] from h[t-1] and x[t]) and backward (dloss/dh[t-1] from
 * dloss/dh[t]), with numbers: the first `steps` and the last `steps` of each, and a line
 * saying which steps in between were left out.
 *
 * Takes an inspected model, the sample's leaf values and the number of steps to show at
 * each end (DEFAULT_STEPS). Guarantees:
 * - the formulas are those of inspect/recurrence.ts (what `gradc grad` prints), and every
 *   number comes from evaluating them with the reference interpreter, step after step
 *   over the whole sequence (the elided steps are computed, only not shown);
 * - the forward states are checked against the interpreter's value of the scan itself
 *   and the adjoints dloss/dh[t] against the derived gradient's reverse scan (the loop the
 *   generated module runs); a difference above 1e-9 (relative) is a note asking for a
 *   report, as in explain.ts;
 * - steps shown are 0..steps-1 and T-steps+1..T (rows of the history); "... steps a..b
 *   elided (n steps)" says exactly which are not; with T + 1 <= 2 * steps nothing is elided.
 */
import type { Node } from '../ir/node.js';
import { rowRead } from '../ir/ops.js';
import type { Shape } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import { evaluate } from '../interp/evaluate.js';
import type { Inspected } from './derived.js';
import { type RecurrenceForm, recurrenceForms, type ShownLine, shownLine, stepValues } from './recurrence.js';
import { showValue } from './sample.js';

/** Steps shown at each end of a recurrence by default. */
export const DEFAULT_STEPS = 3;

export interface TimeRow {
  /** The step t (a row of the history: 0 is the initial state). */
  readonly t: number;
  /** Per state: h[t] (forward rows) or dloss/dh[t] (backward rows). */
  readonly values: readonly Float64Array[];
  /** Forward rows t >= 1: the sequence's row x[t]. */
  readonly input?: Float64Array;
  /** Backward rows t >= first: step t's term of each parameter's gradient (RecurrenceForm.params order). */
  readonly terms?: readonly Float64Array[];
}

/** Steps left out between the rows shown (inclusive), in the direction walked. */
export interface Elided { readonly from: number; readonly to: number; readonly count: number }

export interface TimeWalk {
  readonly title: string;
  readonly states: readonly { readonly name: string; readonly shape: Shape }[];
  readonly sequence: string;
  readonly seqShape: Shape;
  readonly steps: number;
  readonly first: number;
  /** The formulas (inspect/recurrence.ts). */
  readonly init: readonly ShownLine[];
  readonly forwardLines: readonly ShownLine[];
  readonly seedLines: readonly ShownLine[];
  readonly directLines: readonly ShownLine[];
  readonly backwardLines: readonly ShownLine[];
  readonly paramLines: readonly ShownLine[];
  /** Rows 0..T shown, in order, and the steps elided between them. */
  readonly forward: readonly TimeRow[];
  readonly forwardElided: Elided | null;
  /** Rows T..first-1 shown, from T down, and the steps elided between them. */
  readonly backward: readonly TimeRow[];
  readonly backwardElided: Elided | null;
  /** Per parameter: the sum over t of its terms (the recurrence's share of its gradient). */
  readonly sums: readonly { readonly param: string; readonly shape: Shape; readonly value: Float64Array }[];
}

const part = (row: Float64Array, f: RecurrenceForm, i: number): Float64Array => {
  const p = f.states[i].part;
  return row.slice(p.at, p.at + p.size);
};

/** Which of rows lo..hi (walked from `from` towards `to`) to show: `n` at each end. */
function pick(from: number, to: number, n: number): { shown: number[]; elided: Elided | null } {
  const dir = to >= from ? 1 : -1;
  const all: number[] = [];
  for (let t = from; dir > 0 ? t <= to : t >= to; t += dir) all.push(t);
  if (all.length <= 2 * n) return { shown: all, elided: null };
  const head = all.slice(0, n), tail = all.slice(all.length - n);
  return { shown: [...head, ...tail], elided: { from: head[n - 1] + dir, to: tail[0] - dir, count: all.length - 2 * n } };
}

const relOff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
};

/** The derived gradient's reverse scan for forward scan `scan` (its history is its 3rd and 4th argument), if the gradient has one. */
function reverseScanOf(ins: Inspected, scan: Node): Node | undefined {
  return topoOrder(ins.derived.grads).find((n) => n.op === 'scan' && n.attrs.body!.reverse && n.args[2] === scan);
}

export function timeWalks(ins: Inspected, env: Readonly<Record<string, Float64Array>>, steps: number, notes: string[]): TimeWalk[] {
  return recurrenceForms(ins).map((f) => walk(ins, f, env, steps, notes));
}

function walk(ins: Inspected, f: RecurrenceForm, env: Readonly<Record<string, Float64Array>>, n: number, notes: string[]): TimeWalk {
  const T = f.steps;
  const nS = f.states.length;
  const history = evaluate([f.scan], env).get(f.scan)!;
  const C = history.length / (T + 1);
  const rowOf = (t: number) => history.subarray(t * C, (t + 1) * C);
  const x = evaluate([f.stand.seqArg], env).get(f.stand.seqArg)!;
  const width = f.stand.seq.shape.length === 0 ? 1 : f.stand.seq.shape[0];

  // Forward: the formulas at every step, from h[t-1] of the history (checked against its row t).
  let forwardOff = 0;
  for (let t = 1; t <= T; t++) {
    const v = stepValues(f, env, t, f.states.map((_, i) => part(rowOf(t - 1), f, i)), f.states.map((s) => new Float64Array(s.part.size)));
    v.next.forEach((h, i) => { forwardOff = Math.max(forwardOff, relOff(h, part(rowOf(t), f, i))); });
  }
  if (forwardOff > 1e-9) notes.push(`recurrence ${f.title}: its step formula differs from the interpreter's value of the recurrence by ${forwardOff} (please report this).`);

  // Backward: from the seed dloss/dh[T], one step at a time.
  const seed = evaluate(f.seed.map((l) => l.node), env);
  const adj = new Map<number, Float64Array[]>([[T, f.seed.map((l, i) => broadcastTo(seed.get(l.node)!, f.states[i].part.size))]]);
  const terms = new Map<number, readonly Float64Array[]>();
  const sums = f.params.map((p) => new Float64Array(p.term.shape.reduce((a, b) => a * b, 1)));
  for (let t = T; t >= f.first; t--) {
    const v = stepValues(f, env, t, f.states.map((_, i) => part(rowOf(t - 1), f, i)), adj.get(t)!);
    adj.set(t - 1, v.back.map((b) => Float64Array.from(b)));
    terms.set(t, v.terms);
    v.terms.forEach((term, j) => { for (let k = 0; k < sums[j].length; k++) sums[j][k] += term.length === 1 ? term[0] : term[k]; });
  }
  const G = reverseScanOf(ins, f.scan);
  if (G) {
    const g = evaluate([G], env).get(G)!;
    let off = 0;
    for (let t = f.first - 1; t <= T; t++) for (let i = 0; i < nS; i++) off = Math.max(off, relOff(adj.get(t)![i], part(g.subarray(t * C, (t + 1) * C), f, i)));
    if (off > 1e-9) notes.push(`recurrence ${f.title}: dloss/d${f.states[0].name}[t] above differs from the derived gradient's loop by ${off} (please report this).`);
  }

  const fw = pick(0, T, n);
  const bw = pick(T, f.first - 1, n);
  return {
    title: f.title,
    states: f.states.map((s) => ({ name: s.name, shape: s.shape })),
    sequence: f.sequence,
    seqShape: f.stand.seq.shape,
    steps: T,
    first: f.first,
    init: f.init.map(shownLine),
    forwardLines: f.forward.map(shownLine),
    seedLines: f.seed.map(shownLine),
    directLines: f.direct.map(shownLine),
    backwardLines: f.backward.map(shownLine),
    paramLines: f.params.map(shownLine),
    forward: fw.shown.map((t) => ({
      t,
      values: f.states.map((_, i) => Float64Array.from(part(rowOf(t), f, i))),
      ...(t >= 1 ? { input: x.slice(rowRead(f.scan.attrs.body!, 0, t) * width, (rowRead(f.scan.attrs.body!, 0, t) + 1) * width) } : {}), // the first row step t reads
    })),
    forwardElided: fw.elided,
    backward: bw.shown.map((t) => ({ t, values: adj.get(t)!, ...(terms.has(t) ? { terms: terms.get(t)! } : {}) })),
    backwardElided: bw.elided,
    sums: f.params.map((p, j) => ({ param: p.param, shape: p.term.shape, value: sums[j] })),
  };
}

/** A seed that folded to a scalar (a broadcast constant) as a vector of the state's size. */
const broadcastTo = (v: Float64Array, size: number): Float64Array => (v.length === size ? Float64Array.from(v) : new Float64Array(size).fill(v[0]));

const elisionLine = (e: Elided) => `... steps ${e.from}..${e.to} elided (${e.count} step${e.count === 1 ? '' : 's'})`;

/** The section as text, its tables drawn by `table` (explain.ts textTable). */
export function formatTimeWalk(w: TimeWalk, n: number, table: (headers: readonly string[], rows: readonly (readonly string[])[]) => string): string {
  const out: string[] = [];
  const lines = (ls: readonly ShownLine[]) => {
    const width = Math.max(...ls.map((l) => l.name.length));
    return ls.map((l) => `  ${l.name.padEnd(width)} ${l.op.padStart(2)} ${l.text}`);
  };
  const shownNote = w.forwardElided ? `the first ${n} and the last ${n} rows; --steps N shows more` : 'every step';
  out.push(`Recurrence ${w.title}, T = ${w.steps} steps, forward: ${shownNote}`, '');
  out.push(...lines([...w.init, ...w.forwardLines]), '');
  const stateCols = w.states.map((s) => `${s.name}[t]`);
  // A table of the rows shown, with the elision line where the steps jump (outside the columns).
  const rows = (headers: readonly string[], ts: readonly TimeRow[], elided: Elided | null, cells: (r: TimeRow) => string[]) => {
    const text = table(headers, ts.map(cells)).split('\n');
    const gap = ts.findIndex((r, k) => k + 1 < ts.length && Math.abs(ts[k + 1].t - r.t) > 1);
    if (elided && gap >= 0) text.splice(2 + gap + 1, 0, `  ${elisionLine(elided)}`);
    return text.join('\n');
  };
  out.push(rows(['step', w.sequence, ...stateCols], w.forward, w.forwardElided, (r) => [String(r.t), r.input ? showValue(r.input, w.seqShape) : '', ...r.values.map((v, i) => showValue(v, w.states[i].shape))]));
  const trunc = w.first > 1 ? ` (truncated: the gradient flows through steps ${w.first}..${w.steps} only)` : '';
  out.push('', `Backward, backpropagation through time: dloss/d${w.states[0].name}[t-1] from dloss/d${w.states[0].name}[t], t = ${w.steps} down to ${w.first}${trunc}`, '');
  out.push(...lines([...w.seedLines, ...w.directLines, ...w.backwardLines]), '');
  out.push(rows(['step', ...w.states.map((s) => `dloss/d${s.name}[t]`)], w.backward, w.backwardElided, (r) => [String(r.t), ...r.values.map((v, i) => showValue(v, w.states[i].shape))]));
  if (w.paramLines.length) {
    out.push('', `Each parameter's share of its gradient through the recurrence: the sum of its term over t = ${w.first}..${w.steps}`, '');
    out.push(table(['gradient', 'sum over t of', 'value'], w.paramLines.map((l, j) => [`${l.name}${l.op === '+=' ? ' (part)' : ''}`, l.text.replace(/^sum_t\((.*)\)( \(t = .*)?$/, '$1'), showValue(w.sums[j].value, w.sums[j].shape)])));
  }
  return out.join('\n');
}
