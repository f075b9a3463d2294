/**
 * Smart constructors: the only way front ends, the differentiator and the simplifier
 * make IR nodes.
 *
 * Guarantees: `make(op, args)` returns a node equal in value to `op(args)` (same
 * shape, same value at every point where the original is finite), after these local
 * rewrites, applied at construction (the algebra is in the trailing comments):
 *   elementwise op of constants      -> folded constant
 *   x + 0, 0 + x, x - 0              -> x
 *   0 - x                            -> -x
 *   x - x                            -> 0
 *   x * 1, 1 * x, x / 1              -> x
 *   x * 0, 0 * x, 0 / x              -> 0              (x assumed finite)
 *   x * -1                           -> -x
 *   c1 * (c2 * x)                    -> (c1*c2) * x    (constants move to the left of *)
 *   -(-x)                            -> x
 *   -(c * x)                         -> (-c) * x
 *   x ^ 1 -> x,  x ^ 0 -> 1,  x ^ 2 -> square(x)
 *   select(c, x, x) -> x, select(const, a, b) -> a or b
 *   transpose(transpose(x)) -> x,  sum(const) -> const,  broadcast(const) -> const
 * A result of smaller shape than the op's result is broadcast back, so shapes never
 * change by simplification (checked: a local rewrite that would is a gradc bug).
 */
import { type Node, constValue, intern, isConst } from './node.js';
import { type Attrs, type Op, OPS } from './ops.js';
import { type Shape, SCALAR, isScalar, sameShape, shape, showShape, sizeOf } from './shape.js';

export function constant(value: number, s: Shape = SCALAR): Node {
  return intern('const', [], { value }, s);
}
export const param = (name: string, s: Shape = SCALAR): Node => intern('param', [], { name }, s);
export const input = (name: string, s: Shape = SCALAR): Node => intern('input', [], { name }, s);
/** An integer input (token ids): each value is an integer in 0 .. limit - 1, checked at run time. */
export const intInput = (name: string, s: Shape, limit: number): Node => intern('input', [], { name, limit }, s);
/** A length input of a sequence of T steps: one integer per sample in 1 .. T, checked at run time. */
export const lengthInput = (name: string, T: number): Node => intern('input', [], { name, limit: T + 1, low: 1 }, SCALAR);
export const target = (name: string, s: Shape = SCALAR): Node => intern('target', [], { name }, s);

/**
 * Row `r` (0-based) of matrix `a`: a `slice` over one whole row. The one form of row
 * indexing in the IR: `X[i]` (2-build/indexing.ts), a recurrence's state after step t
 * (2-build/recurrent.ts) and backpropagation through time's reads of its histories
 * (3-diff/recurrence.ts) all build it, so one derivative rule (slice -> pad) and one
 * lowering entry (a view) serve them all.
 */
export function row(a: Node, r: number): Node {
  return make('slice', [a], { start: r * a.shape[1] }, shape(a.shape[1]));
}

/** `x` widened to shape `s` (x is already of shape s, or a scalar). */
export function fit(x: Node, s: Shape): Node {
  if (sameShape(x.shape, s)) return x;
  const v = constValue(x);
  if (v !== undefined) return constant(v, s);
  return intern('broadcast', [x], {}, s);
}

/** Build `op(args)` with the local rewrites listed in the header; the result always has `op(args)`'s shape. */
export function make(op: Op, args: readonly Node[], attrs: Attrs = {}, out?: Shape): Node {
  const n = intern(op, args, attrs, out); // infers and checks the shape first
  const r = rewriteLocally(n, op, args);
  if (r !== n && !sameShape(r.shape, n.shape)) {
    throw new Error(`gradc bug: a local rewrite of ${op} changed its shape from ${showShape(n.shape)} to ${showShape(r.shape)}`);
  }
  return r;
}

function rewriteLocally(n: Node, op: Op, args: readonly Node[]): Node {
  const s = n.shape;
  const info = OPS[op];
  if (info.kind === 'elementwise' && args.every((a) => a.op === 'const')) {
    return constant(info.scalar!(...args.map((a) => a.attrs.value!)), s);
  }
  const [a, b] = args;
  switch (op) {
    case 'add':
      if (isConst(b, 0)) return fit(a, s); // x + 0 = x
      if (isConst(a, 0)) return fit(b, s); // 0 + x = x
      if (a.op === 'const') return make('add', [b, a]); // c + x = x + c
      if (a.op === 'pad' && b.op === 'pad') return joinPads(a, b) ?? n; // pad(x, i) + pad(y, i + |x|) = pad([x; y], i)
      if (b.op === 'pad' && a.op === 'add') { // (p + q) + r = p + (q + r) when q and r are adjacent pads
        for (const [p, q] of [[a.args[0], a.args[1]], [a.args[1], a.args[0]]]) {
          const j = q.op === 'pad' ? joinPads(q, b) : undefined;
          if (j) return make('add', [p, j]);
        }
      }
      break;
    case 'sub':
      if (isConst(b, 0)) return fit(a, s); // x - 0 = x
      if (isConst(a, 0)) return fit(neg(b), s); // 0 - x = -x
      if (a === b) return constant(0, s); // x - x = 0
      break;
    case 'mul':
      if (isConst(a, 0) || isConst(b, 0)) return constant(0, s); // x * 0 = 0
      if (isConst(b, 1)) return fit(a, s); // x * 1 = x
      if (isConst(a, 1)) return fit(b, s); // 1 * x = x
      if (isConst(a, -1)) return fit(neg(b), s); // -1 * x = -x
      if (isConst(b, -1)) return fit(neg(a), s); // x * -1 = -x
      if (b.op === 'const' && a.op !== 'const') return make('mul', [b, a]); // x * c = c * x
      if (a.op === 'const' && b.op === 'mul' && b.args[0].op === 'const' && isScalar(a.shape)) {
        return fit(make('mul', [constant(a.attrs.value! * b.args[0].attrs.value!), b.args[1]]), s); // c1*(c2*x) = (c1 c2)*x
      }
      break;
    case 'div':
      if (isConst(b, 1)) return fit(a, s); // x / 1 = x
      if (isConst(a, 0)) return constant(0, s); // 0 / x = 0
      break;
    case 'neg':
      if (a.op === 'neg') return a.args[0]; // -(-x) = x
      if (a.op === 'mul' && a.args[0].op === 'const') return make('mul', [constant(-a.args[0].attrs.value!, a.args[0].shape), a.args[1]]); // -(c x) = (-c) x
      break;
    case 'pow':
      if (isConst(b, 1)) return fit(a, s); // x^1 = x
      if (isConst(b, 0)) return constant(1, s); // x^0 = 1
      if (isConst(b, 2)) return fit(make('square', [a]), s); // x^2 = square(x)
      break;
    case 'square':
      if (a.op === 'neg') return make('square', [a.args[0]]); // (-x)^2 = x^2
      break;
    case 'select':
      if (args[1] === args[2]) return fit(args[1], s); // select(c, x, x) = x
      if (a.op === 'const') return fit(a.attrs.value !== 0 ? args[1] : args[2], s);
      break;
    case 'transpose':
      if (a.shape.length === 1) return a;
      if (a.op === 'transpose') return a.args[0]; // (x^T)^T = x
      break;
    case 'sum':
      if (a.op === 'const') return constant(a.attrs.value! * sizeOf(a.shape)); // sum(c) = n c
      if (a.op === 'broadcast') return make('mul', [constant(sizeOf(a.shape)), a.args[0]]); // sum(bcast x) = n x
      break;
    case 'broadcast':
      if (a.op === 'const') return constant(a.attrs.value!, s);
      break;
    case 'pad':
      if (sameShape(a.shape, s)) return a; // pad(x) into its own shape = x
      break;
    case 'dot':
      if (a.op === 'const' && a.attrs.value === 0) return constant(0);
      if (b.op === 'const' && b.attrs.value === 0) return constant(0);
      break;
  }
  return n;
}

/**
 * Two vectors padded into adjacent ranges of one vector (how the gradients of a cell's
 * gate slices meet) as one padded concatenation: the zeros are not written twice and the
 * sum costs nothing. Undefined unless the ranges touch.
 */
function joinPads(a: Node, b: Node): Node | undefined {
  const [x, y] = (a.attrs.start ?? 0) <= (b.attrs.start ?? 0) ? [a, b] : [b, a];
  const [u, v] = [x.args[0], y.args[0]];
  if (x.shape.length !== 1 || u.shape.length !== 1 || v.shape.length !== 1) return undefined;
  const at = x.attrs.start ?? 0;
  if (at + u.shape[0] !== (y.attrs.start ?? 0)) return undefined;
  const parts = (w: Node) => (w.op === 'concat' && w.args.every((c) => c.shape.length === 1) ? w.args : [w]);
  return make('pad', [make('concat', [...parts(u), ...parts(v)])], { start: at }, x.shape);
}

export const neg = (x: Node): Node => make('neg', [x]);
export const add = (a: Node, b: Node): Node => make('add', [a, b]);
export const sub = (a: Node, b: Node): Node => make('sub', [a, b]);
export const mul = (a: Node, b: Node): Node => make('mul', [a, b]);
export const div = (a: Node, b: Node): Node => make('div', [a, b]);
export const select = (c: Node, a: Node, b: Node): Node => make('select', [c, a, b]);
