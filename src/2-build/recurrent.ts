/**
 * Phase 2, build: recurrences in the builder (`m.scan`) and the cells made of them
 * (`m.rnn`, `m.lstm`, `m.gru`).
 *
 * Guarantees: a recurrence is one `scan` node (ir/scan.ts) whatever its length T: its
 * step is written once, over named states (scalars or vectors, concatenated into one
 * carry in the order given) and the row x[t] of a sequence (a [T x V] matrix, rows are
 * vectors, or a vector of T numbers); `h[0]` is the initial state, `h[t]` the state after
 * step t, `last` the state after step T. A sequence that depends on parameters, a state
 * whose step result changes shape, or an empty set of states is a GradcError naming it.
 * With `checkpoint: k` it is two scans at most: one of floor(T/k) steps of k cell steps
 * each (reading k rows a step), whose history keeps the states every k steps, and one of
 * the last T mod k cell steps from its last state; the values are those without a
 * checkpoint (the same cell steps in the same order), the states in between are not kept.
 *
 * The cells' weights are laid out as TF.js's (tf.layers.simpleRNN, lstm, gru) so that
 * weights copy across unchanged: `<name>_W` is TF.js's kernel [V x G*H], `<name>_U` its
 * recurrentKernel [H x G*H], `<name>_b` its bias [G*H], and z = x W + h U + b (a row
 * vector times a matrix). Gate order within the G*H columns:
 *   lstm: i, f, c, o   c' = f*c + i*tanh(z_c), h' = o*tanh(c'), i f o = sigmoid(z_i, z_f, z_o)
 *   gru:  z, r, h      z = sigmoid(xW_z + hU_z + b_z), r = sigmoid(xW_r + hU_r + b_r),
 *                      n = tanh(xW_h + (r*h) U_h + b_h), h' = z*h + (1 - z)*n
 * (TF.js's recurrentActivation defaults to hardSigmoid: pass 'sigmoid' there to match.)
 */
import { GradcError, type SourceLocation } from '../errors.js';
import { constant, make, row } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { recurrence } from '../ir/scan.js';
import { shape as mkShape, showShape, sizeOf } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';

/** A recurrence as the builder returns it: its states at any step, and after the last. */
export interface Recurrence<K extends string> {
  /** The [(T+1) x C] history: row t holds every state after step t (concatenated). */
  readonly history: Node;
  /** T, the number of steps. */
  readonly steps: number;
  /** The states after step t (t = 0: the initial states). */
  at(t: number): { readonly [S in K]: Node };
  /** The states after step T. */
  readonly last: { readonly [S in K]: Node };
}

export interface ScanOptions {
  /** Truncated backpropagation through time: the gradient flows through the last `truncate` steps only. */
  readonly truncate?: number;
  /**
   * Checkpointing: keep the states of every `checkpoint`-th step only (and of the last
   * T mod k steps) and recompute the steps between them in the backward pass, trading
   * time (the forward pass runs about twice) for memory (see README, "memory per sample").
   * The step is written k times in the generated code (a step of k cell steps), so pick k
   * near sqrt(T). k >= T is taken as T.
   */
  readonly checkpoint?: number;
  /**
   * The length of each sample's sequence (variable length in a batch): a length input of
   * the sequence (`m.lengthInput(name, x)`, integers 1..T). Steps past a sample's length
   * leave every state as it was (its padding rows are read by nothing that reaches the
   * loss), so `last` is the state after the sample's last valid step. By default the
   * length input declared for the sequence, if any.
   */
  readonly lengths?: Node | string;
}

/** What recurrence building needs from the builder. */
export interface Host {
  expr(e: Node | number | string): Node;
  where(extra?: SourceLocation): SourceLocation;
  /** The length input declared for sequence `seq` (m.lengthInput), if any. */
  lengthOf?(seq: Node): Node | undefined;
}

/** The name of the step counter a recurrence with lengths carries (not a name a user can write). */
const COUNTER = '~steps';

/** A length input of a sequence of T steps: an integer input with values 1..T. */
export const isLengthOf = (n: Node, T: number): boolean =>
  n.op === 'input' && n.shape.length === 0 && n.attrs.low === 1 && n.attrs.limit === T + 1;

/** One state's place in the carry vector. */
interface Part { readonly name: string; readonly shape: readonly number[]; readonly at: number; readonly size: number }

function split(carry: Node, parts: readonly Part[]): Record<string, Node> {
  const out: Record<string, Node> = Object.create(null);
  for (const p of parts) {
    out[p.name] = parts.length === 1 && p.shape.length === 1 ? carry
      : p.shape.length === 0 ? make('index', [carry], { start: p.at }) : make('slice', [carry], { start: p.at }, mkShape(p.size));
  }
  return out;
}

function join(values: readonly Node[], parts: readonly Part[]): Node {
  return parts.length === 1 && parts[0].shape.length === 1 ? values[0] : make('concat', values);
}

/** The lengths of a recurrence over `seq`: the option, else the length input declared for it. */
function lengthsOf(host: Host, seq: Node, options: ScanOptions): Node | undefined {
  if (options.lengths === undefined) return host.lengthOf?.(seq);
  const n = host.expr(options.lengths);
  const T = seq.shape[0];
  if (!isLengthOf(n, T)) {
    const what = n.op === 'input' ? `input '${n.attrs.name}'` : 'this expression';
    throw new GradcError(`lengths: ${what} is not a length input of a sequence of ${T} steps (declare it with m.lengthInput(name, x), or in a spec's inputs as { lengthOf: 'x' }: integers 1..${T})`, host.where({ symbol: n.attrs.name ?? 'lengths' }));
  }
  return n;
}

/**
 * `scan(host, init, xs, step)`: states[t] = step(states[t-1], x[t]) for t = 1..T,
 * states[0] = init. Returns the recurrence (see Recurrence).
 */
export function scan<K extends string>(
  host: Host,
  init: { readonly [S in K]: Node | number | string },
  xs: Node | string,
  step: (state: { readonly [S in K]: Node }, x: Node) => { readonly [S in K]: Node | number | string },
  options: ScanOptions = {},
): Recurrence<K> {
  if (typeof options !== 'object' || options === null) throw new GradcError(`scan: options must be an object ({ truncate?, checkpoint?, lengths? }), got ${String(options)}`, host.where({ symbol: 'scan' }));
  for (const key of Object.keys(options)) {
    if (key !== 'truncate' && key !== 'checkpoint' && key !== 'lengths') throw new GradcError(`scan: unknown option '${key.slice(0, 40)}' (the options are truncate, checkpoint, lengths)`, host.where({ symbol: key.slice(0, 40) }));
  }
  const names = Object.keys(init) as K[];
  if (names.length === 0) throw new GradcError('scan needs at least one state', host.where({ symbol: 'scan' }));
  const seq = host.expr(xs);
  if (seq.shape.length === 0) throw new GradcError(`the sequence of a recurrence must be a [T x V] matrix or a vector of T numbers, got ${showShape(seq.shape)}`, host.where({ symbol: 'scan' }));
  if (topoOrder([seq]).some((n) => n.op === 'param')) {
    const lookup = topoOrder([seq]).some((n) => n.op === 'gather');
    throw new GradcError(lookup
      ? 'the sequence of a recurrence cannot be an embedding lookup (E[tokens]) yet: a sequence must not depend on parameters (its gradient is not derived), and a lookup inside the step is not supported either; feed the recurrence one-hot rows of the ids (an input [T x V]) instead'
      : 'the sequence of a recurrence must not depend on parameters (its gradient is not derived); compute inside the step instead', host.where({ symbol: 'scan' }));
  }
  let at = 0;
  const parts: Part[] = names.map((name) => {
    const v = host.expr(init[name]);
    if (v.shape.length > 1) throw new GradcError(`state '${name}' must be a scalar or a vector, got ${showShape(v.shape)}`, host.where({ symbol: name }));
    const p = { name, shape: v.shape, at, size: sizeOf(v.shape) };
    at += p.size;
    return p;
  });
  const inits = names.map((name) => host.expr(init[name]));
  const T = seq.shape[0];
  const truncate = options.truncate;
  if (truncate !== undefined && (!Number.isSafeInteger(truncate) || truncate < 1)) {
    throw new GradcError(`truncate must be a positive integer (the steps the gradient flows through), got ${String(truncate)}`, host.where({ symbol: 'truncate' }));
  }
  const checkpoint = options.checkpoint;
  if (checkpoint !== undefined && (!Number.isSafeInteger(checkpoint) || checkpoint < 1)) {
    throw new GradcError(`checkpoint must be a positive integer (states are kept every checkpoint steps), got ${String(checkpoint)}`, host.where({ symbol: 'checkpoint' }));
  }
  if (checkpoint !== undefined && truncate !== undefined) {
    throw new GradcError('a recurrence takes truncate or checkpoint, not both (truncated BPTT keeps the last truncate steps already)', host.where({ symbol: 'checkpoint' }));
  }
  const lengths = lengthsOf(host, seq, options);
  if (lengths && truncate !== undefined) {
    throw new GradcError('truncate and lengths together are not supported: truncated BPTT counts its last steps from T, not from each sample\'s length', host.where({ symbol: 'truncate' }));
  }
  // With lengths, a step counter c (c[t] = t) rides at the end of the carry, and step t keeps
  // every state where t > length: state[t] = select(length > c[t-1], step(...), state[t-1]).
  // A checkpointed recurrence applies the same cell k times per step, counter included.
  const all: Part[] = lengths ? [...parts, { name: COUNTER, shape: [], at, size: 1 }] : parts;
  const cell = (carry: Node, x: Node): Node => {
    const before = split(carry, all);
    const next = step(Object.fromEntries(parts.map((p) => [p.name, before[p.name]])) as { [S in K]: Node }, x);
    if (typeof next !== 'object' || next === null) throw new GradcError(`the step of a recurrence must return its states { ${names.join(', ')} }, got ${String(next)}`, host.where({ symbol: 'scan' }));
    for (const name of names) {
      if (!Object.prototype.hasOwnProperty.call(next, name) || next[name] === undefined) throw new GradcError(`the step of a recurrence gives no value for state '${name}' (it must return { ${names.join(', ')} })`, host.where({ symbol: name }));
    }
    for (const key of Object.keys(next)) {
      if (!(names as string[]).includes(key)) throw new GradcError(`the step of a recurrence returns '${key.slice(0, 40)}', which is not one of its states (${names.join(', ')}): give it an initial value to make it a state`, host.where({ symbol: key.slice(0, 40) }));
    }
    const values = parts.map((p) => {
      const v = host.expr(next[p.name as K]);
      if (showShape(v.shape) !== showShape(p.shape)) {
        throw new GradcError(`the step gives state '${p.name}' the shape ${showShape(v.shape)}, its initial value has ${showShape(p.shape)}`, host.where({ symbol: p.name }));
      }
      return v;
    });
    if (!lengths) return join(values, parts);
    const counter = before[COUNTER];
    const valid = make('gt', [lengths, counter]);
    return join([...values.map((v, i) => make('select', [valid, v, before[parts[i].name]])), make('add', [counter, constant(1)])], all);
  };
  const init0 = join(lengths ? [...inits, constant(0)] : inits, all);
  const states = parts.map((p) => ({ name: p.name, at: p.at, size: p.size, scalar: p.shape.length === 0 }));
  const pick = (carry: Node) => {
    const split_ = split(carry, all);
    return Object.fromEntries(parts.map((p) => [p.name, split_[p.name]])) as { [S in K]: Node };
  };
  if (checkpoint === undefined) {
    const history = recurrence(init0, [{ node: seq }], (carry, [x]) => cell(carry, x), { ...(truncate === undefined ? {} : { truncate }), states });
    const statesAt = (t: number) => {
      if (!Number.isSafeInteger(t) || t < 0 || t > T) throw new GradcError(`step ${String(t)} is outside 0..${T}`, host.where({ symbol: 'scan' }));
      return pick(row(history, t));
    };
    return { history, steps: T, at: statesAt, last: statesAt(T) };
  }
  // Checkpointed: a scan of n = floor(T/k) steps of k cell steps each (its history holds
  // h[0], h[k], .., h[nk]; its gradient recomputes a step's k cell steps from the state
  // before them), then the last r = T - nk cell steps as a scan of their own from h[nk].
  const k = Math.min(checkpoint, T);
  const n = Math.floor(T / k), r = T - n * k;
  const segments = recurrence(init0, Array.from({ length: k }, (_, j) => ({ node: seq, shift: j, stride: k })),
    (carry, xs) => xs.reduce((h, x) => cell(h, x), carry), { steps: n, checkpoint: k, states });
  const tail = r === 0 ? null : recurrence(row(segments, n), [{ node: seq, shift: n * k }], (carry, [x]) => cell(carry, x), { steps: r, checkpoint: k, states });
  const statesAt = (t: number) => {
    if (!Number.isSafeInteger(t) || t < 0 || t > T) throw new GradcError(`step ${String(t)} is outside 0..${T}`, host.where({ symbol: 'scan' }));
    if (tail && t >= n * k) return pick(row(tail, t - n * k));
    if (t % k !== 0) throw new GradcError(`with checkpoint ${k}, the states are kept at steps 0, ${k}, .., ${n * k} and ${n * k}..${T} only; step ${t} is not one of them`, host.where({ symbol: 'scan' }));
    return pick(row(segments, t / k));
  };
  return { history: tail ?? segments, steps: T, at: statesAt, last: statesAt(T) };
}
