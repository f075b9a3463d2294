/**
 * Embeddings, integer inputs, row indexing and pooling, end to end.
 *
 * - The gradient of a lookup `E[tokens]` is a scatter-add into the looked-up rows only: in
 *   the unrolled lowering the gradient kernel writes E's accumulator only through `scatter`
 *   instructions (one per looked-up element), in the looped one through one `scatter` step
 *   into the accumulator, and neither has a buffer of E's size; the update pass visits only
 *   the touched rows (lazy: a row not looked up in a step keeps its value and its Adam
 *   moments, even when its moments are not zero).
 * - Loss and gradients equal the reference interpreter (1e-10) and central differences
 *   (1e-6) in both lowerings, and TF.js (`tf.gather`, `tf.grads`, float32) to 1e-5 relative.
 * - An id out of the vocabulary, negative or not an integer is a SampleError naming the
 *   sample (or row) and the position, from samples and from packed rows alike.
 * - Formulas and the builder build the same model (`E[tokens]`, `mean_rows`, `pad_mask`);
 *   row indexing and slices (`X[2]`, `X[1:2]`, `v[2:3]`) have gradients that pad back into
 *   the rows; bad indexes are located GradcErrors naming the shapes.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GradcError, buildModel, compile, defineModel, type GeneratedModule } from '../src/index.js';
import { derive, generate } from '../src/pipeline.js';
import { schedule } from '../src/5-lower/schedule.js';
import type { Params } from '../src/load/loader.js';
import { envOf, interpret } from './helpers/models.js';
import { centralDifference, relativeError, seeded } from './helpers/numeric.js';

const V = 12, D = 3, L = 5;

/** Bag of embeddings: the mean of the embeddings of the non-padding tokens (id 0 pads), then a logistic unit. */
const bag = defineModel('bag', (m) => {
  const tokens = m.intInput('tokens', [L], V);
  const y = m.target('y');
  const E = m.param('E', { shape: [V, D], init: { kind: 'uniform', low: -0.5, high: 0.5 } });
  const w = m.param('w', { shape: [D], init: { kind: 'uniform', low: -1, high: 1 } });
  const b = m.param('b', 0.1);
  const h = m.def('h', m.pool(m.lookup(E, tokens), 'mean', { ids: tokens, padding: 0 }));
  const z = m.def('z', m.add(m.dot(w, h), b));
  m.loss(m.sub(m.call('softplus', z), m.mul(y, z))); // binary cross-entropy with logits
});

const bagFormulas = defineModel({
  name: 'bag',
  inputs: { tokens: { shape: L, ids: V } },
  targets: ['y'],
  params: { E: { shape: [V, D], init: { kind: 'uniform', low: -0.5, high: 0.5 } }, w: { shape: [D], init: { kind: 'uniform', low: -1, high: 1 } }, b: 0.1 },
  formulas: `
    h = mean_rows(E[tokens], pad_mask(tokens, 0))
    z = dot(w, h) + b
    loss = softplus(z) - y * z
  `,
});

const SAMPLES = [
  { inputs: { tokens: [3, 5, 3, 0, 0] }, targets: { y: 1 } },
  { inputs: { tokens: Int32Array.of(7, 1, 1, 1, 11) }, targets: { y: 0 } },
  { inputs: { tokens: [0, 0, 0, 0, 0] }, targets: { y: 1 } }, // all padding: the mean divides by max(0, 1)
  { inputs: { tokens: [4, 9, 2, 6, 10] }, targets: { y: 0 } },
];

const mods: Record<'unrolled' | 'loops', GeneratedModule> = {} as never;
beforeAll(() => {
  mods.unrolled = compile(bag, { lowering: 'unrolled' });
  mods.loops = compile(bag, { lowering: 'loops' });
});

/** Parameters with every element moved off its initial value (so no gradient is 0 by accident). */
function perturbed(mod: GeneratedModule, seed: number): Params {
  const p = mod.copyParams(mod.initParams());
  const rand = seeded(seed);
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'number') p[k] = v + rand() - 0.5;
    else for (let i = 0; i < v.length; i++) v[i] += rand() - 0.5;
  }
  return p;
}

describe('embedding gradients', () => {
  for (const lowering of ['unrolled', 'loops'] as const) {
    it(`equal the interpreter and central differences (${lowering})`, () => {
      const mod = mods[lowering];
      const derived = derive(buildModel(bag));
      const p = perturbed(mod, 3);
      for (const s of SAMPLES) {
        const { loss, grad } = mod.gradient(p, s.inputs, s.targets);
        const ref = interpret(derived, envOf(p as Record<string, number | Float64Array>, { tokens: Array.from(s.inputs.tokens) }, s.targets));
        expect(relativeError(loss, ref.loss)).toBeLessThan(1e-10);
        for (const name of ['E', 'w', 'b']) {
          const got = grad[name]!, want = ref.grad[name]!;
          const g = typeof got === 'number' ? [got] : Array.from(got);
          g.forEach((x, i) => expect(relativeError(x, want[i]!), `${name}[${i}]`).toBeLessThan(1e-10));
          // Central differences of the module's own loss.
          const arr = p[name]!;
          g.forEach((x, i) => {
            const at = (t: number) => {
              if (typeof arr === 'number') p[name] = t; else arr[i] = t;
              return mod.loss(p, s.inputs, s.targets);
            };
            const x0 = typeof arr === 'number' ? arr : arr[i]!;
            const fd = centralDifference(at, x0);
            at(x0);
            expect(relativeError(x, fd), `${name}[${i}] vs central differences`).toBeLessThan(1e-6);
          });
        }
      }
    });
  }

  it('touch only the looked-up rows: no dense gradient of E in either lowering', () => {
    const derived = derive(buildModel(bag));
    const unrolled = schedule(derived, { lowering: 'unrolled' });
    expect(unrolled.layout.params.find((p) => p.name === 'E')!.rows).toBe('sparse');
    const instrs = unrolled.kernels!.gradient.instrs;
    expect(instrs.some((i) => i.kind === 'store' && i.leaf === 'E')).toBe(false); // no store at a fixed element of dE
    expect(instrs.filter((i) => i.kind === 'scatter' && i.leaf === 'E')).toHaveLength(L * D); // one add per looked-up element
    const looped = schedule(derived, { lowering: 'loops' });
    const steps = looped.loops!.kernels.gradient.steps;
    expect(steps.filter((s) => s.kind === 'scatter' && s.into === 'grad' && s.touch === 'E')).toHaveLength(1);
    expect(steps.some((s) => s.kind === 'reduce' && s.target.buf?.kind === 'grad' && s.target.buf.name === 'E')).toBe(false);
    expect(looped.loops!.buffers.every((b) => b.size < V * D || b.node.op !== 'scatter')).toBe(true);
    // The generated update pass loops over the touched rows of E, not over its V x D elements.
    const code = generate(bag, { lowering: 'loops' }).code;
    expect(code).toMatch(/const t = \$rows_E; for \(let q = 0; q < t\.n; q\+\+\)/);
    expect(code).not.toMatch(new RegExp(`for \\(let k = 0; k < ${V * D}; k\\+\\+\\) \\{ const \\$wk`));
  });

  for (const lowering of ['unrolled', 'loops'] as const) {
    it(`the update visits only touched rows: lazy Adam and SGD (${lowering})`, () => {
      const mod = mods[lowering];
      const p = mod.initParams();
      const opt = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.1 });
      const rows = (q: Params, r: number) => Array.from((q.E as Float64Array).subarray(r * D, r * D + D));
      const one = (tokens: number[]) => mod.packSamples([{ inputs: { tokens }, targets: { y: 1 } }]);
      const a = one([3, 3, 0, 0, 0]), b = one([5, 0, 0, 0, 0]);
      const before = mod.copyParams(p);
      mod.stepBatch(p, a.X, a.Y, 1, opt);
      expect(rows(p, 3)).not.toEqual(rows(before, 3));
      for (const r of [1, 2, 4, 5, 11]) expect(rows(p, r), `row ${r} after step 1`).toEqual(rows(before, r));
      const after1 = mod.copyParams(p);
      const m3 = rows(opt.m!, 3);
      mod.stepBatch(p, b.X, b.Y, 1, opt);
      // Lazy: row 3 has non-zero moments but was not looked up, so neither it nor its moments move.
      expect(m3.some((x) => x !== 0)).toBe(true);
      expect(rows(p, 3)).toEqual(rows(after1, 3));
      expect(rows(opt.m!, 3)).toEqual(m3);
      expect(rows(p, 5)).not.toEqual(rows(after1, 5));
      // SGD with a batch of two: exactly p - lr * mean gradient, rows 3 and 5 only.
      const q = mod.copyParams(after1);
      const both = mod.packSamples([{ inputs: { tokens: [3, 3, 0, 0, 0] }, targets: { y: 1 } }, { inputs: { tokens: [5, 0, 0, 0, 0] }, targets: { y: 1 } }]);
      const g = mod.gradientBatch(q, both.X, both.Y, 2).grad;
      const want = (q.E as Float64Array).map((x, i) => x - 0.5 * (g.E as Float64Array)[i]!);
      mod.stepBatch(q, both.X, both.Y, 2, 0.5);
      (q.E as Float64Array).forEach((x, i) => expect(relativeError(x, want[i]!)).toBeLessThan(1e-12));
    });
  }

  it('the formula door builds the same model as the builder', () => {
    const a = compile(bag), b = compile(bagFormulas);
    const p = perturbed(a, 5);
    for (const s of SAMPLES) {
      const ga = a.gradient(p, s.inputs, s.targets), gb = b.gradient(p, s.inputs, s.targets);
      expect(gb.loss).toBe(ga.loss);
      expect(Array.from(gb.grad.E as Float64Array)).toEqual(Array.from(ga.grad.E as Float64Array));
    }
  });
});

describe('embedding gradients against TF.js (tf.gather, float32)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  it('loss and every gradient to 1e-5 relative', () => {
    const mod = mods.loops;
    const p = perturbed(mod, 9);
    for (const s of SAMPLES) {
      const ids = Array.from(s.inputs.tokens);
      const mine = mod.gradient(p, s.inputs, s.targets);
      const f = (E: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Scalar => {
        const emb = tf.gather(E, tf.tensor1d(ids, 'int32')); // [L x D]
        const mask = tf.tensor1d(ids.map((t) => (t === 0 ? 0 : 1)));
        const h = tf.div(tf.matMul(mask.reshape([1, L]), emb).reshape([D]), tf.maximum(tf.sum(mask), 1));
        const z = tf.add(tf.sum(tf.mul(w, h)), b);
        return tf.sub(tf.softplus(z), tf.mul(s.targets.y, z)).asScalar();
      };
      const inputs = [tf.tensor2d(Float32Array.from(p.E as Float64Array), [V, D]), tf.tensor1d(Float32Array.from(p.w as Float64Array)), tf.scalar(p.b as number)];
      const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => f(xs[0]!, xs[1]!, xs[2]!))(inputs);
      const close = (got: number, want: number, what: string) => expect(Math.abs(got - want) / Math.max(1, Math.abs(want)), what).toBeLessThan(1e-5);
      close(mine.loss, value.dataSync()[0]!, 'loss');
      ['E', 'w', 'b'].forEach((name, k) => {
        const want = grads[k]!.dataSync();
        const got = mine.grad[name]!;
        (typeof got === 'number' ? [got] : Array.from(got)).forEach((x, i) => close(x, want[i]!, `${name}[${i}]`));
      });
      tf.dispose([value, ...grads, ...inputs]);
    }
  });
});

describe('integer inputs are checked', () => {
  const bad = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect((e as Error).name === 'SampleError' || e instanceof GradcError).toBe(true);
      return (e as Error).message;
    }
    throw new Error('expected a SampleError');
  };
  for (const lowering of ['unrolled', 'loops'] as const) {
    it(`an id outside the vocabulary is a SampleError naming the sample and position (${lowering})`, () => {
      const mod = mods[lowering];
      const p = mod.initParams();
      expect(bad(() => mod.forward(p, { tokens: [1, 12, 0, 0, 0] }))).toMatch(/inputs: input 'tokens' position 1 must be an integer id in 0\.\.11, got 12/);
      expect(bad(() => mod.packSamples([SAMPLES[0]!, { inputs: { tokens: [1, 2, 3, -1, 0] }, targets: { y: 0 } }]))).toMatch(/sample 1: input 'tokens' position 3 must be an integer id in 0\.\.11, got -1/);
      expect(bad(() => mod.fit([{ inputs: { tokens: [1, 2, 3, 4, 2.5] }, targets: { y: 0 } }], { epochs: 1 }))).toMatch(/sample 0: input 'tokens' position 4 .* got 2\.5/);
      expect(bad(() => mod.gradient(p, { tokens: [1, 2] }, { y: 0 }))).toMatch(/input 'tokens' must be an array of 5 integer ids/);
      // Packed rows passed in directly are checked too, before anything is computed or changed.
      const { X, Y } = mod.packSamples(SAMPLES);
      X[2 * L + 3] = 99;
      const before = mod.copyParams(p);
      expect(bad(() => mod.stepBatch(p, X, Y, 4, 0.1))).toMatch(/stepBatch: row 2, input 'tokens' position 3 must be an integer id in 0\.\.11, got 99/);
      expect(Array.from(p.E as Float64Array)).toEqual(Array.from(before.E as Float64Array));
      expect(bad(() => mod.gradientBatch(p, X, Y, 2, 2))).toMatch(/gradientBatch: row 2, input 'tokens' position 3/);
      expect(bad(() => mod.fitRows(X, Y, 4, { epochs: 1 }))).toMatch(/fitRows: row 2, input 'tokens' position 3/);
      expect(mod.gradientBatch(p, X, Y, 2, 0).loss).toBeGreaterThan(0); // rows 0 and 1 are fine
    });
  }

  it('the builder and the formulas refuse lookups that cannot be checked, naming shapes and places', () => {
    const err = (f: () => unknown) => { try { f(); } catch (e) { expect(e).toBeInstanceOf(GradcError); return e as GradcError; } throw new Error('expected a GradcError'); };
    const realIndex = err(() => buildModel(defineModel('r', (m) => {
      const x = m.input('x', [3]);
      const E = m.param('E', { shape: [4, 2] });
      m.loss(m.sum(m.lookup(E, x)));
    })));
    expect(realIndex.message).toMatch(/the index of a lookup must be an integer input .* the real-valued input 'x'/);
    const small = err(() => buildModel(defineModel({ name: 's', inputs: { t: { shape: 2, ids: 10 } }, targets: [], params: { E: { shape: [4, 2] } }, formulas: 'loss = sum(E[t])' })));
    expect(small.message).toMatch(/ids of 't' go up to 9, but the table \[4x2\] has 4 rows/);
    expect(small.where.line).toBe(1);
    expect(small.where.column).toBeGreaterThan(0);
    const range = err(() => buildModel(defineModel({ name: 'x', inputs: ['a'], targets: [], params: { W: { shape: [3, 2] } }, formulas: 'loss = sum(W[2:4]) * a' })));
    expect(range.message).toMatch(/range 2:4 is not within 1\.\.3 \(shape \[3x2\]\)/);
    expect(range.where.symbol).toBe('W');
    const row = err(() => buildModel(defineModel({ name: 'x', inputs: ['a'], targets: [], params: { W: { shape: [3, 2] } }, formulas: 'loss = sum(W[4]) * a' })));
    expect(row.message).toMatch(/index 4 is outside 1\.\.3 \(shape \[3x2\]\)/);
    expect(err(() => defineModel('v', (m) => { m.intInput('t', [2], 0); }).build()).message).toMatch(/ids \(the vocabulary size\) must be an integer in 1\.\./);
  });
});

describe('row indexing and slices', () => {
  const rowsModel = defineModel({
    name: 'rows',
    inputs: { x: 2 },
    targets: ['y'],
    params: { W: { shape: [4, 2], init: { kind: 'uniform', low: -1, high: 1 } }, v: [0.5, -0.25, 1, 2] },
    formulas: `
      a = dot(W[2], x)
      B = W[3:4]
      c = sum(B * x) + sum(v[2:3])
      loss = (a + c - y)^2
    `,
  });

  for (const lowering of ['unrolled', 'loops'] as const) {
    it(`X[i], X[a:b] and v[a:b] pad their gradients back into the rows (${lowering})`, () => {
      const mod = compile(rowsModel, { lowering });
      const p = mod.initParams();
      const { grad } = mod.gradient(p, { x: [0.3, -0.7] }, { y: 0.2 });
      const W = p.W as Float64Array, v = p.v as Float64Array;
      const a = W[2]! * 0.3 + W[3]! * -0.7;
      const c = (W[4]! + W[6]!) * 0.3 + (W[5]! + W[7]!) * -0.7 + v[1]! + v[2]!;
      const r = 2 * (a + c - 0.2);
      expect(Array.from(grad.W as Float64Array).map((x) => +x.toFixed(12))).toEqual([0, 0, 0.3 * r, -0.7 * r, 0.3 * r, -0.7 * r, 0.3 * r, -0.7 * r].map((x) => +x.toFixed(12)));
      expect(Array.from(grad.v as Float64Array).map((x) => +x.toFixed(12))).toEqual([0, r, r, 0].map((x) => +x.toFixed(12)));
    });
  }
});

describe('pooling with a length per sample', () => {
  const lengthModel = defineModel('lengths', (m) => {
    const tokens = m.intInput('tokens', [4], 6);
    m.input('len');
    const E = m.param('E', { shape: [6, 2], init: { kind: 'uniform', low: -1, high: 1 } });
    const h = m.def('h', m.pool(m.lookup(E, tokens), 'mean', { length: 'len' }));
    const s = m.def('s', m.pool(m.lookup(E, tokens), 'sum'));
    m.loss(m.add(m.dot(h, h), m.mul(0.5, m.sum(s))));
    m.output('h');
  });

  for (const lowering of ['unrolled', 'loops'] as const) {
    it(`mean_rows over the first len rows, sum_rows over all; gradients as the interpreter (${lowering})`, () => {
      const mod = compile(lengthModel, { lowering });
      const p = mod.initParams();
      const E = p.E as Float64Array;
      const derived = derive(buildModel(lengthModel));
      for (const [tokens, len] of [[[2, 5, 5, 1], 2], [[0, 3, 4, 1], 4], [[3, 3, 3, 3], 0]] as const) {
        const h = mod.forward(p, { tokens, len }).h as Float64Array;
        const want = [0, 1].map((j) => tokens.slice(0, len).reduce((a: number, t: number) => a + E[t * 2 + j]!, 0) / Math.max(len, 1));
        expect(Array.from(h)).toEqual(want.map((x) => expect.closeTo(x, 12)));
        const { loss, grad } = mod.gradient(p, { tokens, len }, {});
        const ref = interpret(derived, envOf(p as Record<string, number | Float64Array>, { tokens: [...tokens], len }));
        expect(relativeError(loss, ref.loss)).toBeLessThan(1e-12);
        Array.from(grad.E as Float64Array).forEach((x, i) => expect(relativeError(x, ref.grad.E![i]!)).toBeLessThan(1e-12));
        // Rows never looked up get nothing.
        for (let r = 0; r < 6; r++) if (!(tokens as readonly number[]).includes(r)) expect([(grad.E as Float64Array)[2 * r], (grad.E as Float64Array)[2 * r + 1]]).toEqual([0, 0]);
      }
    });
  }
});
