/**
 * The spec table of ops: for every op of `OPS`, the gradient checks that
 * test/ops.test.ts runs against central differences (and test/emitted.test.ts runs
 * through the emitted code). Each scalar op is checked on a grid that includes 0 and the
 * edges of its domain, on a vector, and (binary ops) with a broadcast scalar on either
 * side; each tensor op on random tensors. The loss multiplies the op's result by a weight
 * other than 1, so a rule that ignores its incoming adjoint fails. Exact expectations
 * are the conventions at kinks documented in src/ir/ops.ts.
 */
import { make, mul } from '../../src/ir/build.js';
import type { Node } from '../../src/ir/node.js';
import type { Op } from '../../src/ir/ops.js';
import { shape } from '../../src/ir/shape.js';
import { recurrence } from '../../src/ir/scan.js';
import type { GradCheck, Leaves, Point } from './gradcheck.js';
import { randomArray, seeded } from './numeric.js';

export type Spec =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'checks'; readonly checks: () => readonly GradCheck[] };

/** The weight on a scalar op's output: the incoming adjoint g of the rule under test. */
const R = -1.3;
const SEEDS = [1, 2, 3];
const rand = seeded(20240601);
const vec = (n: number, lo = -1, hi = 1) => randomArray(rand, n, lo, hi);
const relStep = (x: number) => 1e-3 * Math.abs(x); // for domains that end at 0+
const kinkStep = (x: number) => Math.min(1e-4 * Math.max(1, Math.abs(x)), Math.abs(x) / 4); // never straddles a kink at 0

const call = (op: Op, ...args: Node[]) => make(op, args);
const dot = (a: Node, b: Node) => make('dot', [a, b]);
const sumOf = (a: Node) => make('sum', [a]);

interface UnaryOptions {
  readonly grid: readonly number[];
  /** Range of random points for the vector form. */
  readonly domain: readonly [number, number];
  readonly step?: (x: number) => number;
  /** Exact derivative values (with weight 1) at kinks or domain edges. */
  readonly exact?: readonly { readonly x: number; readonly d: number }[];
}

function unary(op: Op, o: UnaryOptions): Spec {
  return {
    kind: 'checks',
    checks: (): GradCheck[] => [
      {
        label: `${op}(x) on the grid`,
        params: { x: [] },
        inputs: { r: [] },
        f: ({ x, r }) => mul(r, call(op, x)),
        points: o.grid.map((x) => ({ x: [x], r: [R] })),
        step: o.step,
        exact: (o.exact ?? []).map((e) => ({ at: { x: [e.x], r: [1] }, grad: { x: [e.d] } })),
      },
      {
        label: `${op}(v) elementwise on a vector`,
        params: { v: [4] },
        inputs: { r: [4] },
        f: ({ v, r }) => dot(r, call(op, v)),
        points: SEEDS.map(() => ({ v: vec(4, ...o.domain), r: vec(4) })),
        step: o.step,
      },
    ],
  };
}

interface BinaryOptions {
  readonly a: readonly number[];
  readonly b: readonly number[];
  /** Pairs excluded from the finite-difference grid (ties of max/min, thresholds of gt/ge). */
  readonly skip?: (a: number, b: number) => boolean;
  readonly domainA: readonly [number, number];
  readonly domainB: readonly [number, number];
  readonly step?: (x: number) => number;
  readonly exact?: readonly { readonly a: number; readonly b: number; readonly da: number; readonly db: number }[];
}

function binary(op: Op, o: BinaryOptions): Spec {
  const pairs: Point[] = [];
  for (const a of o.a) for (const b of o.b) if (!o.skip?.(a, b)) pairs.push({ a: [a], b: [b], r: [R] });
  return {
    kind: 'checks',
    checks: (): GradCheck[] => [
      {
        label: `${op}(a, b) on the grid`,
        params: { a: [], b: [] },
        inputs: { r: [] },
        f: ({ a, b, r }) => mul(r, call(op, a, b)),
        points: pairs,
        step: o.step,
        exact: (o.exact ?? []).map((e) => ({ at: { a: [e.a], b: [e.b], r: [1] }, grad: { a: [e.da], b: [e.db] } })),
      },
      {
        label: `${op}(u, v) elementwise on vectors`,
        params: { u: [3], v: [3] },
        inputs: { r: [3] },
        f: ({ u, v, r }) => dot(r, call(op, u, v)),
        points: SEEDS.map(() => ({ u: vec(3, ...o.domainA), v: vec(3, ...o.domainB), r: vec(3) })),
        step: o.step,
        exact: (o.exact ?? []).map((e) => ({
          at: { u: [e.a, e.a, e.a], v: [e.b, e.b, e.b], r: [1, 2, 3] },
          grad: { u: [e.da, 2 * e.da, 3 * e.da], v: [e.db, 2 * e.db, 3 * e.db] },
        })),
      },
      {
        label: `${op}(s, v) with a broadcast scalar on the left`,
        params: { s: [], v: [3] },
        inputs: { r: [3] },
        f: ({ s, v, r }) => dot(r, call(op, s, v)),
        points: SEEDS.map(() => ({ s: vec(1, ...o.domainA), v: vec(3, ...o.domainB), r: vec(3) })),
        step: o.step,
      },
      {
        label: `${op}(v, s) with a broadcast scalar on the right`,
        params: { v: [3], s: [] },
        inputs: { r: [3] },
        f: ({ s, v, r }) => dot(r, call(op, v, s)),
        points: SEEDS.map(() => ({ v: vec(3, ...o.domainA), s: vec(1, ...o.domainB), r: vec(3) })),
        step: o.step,
      },
    ],
  };
}

/** A tensor op check: a scalar of random leaves, at three random points. */
function tensor(label: string, params: Record<string, number[]>, inputs: Record<string, number[]>, f: (l: Leaves) => Node, fill?: (name: string, n: number) => number[]): GradCheck {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const point = (): Point => Object.fromEntries([...Object.entries(params), ...Object.entries(inputs)].map(([k, s]) => [k, fill?.(k, size(s)) ?? vec(size(s), -2, 2)]));
  return { label, params, inputs, f, points: SEEDS.map(point) };
}

const wide = [-1e6, -3, -1, -1e-8, 0, 1e-8, 0.5, 2, 1e6];

export const SPEC: { readonly [K in Op]: Spec } = {
  const: { kind: 'leaf' },
  param: { kind: 'leaf' },
  input: { kind: 'leaf' },
  target: { kind: 'leaf' },
  slot: { kind: 'leaf' },

  neg: unary('neg', { grid: wide, domain: [-3, 3] }),
  exp: unary('exp', { grid: [-745, -700, -30, -1, 0, 1e-8, 1, 10, 700], domain: [-3, 3] }),
  log: unary('log', { grid: [1e-300, 1e-12, 1e-6, 1e-3, 0.5, 1, 10, 1e6, 1e300], domain: [0.05, 3], step: relStep }),
  sqrt: unary('sqrt', { grid: [1e-300, 1e-12, 1e-6, 0.01, 1, 4, 1e6, 1e300], domain: [0.05, 3], step: relStep, exact: [{ x: 0, d: Infinity }] }),
  abs: unary('abs', { grid: [-1e6, -2, -1e-8, 1e-8, 0.3, 5, 1e6], domain: [-3, 3], step: kinkStep, exact: [{ x: 0, d: 0 }, { x: -0, d: 0 }, { x: -2, d: -1 }, { x: 2, d: 1 }] }),
  sin: unary('sin', { grid: [-100, -3, -1, 0, 1e-8, Math.PI / 2, Math.PI, 100], domain: [-3, 3] }),
  cos: unary('cos', { grid: [-100, -3, -1, 0, 1e-8, Math.PI / 2, Math.PI, 100], domain: [-3, 3] }),
  tanh: unary('tanh', { grid: [-800, -20, -1, 0, 1e-8, 0.5, 3, 20, 800], domain: [-3, 3] }),
  sigmoid: unary('sigmoid', { grid: [-800, -40, -5, 0, 1e-8, 5, 40, 800], domain: [-5, 5] }),
  relu: unary('relu', { grid: [-1e6, -1, -1e-8, 1e-8, 1, 1e6], domain: [-3, 3], step: kinkStep, exact: [{ x: 0, d: 0 }, { x: -0, d: 0 }, { x: 1e-300, d: 1 }, { x: -1e-300, d: 0 }] }),
  softplus: unary('softplus', { grid: [-800, -40, -1, 0, 1e-8, 1, 40, 800], domain: [-5, 5] }),
  square: unary('square', { grid: wide, domain: [-3, 3] }),
  sign: unary('sign', { grid: [-1e6, -1, -1e-8, 1e-8, 1, 1e6], domain: [-3, 3], step: kinkStep, exact: [{ x: 0, d: 0 }, { x: 1, d: 0 }, { x: -1, d: 0 }] }),

  add: binary('add', { a: [-1e3, -1, 0, 0.5, 1e3], b: [-1e3, -1, 0, 0.5, 1e3], domainA: [-3, 3], domainB: [-3, 3] }),
  sub: binary('sub', { a: [-1e3, -1, 0, 0.5, 1e3], b: [-1e3, -1, 0, 0.5, 1e3], domainA: [-3, 3], domainB: [-3, 3] }),
  mul: binary('mul', { a: [-1e3, -1, 0, 0.5, 1e3], b: [-1e3, -1, 0, 0.5, 1e3], domainA: [-3, 3], domainB: [-3, 3] }),
  div: binary('div', { a: [-1e3, -1, 0, 0.5, 1e3], b: [-1e3, -2, -1e-3, 1e-3, 0.5, 1e3], domainA: [-3, 3], domainB: [0.5, 3], step: (x) => 1e-4 * Math.max(Math.abs(x), 1e-2) }),
  pow: binary('pow', {
    a: [1e-3, 0.5, 1, 2, 10], b: [-2, -0.5, 0, 0.5, 1, 2.5, 3], domainA: [0.2, 3], domainB: [-2, 2], step: (x) => 1e-4 * Math.max(Math.abs(x), 1e-2),
    // At a = 0, a^b = 0 for every b > 0, so d/db = 0 (not log(0) * 0 = NaN).
    exact: [{ a: 0, b: 2.5, da: 0, db: 0 }, { a: 0, b: 1, da: 1, db: 0 }, { a: 2, b: 3, da: 12, db: 8 * Math.log(2) }],
  }),
  max: binary('max', {
    a: [-5, -1, 0, 0.5, 3], b: [-5, -1, 0, 0.5, 3], skip: (a, b) => a === b, domainA: [-3, 3], domainB: [-3, 3],
    exact: [{ a: 0, b: 0, da: 1, db: 0 }, { a: 1.5, b: 1.5, da: 1, db: 0 }, { a: -2, b: -2, da: 1, db: 0 }, { a: 2, b: 1, da: 1, db: 0 }, { a: 1, b: 2, da: 0, db: 1 }],
  }),
  min: binary('min', {
    a: [-5, -1, 0, 0.5, 3], b: [-5, -1, 0, 0.5, 3], skip: (a, b) => a === b, domainA: [-3, 3], domainB: [-3, 3],
    exact: [{ a: 0, b: 0, da: 1, db: 0 }, { a: 1.5, b: 1.5, da: 1, db: 0 }, { a: -2, b: -2, da: 1, db: 0 }, { a: 2, b: 1, da: 0, db: 1 }, { a: 1, b: 2, da: 1, db: 0 }],
  }),
  gt: binary('gt', {
    a: [-5, 0, 0.5, 3], b: [-5, 0, 0.5, 3], skip: (a, b) => a === b, domainA: [-3, 3], domainB: [-3, 3],
    exact: [{ a: 0, b: 0, da: 0, db: 0 }, { a: 2, b: 2, da: 0, db: 0 }, { a: 1, b: 0, da: 0, db: 0 }],
  }),
  ge: binary('ge', {
    a: [-5, 0, 0.5, 3], b: [-5, 0, 0.5, 3], skip: (a, b) => a === b, domainA: [-3, 3], domainB: [-3, 3],
    exact: [{ a: 0, b: 0, da: 0, db: 0 }, { a: 2, b: 2, da: 0, db: 0 }, { a: 1, b: 0, da: 0, db: 0 }],
  }),
  select: {
    kind: 'checks',
    checks: () => [
      {
        label: 'select(c, a, b) with c on the grid (0 is false)',
        params: { c: [], a: [], b: [] },
        inputs: { r: [] },
        f: ({ c, a, b, r }) => mul(r, call('select', c, a, b)),
        points: [-1, 0, 0.5, 2].map((c) => ({ c: [c], a: vec(1), b: vec(1), r: [R] })),
        exact: [{ at: { c: [0], a: [1], b: [2], r: [1] }, grad: { c: [0], a: [0], b: [1] } }, { at: { c: [3], a: [1], b: [2], r: [1] }, grad: { c: [0], a: [1], b: [0] } }],
      },
      tensor('select(c, a, b) on vectors', { a: [4], b: [4] }, { c: [4], r: [4] }, ({ c, a, b, r }) => dot(r, call('select', c, a, b)), (k, n) => (k === 'c' ? [0, 1, -2, 0] : vec(n))),
      tensor('select(c, a, b) with a scalar condition', { c: [], a: [4], b: [4] }, { r: [4] }, ({ c, a, b, r }) => dot(r, call('select', c, a, b))),
      tensor('select(c, s, b) with a broadcast scalar branch', { s: [], b: [4] }, { c: [4], r: [4] }, ({ c, s, b, r }) => dot(r, call('select', c, s, b)), (k, n) => (k === 'c' ? [1, 0, 1, 0] : vec(n))),
    ],
  },

  matmul: {
    kind: 'checks',
    checks: () => [
      tensor('matmul(M, v): matrix times vector', { M: [3, 4], v: [4] }, { r: [3] }, ({ M, v, r }) => dot(r, call('matmul', M, v))),
      tensor('matmul(M, N): matrix times matrix', { M: [3, 4], N: [4, 2] }, { r: [3, 2] }, ({ M, N, r }) => sumOf(mul(r, call('matmul', M, N)))),
      tensor('matmul(v, M): vector times matrix', { v: [3], M: [3, 2] }, { r: [2] }, ({ v, M, r }) => dot(r, call('matmul', v, M))),
      tensor('matmul(M, M): one matrix used twice', { M: [3, 3] }, { r: [3, 3] }, ({ M, r }) => sumOf(mul(r, call('matmul', M, M)))),
    ],
  },
  dot: {
    kind: 'checks',
    checks: () => [
      tensor('dot(a, b)', { a: [4], b: [4] }, { r: [] }, ({ a, b, r }) => mul(r, dot(a, b))),
      tensor('dot(a, a)', { a: [4] }, { r: [] }, ({ a, r }) => mul(r, dot(a, a))),
    ],
  },
  outer: { kind: 'checks', checks: () => [tensor('outer(a, b)', { a: [3], b: [2] }, { r: [3, 2] }, ({ a, b, r }) => sumOf(mul(r, call('outer', a, b))))] },
  transpose: {
    kind: 'checks',
    checks: () => [
      tensor('transpose(A)', { A: [3, 2] }, { r: [2, 3] }, ({ A, r }) => sumOf(mul(r, call('transpose', A)))),
      tensor('transpose(A) in a product', { A: [3, 2], v: [3] }, { r: [2] }, ({ A, v, r }) => dot(r, call('matmul', call('transpose', A), v))),
    ],
  },
  sum: {
    kind: 'checks',
    checks: () => [
      tensor('sum(A) of a matrix', { A: [3, 4] }, { r: [] }, ({ A, r }) => mul(r, sumOf(A))),
      tensor('sum(v * v) of a vector', { v: [5] }, { r: [] }, ({ v, r }) => mul(r, sumOf(mul(v, v)))),
      tensor('sum(s) of a scalar', { s: [] }, { r: [] }, ({ s, r }) => mul(r, sumOf(make('sin', [s])))),
    ],
  },
  broadcast: {
    kind: 'checks',
    checks: () => [
      tensor('broadcast(s) to a vector', { s: [] }, { r: [4] }, ({ s, r }) => dot(r, make('broadcast', [s], {}, shape(4)))),
      tensor('broadcast(s) to a matrix', { s: [] }, { r: [2, 3] }, ({ s, r }) => sumOf(mul(r, make('broadcast', [s], {}, shape(2, 3))))),
    ],
  },
  softmax: {
    kind: 'checks',
    checks: () => [
      tensor('softmax(v)', { v: [5] }, { r: [5] }, ({ v, r }) => dot(r, call('softmax', v))),
      tensor('softmax(v) of large logits', { v: [5] }, { r: [5] }, ({ v, r }) => dot(r, call('softmax', v)), (k, n) => (k === 'v' ? vec(n, 995, 1000) : vec(n))),
      tensor('softmax(M x) of a computed vector', { M: [3, 4] }, { v: [4], r: [3] }, ({ M, v, r }) => dot(r, call('softmax', call('matmul', M, v)))),
      tensor('softmax(v) of spread logits', { v: [3] }, { r: [3] }, ({ v, r }) => dot(r, call('softmax', v)), (k, n) => (k === 'v' ? [-800, 1, 2] : vec(n))),
    ],
  },
  logsumexp: {
    kind: 'checks',
    checks: () => [
      tensor('logsumexp(v)', { v: [5] }, { r: [] }, ({ v, r }) => mul(r, call('logsumexp', v))),
      tensor('logsumexp(v) of large logits', { v: [5] }, { r: [] }, ({ v, r }) => mul(r, call('logsumexp', v)), (k, n) => (k === 'v' ? vec(n, 995, 1000) : vec(n))),
      tensor('logsumexp(M x) of a computed vector', { M: [3, 4] }, { v: [4], r: [] }, ({ M, v, r }) => mul(r, call('logsumexp', call('matmul', M, v)))),
      tensor('logsumexp(M) of a matrix', { M: [2, 3] }, { r: [] }, ({ M, r }) => mul(r, call('logsumexp', M))),
      tensor('logsumexp(s) of a scalar', { s: [] }, { r: [] }, ({ s, r }) => mul(r, call('logsumexp', make('sin', [s])))),
      tensor('logsumexp(v) of very negative logits', { v: [4] }, { r: [] }, ({ v, r }) => mul(r, call('logsumexp', v)), (k, n) => (k === 'v' ? vec(n, -1000, -995) : vec(n))),
    ],
  },
  logsoftmax: {
    kind: 'checks',
    checks: () => [
      tensor('logsoftmax(v)', { v: [5] }, { r: [5] }, ({ v, r }) => dot(r, call('logsoftmax', v))),
      tensor('logsoftmax(M x) of a computed vector', { M: [3, 4] }, { v: [4], r: [3] }, ({ M, v, r }) => dot(r, call('logsoftmax', call('matmul', M, v)))),
      tensor('logsoftmax(v) of large logits', { v: [5] }, { r: [5] }, ({ v, r }) => dot(r, call('logsoftmax', v)), (k, n) => (k === 'v' ? vec(n, 995, 1000) : vec(n))),
    ],
  },
  index: {
    kind: 'checks',
    checks: () => [
      tensor('index(v, 2) of a vector', { v: [5] }, { r: [] }, ({ v, r }) => mul(r, make('index', [v], { start: 2 }))),
      tensor('index(A, 4) of a matrix (row-major)', { A: [2, 3] }, { r: [] }, ({ A, r }) => mul(r, make('index', [A], { start: 4 }))),
      tensor('two indexes of one vector', { v: [3] }, { r: [] }, ({ v, r }) => mul(r, mul(make('index', [v], { start: 0 }), make('sin', [make('index', [v], { start: 2 })])))),
    ],
  },
  unindex: {
    kind: 'checks',
    checks: () => [
      tensor('unindex(s) into a vector', { s: [] }, { r: [4] }, ({ s, r }) => dot(r, make('unindex', [s], { start: 1 }, shape(4)))),
      tensor('unindex(s) into a matrix', { s: [] }, { r: [2, 2] }, ({ s, r }) => sumOf(mul(r, make('unindex', [s], { start: 3 }, shape(2, 2))))),
    ],
  },
  concat: {
    kind: 'checks',
    checks: () => [
      tensor('concat(a, v, b) of scalars and a vector', { a: [], v: [3], b: [] }, { r: [5] }, ({ a, v, b, r }) => dot(r, call('concat', a, v, b))),
      tensor('concat(v, v)', { v: [2] }, { r: [4] }, ({ v, r }) => dot(r, call('concat', v, v))),
    ],
  },
  slice: {
    kind: 'checks',
    checks: () => [
      tensor('slice(v, 2, 3)', { v: [6] }, { r: [3] }, ({ v, r }) => dot(r, make('slice', [v], { start: 2 }, shape(3)))),
      tensor('slice(A): row 1 of a matrix', { A: [3, 4] }, { r: [4] }, ({ A, r }) => dot(r, make('slice', [A], { start: 4 }, shape(4)))),
      tensor('slice(A): rows 1..2 of a matrix', { A: [3, 2] }, { r: [2, 2] }, ({ A, r }) => sumOf(mul(r, make('slice', [A], { start: 2 }, shape(2, 2))))),
    ],
  },
  pad: {
    kind: 'checks',
    checks: () => [
      tensor('pad(v, 1) to 6', { v: [3] }, { r: [6] }, ({ v, r }) => dot(r, make('pad', [v], { start: 1 }, shape(6)))),
      tensor('pad(v) into row 2 of a matrix', { v: [2] }, { r: [3, 2] }, ({ v, r }) => sumOf(mul(r, make('pad', [v], { start: 4 }, shape(3, 2))))),
      tensor('pad(A) into rows 1..2 of a matrix', { A: [2, 2] }, { r: [3, 2] }, ({ A, r }) => sumOf(mul(r, make('pad', [A], { start: 2 }, shape(3, 2))))),
    ],
  },
  // Ids are inputs with integer values (one repeated, so gradients of a row add up).
  gather: {
    kind: 'checks',
    checks: () => [
      tensor('gather(E, ids): rows of a table', { E: [4, 3] }, { ids: [3], r: [3, 3] }, ({ E, ids, r }) => sumOf(mul(r, call('gather', E, ids))), (k, n) => (k === 'ids' ? [2, 0, 2] : vec(n))),
      tensor('gather(E, id): one row', { E: [4, 3] }, { id: [], r: [3] }, ({ E, id, r }) => dot(r, call('gather', E, id)), (k, n) => (k === 'id' ? [3] : vec(n))),
    ],
  },
  scatter: {
    kind: 'checks',
    checks: () => [
      tensor('scatter(A, ids) into a [4x2] matrix', { A: [3, 2] }, { ids: [3], r: [4, 2] }, ({ A, ids, r }) => sumOf(mul(r, make('scatter', [A, ids], {}, shape(4, 2)))), (k, n) => (k === 'ids' ? [1, 3, 1] : vec(n))),
      tensor('scatter(v, id) of one row', { v: [2] }, { id: [], r: [4, 2] }, ({ v, id, r }) => sumOf(mul(r, make('scatter', [v, id], {}, shape(4, 2)))), (k, n) => (k === 'id' ? [0] : vec(n))),
    ],
  },
  scan: { kind: 'checks', checks: () => recurrenceChecks('scan') },
  tsum: { kind: 'checks', checks: () => recurrenceChecks('tsum (in the gradient of a scan)') },
};

/**
 * Recurrences: every row of the history weighted (so every G[t] is non-zero), the
 * initial state a parameter, a sequence of numbers and one of vectors.
 */
function recurrenceChecks(what: string): GradCheck[] {
  return [
    tensor(`${what}: h[t] = tanh(W h[t-1] + u x[t]) over 4 numbers`, { W: [3, 3], u: [3], h0: [3] }, { x: [4], r: [5, 3] }, ({ W, u, h0, x, r }) =>
      sumOf(mul(r, recurrence(h0, [{ node: x }], (h, [xt]) => call('tanh', call('add', call('matmul', W, h), mul(xt, u))))))),
    tensor(`${what}: h[t] = sigmoid(h[t-1] U + x[t] V) * h[t-1] + 0.5 over 3 rows of 2`, { U: [2, 2], V: [2, 2] }, { x: [3, 2], r: [4, 2] }, ({ U, V, x, r }) =>
      sumOf(mul(r, recurrence(make('const', [], { value: 0.1 }, shape(2)), [{ node: x }], (h, [xt]) =>
        call('add', mul(call('sigmoid', call('add', call('matmul', h, U), call('matmul', xt, V))), h), make('const', [], { value: 0.5 }, shape(2))))))),
  ];
}
