/**
 * Phase 2, build: rows, slices, embedding lookups and pooling, as both doors build them.
 *
 * Guarantees: every function here builds IR only through the smart constructors and
 * throws a ShapeError (which each door turns into a located GradcError) that names the
 * shapes and the index when the request does not fit:
 * - `rowOf(x, i)`: row i of a matrix ([C]) or element i of a vector (0-based), a `slice`
 *   or `index` view: its gradient pads the adjoint back into that row;
 * - `rangeOf(x, from, to)`: rows from..to-1 of a matrix, or elements of a vector (0-based,
 *   `to` exclusive), a `slice`;
 * - `lookup(table, ids)`: rows of a parameter matrix picked by an integer input (`gather`);
 *   its gradient is a scatter-add into the looked-up rows only (3-diff/rules.ts);
 * - `poolRows(x, mode, mask)`: the sum or the mean of the rows of a matrix, optionally
 *   weighted by a 0/1 mask per row (the mean divides by the mask's sum, at least 1);
 *   `padMask(ids, pad)` is 1 where an id is not the padding id, `lengthMask(len, L)` is 1 at
 *   the positions below a length.
 */
import { constant, make, row } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { ShapeError } from '../ir/ops.js';
import { shape, showShape } from '../ir/shape.js';

const fail = (why: string): never => {
  throw new ShapeError(why);
};

/** Row `i` of a matrix, or element `i` of a vector (0-based). */
export function rowOf(x: Node, i: number): Node {
  const n = x.shape[0];
  if (x.shape.length === 0) fail(`a scalar cannot be indexed`);
  if (!Number.isInteger(i) || i < 0 || i >= n) fail(`index ${i + 1} is outside 1..${n} (shape ${showShape(x.shape)})`);
  return x.shape.length === 1 ? make('index', [x], { start: i }) : row(x, i);
}

/** Rows `from` .. `to - 1` of a matrix, or those elements of a vector (0-based). */
export function rangeOf(x: Node, from: number, to: number): Node {
  const n = x.shape[0];
  if (x.shape.length === 0) fail(`a scalar cannot be sliced`);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > n || from >= to) {
    fail(`range ${from + 1}:${to} is not within 1..${n} (shape ${showShape(x.shape)})`);
  }
  const width = x.shape.length === 2 ? x.shape[1] : 1;
  return make('slice', [x], { start: from * width }, x.shape.length === 2 ? shape(to - from, width) : shape(to - from));
}

/** Whether `n` is an integer input (token ids). */
export const isIds = (n: Node): boolean => n.op === 'input' && n.attrs.limit !== undefined;

/** Rows `ids` of parameter matrix `table`: [D] for one id, [L x D] for L ids. */
export function lookup(table: Node, ids: Node): Node {
  if (table.op !== 'param' || table.shape.length !== 2) fail(`the table of a lookup must be a parameter matrix (one row per id), got ${table.op === 'param' ? `shape ${showShape(table.shape)}` : `a computed ${showShape(table.shape)} value`}`);
  if (!isIds(ids)) fail(`the index of a lookup must be an integer input (declared with ids: its vocabulary size), got ${ids.op === 'input' ? `the real-valued input '${ids.attrs.name}'` : `a ${showShape(ids.shape)} ${ids.op === 'const' ? 'constant' : 'value'}`}`);
  if (ids.shape.length > 1) fail(`the ids of a lookup must be a scalar or a vector, got ${showShape(ids.shape)}`);
  if (ids.attrs.limit! > table.shape[0]) fail(`ids of '${ids.attrs.name}' go up to ${ids.attrs.limit! - 1}, but the table ${showShape(table.shape)} has ${table.shape[0]} rows`);
  return make('gather', [table, ids]);
}

/** 1 where `ids` differs from `pad`, else 0 (a mask of the real tokens). */
export function padMask(ids: Node, pad: number): Node {
  if (!Number.isInteger(pad)) fail(`the padding id must be an integer, got ${pad}`);
  if (isIds(ids) && (pad < 0 || pad >= ids.attrs.limit!)) fail(`the padding id ${pad} is not an id of '${ids.attrs.name}' (0..${ids.attrs.limit! - 1}): no position would be masked`);
  const p = constant(pad);
  return make('sub', [constant(1), make('mul', [make('ge', [ids, p]), make('ge', [p, ids])])]);
}

/** 1 at positions 0 .. len - 1 of a vector of `count`, else 0 (`len` a scalar, a length per sample). */
export function lengthMask(len: Node, count: number): Node {
  if (len.shape.length !== 0) fail(`a length must be a scalar, got ${showShape(len.shape)}`);
  if (!Number.isInteger(count) || count < 1) fail(`a mask needs a positive integer size, got ${count}`);
  const positions = count === 1 ? constant(0, shape(1)) : make('concat', Array.from({ length: count }, (_, i) => constant(i)));
  return make('gt', [len, positions]);
}

/** The sum or mean of the rows of matrix `x` ([L x D] -> [D]), each row weighted by `mask` ([L]) when given. */
export function poolRows(x: Node, mode: 'sum' | 'mean', mask?: Node): Node {
  if (x.shape.length !== 2) fail(`pooling needs a matrix (one row per position), got ${showShape(x.shape)}`);
  const rows = x.shape[0];
  if (mask && !(mask.shape.length === 1 && mask.shape[0] === rows)) fail(`the mask ${showShape(mask.shape)} must have one value per row of ${showShape(x.shape)}`);
  const weights = mask ?? constant(1, shape(rows));
  const total = make('matmul', [weights, x]);
  if (mode === 'sum') return total;
  const count = mask ? make('max', [make('sum', [mask]), constant(1)]) : constant(rows);
  return make('div', [total, count]);
}
