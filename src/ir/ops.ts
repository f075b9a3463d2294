/**
 * The op table: every primitive gradc knows, and what it means.
 *
 * Guarantees: `Op` is the closed set of primitives. `OPS` has one entry per op (the
 * type `{ [K in Op]: OpInfo }` makes the checker reject a missing one), giving its
 * arity, how its static shape follows from its arguments, and, for elementwise ops,
 * its value on numbers (`scalar`, used by the interpreter and constant folding) and its
 * JavaScript expression (`js`, used by every emitter). Derivatives live elsewhere, in
 * `3-diff/rules.ts`, one table keyed by the same `Op`.
 *
 * Indexing: `index`, `slice`, `pad` and `unindex` take a flat row-major offset (`start`); a
 * slice is a contiguous range that is a view in coordinates (`sliceFits`: elements of a
 * vector, part of a row, whole rows), its gradient the `pad` back into those places. Row
 * indexing is always such a slice (ir/build.ts `row`): `X[i]`, a recurrence's state after
 * step t, and backpropagation through time's reads of its histories.
 * `gather(table, ids)` picks rows of a matrix by run-time integer ids (a scalar id: one row;
 * L ids: an [L x D] matrix); `scatter(a, ids)` adds the rows of a into rows ids of a zero
 * matrix of the requested shape (the gradient of gather). An id is read as a row number;
 * the front ends build gathers only from integer inputs (`limit`), whose ids the generated
 * module checks before any kernel runs.
 *
 * Conventions at kinks (tested in test/ops.test.ts):
 *   relu'(0) = 0, abs'(0) = 0 (sign(0) = 0), max/min ties send the whole gradient to the
 *   first argument, sqrt'(0) = +Infinity (the one-sided limit), gt/ge/sign have zero gradient,
 *   d(a^b)/db = 0 where a^b = 0 (at a = 0, instead of log(0) * 0 = NaN),
 *   d(a^b)/da = 0 where b = 0 (0^0 = 1 is constant in a; instead of 0 * 0^-1 = NaN).
 * Zero adjoint (tested in test/harden-numerics.test.ts): an adjoint of 0 contributes 0,
 *   also through a local derivative that is infinite there. The rules whose local
 *   derivative can be infinite at a finite argument guard it (3-diff/rules.ts,
 *   `unlessZero`): log (1/a at 0), sqrt (1/(2 sqrt a) at 0), div (1/b and a/b^2 at b = 0),
 *   pow (b a^(b-1) at a = 0, b < 1; log(a) a^b at a = 0, b = 0) and exp (e^a past
 *   overflow). So an inactive hinge relu(sqrt(s) - m) at s = 0, or an unselected branch
 *   select(c, x, log(0)), gives the gradient 0, not NaN. Other rules multiply the adjoint
 *   by an argument or a bounded value, infinite only where the forward value already is
 *   (mul by Infinity), and are not guarded: guarding every product would cost every
 *   model a compare per element. The guard costs one compare per element of the guarded
 *   rules' adjoints, and nothing where the adjoint is a constant.
 * Where the gradient is not promised finite: where a forward value is already infinite
 *   (a division by an exact zero that a later op maps back to a finite loss), or where a
 *   non-zero adjoint meets a local derivative that is undefined (infinite at a cusp such as
 *   sqrt(a^2) at a = 0 written without the abs rewrite, or complex: log of a negative base
 *   in d(a^b)/db). The fuzz test (test/fuzz.test.ts) holds every other case to a finite
 *   gradient wherever the loss has a finite slope.
 */
import type { Node } from './node.js';
import { type Shape, SCALAR, broadcastShapes, isScalar, shape as mkShape, showShape, sizeOf as sizeOfShape } from './shape.js';

export type LeafOp = 'const' | 'param' | 'input' | 'target' | 'slot';
export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sin' | 'cos' | 'tanh'
  | 'sigmoid' | 'relu' | 'softplus' | 'square' | 'sign';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min' | 'gt' | 'ge';
export type TensorOp =
  | 'select' | 'matmul' | 'dot' | 'outer' | 'transpose' | 'sum' | 'broadcast'
  | 'softmax' | 'logsumexp' | 'logsoftmax' | 'index' | 'unindex' | 'concat' | 'slice' | 'pad'
  | 'gather' | 'scatter'
  | 'scan' | 'tsum';
export type Op = LeafOp | UnaryOp | BinaryOp | TensorOp;

export type ElementwiseOp = UnaryOp | BinaryOp | 'select';

/** Constant attributes of a node: part of its identity. */
export interface Attrs {
  readonly value?: number; // const: every element has this value
  readonly name?: string; // param, input, target
  readonly start?: number; // index, unindex, slice, pad (a flat, row-major offset)
  readonly limit?: number; // input: an integer input, each value in 0 .. limit - 1 (a token id)
  readonly low?: number; // input: an integer input's smallest value when not 0 (a length input: 1, limit T + 1)
  readonly body?: Body; // scan, tsum: the step function (see Body)
}

/**
 * The step function of a recurrence (`scan`) or of a sum over time (`tsum`): a graph over
 * slot leaves of its own, closed (it reads nothing but its slots and constants).
 *   scan(init, seq_1..seq_n, k_1..k_m) : [(T+1) x C], row 0 = init (row T when `reverse`)
 *     forward: for t = first..T: row t = result(carry = row t-1, seq_i = seq_i row r_i(t), k)
 *     reverse: for t = T..first: row t-1 = result(carry = row t, seq_i row r_i(t), k)
 *   tsum(seq_1..seq_n, k_1..k_m) = sum over t = first..T of result(seq_i row r_i(t), k)
 * where r_i(t) = (t-1)*stride_i + shift_i (`rowRead`; stride 1 unless a checkpointed scan reads several rows a step).
 * A sequence is a matrix (its rows are vectors) or a vector (its elements are scalars).
 * `id` is unique in its graph (the node key mentions it); slots are named after it.
 */
export interface Body {
  readonly id: number;
  /** T: the last step; steps run over t = first..T (first = 1 unless BPTT is truncated). */
  readonly steps: number;
  readonly first: number;
  readonly reverse: boolean;
  /** A forward scan's option: its gradient runs through the last `truncate` steps only (truncated BPTT). */
  readonly truncate?: number;
  /**
   * A forward scan's option: its gradient recomputes each step from a state stored every
   * `checkpoint` steps instead of reading values the forward loop stored (see 2-build/recurrent.ts).
   */
  readonly checkpoint?: number;
  /** scan: the carry's slot (a vector); tsum: none. */
  readonly carry?: Node;
  readonly seqs: readonly Node[];
  readonly shifts: readonly number[];
  /** Rows a sequence advances by per step (absent: 1 each); a checkpointed scan reads k rows a step. */
  readonly strides?: readonly number[];
  readonly consts: readonly Node[];
  readonly result: Node;
  /**
   * A forward scan's named states, as the builder laid them out in the carry (for the
   * inspection tools only: the node's identity is its id, so this changes nothing else).
   */
  readonly states?: readonly StatePart[];
}

/** One named state of a recurrence: elements at .. at + size - 1 of the carry (a scalar when `scalar`). */
export interface StatePart { readonly name: string; readonly at: number; readonly size: number; readonly scalar: boolean }
/** The row of sequence `i` that body `b` reads at step t: (t-1)*stride + shift. */
export const rowRead = (b: Pick<Body, 'shifts' | 'strides'>, i: number, t: number): number => (t - 1) * (b.strides?.[i] ?? 1) + b.shifts[i];

export interface OpInfo {
  /** Number of arguments, or 'n' for variadic (concat). */
  readonly arity: number | 'n';
  readonly kind: 'leaf' | 'elementwise' | 'tensor';
  /** Value on numbers (elementwise ops only). */
  readonly scalar?: (...xs: number[]) => number;
  /** JavaScript expression from argument expressions (elementwise ops only). */
  readonly js?: (...xs: string[]) => string;
  /** Function name in formulas (mathjs syntax), when the op prints as a call. */
  readonly fn?: string;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

const unary = (scalar: (x: number) => number, js: (x: string) => string, fn?: string): OpInfo =>
  ({ arity: 1, kind: 'elementwise', scalar, js, fn });
const binary = (scalar: (a: number, b: number) => number, js: (a: string, b: string) => string, fn?: string): OpInfo =>
  ({ arity: 2, kind: 'elementwise', scalar, js, fn });
const tensor = (arity: number | 'n', fn: string): OpInfo => ({ arity, kind: 'tensor', fn });
const leaf: OpInfo = { arity: 0, kind: 'leaf' };

export const OPS: { readonly [K in Op]: OpInfo } = {
  const: leaf,
  param: leaf,
  input: leaf,
  target: leaf,
  slot: leaf,

  neg: unary((x) => -x, (x) => `-${x}`),
  exp: unary(Math.exp, (x) => `Math.exp(${x})`, 'exp'),
  log: unary(Math.log, (x) => `Math.log(${x})`, 'log'),
  sqrt: unary(Math.sqrt, (x) => `Math.sqrt(${x})`, 'sqrt'),
  abs: unary(Math.abs, (x) => `Math.abs(${x})`, 'abs'),
  sin: unary(Math.sin, (x) => `Math.sin(${x})`, 'sin'),
  cos: unary(Math.cos, (x) => `Math.cos(${x})`, 'cos'),
  tanh: unary(Math.tanh, (x) => `Math.tanh(${x})`, 'tanh'),
  sigmoid: unary(sigmoid, (x) => `1 / (1 + Math.exp(-${x}))`, 'sigmoid'),
  relu: unary((x) => (x > 0 ? x : 0), (x) => `(${x} > 0 ? ${x} : 0)`, 'relu'),
  softplus: unary(softplus, (x) => `(${x} > 0 ? ${x} + Math.log1p(Math.exp(-${x})) : Math.log1p(Math.exp(${x})))`, 'softplus'),
  square: unary((x) => x * x, (x) => `${x} * ${x}`, 'square'),
  sign: unary((x) => (x > 0 ? 1 : x < 0 ? -1 : 0), (x) => `(${x} > 0 ? 1 : ${x} < 0 ? -1 : 0)`, 'sign'),

  add: binary((a, b) => a + b, (a, b) => `${a} + ${b}`),
  sub: binary((a, b) => a - b, (a, b) => `${a} - ${b}`),
  mul: binary((a, b) => a * b, (a, b) => `${a} * ${b}`),
  div: binary((a, b) => a / b, (a, b) => `${a} / ${b}`),
  pow: binary(Math.pow, (a, b) => `Math.pow(${a}, ${b})`),
  max: binary((a, b) => (a >= b ? a : b), (a, b) => `(${a} >= ${b} ? ${a} : ${b})`, 'max'),
  min: binary((a, b) => (a <= b ? a : b), (a, b) => `(${a} <= ${b} ? ${a} : ${b})`, 'min'),
  gt: binary((a, b) => (a > b ? 1 : 0), (a, b) => `(${a} > ${b} ? 1 : 0)`, 'gt'),
  ge: binary((a, b) => (a >= b ? 1 : 0), (a, b) => `(${a} >= ${b} ? 1 : 0)`, 'ge'),
  select: { arity: 3, kind: 'elementwise', scalar: (c, a, b) => (c !== 0 ? a : b), js: (c, a, b) => `(${c} !== 0 ? ${a} : ${b})`, fn: 'select' },

  matmul: tensor(2, 'matmul'),
  dot: tensor(2, 'dot'),
  outer: tensor(2, 'outer'),
  transpose: { arity: 1, kind: 'tensor', fn: 'transpose' },
  sum: tensor(1, 'sum'),
  broadcast: { arity: 1, kind: 'tensor', fn: 'broadcast' },
  softmax: tensor(1, 'softmax'),
  logsumexp: tensor(1, 'logsumexp'),
  logsoftmax: tensor(1, 'log_softmax'),
  index: { arity: 1, kind: 'tensor', fn: 'index' },
  unindex: { arity: 1, kind: 'tensor', fn: 'unindex' },
  concat: { arity: 'n', kind: 'tensor', fn: 'concat' },
  slice: { arity: 1, kind: 'tensor', fn: 'slice' },
  pad: { arity: 1, kind: 'tensor', fn: 'pad' },
  gather: { arity: 2, kind: 'tensor', fn: 'gather' },
  scatter: { arity: 2, kind: 'tensor', fn: 'scatter_add' },
  scan: { arity: 'n', kind: 'tensor', fn: 'scan' },
  tsum: { arity: 'n', kind: 'tensor', fn: 'tsum' },
};

/**
 * Whether `slice` of `a` at flat offset `start` with result shape `out` reads a contiguous
 * range that is a view in coordinates: elements of a vector, part of one row of a matrix,
 * or whole rows of a matrix (what `X[i]`, `v[a:b]` and `X[a:b]` build).
 */
export function sliceFits(a: Shape, out: Shape, start: number): boolean {
  if (!Number.isInteger(start) || start < 0 || sizeOfShape(out) + start > sizeOfShape(a)) return false;
  if (a.length === 1) return out.length === 1;
  if (a.length !== 2) return false;
  if (out.length === 1) return (start % a[1]) + out[0] <= a[1]; // within one row
  return out.length === 2 && out[1] === a[1] && start % a[1] === 0; // whole rows
}

/** The shape of a sequence's slot: a row of a matrix, an element of a vector. */
export const rowShape = (s: Shape): Shape => (s.length === 2 ? mkShape(s[1]) : SCALAR);

/** Raised by shape inference; the builders add where the operands came from. */
export class ShapeError extends Error {}

/**
 * The static shape of `op` applied to arguments of shapes `args`, or a ShapeError that
 * names the op and both shapes. `out` is the requested shape for ops that take one
 * (leaves, broadcast, unindex, pad, slice).
 */
/** The ShapeError of `op` over `args` (a function of its own: inferShape runs per node built, and makes no closure). */
function badShape(op: Op, args: readonly Shape[], why: string): never {
  throw new ShapeError(`${op}: ${why} (shapes ${args.map(showShape).join(', ')})`);
}

export function inferShape(op: Op, args: readonly Shape[], attrs: Attrs, out?: Shape): Shape {
  const info = OPS[op];
  if (info.arity !== 'n' && args.length !== info.arity) badShape(op, args, `takes ${info.arity} argument(s), got ${args.length}`);
  if (info.kind === 'leaf') return out ?? SCALAR;
  if (info.kind === 'elementwise') {
    let s: Shape | null = args[0];
    for (let i = 1; i < args.length; i++) s = s && broadcastShapes(s, args[i]);
    return s ?? badShape(op, args, 'shapes do not match and neither is a scalar');
  }
  const [a, b] = args;
  switch (op) {
    case 'matmul':
      if (a.length === 2 && b.length === 1) return a[1] === b[0] ? mkShape(a[0]) : badShape(op, args, `inner dimensions ${a[1]} and ${b[0]} differ`);
      if (a.length === 2 && b.length === 2) return a[1] === b[0] ? mkShape(a[0], b[1]) : badShape(op, args, `inner dimensions ${a[1]} and ${b[0]} differ`);
      if (a.length === 1 && b.length === 2) return a[0] === b[0] ? mkShape(b[1]) : badShape(op, args, `inner dimensions ${a[0]} and ${b[0]} differ`);
      return badShape(op, args, 'needs a matrix and a vector or two matrices');
    case 'dot':
      return a.length === 1 && b.length === 1 && a[0] === b[0] ? SCALAR : badShape(op, args, 'needs two vectors of one length');
    case 'outer':
      return a.length === 1 && b.length === 1 ? mkShape(a[0], b[0]) : badShape(op, args, 'needs two vectors');
    case 'transpose':
      return a.length === 2 ? mkShape(a[1], a[0]) : a.length === 1 ? a : badShape(op, args, 'needs a matrix');
    case 'sum':
    case 'logsumexp':
      return SCALAR;
    case 'softmax':
    case 'logsoftmax':
      return a.length === 1 ? a : badShape(op, args, 'needs a vector');
    case 'broadcast':
      return isScalar(a) && out ? out : badShape(op, args, 'broadcasts a scalar to a shape');
    case 'index': // flat row-major index into a vector or a matrix
      return attrs.start !== undefined && Number.isInteger(attrs.start) && attrs.start >= 0 && attrs.start < sizeOfShape(a)
        ? SCALAR
        : badShape(op, args, `index ${attrs.start === undefined ? '?' : attrs.start + 1} is outside 1..${sizeOfShape(a)}`);
    case 'unindex':
      return isScalar(a) && out && (attrs.start ?? -1) >= 0 && (attrs.start ?? 0) < sizeOfShape(out) ? out : badShape(op, args, 'unindex puts a scalar into a tensor');
    case 'slice':
      return out && sliceFits(a, out, attrs.start ?? 0) ? out : badShape(op, args, `slice ${out ? showShape(out) : '?'} at ${attrs.start ?? 0} is not a range of elements or whole rows`);
    case 'pad':
      return out && sliceFits(out, a, attrs.start ?? 0) ? out : badShape(op, args, `pad into ${out ? showShape(out) : '?'} at ${attrs.start ?? 0} is not a range of elements or whole rows`);
    case 'gather': // rows of table a picked by integer ids b: a scalar id gives a row, L ids an [L x D] matrix
      if (a.length !== 2) return badShape(op, args, 'the table must be a matrix (one row per id)');
      return b.length === 0 ? mkShape(a[1]) : b.length === 1 ? mkShape(b[0], a[1]) : badShape(op, args, 'the ids must be a scalar or a vector');
    case 'scatter': { // rows of a added into rows b of a zero matrix of shape out (the gradient of gather)
      const fits = out && out.length === 2 && ((b.length === 0 && a.length === 1 && a[0] === out[1]) || (b.length === 1 && a.length === 2 && a[0] === b[0] && a[1] === out[1]));
      return fits ? out : badShape(op, args, `rows of ${showShape(a)} do not scatter by ids ${showShape(b)} into ${out ? showShape(out) : '?'}`);
    }
    case 'scan':
    case 'tsum':
      return timeShape(op, args, attrs.body, (why) => badShape(op, args, why));
    case 'concat': {
      if (args.some((s) => s.length > 1)) badShape(op, args, 'concatenates scalars and vectors');
      return mkShape(args.reduce((n, s) => n + (s.length === 0 ? 1 : s[0]), 0));
    }
    default:
      return badShape(op, args, 'unknown op');
  }
}

/** The shape of a scan or tsum, checking its arguments against its body (see Body). */
function timeShape(op: 'scan' | 'tsum', args: readonly Shape[], body: Body | undefined, bad: (why: string) => never): Shape {
  if (!body) return bad('has no body');
  const scan = op === 'scan';
  const nSeq = body.seqs.length;
  if (args.length !== (scan ? 1 : 0) + nSeq + body.consts.length) bad('arguments do not match its body');
  if (!Number.isInteger(body.steps) || body.steps < 1 || !Number.isInteger(body.first) || body.first < 1 || body.first > body.steps) bad(`steps ${body.first}..${body.steps}`);
  const seqs = args.slice(scan ? 1 : 0, (scan ? 1 : 0) + nSeq);
  seqs.forEach((s, i) => {
    const rows = s.length === 0 ? 0 : s[0];
    const stride = body.strides?.[i] ?? 1;
    if (!Number.isInteger(stride) || stride < 1) bad(`sequence ${i + 1} advances by ${stride} rows a step`);
    if (s.length === 0 || rowRead(body, i, body.first) < 0 || rowRead(body, i, body.steps) >= rows) bad(`sequence ${i + 1} has ${rows} rows; step ${body.steps} reads row ${rowRead(body, i, body.steps)}`);
    if (showShape(rowShape(s)) !== showShape(body.seqs[i].shape)) bad(`sequence ${i + 1}'s rows do not match its slot`);
  });
  const consts = args.slice((scan ? 1 : 0) + nSeq);
  consts.forEach((s, j) => { if (showShape(s) !== showShape(body.consts[j].shape)) bad(`constant ${j + 1} does not match its slot`); });
  if (!scan) return body.result.shape;
  const c = args[0];
  if (c.length !== 1 || !body.carry || showShape(body.carry.shape) !== showShape(c) || showShape(body.result.shape) !== showShape(c)) bad('the carry, its slot and the step result must be vectors of one length');
  return mkShape(body.steps + 1, c[0]);
}
