/**
 * A model's recurrences in recurrence form: what `gradc grad` prints after the gradients,
 * what `gradc explain` walks step by step, and what the report shows.
 *
 * Takes an inspected model; returns, for each forward recurrence (a `scan` node the loss
 * reads, ir/ops.ts Body) in topological order, its states by name (Body.states, as the
 * builder laid them out in the carry; one unnamed state is `h`) and these lines:
 *   h[0]          = init                                   the initial state
 *   h[t]          = step(h[t-1], x[t], ...)                one line per state, t = 1..T
 *   dloss/dh[T]   = the adjoint of what reads h[T]         the seed of backpropagation through time
 *   dloss/dh[t-1] = sum over states s of (ds[t]/dh[t-1])^T dloss/ds[t]    t = T..first
 *   dloss/dW      = sum_t(term of step t)                  each parameter the step reads
 * (`+=` where the parameter also reaches the loss outside this recurrence), plus a direct
 * line `dloss/dh[k] += ...` for every other step k whose state the model reads.
 * Guarantees:
 * - the lines are derived, not transcribed: the step is the body of the scan with its carry
 *   split into one stand-in leaf per state (`h[t-1]`), its sequence rows and its cotangents
 *   stand-ins too, differentiated by the rule table (3-diff) and simplified (phase 4) like
 *   the scan's own rule (3-diff/recurrence.ts), which differentiates the same body with
 *   respect to the whole carry; the seed is the model's own adjoint of the scan, split by
 *   state;
 * - `stepValues` evaluates them with the reference interpreter at any step, so explain's
 *   numbers for step t come from these formulas (and are checked against the derived
 *   gradient's reverse scan: test/inspect-recurrence.test.ts);
 * - subexpressions of the step used more than once are named `u1[t]`, `u2[t]`, ... (naming.ts);
 * - deterministic (no node ids in the output), iterative walks only.
 */
import { constant, input as leaf, make, row } from '../ir/build.js';
import { type Node, withGraph } from '../ir/node.js';
import { rowRead, type StatePart } from '../ir/ops.js';
import { formula } from '../ir/print.js';
import { substitute } from '../ir/scan.js';
import { type Shape, shape as mkShape } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import { evaluate } from '../interp/evaluate.js';
import { forwardNodes } from '../model.js';
import { adjointLabel, cellName, stateAt } from '../naming.js';
import { deriveExpression, MAX_LENGTH, simplifyExpressions } from '../pipeline.js';
import type { Inspected } from './derived.js';
import { tex, texName } from './tex.js';

export interface RecurrenceLine {
  /** `h[t]`, `dloss/dh[t-1]`, `dloss/dWx`, `u1[t]`. */
  readonly name: string;
  readonly nameTex: string;
  /** `=`, or `+=` for a parameter's share when it also reaches the loss elsewhere, or a direct term. */
  readonly op: '=' | '+=';
  readonly text: string;
  readonly tex: string;
  readonly node: Node;
}

export interface RecurrenceState {
  readonly name: string;
  readonly shape: Shape;
  readonly part: StatePart;
}

export interface RecurrenceForm {
  /** The forward scan: its value is the history, row t = every state after step t. */
  readonly scan: Node;
  /** The states' names, `h` or `h, c`. */
  readonly title: string;
  readonly states: readonly RecurrenceState[];
  /** The sequence read at step t, as displayed (`x[t]`). */
  readonly sequence: string;
  /** T, and the first step the gradient flows through (1 unless BPTT is truncated). */
  readonly steps: number;
  readonly first: number;
  readonly init: readonly RecurrenceLine[];
  /** Named shared subexpressions of the step, then `h[t] = ...` per state. */
  readonly forward: readonly RecurrenceLine[];
  /** `dloss/dh[T] = ...` per state (row T of the scan's adjoint). */
  readonly seed: readonly RecurrenceLine[];
  /**
   * `dloss/dh[k] += ...`: the direct adjoint at other steps k (the model reads h[k]); row
   * 'every' when the model reads the whole history (then `node` is the history's adjoint D
   * and step t adds its row t-1).
   */
  readonly direct: readonly Direct[];
  /** Shared backward subexpressions, then `dloss/dh[t-1] = ...` per state. */
  readonly backward: readonly RecurrenceLine[];
  /** `dloss/dW = sum_t(...)` per parameter the step reads (in the model's parameter order). */
  readonly params: readonly (RecurrenceLine & { readonly param: string; readonly term: Node })[];
  /** The stand-in leaves, for stepValues. */
  readonly stand: Stand;
}

export type Direct = RecurrenceLine & { readonly row: number | 'every'; readonly state: number };

interface Stand {
  readonly prev: readonly Node[];
  readonly next: readonly Node[];
  readonly cot: readonly Node[];
  readonly seq: Node;
  readonly seqArg: Node;
  /**
   * Every row the step reads, one stand-in per sequence slot of the body (a checkpointed
   * recurrence's step reads k rows: x[k(t-1)+1] .. x[kt]); `seq` is the first.
   */
  readonly seqs: readonly Node[];
  readonly shift: number;
  /**
   * The step counter a recurrence with lengths carries after its states (2-build/recurrent.ts:
   * its value before step t is the row step t reads), shown as `t-1`; null without lengths.
   */
  readonly counter: Node | null;
  /** Per state: dloss/dstate[t-1] over the stand-ins (without direct terms). */
  readonly back: readonly Node[];
}

/** Values at one step t, from the formulas: the states after t, and the adjoints before it. */
export interface StepValues {
  readonly next: readonly Float64Array[];
  /** dloss/dstate[t-1] from dloss/dstate[t] (direct terms at row t-1 included). */
  readonly back: readonly Float64Array[];
  /** Step t's term of each parameter's gradient. */
  readonly terms: readonly Float64Array[];
}

const standName = (label: string) => `#${label}`; // stand-in leaves: '#' keeps them apart from user names

/** The recurrences of a model, in topological order; labels: the names to print the seed with (the steps' labels of `gradc grad`). */
export function recurrenceForms(ins: Inspected, labels: ReadonlyMap<Node, string> = ins.derived.model.labels): RecurrenceForm[] {
  return withGraph(() => {
    const model = ins.derived.model;
    const forward = forwardNodes(model);
    const scans = forward.filter((n) => n.op === 'scan' && !n.attrs.body!.reverse);
    // Two recurrences with a state of one name (two m.rnn cells: both `h`): `h_1`, `h_2`.
    const names = scans.map((s) => statesOf(s).map((p) => p.name));
    const shared = (k: number) => names.some((other, j) => j !== k && other.some((n) => names[k].includes(n)));
    return scans.map((s, k) => formOf(ins, s, labels, shared(k) ? `_${k + 1}` : ''));
  }, ins.graph);
}

function statesOf(scan: Node): RecurrenceState[] {
  const b = scan.attrs.body!;
  const C = b.carry!.shape[0];
  const parts = b.states ?? [{ name: 'h', at: 0, size: C, scalar: false }];
  return parts.map((p) => ({ name: p.name, shape: p.scalar ? mkShape() : mkShape(p.size), part: p }));
}

/** The piece of carry-sized vector `e` that is state `p` (folding pads, unindexes, concats and sums), or null where it is zero. */
function piece(e: Node, p: StatePart, states: readonly RecurrenceState[]): Node | null {
  const C = e.shape[0];
  if (!p.scalar && p.at === 0 && p.size === C) return e;
  if (e.op === 'const') return e.attrs.value === 0 ? null : constant(e.attrs.value!, p.scalar ? mkShape() : mkShape(p.size));
  if (e.op === 'pad' && e.args[0].shape.length === 1) {
    const s = e.attrs.start!, len = e.args[0].shape[0];
    if (s === p.at && len === p.size && !p.scalar) return e.args[0];
    if (s + len <= p.at || s >= p.at + p.size) return null;
  }
  if (e.op === 'unindex') {
    const s = e.attrs.start!;
    if (s === p.at && p.scalar) return e.args[0];
    if (s < p.at || s >= p.at + p.size) return null;
  }
  if (e.op === 'concat' && (e.args.length === states.length || e.args.length === states.length + 1)) return e.args[states.findIndex((x) => x.part === p)];
  if (e.op === 'add') {
    const [a, b] = e.args.map((x) => piece(x, p, states));
    return a && b ? make('add', [a, b]) : a ?? b;
  }
  return p.scalar ? make('index', [e], { start: p.at }) : make('slice', [e], { start: p.at }, mkShape(p.size));
}

/** The rows of a scan's adjoint D ([(T+1) x C]) the rules put there (row -> vector), or null if D is not a sum of placed rows. */
function rowsOf(D: Node): Map<number, Node> | null {
  const rows = new Map<number, Node>();
  const C = D.shape[1];
  const stack = [D];
  while (stack.length) {
    const e = stack.pop()!;
    if (e.op === 'add') { stack.push(e.args[1], e.args[0]); continue; }
    if (e.op === 'const' && e.attrs.value === 0) continue;
    // A vector placed in one whole row (the rule of `row`, ir/build.ts, is a pad).
    if (e.op !== 'pad' || e.args[0].shape.length !== 1 || e.args[0].shape[0] !== C || e.attrs.start! % C !== 0) return null;
    const r = e.attrs.start! / C;
    const had = rows.get(r);
    rows.set(r, had ? make('add', [had, e.args[0]]) : e.args[0]);
  }
  return rows;
}

/** Names for the subexpressions of `roots` used more than once (more than one operation on named nodes), in order. */
function nameShared(roots: readonly Node[], labels: Map<Node, string>, taken: Set<string>, next: { k: number }): Node[] {
  const order = topoOrder(roots);
  const uses = new Map<Node, number>();
  for (const n of order) for (const a of new Set(n.args)) uses.set(a, (uses.get(a) ?? 0) + 1);
  const named: Node[] = [];
  for (const n of order) {
    if ((uses.get(n) ?? 0) < 2 || n.args.length === 0 || labels.has(n) || n.op === 'const') continue;
    if (n.args.every((a) => a.args.length === 0 || labels.has(a)) && n.shape.length === 0) continue; // `1 - h` stays inline
    let name: string;
    do name = cellName(++next.k); while (taken.has(name));
    taken.add(name);
    labels.set(n, name);
    named.push(n);
  }
  return named;
}

function formOf(ins: Inspected, scan: Node, outer: ReadonlyMap<Node, string>, suffix: string): RecurrenceForm {
  const model = ins.derived.model;
  const b = scan.attrs.body!;
  const states = statesOf(scan);
  const nS = b.seqs.length;
  const seqArg = scan.args[1];
  const constArgs = scan.args.slice(1 + nS);
  const T = b.steps;
  const first = b.truncate === undefined ? 1 : Math.max(1, T - b.truncate + 1);
  const nm = (s: RecurrenceState) => `${s.name}${suffix}`;

  // Stand-ins: each state at t-1, the sequence's row at t, each state's cotangent at t.
  const prev = states.map((s) => leaf(standName(stateAt(nm(s), 't-1')), s.shape));
  const cot = states.map((s) => leaf(standName(adjointLabel(stateAt(nm(s), 't'))), s.shape));
  const seqName = model.labels.get(seqArg) ?? 'x';
  const shift = b.shifts[0];
  const seqLabel = stateAt(seqName, shift === 0 ? 't' : `t${shift > 0 ? '+' : ''}${shift}`);
  // A checkpointed step reads rows (t-1)k + shift + 1 .. (t-1)k + shift + k (1-based): one stand-in each.
  const rowLabel = (i: number): string => {
    const stride = b.strides?.[i] ?? 1, sh = b.shifts[i];
    if (stride === 1) return i === 0 ? seqLabel : stateAt(model.labels.get(scan.args[1 + i]) ?? 'x', sh === 0 ? 't' : `t${sh > 0 ? '+' : ''}${sh}`);
    return stateAt(model.labels.get(scan.args[1 + i]) ?? 'x', `${stride}(t-1)+${sh + 1}`);
  };
  const seqs = b.seqs.map((sl, i) => leaf(standName(rowLabel(i)), sl.shape));
  const seq = seqs[0];
  // With lengths, the carry ends with a step counter after the states (c[t-1] = t-1).
  const width = states.reduce((w, s) => w + s.part.size, 0);
  const stepCounter = b.carry!.shape[0] > width ? leaf(standName('t-1'), mkShape()) : null;

  // The step over the stand-ins: the carry's pieces are the state stand-ins, the constants the scan's own arguments.
  const map = new Map<Node, Node>();
  const carry = b.carry!;
  if (states.length === 1 && !states[0].part.scalar && stepCounter === null) map.set(carry, prev[0]);
  else {
    // The step reads each state as a slice (an index, for a scalar) of the carry: found by walking the body.
    for (const n of topoOrder([b.result])) {
      if (n.args[0] !== carry || (n.op !== 'slice' && n.op !== 'index')) continue;
      const i = states.findIndex((s) => s.part.at === n.attrs.start && (n.op === 'index' ? s.part.scalar : !s.part.scalar && s.part.size === n.shape[0]));
      if (i >= 0) map.set(n, prev[i]);
      else if (stepCounter !== null && n.op === 'index' && n.attrs.start === width) map.set(n, stepCounter);
    }
    map.set(carry, make('concat', stepCounter === null ? prev : [...prev, stepCounter]));
  }
  b.seqs.forEach((sl, i) => map.set(sl, seqs[i]));
  b.consts.forEach((sl, j) => map.set(sl, constArgs[j]));
  const [result] = substitute([b.result], map);
  const next = simplifyExpressions(states.map((s) => piece(result, s.part, states) ?? constant(0, s.shape))) as Node[];

  const labels = new Map<Node, string>(model.labels);
  const taken = new Set<string>([...labels.values()]);
  states.forEach((s, i) => {
    labels.set(prev[i], stateAt(nm(s), 't-1'));
    labels.set(cot[i], adjointLabel(stateAt(nm(s), 't')));
    if (!labels.has(next[i])) labels.set(next[i], stateAt(nm(s), 't'));
  });
  seqs.forEach((sq, i) => labels.set(sq, rowLabel(i)));
  if (stepCounter !== null) labels.set(stepCounter, 't-1');
  const line = (name: string, node: Node, op: '=' | '+=' = '=', ls: ReadonlyMap<Node, string> = labels): RecurrenceLine => {
    const alias = ls.get(node); // a shared subexpression named above: by its name
    if (alias !== undefined && alias !== name && (node.args.length > 0 || node.attrs.name?.startsWith('#'))) return { name, nameTex: texName(name), op, text: alias, tex: texName(alias), node };
    return { name, nameTex: texName(name), op, text: formula(node, ls, { maxLength: MAX_LENGTH }), tex: tex(node, ls, { maxLength: MAX_LENGTH }), node };
  };
  const counter = { k: 0 };

  // Forward lines.
  const fwdShared = nameShared(next, labels, taken, counter);
  const fwdLines = [
    ...fwdShared.map((n) => line(labels.get(n)!, n)),
    ...states.map((s, i) => line(stateAt(nm(s), 't'), next[i])),
  ];
  const initLines = states.map((s) => line(stateAt(nm(s), 0), piece(scan.args[0], s.part, states) ?? constant(0, s.shape), '=', outer));

  // Backward: one pass of the rule table over the step with the states split.
  const params = [...new Set(topoOrder(constArgs).filter((n) => n.op === 'param'))];
  params.sort((a, z) => model.params.findIndex((p) => p.node === a) - model.params.findIndex((p) => p.node === z));
  const L = states.map((s, i) => (s.part.scalar ? make('mul', [next[i], cot[i]]) : make('dot', [next[i], cot[i]]))).reduce((a, z) => make('add', [a, z]));
  const grads = deriveExpression(L, [...prev, ...params]);
  const back = states.map((s, i) => grads[i]);
  const terms = params.map((_, j) => grads[states.length + j]);
  const backShared = nameShared([...back, ...terms], labels, taken, counter);
  const backLines = [
    ...backShared.map((n) => line(labels.get(n)!, n)),
    ...states.map((s, i) => line(adjointLabel(stateAt(nm(s), 't-1')), back[i])),
  ];

  // The seed and the direct terms: the model's adjoint of the history, by row and state.
  const D = ins.derived.adjoints.get(scan);
  const rows = D ? rowsOf(D) : new Map<number, Node>();
  const seed: RecurrenceLine[] = [];
  const direct: Direct[] = [];
  if (rows === null) { // the model reads the whole history (m.sum(r.history)): every row of D, as it is
    states.forEach((s, i) => {
      seed.push(line(adjointLabel(stateAt(nm(s), T)), piece(row(D!, T), s.part, states) ?? constant(0, s.shape), '=', outer));
      const text = `${formula(D!, outer, { maxLength: MAX_LENGTH })}[row t-1]`;
      direct.push({ name: adjointLabel(stateAt(nm(s), 't-1')), nameTex: texName(adjointLabel(stateAt(nm(s), 't-1'))), op: '+=', text, tex: `${tex(D!, outer, { maxLength: MAX_LENGTH })}_{t-1}`, node: D!, row: 'every', state: i });
    });
  }
  if (rows !== null) states.forEach((s, i) => {
    const e = rows.get(T);
    seed.push(line(adjointLabel(stateAt(nm(s), T)), (e && piece(e, s.part, states)) ?? constant(0, s.shape), '=', outer));
  });
  for (const [r, e] of [...(rows ?? [])].sort(([a], [z]) => z - a)) {
    if (r === T) continue;
    states.forEach((s, i) => {
      const v = piece(e, s.part, states);
      if (v) direct.push({ ...line(adjointLabel(stateAt(nm(s), r)), v, '+=', outer), row: r, state: i });
    });
  }

  // Each parameter's share: sum over the steps of its term; `+=` when it also reaches the loss elsewhere.
  const elsewhere = new Set(topoOrder([model.loss], { has: (n: Node) => n === scan }));
  const range = first === 1 ? '' : ` (t = ${first}..${T}: truncated)`;
  const paramLines = params.map((p, j) => {
    const name = adjointLabel(p.attrs.name!);
    const l = line(name, terms[j], elsewhere.has(p) ? '+=' : '=');
    return { ...l, text: `sum_t(${l.text})${range}`, tex: `\\sum_{t=${first}}^{${T}} ${l.tex.length > 0 ? `\\left(${l.tex}\\right)` : ''}`, param: p.attrs.name!, term: terms[j] };
  });
  return {
    scan,
    title: states.map(nm).join(', '),
    states,
    sequence: rowLabel(0),
    steps: T,
    first,
    init: initLines,
    forward: fwdLines,
    seed,
    direct,
    backward: backLines,
    params: paramLines,
    stand: { prev, next, cot, seq, seqArg, seqs, shift, counter: stepCounter, back },
  };
}

/**
 * The step formulas' values at step t (1..T), given the model's leaf values, the states at
 * t-1 and the adjoints at t. Everything through the reference interpreter.
 */
export function stepValues(f: RecurrenceForm, env: Readonly<Record<string, Float64Array>>, t: number, prevValues: readonly Float64Array[], cotValues: readonly Float64Array[]): StepValues {
  const { stand } = f;
  const body = f.scan.attrs.body!;
  const e: Record<string, Float64Array> = { ...env };
  stand.seqs.forEach((sq, i) => {
    const arg = f.scan.args[1 + i];
    const x = (arg.op === 'input' ? env[arg.attrs.name!] : undefined) ?? evaluate([arg], env).get(arg)!;
    const width = sq.shape.length === 0 ? 1 : sq.shape[0];
    const r = rowRead(body, i, t);
    e[sq.attrs.name!] = x.slice(r * width, (r + 1) * width);
  });
  stand.prev.forEach((p, i) => { e[p.attrs.name!] = prevValues[i]; });
  stand.cot.forEach((c, i) => { e[c.attrs.name!] = cotValues[i]; });
  if (stand.counter !== null) e[stand.counter.attrs.name!] = Float64Array.of(rowRead(f.scan.attrs.body!, 0, t));
  const roots = [...stand.next, ...stand.back, ...f.params.map((p) => p.term)];
  const v = evaluate(roots, e);
  const direct = f.direct.filter((d) => d.row === t - 1 || d.row === 'every');
  const dv = direct.length ? evaluate(direct.map((d) => d.node), env) : new Map<Node, Float64Array>();
  const back = stand.back.map((n, i) => {
    const out = Float64Array.from(v.get(n)!);
    for (const d of direct) {
      if (d.state !== i) continue;
      let add = dv.get(d.node)!;
      if (d.row === 'every') { const C = d.node.shape[1], p = f.states[i].part; add = add.subarray((t - 1) * C + p.at, (t - 1) * C + p.at + p.size); }
      for (let j = 0; j < out.length; j++) out[j] += add.length === 1 ? add[0] : add[j];
    }
    return out;
  });
  return { next: stand.next.map((n) => v.get(n)!), back, terms: f.params.map((p) => v.get(p.term)!) };
}

/** The lines of one recurrence in order, as `gradc grad` prints them. */
export function recurrenceLines(f: RecurrenceForm): RecurrenceLine[] {
  return [...f.init, ...f.forward, ...f.seed, ...f.direct, ...f.backward, ...f.params];
}

/** A line without its node: what the tools hand out (JSON, the report). */
export type ShownLine = Omit<RecurrenceLine, 'node'>;
export const shownLine = (l: RecurrenceLine): ShownLine => ({ name: l.name, nameTex: l.nameTex, op: l.op, text: l.text, tex: l.tex });

/** A recurrence's formulas as `gradc grad` hands them out. */
export interface RecurrenceFormulas {
  readonly title: string;
  readonly steps: number;
  readonly first: number;
  readonly lines: readonly ShownLine[];
}

export const recurrenceFormulas = (f: RecurrenceForm): RecurrenceFormulas => ({ title: f.title, steps: f.steps, first: f.first, lines: recurrenceLines(f).map(shownLine) });

/** One recurrence as text (`tex`: LaTeX lines), headed by what it is. */
export function formatRecurrence(f: RecurrenceFormulas, options: { tex?: boolean } = {}): string {
  const lines = f.lines;
  const trunc = f.first === 1 ? '' : `, truncated to t = ${f.first}..${f.steps}`;
  const head = `# recurrence ${f.title}: forward t = 1..${f.steps}; backpropagation through time t = ${f.steps}..${f.first}${trunc}`;
  if (options.tex) return [`% ${head.slice(2)}`, ...lines.map((l) => `${l.nameTex} ${l.op === '=' ? '=' : '\\mathrel{+}='} ${l.tex}`)].join('\n');
  const width = Math.max(...lines.map((l) => l.name.length));
  return [head, ...lines.map((l) => `${l.name.padEnd(width)} ${l.op.padStart(2)} ${l.text}`)].join('\n');
}
