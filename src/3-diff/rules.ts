/**
 * The vector-Jacobian rules: one entry per op.
 *
 * Guarantees: `RULES` is typed `{ [K in Op]: Rule }`, so adding an op without its rule
 * does not compile. A rule receives the forward node `y = op(args)` (so sigmoid, tanh,
 * exp, softmax reuse their result) and the adjoint `g = dL/dy` (same shape as y), and
 * returns one adjoint per argument, or null where the argument gets no gradient. A
 * returned adjoint may be of y's shape where the argument was a broadcast scalar; the
 * differentiator sums it back (`grad.ts`). Every rule is checked against central
 * differences in test/ops.test.ts. Conventions at kinks are those listed in ops.ts, and
 * so is the zero-adjoint convention (`unlessZero`): a zero adjoint contributes zero, also
 * where the local derivative is infinite.
 */
import { constant, div, fit, make, mul, neg, select, sub } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import type { Op } from '../ir/ops.js';
import { shape } from '../ir/shape.js';
import { scanRule, tsumRule } from './recurrence.js';

export type Rule = (y: Node, g: Node) => readonly (Node | null)[];

// Made on each use, so that they are interned in the current graph (ir/node.ts) like the rest of the gradient.
const one = (): Node => constant(1);
const zero = (): Node => constant(0);
const none: Rule = () => [];
const zeroGrad: Rule = (y) => y.args.map(() => null);
const call = (op: Op, ...args: Node[]) => make(op, args);

/**
 * The zero-adjoint convention: `v`, an adjoint contribution computed from `g` and a local
 * derivative that can be infinite at a finite argument (log and div at 0, sqrt at 0, pow
 * below exponent 1 at base 0, exp past overflow), except 0 wherever `g` is 0. Without it
 * 0 * Infinity = NaN would flow from an inactive branch (a relu off, an unselected select
 * branch) into every parameter. Costs one compare per element of these rules' adjoints;
 * nothing when `g` is a constant (the select folds), and no other rule pays it.
 */
const unlessZero = (g: Node, v: Node): Node => select(g, v, zero());

export const RULES: { readonly [K in Op]: Rule } = {
  const: none,
  param: none,
  input: none,
  target: none,
  slot: none,

  neg: (_y, g) => [neg(g)], //                                d(-a) = -g
  exp: (y, g) => [unlessZero(g, mul(g, y))], //               d exp(a) = g y (y = Infinity past overflow)
  log: (y, g) => [unlessZero(g, div(g, y.args[0]))], //      d log(a) = g / a
  sqrt: (y, g) => [unlessZero(g, div(g, mul(constant(2), y)))], // d sqrt(a) = g / (2 y)
  abs: (y, g) => [mul(g, call('sign', y.args[0]))], //        d |a| = g sign(a), sign(0) = 0
  sin: (y, g) => [mul(g, call('cos', y.args[0]))], //         d sin(a) = g cos(a)
  cos: (y, g) => [neg(mul(g, call('sin', y.args[0])))], //    d cos(a) = -g sin(a)
  tanh: (y, g) => [mul(g, sub(one(), call('square', y)))], // d tanh(a) = g (1 - y^2)
  sigmoid: (y, g) => [mul(g, mul(y, sub(one(), y)))], //      d sigmoid(a) = g y (1 - y)
  relu: (y, g) => [select(call('gt', y.args[0], zero()), g, zero())], // d relu(a) = a > 0 ? g : 0
  softplus: (y, g) => [mul(g, call('sigmoid', y.args[0]))], // d softplus(a) = g sigmoid(a)
  square: (y, g) => [mul(constant(2), mul(g, y.args[0]))], // d a^2 = 2 g a
  sign: zeroGrad, //                                          zero almost everywhere
  gt: zeroGrad,
  ge: zeroGrad,

  add: (_y, g) => [g, g], //                                  d(a + b) = g, g
  sub: (_y, g) => [g, neg(g)], //                             d(a - b) = g, -g
  mul: ({ args: [a, b] }, g) => [mul(g, b), mul(g, a)], //    d(a b) = g b, g a
  div: (y, g) => { //                                        d(a/b) = g/b, -g y/b
    const b = y.args[1];
    if (b.op === 'const') return [div(g, b), null]; //         a constant divisor: finite, and no gradient of its own
    return [unlessZero(g, div(g, b)), unlessZero(g, neg(div(mul(g, y), b)))];
  },
  pow: (y, g) => {
    const [a, b] = y.args; //                                 d a^b = g b a^(b-1), g log(a) a^b
    const local = select(b, mul(b, make('pow', [a, sub(b, one())])), zero()); // b a^(b-1), 0 where b = 0 (not 0 * 0^-1)
    const finite = b.op === 'const' && b.attrs.value! >= 1; // a^(b-1) finite for finite a
    const da = finite ? mul(g, local) : unlessZero(g, mul(g, local));
    if (b.op === 'const') return [da, null];
    const db = select(y, mul(call('log', a), y), zero()); //   log(a) a^b, 0 where a^b = 0 (a = 0: no log(0) * 0 = NaN)
    return [da, unlessZero(g, mul(g, db))]; //                 log(0) 0^0 = -Infinity
  },
  max: ({ args: [a, b] }, g) => {
    const first = call('ge', a, b); //                        ties: all to the first argument
    return [select(first, g, zero()), select(first, zero(), g)];
  },
  min: ({ args: [a, b] }, g) => {
    const first = call('ge', b, a); //                        ties: all to the first argument
    return [select(first, g, zero()), select(first, zero(), g)];
  },
  select: ({ args: [c] }, g) => [null, select(c, g, zero()), select(c, zero(), g)],

  matmul: ({ args: [a, b] }, g) => {
    if (a.shape.length === 2 && b.shape.length === 1) return [call('outer', g, b), call('matmul', call('transpose', a), g)]; // y = A x
    if (a.shape.length === 2) return [call('matmul', g, call('transpose', b)), call('matmul', call('transpose', a), g)]; //     Y = A B
    return [call('matmul', b, g), call('outer', a, g)]; //                                                                  y = x B
  },
  dot: ({ args: [a, b] }, g) => [mul(g, b), mul(g, a)], //     d(a.b) = g b, g a
  outer: ({ args: [a, b] }, g) => [call('matmul', g, b), call('matmul', a, g)], // d(a b^T) = G b, a^T G
  transpose: (_y, g) => [call('transpose', g)],
  sum: ({ args: [a] }, g) => [fit(g, a.shape)], //            d sum(a) = g broadcast
  broadcast: (_y, g) => [call('sum', g)],
  softmax: (y, g) => [mul(y, sub(g, call('dot', g, y)))], //  d softmax = y (g - g.y)
  logsumexp: (y, g) => { //                                   d lse(a) = g softmax(a) = g exp(a - lse(a)) (any shape)
    const a = y.args[0];
    return [mul(g, a.shape.length === 1 ? call('softmax', a) : call('exp', sub(a, y)))];
  },
  logsoftmax: ({ args: [a] }, g) => [sub(g, mul(call('softmax', a), call('sum', g)))], // g - softmax(a) sum(g)
  index: ({ args: [a], attrs }, g) => [make('unindex', [g], attrs, a.shape)],
  unindex: (y, g) => [make('index', [g], y.attrs)],
  concat: (y, g) => {
    let start = 0;
    return y.args.map((a) => {
      const len = a.shape.length === 0 ? 1 : a.shape[0];
      const part = a.shape.length === 0 ? make('index', [g], { start }) : make('slice', [g], { start }, shape(len));
      start += len;
      return part;
    });
  },
  slice: ({ args: [a], attrs }, g) => [make('pad', [g], attrs, a.shape)],
  pad: (y, g) => [make('slice', [g], y.attrs, y.args[0].shape)],
  gather: ({ args: [e, ids] }, g) => [make('scatter', [g, ids], {}, e.shape), null], // d E[ids] = rows of g added into rows ids of dE (sparse)
  scatter: ({ args: [, ids] }, g) => [make('gather', [g, ids]), null], //                 d scatter(a, ids) = g[ids]
  scan: scanRule, //                                           backpropagation through time (recurrence.ts)
  tsum: tsumRule,
};

