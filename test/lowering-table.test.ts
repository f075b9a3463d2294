/**
 * The lowering table (src/5-lower/table.ts): its laws, and both lowerings that
 * instantiate it against the interpreter.
 *
 * Laws: every view's `source` and every contraction's `factors` are affine in their
 * coordinates (the looped lowering derives strides from their values at 0 and at unit
 * vectors, so a non-affine map would be silently wrong there), they stay inside the
 * argument's shape, and a `place` op's pieces neither overlap nor leave the output.
 * Behaviour: a model that uses every tensor op, on per-sample data (batched in the looped
 * form) and on parameters alone (unbatched), gives the interpreter's loss and gradient in
 * the unrolled lowering and in the looped one with every element loop unrolled, none
 * unrolled, and batches that do not divide the rows.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel } from '../src/index.js';
import { derive } from '../src/pipeline.js';
import { buildModel } from '../src/2-build/define.js';
import type { Attrs, Op } from '../src/ir/ops.js';
import type { Shape } from '../src/ir/shape.js';
import { type Coords, LOWERING, covers } from '../src/5-lower/table.js';
import { envOf, interpret } from './helpers/models.js';
import { maxRelativeError, seeded } from './helpers/numeric.js';

const size = (s: Shape) => s.reduce((n, d) => n * d, 1);
/** Every coordinate of shape `s`, row-major (any rank: a contraction's output and summed coordinates together have three). */
function points(s: Shape): Coords[] {
  return Array.from({ length: size(s) }, (_, k) => {
    const c: number[] = [];
    for (let d = s.length - 1; d >= 0; d--) { c.unshift(k % s[d]); k = Math.floor(k / s[d]); }
    return c;
  });
}

/** Whether `map` (from coordinates of `from`) is affine: equal to its value at 0 plus its unit-vector differences. */
function isAffine(map: (c: Coords) => Coords, from: Shape): boolean {
  const zero = from.map(() => 0);
  const at0 = map(zero);
  const unit = from.map((_, t) => map(zero.map((_z, u) => (u === t ? 1 : 0))).map((v, j) => v - at0[j]));
  return points(from).every((c) => {
    const want = at0.map((v, j) => v + c.reduce((n, x, t) => n + x * unit[t][j], 0));
    const got = map(c);
    return got.length === want.length && got.every((v, j) => v === want[j]);
  });
}
const inside = (c: Coords, s: Shape) => c.length === s.length && c.every((v, i) => Number.isInteger(v) && v >= 0 && v < s[i]);

/** Argument shapes, output shape and attributes each table entry is checked at. */
const CASES: readonly { op: Op; args: Shape[]; out: Shape; attrs?: Attrs }[] = [
  { op: 'transpose', args: [[2, 3]], out: [3, 2] },
  { op: 'transpose', args: [[4]], out: [4] },
  { op: 'broadcast', args: [[]], out: [2, 3] },
  { op: 'index', args: [[2, 3]], out: [], attrs: { start: 4 } },
  { op: 'index', args: [[5]], out: [], attrs: { start: 3 } },
  { op: 'slice', args: [[6]], out: [3], attrs: { start: 2 } },
  { op: 'matmul', args: [[2, 3], [3]], out: [2] },
  { op: 'matmul', args: [[2, 3], [3, 4]], out: [2, 4] },
  { op: 'matmul', args: [[3], [3, 4]], out: [4] },
  { op: 'dot', args: [[5], [5]], out: [] },
  { op: 'outer', args: [[2], [3]], out: [2, 3] },
  { op: 'sum', args: [[2, 3]], out: [] },
  { op: 'sum', args: [[4]], out: [] },
  { op: 'pad', args: [[3]], out: [7], attrs: { start: 2 } },
  { op: 'unindex', args: [[]], out: [2, 3], attrs: { start: 5 } },
  { op: 'concat', args: [[2], [], [3]], out: [6] },
];

describe('the lowering table', () => {
  it('has an entry for every tensor op checked here, of the kind its laws are about', () => {
    for (const c of CASES) expect(['view', 'contract', 'place']).toContain(LOWERING[c.op].kind);
  });

  it.each(CASES.map((c) => [`${c.op} ${JSON.stringify(c.args)}`, c] as const))('%s: affine maps that stay in bounds; pieces that tile', (_name, c) => {
    const e = LOWERING[c.op];
    const attrs = c.attrs ?? {};
    if (e.kind === 'view') {
      const map = (o: Coords) => e.source(o, c.args[0], attrs);
      expect(isAffine(map, c.out)).toBe(true);
      for (const o of points(c.out)) expect(inside(map(o), c.args[0]), `${c.op} at ${o}`).toBe(true);
    } else if (e.kind === 'contract') {
      const { red, factors } = e.of(c.args);
      expect(factors).toHaveLength(c.args.length);
      const both: Shape = [...c.out, ...red];
      factors.forEach((f, i) => {
        const map = (x: Coords) => f(x.slice(0, c.out.length), x.slice(c.out.length));
        expect(isAffine(map, both), `factor ${i}`).toBe(true);
        for (const x of points(both)) expect(inside(map(x), c.args[i]), `factor ${i} at ${x}`).toBe(true);
      });
    } else if (e.kind === 'place') {
      const pieces = e.pieces(c.args, attrs);
      const hit = new Array<number>(size(c.out)).fill(0);
      for (const p of pieces) for (let r = 0; r < size(c.args[p.arg]); r++) hit[p.at + r]++;
      expect(hit.length).toBe(size(c.out));
      expect(hit.every((h) => h <= 1)).toBe(true);
      expect(covers(pieces, c.args, c.out)).toBe(hit.every((h) => h === 1));
    } else {
      throw new Error(`unexpected kind ${e.kind}`);
    }
  });
});

// Every tensor op, on per-sample values (they depend on x) and on parameters alone; the
// gradients add slice, pad, unindex and broadcast.
const everyOp = defineModel({
  name: 'every_op',
  inputs: { x: 3 },
  targets: { y: 4 },
  params: { W: { shape: [2, 3], init: 0.3 }, M: { shape: [3, 4], init: -0.2 }, v: { shape: [3], init: 0.5 }, s: 0.7 },
  formulas: `
    h = W * x
    u = x * M
    p = v * M
    q = W * M
    o = outer(h, v)
    c = concat(h, s, p[2], sum(o))
    k = log_softmax(c) + softmax(c)
    z = u + transpose(q) * h + transpose(M) * v * dot(x, v)
    loss = logsumexp(z) - dot(y, z) + sum(k .* k) + sum(q .* q) * x[2] + logsumexp(o)
  `,
});

describe('both lowerings instantiate the table: the interpreter agrees', () => {
  const model = buildModel(everyOp);
  const derived = derive(model);
  const rand = seeded(7);
  const rows = 5;
  const X = Float64Array.from({ length: rows * 3 }, () => 2 * rand() - 1);
  const Y = Float64Array.from({ length: rows * 4 }, () => rand());
  const modules = [
    ['unrolled', compile(everyOp, { lowering: 'unrolled' })],
    ['loops', compile(everyOp, { lowering: 'loops', maxBatch: 2 })],
    ['loops, no element loop unrolled', compile(everyOp, { lowering: 'loops', maxBatch: 3, unrollElements: 0 })],
    ['loops, every element loop unrolled', compile(everyOp, { lowering: 'loops', maxBatch: 64, unrollElements: 1000 })],
  ] as const;

  it.each(modules)('%s', (_name, m) => {
    const p = m.initParams(3);
    (p.W as Float64Array).forEach((_, i, a) => { a[i] = Math.sin(i + 1); });
    (p.M as Float64Array).forEach((_, i, a) => { a[i] = Math.cos(2 * i); });
    let loss = 0;
    const grad: Record<string, Float64Array> = {};
    for (let r = 0; r < rows; r++) {
      const inputs = { x: X.subarray(3 * r, 3 * r + 3) };
      const targets = { y: Y.subarray(4 * r, 4 * r + 4) };
      const ref = interpret(derived, envOf(p, inputs, targets));
      loss += ref.loss / rows;
      for (const [k, g] of Object.entries(ref.grad)) {
        const acc = (grad[k] ??= new Float64Array(g.length));
        g.forEach((v, i) => { acc[i]! += v / rows; });
      }
    }
    const got = m.gradientBatch(p, X, Y, rows);
    expect(Math.abs(got.loss - loss)).toBeLessThan(1e-12 * Math.max(1, Math.abs(loss)));
    for (const [k, g] of Object.entries(grad)) {
      const v = got.grad[k]!;
      expect(maxRelativeError(typeof v === 'number' ? [v] : v, g), k).toBeLessThan(1e-11);
    }
  });
});
