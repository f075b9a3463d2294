/**
 * The functions and operators a formula may use, and the IR each one builds.
 *
 * Guarantees: `FUNCTIONS` (a Map) is the complete list of function names accepted in formulas
 * (an unknown name is an error that lists these); each entry checks its argument count
 * and builds IR only through the smart constructors, so shapes are checked by
 * `inferShape`. Operators follow mathjs meaning: `*` is a matrix product when both
 * sides are tensors (a dot product for two vectors) and a scaling otherwise; `.*`,
 * `./`, `.^` are elementwise; `^` on a tensor base is rejected in favour of `.^`.
 */
import { constant, make } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { type Op, ShapeError } from '../ir/ops.js';
import { lengthMask, padMask, poolRows } from './indexing.js';
import { isScalar, sizeOf } from '../ir/shape.js';

export interface FunctionInfo {
  readonly arity: readonly [number, number];
  readonly build: (args: Node[]) => Node;
  readonly doc: string;
}

const unaryFn = (op: Op, doc: string): FunctionInfo => ({ arity: [1, 1], build: ([x]) => make(op, [x]), doc });

/** Elementwise or matrix product, as `*` means in mathjs. */
export function times(a: Node, b: Node): Node {
  if (isScalar(a.shape) || isScalar(b.shape)) return make('mul', [a, b]);
  if (a.shape.length === 1 && b.shape.length === 1) return make('dot', [a, b]);
  return make('matmul', [a, b]);
}

export function mean(x: Node): Node {
  return isScalar(x.shape) ? x : make('div', [make('sum', [x]), constant(sizeOf(x.shape))]);
}

const TABLE = {
  exp: unaryFn('exp', 'e^x'),
  log: unaryFn('log', 'natural logarithm'),
  sqrt: unaryFn('sqrt', 'square root'),
  abs: unaryFn('abs', "absolute value (abs'(0) = 0)"),
  sin: unaryFn('sin', 'sine'),
  cos: unaryFn('cos', 'cosine'),
  tanh: unaryFn('tanh', 'hyperbolic tangent'),
  sigmoid: unaryFn('sigmoid', '1 / (1 + e^-x)'),
  relu: unaryFn('relu', "max(x, 0) (relu'(0) = 0)"),
  softplus: unaryFn('softplus', 'log(1 + e^x), computed stably'),
  square: unaryFn('square', 'x^2'),
  sign: unaryFn('sign', '-1, 0 or 1'),
  max: { arity: [2, 2], build: ([a, b]) => make('max', [a, b]), doc: 'elementwise maximum (ties: gradient to the first argument)' },
  min: { arity: [2, 2], build: ([a, b]) => make('min', [a, b]), doc: 'elementwise minimum (ties: gradient to the first argument)' },
  pow: { arity: [2, 2], build: ([a, b]) => make('pow', [a, b]), doc: 'a^b elementwise' },
  sum: { arity: [1, 1], build: ([x]) => make('sum', [x]), doc: 'sum of all elements' },
  mean: { arity: [1, 1], build: ([x]) => mean(x), doc: 'mean of all elements' },
  dot: { arity: [2, 2], build: ([a, b]) => make('dot', [a, b]), doc: 'dot product of two vectors' },
  outer: { arity: [2, 2], build: ([a, b]) => make('outer', [a, b]), doc: 'outer product of two vectors' },
  matmul: { arity: [2, 2], build: ([a, b]) => make('matmul', [a, b]), doc: 'matrix-vector or matrix-matrix product' },
  transpose: { arity: [1, 1], build: ([x]) => make('transpose', [x]), doc: 'matrix transpose' },
  softmax: { arity: [1, 1], build: ([x]) => make('softmax', [x]), doc: 'softmax of a vector (max shifted out)' },
  logsumexp: { arity: [1, 1], build: ([x]) => make('logsumexp', [x]), doc: 'log(sum(exp(v))) (max shifted out)' },
  log_softmax: { arity: [1, 1], build: ([x]) => make('logsoftmax', [x]), doc: 'v - logsumexp(v)' },
  cross_entropy: {
    arity: [2, 2],
    // -sum(y log softmax(z)) for any y (multi-hot too); sum(y) = 1 for a distribution, then
    // the gradient is the familiar softmax(z) - y. One extra sum over the cheap form.
    build: ([z, y]) => make('sub', [make('mul', [make('sum', [y]), make('logsumexp', [z])]), make('dot', [y, z])]),
    doc: 'softmax cross-entropy of logits z against targets y: -sum(y log softmax(z)) = sum(y) logsumexp(z) - dot(y, z); its gradient is sum(y) softmax(z) - y (softmax(z) - y when y sums to 1)',
  },
  concat: { arity: [1, 64], build: (xs) => make('concat', xs), doc: 'concatenation of scalars and vectors' },
  sum_rows: { arity: [1, 2], build: ([x, mask]) => poolRows(x, 'sum', mask), doc: 'sum of the rows of a matrix, each weighted by mask (one value per row) when given' },
  mean_rows: { arity: [1, 2], build: ([x, mask]) => poolRows(x, 'mean', mask), doc: 'mean of the rows of a matrix; with a 0/1 mask, of the rows where it is 1 (divided by max(sum(mask), 1))' },
  pad_mask: { arity: [2, 2], build: ([ids, pad]) => padMask(ids, constantArg(pad, 'pad_mask', 'the padding id')), doc: 'pad_mask(ids, p): 1 where ids differs from the padding id p (a constant), else 0' },
  length_mask: { arity: [2, 2], build: ([len, n]) => lengthMask(len, constantArg(n, 'length_mask', 'the size')), doc: 'length_mask(len, n): a vector of n values, 1 at positions below len (a length per sample), else 0' },
} satisfies Record<string, FunctionInfo>;

/**
 * Every formula function by name. A Map, not an object: a user's name is never looked up
 * on a plain object, where `toString` or `constructor` would be found on its prototype.
 */
export const FUNCTIONS: ReadonlyMap<string, FunctionInfo> = new Map<string, FunctionInfo>(Object.entries(TABLE));

export const FUNCTION_NAMES: readonly string[] = [...FUNCTIONS.keys()].sort();

/** The value of a constant argument (a padding id, a size), else a ShapeError naming the function. */
function constantArg(n: Node, fn: string, what: string): number {
  if (n.op !== 'const' || n.shape.length !== 0) throw new ShapeError(`${fn}: ${what} must be a constant number`);
  return n.attrs.value!;
}

