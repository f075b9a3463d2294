/**
 * The reference interpreter: runs the IR directly.
 *
 * Guarantees: `evaluate(roots, env)` returns the value of every node reachable from
 * `roots` as a Float64Array in row-major order (a scalar is length 1), computed one op
 * at a time from the op's definition in `ir/ops.ts`, in topological order (iterative).
 * It shares no code with the emitters beyond each elementwise op's `scalar` function,
 * which makes it an independent oracle for the emitted code. Leaves are looked up by
 * name in `env`; a missing or wrongly sized value is an error naming the leaf.
 */
import type { Node } from '../ir/node.js';
import { OPS, rowRead } from '../ir/ops.js';
import { showShape, sizeOf } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';

export type Value = number | readonly number[] | Float64Array;
export type Env = Readonly<Record<string, Value>>;

export function leafValue(n: Node, env: Env): Float64Array {
  const name = n.attrs.name!;
  const v = env[name];
  if (v === undefined) throw new Error(`no value given for ${n.op} '${name}' (expected ${showShape(n.shape)})`);
  const arr = typeof v === 'number' ? Float64Array.of(v) : Float64Array.from(v);
  if (arr.length !== sizeOf(n.shape)) {
    throw new Error(`${n.op} '${name}' has ${arr.length} value(s), expected ${showShape(n.shape)} (${sizeOf(n.shape)})`);
  }
  return arr;
}

/** The maximum m of x and s = sum(exp(x - m)): logsumexp = m + log(s), softmax = exp(x - m) / s. */
function shifted(x: Float64Array): { m: number; s: number } {
  let m = -Infinity;
  for (const v of x) if (v > m) m = v;
  if (m === -Infinity) return { m, s: 0 };
  let s = 0;
  for (const v of x) s += Math.exp(v - m);
  return { m, s };
}

function logsumexp(x: Float64Array): number {
  const { m, s } = shifted(x);
  return m === -Infinity ? -Infinity : m + Math.log(s);
}

/** An id used as a row number: an integer in 0 .. rows - 1, else an error naming the op and the position. */
function rowOf(id: number, rows: number, n: Node, position: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= rows) throw new Error(`${n.op}: id ${id} at position ${position} is not an integer in 0..${rows - 1}`);
  return id;
}

function evalNode(n: Node, a: Float64Array[]): Float64Array {
  const size = sizeOf(n.shape);
  const out = new Float64Array(size);
  const info = OPS[n.op];
  if (info.kind === 'elementwise') {
    const f = info.scalar!;
    const at = (x: Float64Array, i: number) => (x.length === 1 ? x[0] : x[i]);
    for (let i = 0; i < size; i++) out[i] = f(...a.map((x) => at(x, i)));
    return out;
  }
  const [x, y] = a;
  const [s0, s1] = n.args.map((arg) => arg.shape);
  switch (n.op) {
    case 'const':
      out.fill(n.attrs.value!);
      return out;
    case 'matmul': {
      if (s0.length === 2 && s1.length === 1) {
        const [r, c] = s0;
        for (let i = 0; i < r; i++) { let t = 0; for (let j = 0; j < c; j++) t += x[i * c + j] * y[j]; out[i] = t; }
      } else if (s0.length === 2) {
        const [r, m] = s0, c = s1[1];
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) { let t = 0; for (let k = 0; k < m; k++) t += x[i * m + k] * y[k * c + j]; out[i * c + j] = t; }
      } else {
        const [m, c] = s1;
        for (let j = 0; j < c; j++) { let t = 0; for (let k = 0; k < m; k++) t += x[k] * y[k * c + j]; out[j] = t; }
      }
      return out;
    }
    case 'dot': { let t = 0; for (let i = 0; i < x.length; i++) t += x[i] * y[i]; out[0] = t; return out; }
    case 'outer': for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) out[i * y.length + j] = x[i] * y[j]; return out;
    case 'transpose': {
      if (s0.length === 1) return x.slice();
      const [r, c] = s0;
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
      return out;
    }
    case 'sum': { let t = 0; for (const v of x) t += v; out[0] = t; return out; }
    case 'broadcast': out.fill(x[0]); return out;
    case 'logsumexp': out[0] = logsumexp(x); return out;
    // Divided by s (not exp(x - logsumexp)): m + log(s) rounds away log(s) at |x| >= 1e15.
    case 'softmax': { const { m, s } = shifted(x); for (let i = 0; i < size; i++) out[i] = Math.exp(x[i] - m) / s; return out; }
    case 'logsoftmax': { const { m, s } = shifted(x); const ls = Math.log(s); for (let i = 0; i < size; i++) out[i] = x[i] - m - ls; return out; }
    case 'index': out[0] = x[n.attrs.start!]; return out;
    case 'unindex': out[n.attrs.start!] = x[0]; return out;
    case 'slice': return x.slice(n.attrs.start!, n.attrs.start! + size);
    case 'pad': out.set(x, n.attrs.start!); return out;
    case 'concat': { let o = 0; for (const v of a) { out.set(v, o); o += v.length; } return out; }
    case 'gather': { // row ids[l] of the table, for each id
      const width = s0[1];
      y.forEach((id, l) => out.set(x.subarray(rowOf(id, s0[0], n, l) * width, rowOf(id, s0[0], n, l) * width + width), l * width));
      return out;
    }
    case 'scatter': { // row l of x added into row ids[l]
      const width = n.shape[1];
      y.forEach((id, l) => { const r = rowOf(id, n.shape[0], n, l); for (let j = 0; j < width; j++) out[r * width + j] += x[l * width + j]; });
      return out;
    }
    case 'scan': case 'tsum': return evalTime(n, a);
    default:
      throw new Error(`the interpreter has no case for op '${n.op}'`);
  }
}

/** The rows of a sequence value at step t (1-based): row t-1+shift, a vector or one element. */
function rowAt(seq: Float64Array, width: number, r: number): Float64Array {
  return seq.slice(r * width, (r + 1) * width);
}

/**
 * A scan or tsum, step by step as ir/ops.ts Body defines it: the body is evaluated at each
 * t with its slots bound to the carry, the sequences' rows and the constants.
 */
function evalTime(n: Node, a: Float64Array[]): Float64Array {
  const b = n.attrs.body!;
  const scan = n.op === 'scan';
  const nS = b.seqs.length;
  const seqs = a.slice(scan ? 1 : 0, (scan ? 1 : 0) + nS);
  const consts = a.slice((scan ? 1 : 0) + nS);
  const widths = b.seqs.map((s) => sizeOf(s.shape));
  const order = topoOrder([b.result]);
  const out = new Float64Array(sizeOf(n.shape));
  const C = scan ? sizeOf(b.carry!.shape) : 0;
  if (scan) out.set(a[0], (b.reverse ? b.steps : 0) * C);
  const ts: number[] = [];
  for (let t = b.first; t <= b.steps; t++) ts.push(t);
  if (b.reverse) ts.reverse();
  for (const t of ts) {
    const values = new Map<Node, Float64Array>();
    b.seqs.forEach((s, i) => values.set(s, rowAt(seqs[i], widths[i], rowRead(b, i, t))));
    b.consts.forEach((k, j) => values.set(k, consts[j]));
    const from = b.reverse ? t : t - 1;
    if (scan) values.set(b.carry!, out.slice(from * C, (from + 1) * C));
    for (const m of order) if (!values.has(m)) values.set(m, m.op === 'const' ? Float64Array.from({ length: sizeOf(m.shape) }, () => m.attrs.value!) : evalNode(m, m.args.map((x) => values.get(x)!)));
    const r = values.get(b.result)!;
    if (scan) out.set(r, (b.reverse ? t - 1 : t) * C);
    else for (let i = 0; i < out.length; i++) out[i] += r[i];
  }
  return out;
}

/** Values of every node reachable from `roots`. */
export function evaluate(roots: readonly Node[], env: Env): Map<Node, Float64Array> {
  const values = new Map<Node, Float64Array>();
  for (const n of topoOrder(roots)) {
    const leaf = n.op === 'param' || n.op === 'input' || n.op === 'target';
    values.set(n, leaf ? leafValue(n, env) : evalNode(n, n.args.map((a) => values.get(a)!)));
  }
  return values;
}

/** The value of one scalar node. */
export function evaluateScalar(root: Node, env: Env): number {
  return evaluate([root], env).get(root)![0];
}
