/**
 * Phase 5, lower: the one table of how each op's elements are computed from its
 * arguments' elements, instantiated by both lowerings.
 *
 * `LOWERING` has one entry per op (typed `{ [K in Op]: ... }`, so a missing op does not
 * compile). Each entry states its index math once, in coordinates (row-major, 0-based):
 *   leaf         a parameter, input, target or constant: each lowering reads it its own way
 *   elementwise  out(o) = op(arg_1(o), ...), scalars broadcast: OPS[op] gives the op itself
 *   view         out(o) = arg(source(o)): transpose, broadcast, index, slice
 *   contract     out(o) = sum over k of prod_i arg_i(factor_i(o, k)), k over `red` in
 *                row-major order (no `red`: no sum): matmul in its three shape cases, dot,
 *                outer, sum
 *   place        out = 0, then out[at + r] = arg(r) for each piece: pad, unindex, concat
 *   shifted      m = max(x), e(x) = term(x, m), s = sum(e): softmax, logsumexp and
 *                log_softmax with the maximum shifted out (finite for any finite x)
 *   gather       out(l, j) = table(ids(l), j): rows picked by run-time integer ids
 *   scatter      out = 0, then out(ids(l), j) += a(l, j): the gradient of gather. As a
 *                parameter's gradient term it is never materialized: both lowerings add it
 *                into the touched rows of the accumulator (5-lower/sparse.ts)
 *   time         a loop over t whose body is a kernel of its own (scan, tsum; ir/ops.ts Body)
 * Laws, relied on by the looped lowering and checked in test/lowering-table.test.ts:
 * `source` and every `factor` are affine in their coordinates (so the looped lowering
 * finds strides by evaluating them at 0 and at unit vectors), and the pieces of a
 * `place` never overlap. The unrolled lowering (scalarize.ts) evaluates the same
 * functions at every coordinate; the looped lowering (loops.ts, then 6-emit/loopKernels.ts)
 * turns them into strided accesses and loops. Formulas of `shifted` are written over an
 * `ElementAlgebra`, so one statement yields IR nodes in one lowering and TypeScript in
 * the other. The interpreter (interp/evaluate.ts) does not use this table: it stays an
 * independent oracle.
 */
import type { Attrs, ElementwiseOp, Op } from '../ir/ops.js';
import type { Shape } from '../ir/shape.js';

export type Coords = readonly number[];

/** Elementwise ops over some representation of values: IR nodes, or expression text. */
export interface ElementAlgebra<E> {
  apply(op: ElementwiseOp, ...args: E[]): E;
}

export interface Contraction {
  /** Extents of the summed coordinates (empty: one product, no sum). */
  readonly red: readonly number[];
  /** Per argument, its coordinates from the output's coordinates `o` and the summed ones `k`. */
  readonly factors: readonly ((o: Coords, k: Coords) => Coords)[];
}

/** Argument `arg` (flat, row-major) goes to flat positions `at`, `at + 1`, ... of the output. */
export interface Piece { readonly arg: number; readonly at: number }

export interface ShiftedRule {
  /** One value per element of x (softmax), or one for all of x (logsumexp). */
  readonly perElement: boolean;
  /** The term summed over x: e = exp(x - m). */
  term<E>(f: ElementAlgebra<E>, x: E, m: E): E;
  /** A value computed once from s and shared by every element (log s), if the rule needs one. */
  shared?<E>(f: ElementAlgebra<E>, s: E): E;
  /** The result (at element x, whose term is e). */
  value<E>(f: ElementAlgebra<E>, v: { readonly x: E; readonly e: E; readonly m: E; readonly s: E; readonly shared: E }): E;
}

export type OpLowering =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'elementwise' }
  | { readonly kind: 'view'; readonly source: (o: Coords, arg: Shape, attrs: Attrs) => Coords }
  | { readonly kind: 'contract'; readonly of: (args: readonly Shape[]) => Contraction }
  | { readonly kind: 'place'; readonly pieces: (args: readonly Shape[], attrs: Attrs) => readonly Piece[] }
  | { readonly kind: 'shifted'; readonly rule: ShiftedRule }
  | { readonly kind: 'gather' }
  | { readonly kind: 'scatter' }
  /** A loop over time whose body is its own small kernel (ir/ops.ts Body): scan, tsum. */
  | { readonly kind: 'time' };

const leaf: OpLowering = { kind: 'leaf' };
const elementwise: OpLowering = { kind: 'elementwise' };
const size = (s: Shape) => s.reduce((n, d) => n * d, 1);
/** Row-major coordinates of flat index k in shape s. */
export const unflat = (s: Shape, k: number): number[] => (s.length === 2 ? [Math.floor(k / s[1]), k % s[1]] : s.length === 1 ? [k] : []);
/** Flat row-major index of coordinates c in shape s. */
export const flat = (s: Shape, c: Coords): number => (s.length === 2 ? c[0] * s[1] + c[1] : s.length === 1 ? c[0] : 0);

const exp = <E>(f: ElementAlgebra<E>, x: E, m: E) => f.apply('exp', f.apply('sub', x, m));

/**
 * Where element o of a slice at flat offset `start` sits in `a` (ops.ts `sliceFits`): the
 * elements start + i of a vector, elements of one row of a matrix, or whole rows of it.
 */
function sliceSource(o: Coords, a: Shape, start: number): Coords {
  if (a.length === 1) return [o[0] + start]; //                         out(i) = a(start + i)
  const row = Math.floor(start / a[1]);
  return o.length === 1 ? [row, (start % a[1]) + o[0]] : [row + o[0], o[1]]; // out(j) = a(r, c + j); out(i, j) = a(r + i, j)
}

export const LOWERING: { readonly [K in Op]: OpLowering } = {
  const: leaf,
  param: leaf,
  input: leaf,
  target: leaf,
  slot: leaf, // a recurrence's body reads it: the looped lowering binds it to a row at step t

  neg: elementwise, exp: elementwise, log: elementwise, sqrt: elementwise, abs: elementwise,
  sin: elementwise, cos: elementwise, tanh: elementwise, sigmoid: elementwise, relu: elementwise,
  softplus: elementwise, square: elementwise, sign: elementwise,
  add: elementwise, sub: elementwise, mul: elementwise, div: elementwise, pow: elementwise,
  max: elementwise, min: elementwise, gt: elementwise, ge: elementwise, select: elementwise,

  transpose: { kind: 'view', source: (o, a) => (a.length === 2 ? [o[1], o[0]] : o) }, // out(i, j) = a(j, i); a vector is its own transpose
  broadcast: { kind: 'view', source: () => [] }, // out(o) = a, a scalar
  index: { kind: 'view', source: (_o, a, attrs) => unflat(a, attrs.start!) }, // out = a[start], flat
  slice: { kind: 'view', source: (o, a, attrs) => sliceSource(o, a, attrs.start!) }, // a contiguous range: elements or whole rows

  matmul: {
    kind: 'contract',
    of: ([a, b]) => (a.length === 2 && b.length === 1
      ? { red: [a[1]], factors: [(o, k) => [o[0], k[0]], (_o, k) => [k[0]]] } // out(i) = sum_k A(i, k) b(k)
      : a.length === 2
        ? { red: [a[1]], factors: [(o, k) => [o[0], k[0]], (o, k) => [k[0], o[1]]] } // out(i, j) = sum_k A(i, k) B(k, j)
        : { red: [a[0]], factors: [(_o, k) => [k[0]], (o, k) => [k[0], o[0]]] }), // out(j) = sum_k a(k) B(k, j)
  },
  dot: { kind: 'contract', of: ([a]) => ({ red: [a[0]], factors: [(_o, k) => [k[0]], (_o, k) => [k[0]]] }) }, // sum_k a(k) b(k)
  outer: { kind: 'contract', of: () => ({ red: [], factors: [(o) => [o[0]], (o) => [o[1]]] }) }, // out(i, j) = a(i) b(j)
  sum: { kind: 'contract', of: ([a]) => ({ red: a, factors: [(_o, k) => k] }) }, // sum over every element

  pad: { kind: 'place', pieces: (_a, attrs) => [{ arg: 0, at: attrs.start! }] }, // zeros, a at start
  unindex: { kind: 'place', pieces: (_a, attrs) => [{ arg: 0, at: attrs.start! }] }, // zeros, the scalar at start
  concat: { // the arguments one after another (a scalar takes one place)
    kind: 'place',
    pieces: (args) => {
      let at = 0;
      return args.map((s, arg) => { const p = { arg, at }; at += size(s); return p; });
    },
  },

  // softmax is e / s, not exp(x - logsumexp): m + log(s) rounds away log(s) at |x| >= 1e15.
  softmax: { kind: 'shifted', rule: { perElement: true, term: exp, value: (f, v) => f.apply('div', v.e, v.s) } },
  logsumexp: { kind: 'shifted', rule: { perElement: false, term: exp, value: (f, v) => f.apply('add', v.m, f.apply('log', v.s)) } },
  gather: { kind: 'gather' }, //   out(l, j) = table(ids(l), j)
  scatter: { kind: 'scatter' }, // out(ids(l), j) += a(l, j), from zero
  scan: { kind: 'time' }, //  row t = body(row t-1, sequence rows at t): 5-lower/loops.ts plans the body as a kernel
  tsum: { kind: 'time' }, //  sum over t of body(sequence rows at t)

  logsoftmax: {
    kind: 'shifted',
    rule: { perElement: true, term: exp, shared: (f, s) => f.apply('log', s), value: (f, v) => f.apply('sub', f.apply('sub', v.x, v.m), v.shared) },
  },
};

/** Whether a `place` op's pieces cover its whole output (then nothing needs zeroing). */
export function covers(pieces: readonly Piece[], args: readonly Shape[], out: Shape): boolean {
  return pieces.reduce((n, p) => n + size(args[p.arg]), 0) === size(out);
}
