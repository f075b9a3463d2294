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
import { sizeOf } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import { type ElementAlgebra, LOWERING, flat, unflat } from './table.js';

const add = (a: Node, b: Node) => make('add', [a, b]);
const mul = (a: Node, b: Node) => make('mul', [a, b]);
/** The table's formulas over IR nodes (through the smart constructors). */
const NODES: ElementAlgebra<Node> = { apply: (op, ...args) => make(op, args) };

function sumOf(xs: readonly Node[]): Node {
  let s = xs[0] ?? constant(0);
  for (let i = 1; i < xs.length; i++) s = add(s, xs[i]);
  return s;
}

/**
 * `into`: elements already known (from an earlier call), reused and extended. `order`:
 * `topoOrder(roots)` when the caller has it already (then `into` must be empty).
 */
export function scalarize(roots: readonly Node[], into = new Map<Node, Node[]>(), order?: readonly Node[]): Map<Node, Node[]> {
  const el = into;
  for (const n of order ?? topoOrder(roots, el)) el.set(n, expand(n, n.args.map((a) => el.get(a)!)));
  return el;
}

/** `id = r ? v : 0`, with ops that exist: select(id >= r, select(r >= id, v, 0), 0). */
function pick(id: Node, r: number, v: Node): Node {
  const row = constant(r);
  return make('select', [make('ge', [id, row]), make('select', [make('ge', [row, id]), v, constant(0)]), constant(0)]);
}

const range = (k: number) => Array.from({ length: k }, (_, i) => i);

/** The elements of `n`, from the elements `a` of its arguments, as LOWERING states them. */
function expand(n: Node, a: Node[][]): Node[] {
  const size = sizeOf(n.shape);
  const shapes = n.args.map((x) => x.shape);
  const entry = LOWERING[n.op];
  switch (entry.kind) {
    case 'leaf':
      if (n.op === 'const') return range(size).map(() => constant(n.attrs.value!));
      return n.shape.length === 0 ? [n] : range(size).map((k) => make('index', [n], { start: k }));
    case 'elementwise':
      // Already scalar, with arguments that are their own elements: nothing to expand.
      if (n.shape.length === 0 && a.every((x, i) => x.length === 1 && x[0] === n.args[i])) return [n];
      return range(size).map((i) => make(n.op, a.map((x) => (x.length === 1 ? x[0] : x[i]))));
    case 'view':
      return range(size).map((i) => a[0][flat(shapes[0], entry.source(unflat(n.shape, i), shapes[0], n.attrs))]);
    case 'contract': {
      const { red, factors } = entry.of(shapes);
      const terms = red.length === 0 ? 1 : sizeOf(red);
      return range(size).map((i) => {
        const o = unflat(n.shape, i);
        return sumOf(range(terms).map((t) => {
          const k = unflat(red, t);
          let p = a[0][flat(shapes[0], factors[0](o, k))];
          for (let f = 1; f < factors.length; f++) p = mul(p, a[f][flat(shapes[f], factors[f](o, k))]);
          return p;
        }));
      });
    }
    case 'place': {
      const out: Node[] = range(size).map(() => constant(0));
      for (const p of entry.pieces(shapes, n.attrs)) a[p.arg].forEach((x, r) => { out[p.at + r] = x; });
      return out;
    }
    case 'gather': {
      // Row ids(l) of the table: from a parameter, one element read at a run-time offset
      // (`index(gather(E, id), j)`, a load of the unrolled kernel); from a computed table,
      // the sum over its rows r of (id = r ? table(r, j) : 0).
      const [table, ids] = n.args;
      const width = table.shape[1];
      return a[1].flatMap((id) => range(width).map((j) => (table.op === 'param'
        ? make('index', [make('gather', [table, id])], { start: j })
        : sumOf(range(table.shape[0]).map((r) => pick(id, r, a[0][r * width + j]))))));
    }
    case 'scatter': {
      // As a value (never as a parameter's gradient term, see sparse.ts): element (r, j) is
      // the sum over l of (ids(l) = r ? a(l, j) : 0).
      const width = n.shape[1];
      return range(size).map((k) => sumOf(a[1].map((id, l) => pick(id, Math.floor(k / width), a[0][l * width + (k % width)]))));
    }
    case 'shifted': {
      const { rule } = entry;
      const x = a[0];
      let m = x[0];
      for (let i = 1; i < x.length; i++) m = make('max', [m, x[i]]);
      const e = x.map((v) => rule.term(NODES, v, m));
      const s = sumOf(e);
      const shared = rule.shared ? rule.shared(NODES, s) : s;
      return rule.perElement
        ? x.map((v, i) => rule.value(NODES, { x: v, e: e[i], m, s, shared }))
        : [rule.value(NODES, { x: m, e: s, m, s, shared })];
    }
    case 'time': // schedule.ts sends every model with a recurrence to the looped lowering
      throw new Error(`gradc bug: the unrolled lowering got a ${n.op}`);
  }
}
