/**
 * Phase 4, simplify: algebraic and stability rewrites, run to a fixed point.
 *
 * Takes root nodes; returns equivalent roots and the map from every old node to its
 * replacement (so a model's labels follow its nodes). Guarantees:
 * - each rule is value-preserving wherever the original is finite (checked by property
 *   tests in test/property.test.ts), and the stability rules also keep values finite
 *   where the original would overflow;
 * - the graph is rebuilt bottom-up through the smart constructors (so the
 *   construction-time rules of ir/build.ts apply again to every rebuilt node), rules are
 *   applied at each node until none matches, and whole passes repeat until nothing
 *   changes (at most `MAX_PASSES`);
 * - no rewrite changes a node's shape (checked at every application: a rewrite that
 *   would is reported as a gradc bug naming its law);
 * - iterative, linear per pass.
 * The rules are data: one entry each, the algebra in its `law`.
 */
import { constant, fit, make } from '../ir/build.js';
import { type Node, isConst } from '../ir/node.js';
import { sameShape, showShape } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';

export interface Rewrite {
  readonly law: string;
  readonly apply: (n: Node) => Node | null;
}

const is = (n: Node, op: Node['op']) => n.op === op;
const arg = (n: Node, i = 0) => n.args[i];
const call = (op: Node['op'], ...args: Node[]) => make(op, args);

export const REWRITES: readonly Rewrite[] = [
  { law: 'a + (-b) = a - b', apply: (n) => (is(n, 'add') && is(arg(n, 1), 'neg') ? call('sub', arg(n), arg(arg(n, 1))) : null) },
  { law: '(-a) + b = b - a', apply: (n) => (is(n, 'add') && is(arg(n), 'neg') ? call('sub', arg(n, 1), arg(arg(n))) : null) },
  { law: 'a - (-b) = a + b', apply: (n) => (is(n, 'sub') && is(arg(n, 1), 'neg') ? call('add', arg(n), arg(arg(n, 1))) : null) },
  { law: '(-a) - b = -(a + b)', apply: (n) => (is(n, 'sub') && is(arg(n), 'neg') ? call('neg', call('add', arg(arg(n)), arg(n, 1))) : null) },
  { law: '(-a) * b = -(a * b)', apply: (n) => (is(n, 'mul') && is(arg(n), 'neg') ? call('neg', call('mul', arg(arg(n)), arg(n, 1))) : null) },
  { law: 'a * (-b) = -(a * b)', apply: (n) => (is(n, 'mul') && is(arg(n, 1), 'neg') ? call('neg', call('mul', arg(n), arg(arg(n, 1)))) : null) },
  { law: '(-a) / b = -(a / b)', apply: (n) => (is(n, 'div') && is(arg(n), 'neg') ? call('neg', call('div', arg(arg(n)), arg(n, 1))) : null) },
  { law: 'x + x = 2 * x', apply: (n) => (is(n, 'add') && arg(n) === arg(n, 1) ? call('mul', constant(2), arg(n)) : null) },
  { law: 'x * x = square(x)', apply: (n) => (is(n, 'mul') && arg(n) === arg(n, 1) ? call('square', arg(n)) : null) },
  { law: 'c * (x / c) = x (c constant, non-zero)', apply: (n) => (is(n, 'mul') && is(arg(n), 'const') && arg(n).attrs.value !== 0 && is(arg(n, 1), 'div') && arg(arg(n, 1), 1) === arg(n) ? fit(arg(arg(n, 1)), n.shape) : null) }, // a scalar x under a tensor c is broadcast back
  { law: 'log(exp(x)) = x', apply: (n) => (is(n, 'log') && is(arg(n), 'exp') ? arg(arg(n)) : null) },
  { law: 'sqrt(square(x)) = abs(x)', apply: (n) => (is(n, 'sqrt') && is(arg(n), 'square') ? call('abs', arg(arg(n))) : null) },
  // Stability: forms that overflow or lose precision, replaced by stable primitives.
  { law: 'log(sigmoid(x)) = -softplus(-x)', apply: (n) => (is(n, 'log') && is(arg(n), 'sigmoid') ? call('neg', call('softplus', call('neg', arg(arg(n))))) : null) },
  // (The constant 1 may be a tensor around a scalar x: the result is broadcast back to n's shape.)
  { law: 'log(1 - sigmoid(x)) = -softplus(x)', apply: (n) => (is(n, 'log') && is(arg(n), 'sub') && isConst(arg(arg(n)), 1) && is(arg(arg(n), 1), 'sigmoid') ? fit(call('neg', call('softplus', arg(arg(arg(n), 1)))), n.shape) : null) },
  { law: 'log(1 + exp(x)) = softplus(x)', apply: (n) => (is(n, 'log') && is(arg(n), 'add') && is(arg(arg(n)), 'exp') && isConst(arg(arg(n), 1), 1) ? fit(call('softplus', arg(arg(arg(n)))), n.shape) : null) },
  { law: 'log(softmax(v)) = log_softmax(v)', apply: (n) => (is(n, 'log') && is(arg(n), 'softmax') ? call('logsoftmax', arg(arg(n))) : null) },
  { law: 'log(sum(exp(v))) = logsumexp(v)', apply: (n) => (is(n, 'log') && is(arg(n), 'sum') && is(arg(arg(n)), 'exp') ? call('logsumexp', arg(arg(arg(n)))) : null) },
  { law: 'exp(v) / sum(exp(v)) = softmax(v) (v a vector)', apply: (n) => (is(n, 'div') && is(arg(n), 'exp') && is(arg(n, 1), 'sum') && arg(arg(n, 1)) === arg(n) && arg(arg(n)).shape.length === 1 ? call('softmax', arg(arg(n))) : null) },
  { law: 'exp(x) / sum(exp(x)) = exp(x - logsumexp(x)) (x a scalar or a matrix)', apply: (n) => (is(n, 'div') && is(arg(n), 'exp') && is(arg(n, 1), 'sum') && arg(arg(n, 1)) === arg(n) && arg(arg(n)).shape.length !== 1 ? call('exp', call('sub', arg(arg(n)), call('logsumexp', arg(arg(n))))) : null) },
];

const MAX_PASSES = 8;
const MAX_REWRITES_PER_NODE = 16;

/** `r` applied to `n`: its result, or null when it does not match; a result of another shape is a gradc bug. */
export function applyRewrite(r: Rewrite, n: Node): Node | null {
  const out = r.apply(n);
  if (out && !sameShape(out.shape, n.shape)) {
    throw new Error(`gradc bug: the rewrite '${r.law}' changed a ${n.op} node's shape from ${showShape(n.shape)} to ${showShape(out.shape)}`);
  }
  return out;
}

function rewriteNode(n: Node): Node {
  let cur = n;
  for (let k = 0; k < MAX_REWRITES_PER_NODE; k++) {
    let next: Node | null = null;
    for (const r of REWRITES) {
      next = applyRewrite(r, cur);
      if (next && next !== cur) break;
      next = null;
    }
    if (!next) return cur;
    cur = next;
  }
  return cur;
}

export interface Simplified {
  readonly roots: readonly Node[];
  /** Old node -> new node, for every node reachable from the old roots. */
  readonly map: ReadonlyMap<Node, Node>;
}

/** `n` over its arguments' images under `map` (`n` itself when none changed). */
function rebuild(n: Node, map: ReadonlyMap<Node, Node>): Node {
  const k = n.args.findIndex((a) => map.get(a) !== a);
  return k < 0 ? n : make(n.op, n.args.map((a) => map.get(a)!), n.attrs, n.shape);
}

export function simplify(roots: readonly Node[]): Simplified {
  let current = roots.slice();
  let order = topoOrder(roots);
  const total = new Map<Node, Node>();
  for (const n of order) total.set(n, n);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const map = new Map<Node, Node>();
    let changed = false;
    for (const n of order) {
      const out = rewriteNode(rebuild(n, map));
      if (out !== n) changed = true;
      map.set(n, out);
    }
    if (!changed) break; // every node maps to itself: `total` and the roots stay
    for (const [k, v] of total) total.set(k, map.get(v) ?? v);
    current = current.map((r) => map.get(r)!);
    if (pass + 1 < MAX_PASSES) order = topoOrder(current);
  }
  return { roots: current, map: total };
}
