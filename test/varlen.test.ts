/**
 * Variable-length sequences in one batch: a length input per sample (m.lengthInput, or
 * `{ lengthOf: 'x' }` in a spec), the rows past it padding, every state frozen after the
 * sample's last valid step (so h[T] / `last` is the last valid state).
 *
 * - The gradient of a recurrence with lengths equals, to 1e-12, the gradient of the same
 *   net unrolled by hand to each sample's own length (one definition per step, compiled
 *   with both lowerings), for T = 1, 2 and 50 with lengths varying in a batch (1 and T
 *   among them), per sample and over a batch; the interpreter agrees; central differences
 *   of its own loss (1e-6 relative).
 * - The padding rows change nothing: not the loss, not a gradient (bit for bit).
 * - Elman, LSTM and GRU cells with lengths equal TF.js layers given the same mask
 *   (tf.layers.simpleRNN, lstm, gru: the masked steps keep the state) in the loss and every
 *   gradient, over a batch, to 1e-5 of each gradient's scale.
 * - Formulas (`inputs: { len: { lengthOf: 'x' } }`) give the builder's model; a per-step
 *   output summed over the steps and divided by the length is the mean over valid steps.
 * - A length outside 1..T, not an integer, or missing is a SampleError naming the sample (or
 *   row) and the value; misuse in the builder is a GradcError.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, compile, defineModel, GradcError, type GeneratedModule, type ModelBuilder } from '../src/index.js';
import { make, row } from '../src/ir/build.js';
import type { Node } from '../src/ir/node.js';
import type { Params } from '../src/load/loader.js';
import { derive } from '../src/pipeline.js';
import { envOf, interpret } from './helpers/models.js';
import { gradientByDifferences, relativeError, seeded } from './helpers/numeric.js';

const H = 3;

/** yhat = dot(v, h[T]) + c, loss = (yhat - y)^2. */
function head(m: ModelBuilder, last: Node): void {
  m.param('v', { shape: [H], init: { kind: 'uniform', low: -0.5, high: 0.5 } });
  m.param('c', { init: 0.1 });
  m.def('yhat', m.add(m.dot('v', last), 'c'));
  m.loss('(yhat - y)^2');
  m.output('yhat');
}

/** The Elman net over sequences of up to T steps, with a length per sample. */
const recurrent = (T: number) => defineModel(`elman${T}`, (m) => {
  m.input('x', T);
  m.lengthInput('len', 'x');
  m.target('y');
  head(m, m.rnn('x', H, 'tanh', { name: 'cell', biasInit: { kind: 'uniform', low: -0.2, high: 0.2 } }).last.h);
}, { seed: 5 });

/** The same net unrolled by hand over the first L rows of an input of T (the rest unread). */
const unrolled = (T: number, L: number) => defineModel(`elman${T}`, (m) => {
  const x = m.input('x', T);
  m.target('y');
  const W = m.param('cell_W', { shape: [1, H] });
  const U = m.param('cell_U', { shape: [H, H] });
  const b = m.param('cell_b', { shape: [H] });
  const w = row(W, 0);
  let h: Node | null = null;
  for (let t = 1; t <= L; t++) {
    const xt = make('index', [x], { start: t - 1 });
    const z = make('add', [make('mul', [xt, w]), b]);
    h = m.def(`h${t}`, make('tanh', [h === null ? z : make('add', [z, make('matmul', [h, U])])]));
  }
  head(m, h!);
}, { seed: 5 });

const flat = (v: number | ArrayLike<number>): number[] => (typeof v === 'number' ? [v] : Array.from(v));
function worst(got: Params, want: Params): number {
  let e = 0;
  for (const k of Object.keys(want)) flat(want[k]).forEach((w, i) => { e = Math.max(e, relativeError(flat(got[k])[i], w)); });
  return e;
}
/** Parameters with every element moved off its initial value. */
function perturbed(mod: GeneratedModule, seed: number): Params {
  const p = mod.copyParams(mod.initParams());
  const rand = seeded(seed);
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'number') p[k] = v + 0.3 * (rand() - 0.5);
    else for (let i = 0; i < v.length; i++) v[i] += 0.6 * (rand() - 0.5);
  }
  return p;
}

const LENGTHS: Readonly<Record<number, readonly number[]>> = { 1: [1, 1], 2: [1, 2, 2, 1], 50: [1, 50, 17, 2, 49, 33] };

describe('a recurrence with lengths = each sample unrolled by hand to its length = central differences', () => {
  for (const T of [1, 2, 50]) {
    it(`Elman, T = ${T}, lengths ${LENGTHS[T].join(', ')}`, () => {
      const rec = compile(recurrent(T));
      const lens = LENGTHS[T];
      const hands = new Map(lens.map((L) => [L, {
        unrolled: compile(unrolled(T, L), { lowering: 'unrolled' }),
        loops: compile(unrolled(T, L), { lowering: 'loops' }),
      }]));
      const rand = seeded(T);
      const p = perturbed(rec, T);
      const samples = lens.map((len) => ({ x: Float64Array.from({ length: T }, () => 2 * rand() - 1), len, y: 2 * rand() - 1 }));
      const derived = derive(buildModel(recurrent(T)));
      for (const s of samples) {
        const a = rec.gradient(p, { x: s.x, len: s.len }, { y: s.y });
        for (const lowering of ['unrolled', 'loops'] as const) {
          const b = hands.get(s.len)![lowering].gradient(p, { x: s.x }, { y: s.y });
          expect(relativeError(a.loss, b.loss), `loss, len ${s.len}, ${lowering}`).toBeLessThanOrEqual(1e-12);
          expect(worst(a.grad, b.grad), `gradient, len ${s.len}, ${lowering}`).toBeLessThanOrEqual(1e-12);
        }
        // The interpreter (the IR evaluated step by step) agrees.
        const ref = interpret(derived, envOf(p as Record<string, number | Float64Array>, { x: s.x, len: s.len, y: s.y }));
        expect(relativeError(a.loss, ref.loss)).toBeLessThanOrEqual(1e-12);
        expect(worst(a.grad, ref.grad as Params)).toBeLessThanOrEqual(1e-12);
        // The padding rows change nothing, bit for bit.
        const padded = Float64Array.from(s.x, (v, i) => (i < s.len ? v : 1e3 * (rand() - 0.5)));
        const c = rec.gradient(p, { x: padded, len: s.len }, { y: s.y });
        expect(c.loss).toBe(a.loss);
        for (const k of Object.keys(a.grad)) expect(flat(c.grad[k]), k).toEqual(flat(a.grad[k]));
      }
      // Central differences of the recurrence's own loss, at a length between 1 and T.
      const s = samples[samples.length - 1];
      const g = rec.gradient(p, { x: s.x, len: s.len }, { y: s.y });
      for (const k of Object.keys(p)) {
        const v = p[k];
        const arr = typeof v === 'number' ? [v] : v;
        const fd = gradientByDifferences(() => {
          if (typeof v === 'number') p[k] = arr[0];
          return rec.loss(p, { x: s.x, len: s.len }, { y: s.y });
        }, arr);
        if (typeof v === 'number') p[k] = v;
        fd.forEach((d, i) => expect(relativeError(flat(g.grad[k])[i], d), `${k}[${i}]`).toBeLessThanOrEqual(1e-6));
      }
      // A batch (advanced together, one product per step, each sample frozen at its length) =
      // the mean of the hand-unrolled samples' gradients.
      const n = samples.length;
      const X = new Float64Array(n * (T + 1)), Y = new Float64Array(n);
      samples.forEach((s, i) => { X.set(s.x, i * (T + 1)); X[i * (T + 1) + T] = s.len; Y[i] = s.y; });
      expect(rec.INPUT_SIZE).toBe(T + 1);
      const batch = rec.gradientBatch(p, X, Y, n);
      const want: Params = {};
      let loss = 0;
      for (const s of samples) {
        const b = hands.get(s.len)!.unrolled.gradient(p, { x: s.x }, { y: s.y });
        loss += b.loss / n;
        for (const k of Object.keys(b.grad)) {
          const prev = want[k];
          const add = flat(b.grad[k]).map((e) => e / n);
          want[k] = prev === undefined ? (add.length === 1 && typeof b.grad[k] === 'number' ? add[0] : Float64Array.from(add)) : typeof prev === 'number' ? prev + add[0] : prev.map((e, i) => e + add[i]);
        }
      }
      expect(relativeError(batch.loss, loss)).toBeLessThanOrEqual(1e-12);
      expect(worst(batch.grad, want)).toBeLessThanOrEqual(1e-12);
      // The output is the state after each sample's last valid step.
      samples.forEach((s) => {
        const y = rec.forward(p, { x: s.x, len: s.len }).yhat as number;
        expect(relativeError(y, hands.get(s.len)!.loops.forward(p, { x: s.x }).yhat as number)).toBeLessThanOrEqual(1e-12);
      });
    });
  }
});

describe('cells with lengths = TF.js layers given the same mask', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const T = 7, V = 2;
  const LENS = [1, 7, 4, 2, 6];
  const B = LENS.length;
  const cells = [
    { kind: 'rnn', gates: 1, layer: () => tf.layers.simpleRNN({ units: H, activation: 'tanh', inputShape: [T, V] }) },
    { kind: 'lstm', gates: 4, layer: () => tf.layers.lstm({ units: H, recurrentActivation: 'sigmoid', inputShape: [T, V] }) },
    { kind: 'gru', gates: 3, layer: () => tf.layers.gru({ units: H, recurrentActivation: 'sigmoid', inputShape: [T, V] }) },
  ] as const;
  for (const cell of cells) {
    it(`${cell.kind}: loss and every gradient over a batch of lengths ${LENS.join(', ')}`, () => {
      const def = defineModel(cell.kind, (m) => {
        m.input('x', [T, V]);
        m.lengthInput('len', 'x');
        m.target('y');
        const r = cell.kind === 'rnn' ? m.rnn('x', H, 'tanh', { name: 'cell' }) : cell.kind === 'lstm' ? m.lstm('x', H, { name: 'cell' }) : m.gru('x', H, { name: 'cell' });
        head(m, r.last.h);
      });
      const mod = compile(def);
      const rand = seeded(cell.gates + 10);
      const f32 = (n: number, s = 0.6) => Float64Array.from({ length: n }, () => Math.fround((2 * rand() - 1) * s));
      const G = cell.gates * H;
      const p: Params = { cell_W: f32(V * G), cell_U: f32(H * G), cell_b: f32(G, 0.3), v: f32(H), c: Math.fround(0.1) };
      const xs = f32(B * T * V, 1), Y = f32(B, 1);
      const X = new Float64Array(B * (T * V + 1));
      LENS.forEach((len, i) => { X.set(xs.subarray(i * T * V, (i + 1) * T * V), i * (T * V + 1)); X[i * (T * V + 1) + T * V] = len; });
      const ours = mod.gradientBatch(p, X, Y, B);

      const layer = cell.layer();
      const xT = tf.tensor3d(Float32Array.from(xs), [B, T, V]);
      const mask = tf.tensor2d(LENS.flatMap((len) => Array.from({ length: T }, (_, t) => (t < len ? 1 : 0))), [B, T], 'bool');
      layer.apply(xT); // builds the weights
      layer.setWeights([tf.tensor2d(Float32Array.from(p.cell_W as Float64Array), [V, G]), tf.tensor2d(Float32Array.from(p.cell_U as Float64Array), [H, G]), tf.tensor1d(Float32Array.from(p.cell_b as Float64Array))]);
      const v = tf.variable(tf.tensor2d(Float32Array.from(p.v as Float64Array), [H, 1]));
      const c = tf.variable(tf.scalar(p.c as number));
      const vars = [...layer.trainableWeights.map((w) => w.read() as tf.Variable), v, c];
      const { value, grads } = tf.variableGrads(() => {
        const h = layer.apply(xT, { mask }) as tf.Tensor2D;
        const yhat = tf.add(tf.matMul(h, v), c).reshape([B]);
        return tf.mean(tf.square(tf.sub(yhat, tf.tensor1d(Float32Array.from(Y)))));
      }, vars);
      // The mask matters: without it TF.js's loss differs.
      const unmasked = tf.tidy(() => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(layer.apply(xT) as tf.Tensor2D, v), c).reshape([B]), tf.tensor1d(Float32Array.from(Y))))).dataSync()[0]);
      expect(relativeError(ours.loss, unmasked)).toBeGreaterThan(1e-3);
      const names = ['cell_W', 'cell_U', 'cell_b', 'v', 'c'];
      expect(relativeError(ours.loss, value.dataSync()[0])).toBeLessThanOrEqual(1e-5);
      vars.forEach((w, i) => {
        const want = Array.from(grads[w.name].dataSync());
        const got = flat(ours.grad[names[i]]);
        const scale = Math.max(...want.map(Math.abs), 1e-3);
        want.forEach((d, j) => expect(Math.abs(got[j] - d) / scale, `${names[i]}[${j}]`).toBeLessThanOrEqual(1e-5));
      });
    });
  }
});

describe('lengths with checkpointing', () => {
  const model = (checkpoint?: number) => defineModel('lc', (m) => {
    m.input('x', [7, 2]);
    m.lengthInput('len', 'x');
    m.target('y');
    head(m, m.lstm('x', H, { name: 'cell', ...(checkpoint === undefined ? {} : { checkpoint }) }).last.h);
  }, { seed: 9 });

  it('an LSTM with lengths gives the same loss and gradient checkpointed (k = 1, 2, 3, 7) as not (1e-12), over a batch of lengths 1..7', () => {
    const plain = compile(model());
    const p = perturbed(plain, 4);
    const rand = seeded(11);
    const samples = [1, 7, 3, 5, 2].map((len) => ({ inputs: { x: Float64Array.from({ length: 14 }, () => 2 * rand() - 1), len }, targets: { y: rand() } }));
    const rows = plain.packSamples(samples);
    const want = plain.zeroParams();
    const wantLoss = plain.gradientBatch(p, rows.X, rows.Y, rows.count, 0, want).loss;
    for (const k of [1, 2, 3, 7]) {
      const ck = compile(model(k));
      const got = ck.zeroParams();
      const loss = ck.gradientBatch(p, rows.X, rows.Y, rows.count, 0, got).loss;
      expect(relativeError(loss, wantLoss), `loss, k = ${k}`).toBeLessThanOrEqual(1e-12);
      expect(worst(got, want), `gradient, k = ${k}`).toBeLessThanOrEqual(1e-12);
    }
  });
});

describe('lengths in formulas', () => {
  const T = 6;
  const params = { cell_W: { shape: [H] }, cell_U: { shape: [H, H] }, cell_b: { shape: [H] }, v: { shape: [H] }, c: 0.1 };
  it('inputs: { len: { lengthOf: \'x\' } } makes every recurrence over x stop at len; h[T] is the last valid state', () => {
    const f = compile(defineModel({
      name: 'elman', inputs: { x: T, len: { lengthOf: 'x' } }, targets: ['y'], params,
      formulas: `
        h[0] = 0
        h[t] = tanh(x[t] * cell_W + transpose(cell_U) * h[t-1] + cell_b)
        yhat = dot(v, h[T]) + c
        loss = (yhat - y)^2
      `,
    }));
    const b = compile(recurrent(T));
    const p = perturbed(b, 3);
    const x = Float64Array.from({ length: T }, (_, i) => Math.sin(3 * i));
    for (const len of [1, 3, T]) {
      const gf = f.gradient(p, { x, len }, { y: -0.2 }), gb = b.gradient(p, { x, len }, { y: -0.2 });
      expect(relativeError(gf.loss, gb.loss)).toBeLessThanOrEqual(1e-14);
      expect(worst(gf.grad, gb.grad)).toBeLessThanOrEqual(1e-12);
    }
  });
  it('a per-step output summed over the steps and divided by len is the mean over the valid steps', () => {
    const mean = compile(defineModel({
      name: 'mean', inputs: { x: T, len: { lengthOf: 'x' } }, targets: ['y'], params: { w: 0.5, u: 0.3 },
      formulas: `
        h[0] = 0
        s[0] = 0
        h[t] = tanh(w * x[t] + u * h[t-1])
        s[t] = s[t-1] + h[t-1]^2
        m = s[T] / len
        loss = (m - y)^2
      `,
      outputs: ['m'],
    }));
    const p = { w: 0.7, u: -0.4 };
    const x = Float64Array.from({ length: T }, (_, i) => Math.cos(i + 0.5));
    for (const len of [1, 2, 5, T]) {
      // s[t] adds h[t-1]^2 (the state before step t), so s[len] sums h[0..len-1]^2.
      let h = 0, s = 0;
      for (let t = 0; t < len; t++) { s += h * h; h = Math.tanh(p.w * x[t] + p.u * h); }
      const got = mean.forward(p, { x, len }).m as number;
      expect(relativeError(got, s / len)).toBeLessThanOrEqual(1e-14);
      // Its gradient: central differences.
      const g = mean.gradient(p, { x, len }, { y: 0.1 });
      const arr = [p.w, p.u];
      const fd = gradientByDifferences(() => mean.loss({ w: arr[0], u: arr[1] }, { x, len }, { y: 0.1 }), arr);
      expect(relativeError(g.grad.w as number, fd[0])).toBeLessThanOrEqual(1e-6);
      expect(relativeError(g.grad.u as number, fd[1])).toBeLessThanOrEqual(1e-6);
    }
  });
  it('an LSTM keeps both states past the length (h and c)', () => {
    const lstm = compile(defineModel('l', (m) => {
      m.input('x', [T, 2]);
      m.lengthInput('len', 'x');
      const r = m.lstm('x', H, { name: 'cell' });
      m.def('h', r.last.h); m.def('cT', r.last.c);
      m.loss(m.add(m.sum('h'), m.sum('cT')));
      m.output('h', 'cT');
    }));
    const short = compile(defineModel('l', (m) => {
      m.input('x', [3, 2]);
      const r = m.lstm('x', H, { name: 'cell' });
      m.def('h', r.last.h); m.def('cT', r.last.c);
      m.loss(m.add(m.sum('h'), m.sum('cT')));
      m.output('h', 'cT');
    }));
    const p = perturbed(lstm, 8);
    const x = Float64Array.from({ length: 2 * T }, (_, i) => Math.sin(i));
    const a = lstm.forward(p, { x, len: 3 }), b = short.forward(p, { x: x.slice(0, 6) });
    expect(Array.from(a.h as Float64Array)).toEqual(Array.from(b.h as Float64Array));
    expect(Array.from(a.cT as Float64Array)).toEqual(Array.from(b.cT as Float64Array));
  });
});

describe('bad lengths', () => {
  const T = 5;
  const mod = compile(recurrent(T));
  const p = mod.initParams();
  const x = new Float64Array(T);
  const err = (f: () => unknown): Error => {
    try { f(); } catch (e) { return e as Error; }
    throw new Error('no error');
  };
  it('the module says which inputs are lengths (shapes.lengths: T), apart from the token ids', () => {
    expect(mod.shapes.lengths).toEqual({ len: T });
    expect(mod.shapes.ids).toBeUndefined();
  });
  it('a length outside 1..T, not an integer or missing is a SampleError naming the value', () => {
    for (const len of [0, T + 1, -1, 2.5, Number.NaN, Infinity]) {
      const e = err(() => mod.gradient(p, { x, len }, { y: 0 }));
      expect(e.name).toBe('SampleError');
      expect(e).toBeInstanceOf(GradcError);
      expect(e.message).toMatch(/input 'len' must be an integer length in 1\.\.5, got/);
      expect(e.message).toContain(String(len));
    }
    expect(err(() => mod.forward(p, { x, len: '3' } as never)).message).toMatch(/'len' must be an integer length in 1\.\.5, got '3'|"3"/);
    expect(err(() => mod.forward(p, { x } as never)).message).toMatch(/missing input 'len' \(an integer length in 1\.\.5\)/);
    // In a batch: the sample's index.
    const e = err(() => mod.packSamples([{ inputs: { x, len: 2 }, targets: { y: 0 } }, { inputs: { x, len: 9 }, targets: { y: 0 } }]));
    expect(e.name).toBe('SampleError');
    expect(e.message).toMatch(/1.*'len'.*1\.\.5, got 9/);
  });
  it('in rows (gradientBatch, stepBatch): a SampleError naming the row and the value', () => {
    const X = new Float64Array(3 * (T + 1));
    X[T] = 1; X[2 * (T + 1) - 1] = 5; X[3 * (T + 1) - 1] = 0;
    const e = err(() => mod.gradientBatch(p, X, new Float64Array(3), 3));
    expect(e.name).toBe('SampleError');
    expect(e.message).toMatch(/row 2, input 'len' must be an integer length in 1\.\.5, got 0/);
    X[3 * (T + 1) - 1] = 3.5;
    expect(err(() => mod.stepBatch(p, X, new Float64Array(3), 3, 0.1)).message).toMatch(/row 2, input 'len' .* got 3\.5/);
  });
  it('misuse in the builder is a GradcError', () => {
    const build = (body: (m: ModelBuilder) => void) => () => buildModel(defineModel('bad', (m) => { body(m); }));
    expect(build((m) => { m.input('x', T); m.input('n'); m.loss(m.sum(m.rnn('x', H, 'tanh', { lengths: 'n' }).last.h)); })).toThrow(/input 'n' is not a length input of a sequence of 5 steps/);
    expect(build((m) => { m.input('x', T); m.input('z', 3); m.lengthInput('n', 'z'); m.loss(m.sum(m.rnn('x', H, 'tanh', { lengths: 'n' }).last.h)); })).toThrow(/not a length input of a sequence of 5 steps/);
    expect(build((m) => { m.input('x', T); m.lengthInput('n', 'x'); m.loss(m.sum(m.rnn('x', H, 'tanh', { truncate: 2 }).last.h)); })).toThrow(/truncate and lengths/);
    expect(build((m) => { m.input('s'); m.lengthInput('n', 's'); m.loss('s'); })).toThrow(/length input 'n'.*\[T x V\]/);
    expect(build((m) => { m.input('x', T); m.lengthInput('n', 'x'); m.lengthInput('k', 'x'); m.loss(m.sum('x')); })).toThrow(/already has the length input 'n'/);
  });
});

describe('the backward pass reads kept states from the stored rows only where that is exact', () => {
  // Steps written by hand with selects: under one condition the stored row stands for the
  // step's values (the pattern lengths make); under two conditions, or with another state
  // reading a selected value, it must not. Each gradient against central differences.
  const T = 5;
  const sel = (c: Node, a: Node, b: Node): Node => make('select', [c, a, b]);
  const steps: Record<string, (m: ModelBuilder) => Node> = {
    'one condition': (m) => m.scan({ a: 0.2, b: -0.1 }, 'x', ({ a, b }, xt) => {
      const c = make('gt', [xt, m.expr(0)]);
      return { a: sel(c, m.call('tanh', m.add(m.mul('w', a), xt)), a), b: sel(c, m.call('sin', m.add(m.mul('u', b), a)), b) };
    }).last.b,
    'two conditions': (m) => m.scan({ a: 0.2, b: -0.1 }, 'x', ({ a, b }, xt) => {
      const va = m.call('tanh', m.add(m.mul('w', a), xt));
      return { a: sel(make('gt', [xt, m.expr(0)]), va, a), b: sel(make('gt', [xt, m.expr(-0.5)]), m.add(m.mul('u', b), va), b) };
    }).last.b,
    'a third state reads a kept value': (m) => m.scan({ a: 0.2, b: -0.1, s: 0 }, 'x', ({ a, b, s }, xt) => {
      const c = make('gt', [xt, m.expr(0)]);
      const va = m.call('tanh', m.add(m.mul('w', a), xt));
      return { a: sel(c, va, a), b: sel(c, m.mul('u', m.add(b, va)), b), s: m.add(s, m.call('square', va)) };
    }).last.s,
  };
  for (const [name, body] of Object.entries(steps)) {
    it(name, () => {
      const mod = compile(defineModel('sel', (m) => {
        m.input('x', T);
        m.param('w', 0.7); m.param('u', -0.6);
        m.loss(m.call('square', body(m)));
      }));
      const x = Float64Array.of(0.3, -0.2, 0.8, -0.9, 0.4);
      const p = { w: 0.7, u: -0.6 };
      const g = mod.gradient(p, { x }, {});
      const arr = [p.w, p.u];
      const fd = gradientByDifferences(() => mod.loss({ w: arr[0], u: arr[1] }, { x }, {}), arr);
      expect(relativeError(g.grad.w as number, fd[0])).toBeLessThanOrEqual(1e-6);
      expect(relativeError(g.grad.u as number, fd[1])).toBeLessThanOrEqual(1e-6);
    });
  }
});
