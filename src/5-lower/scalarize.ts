/**
 * Phase 5, lower (unrolled form): tensor IR expanded to scalar IR.
 *
 * Takes root nodes of any shape; returns, for every node reachable from them, its
 * elements as scalar IR nodes in row-major order. Guarantees: every element node is a
 * scalar built through the smart constructors (so simplification and hash-consing
 * apply to elements too: an element multiplied by a constant 0 disappears); tensor
 * leaves become `index(leaf, k)` nodes, which the emitter reads as one array element;
 * softmax and logsumexp are expanded with the maximum shifted out, so they stay finite
 * for any finite logits. Matrix products become left-folded sums of products, in index
 * order, so the unrolled code adds in the same order as the looped code.
 */
import { constant, make } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { OPS } from '../ir/ops.js';
import { sizeOf } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';

const add = (a: Node, b: Node) => make('add', [a, b]);
const mul = (a: Node, b: Node) => make('mul', [a, b]);

function sumOf(xs: readonly Node[]): Node {
  let s = xs[0] ?? constant(0);
  for (let i = 1; i < xs.length; i++) s = add(s, xs[i]);
  return s;
}

/** The maximum m of x, e = exp(x - m) and s = sum(e): logsumexp = m + log(s), softmax = e / s. */
function shifted(x: readonly Node[]): { m: Node; e: Node[]; s: Node } {
  let m = x[0];
  for (let i = 1; i < x.length; i++) m = make('max', [m, x[i]]);
  const e = x.map((v) => make('exp', [make('sub', [v, m])]));
  return { m, e, s: sumOf(e) };
}

function logsumexpOf(x: readonly Node[]): Node {
  const { m, s } = shifted(x);
  return add(m, make('log', [s]));
}

export function scalarize(roots: readonly Node[]): Map<Node, Node[]> {
  const el = new Map<Node, Node[]>();
  for (const n of topoOrder(roots)) el.set(n, expand(n, n.args.map((a) => el.get(a)!)));
  return el;
}

function expand(n: Node, a: Node[][]): Node[] {
  const size = sizeOf(n.shape);
  const [s0, s1] = n.args.map((x) => x.shape);
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);
  if (n.op === 'const') return range(size).map(() => constant(n.attrs.value!));
  if (n.op === 'param' || n.op === 'input' || n.op === 'target') {
    return n.shape.length === 0 ? [n] : range(size).map((k) => make('index', [n], { start: k }));
  }
  // Already scalar, with arguments that are their own elements: nothing to expand.
  if (OPS[n.op].kind === 'elementwise' && n.shape.length === 0 && a.every((x, i) => x.length === 1 && x[0] === n.args[i])) return [n];
  if (OPS[n.op].kind === 'elementwise') {
    return range(size).map((i) => make(n.op, a.map((x) => (x.length === 1 ? x[0] : x[i]))));
  }
  const [x, y] = a;
  switch (n.op) {
    case 'matmul': {
      if (s0.length === 2 && s1.length === 1) {
        const [r, c] = s0;
        return range(r).map((i) => sumOf(range(c).map((j) => mul(x[i * c + j], y[j]))));
      }
      if (s0.length === 2) {
        const [r, m] = s0, c = s1[1];
        return range(r * c).map((ij) => sumOf(range(m).map((k) => mul(x[Math.floor(ij / c) * m + k], y[k * c + (ij % c)]))));
      }
      const [m, c] = s1;
      return range(c).map((j) => sumOf(range(m).map((k) => mul(x[k], y[k * c + j]))));
    }
    case 'dot': return [sumOf(x.map((v, i) => mul(v, y[i])))];
    case 'outer': return range(x.length * y.length).map((ij) => mul(x[Math.floor(ij / y.length)], y[ij % y.length]));
    case 'transpose': {
      if (s0.length === 1) return x;
      const [r, c] = s0;
      return range(r * c).map((ji) => x[(ji % r) * c + Math.floor(ji / r)]);
    }
    case 'sum': return [sumOf(x)];
    case 'broadcast': return range(size).map(() => x[0]);
    case 'logsumexp': return [logsumexpOf(x)];
    case 'softmax': { // e / s, not exp(x - logsumexp): m + log(s) rounds away log(s) at |x| >= 1e15
      const { e, s } = shifted(x);
      return e.map((v) => make('div', [v, s]));
    }
    case 'logsoftmax': {
      const { m, s } = shifted(x);
      const ls = make('log', [s]);
      return x.map((v) => make('sub', [make('sub', [v, m]), ls]));
    }
    case 'index': return [x[n.attrs.start!]];
    case 'unindex': return range(size).map((i) => (i === n.attrs.start ? x[0] : constant(0)));
    case 'slice': return x.slice(n.attrs.start!, n.attrs.start! + size);
    case 'pad': return range(size).map((i) => (i >= n.attrs.start! && i < n.attrs.start! + x.length ? x[i - n.attrs.start!] : constant(0)));
    case 'concat': return a.flat();
    default:
      throw new Error(`scalarize has no case for op '${n.op}'`);
  }
}
