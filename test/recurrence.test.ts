/**
 * Recurrences (m.scan, m.rnn, m.lstm, m.gru): one definition of the step, its gradient
 * backpropagation through time as a loop.
 *
 * - The gradient of an Elman recurrence equals, to 1e-12, the gradient of the same net
 *   unrolled by hand (one definition per step, as examples/co2.model.ts was written before
 *   recurrences), for T = 1, 2 and 50, per sample and over a batch; and central
 *   differences of its own loss (1e-6 relative).
 * - Elman, LSTM and GRU cells equal TF.js (tf.layers.simpleRNN, lstm, gru with the same
 *   weights, recurrentActivation 'sigmoid') in the loss and every gradient, over a batch,
 *   to 1e-5 of each gradient's scale (TF.js computes in float32; both sides start from the
 *   same float32 numbers).
 * - Truncated BPTT over the last k steps equals the full gradient at k = T, and at k = 1
 *   the gradient of one step from the stored state h[T-1].
 * - The generated module does not grow with T: T = 1000 compiles in the time T = 10 does
 *   (a ratio; the seconds are printed) to a module of the same size within 2%.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, defineModel, GradcError, type ModelBuilder } from '../src/index.js';
import { make, row } from '../src/ir/build.js';
import type { Node } from '../src/ir/node.js';
import type { Params } from '../src/load/loader.js';
import { gradientByDifferences, relativeError, seeded } from './helpers/numeric.js';

const H = 3;

/** yhat = dot(v, h[T]) + c, loss = (yhat - y)^2 over the states `last`. */
function head(m: ModelBuilder, last: Node): void {
  m.param('v', { shape: [H], init: { kind: 'uniform', low: -0.5, high: 0.5 } });
  m.param('c', { init: 0.1 });
  m.def('yhat', m.add(m.dot('v', last), 'c'));
  m.loss('(yhat - y)^2');
  m.output('yhat');
}

/** The Elman net as a recurrence. */
const recurrent = (T: number) => defineModel(`elman${T}`, (m) => {
  m.input('x', T);
  m.target('y');
  head(m, m.rnn('x', H, 'tanh', { name: 'cell', biasInit: { kind: 'uniform', low: -0.2, high: 0.2 } }).last.h);
}, { seed: 5 });

/** The same net unrolled by hand: h_t = tanh(x[t] W + h_(t-1) U + b), one definition per step. */
const unrolled = (T: number) => defineModel(`elman${T}`, (m) => {
  const x = m.input('x', T);
  m.target('y');
  const W = m.param('cell_W', { shape: [1, H] });
  const U = m.param('cell_U', { shape: [H, H] });
  const b = m.param('cell_b', { shape: [H] });
  const w = row(W, 0);
  let h: Node | null = null;
  for (let t = 1; t <= T; t++) {
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

describe('a recurrence = the same net unrolled by hand = central differences', () => {
  for (const T of [1, 2, 50]) {
    it(`Elman, T = ${T}`, () => {
      const rec = compile(recurrent(T));
      const hand = compile(unrolled(T), { lowering: 'loops' });
      const rand = seeded(T);
      const p = rec.initParams();
      for (const [k, v] of Object.entries(p)) p[k] = typeof v === 'number' ? v + 0.3 * (rand() - 0.5) : v.map((e) => e + 0.6 * (rand() - 0.5));
      const sample = () => ({ x: Float64Array.from({ length: T }, () => 2 * rand() - 1) });
      const x = sample(), y = { y: 0.4 };
      const a = rec.gradient(p, x, y), b = hand.gradient(p, x, y);
      expect(relativeError(a.loss, b.loss)).toBeLessThanOrEqual(1e-12);
      expect(worst(a.grad, b.grad)).toBeLessThanOrEqual(1e-12);
      // Central differences of the recurrence's own loss.
      for (const k of Object.keys(p)) {
        const v = p[k];
        const arr = typeof v === 'number' ? [v] : v;
        const fd = gradientByDifferences(() => {
          if (typeof v === 'number') p[k] = arr[0];
          return rec.loss(p, x, y);
        }, arr);
        if (typeof v === 'number') p[k] = v;
        fd.forEach((d, i) => expect(relativeError(flat(a.grad[k])[i], d), `${k}[${i}]`).toBeLessThanOrEqual(1e-6));
      }
      // A batch of 5 (every sample advanced together, one product per step) = the hand-unrolled batch.
      const n = 5;
      const X = new Float64Array(n * T), Y = new Float64Array(n);
      for (let i = 0; i < n; i++) { X.set(sample().x, i * T); Y[i] = rand(); }
      const ba = rec.gradientBatch(p, X, Y, n), bb = hand.gradientBatch(p, X, Y, n);
      expect(relativeError(ba.loss, bb.loss)).toBeLessThanOrEqual(1e-12);
      expect(worst(ba.grad, bb.grad)).toBeLessThanOrEqual(1e-12);
    });
  }
});

describe('recurrences in formulas', () => {
  const params = { cell_W: { shape: [H] }, cell_U: { shape: [H, H] }, cell_b: { shape: [H] }, v: { shape: [H] }, c: 0.1 };
  it('h[0] = 0, h[t] = tanh(x[t] * W + h[t-1] * U + b), yhat = dot(v, h[T]) + c is m.rnn', () => {
    const T = 9;
    const f = compile(defineModel({
      name: 'elman', inputs: { x: T }, targets: ['y'], params,
      formulas: `
        h[0] = 0
        h[t] = tanh(x[t] * cell_W + transpose(cell_U) * h[t-1] + cell_b)
        yhat = dot(v, h[T]) + c
        loss = (yhat - y)^2
      `,
    }));
    const b = compile(recurrent(T));
    const p = b.initParams();
    const x = { x: Float64Array.from({ length: T }, (_, i) => Math.sin(3 * i)) }, y = { y: -0.2 };
    const gf = f.gradient(p, x, y), gb = b.gradient(p, x, y);
    expect(relativeError(gf.loss, gb.loss)).toBeLessThanOrEqual(1e-14);
    expect(worst(gf.grad, gb.grad)).toBeLessThanOrEqual(1e-13);
  });
  it('two states, one of them a per-step output summed into the loss, = the net unrolled by hand', () => {
    const T = 5;
    const f = compile(defineModel({
      name: 'two', inputs: { x: T }, targets: ['y'], params: { U: { shape: [H, H] }, w: { shape: [H] }, v: { shape: [H] } },
      formulas: `
        h[0] = 0
        s[0] = 0
        h[t] = tanh(U * h[t-1] + w * x[t])
        s[t] = s[t-1] + dot(v, h[t-1])^2
        loss = (s - y)^2 + sum(h[2] .* h[T])
      `,
    }));
    const hand = compile(defineModel('two', (m) => {
      const x = m.input('x', T);
      m.target('y');
      const U = m.param('U', { shape: [H, H] }), w = m.param('w', { shape: [H] }), v = m.param('v', { shape: [H] });
      let h: Node = make('const', [], { value: 0 }, [H]);
      const hs: Node[] = [h];
      let s: Node = make('const', [], { value: 0 }, []);
      for (let t = 1; t <= T; t++) {
        s = make('add', [s, make('square', [make('dot', [v, h])])]);
        h = make('tanh', [make('add', [make('matmul', [U, h]), make('mul', [make('index', [x], { start: t - 1 }), w])])]);
        hs.push(h);
      }
      m.loss(m.add(m.call('square', m.sub(s, 'y')), m.sum(m.mul(hs[2], hs[T]))));
    }), { lowering: 'loops' });
    const p = f.initParams(3);
    const x = { x: Float64Array.of(0.5, -0.3, 0.8, 0.1, -0.9) }, y = { y: 0.7 };
    const gf = f.gradient(p, x, y), gh = hand.gradient(p, x, y);
    expect(relativeError(gf.loss, gh.loss)).toBeLessThanOrEqual(1e-13);
    expect(worst(gf.grad, gh.grad)).toBeLessThanOrEqual(1e-12);
  });
  it('a per-step output reading the new state h[t] (o[t] = o[t-1] + f(h[t]), summed over t = 1..T) = the net unrolled by hand = central differences', () => {
    const T = 5;
    const f = compile(defineModel({
      name: 'out', inputs: { x: T }, targets: ['y'], params: { U: { shape: [H, H] }, w: { shape: [H] }, v: { shape: [H] } },
      formulas: `
        h[0] = 0
        o[0] = 0
        o[t] = o[t-1] + dot(v, h[t])^2
        h[t] = tanh(U * h[t-1] + w * x[t])
        loss = (o / 5 - y)^2
      `,
    }));
    const hand = compile(defineModel('out', (m) => {
      const x = m.input('x', T);
      m.target('y');
      const U = m.param('U', { shape: [H, H] }), w = m.param('w', { shape: [H] }), v = m.param('v', { shape: [H] });
      let h: Node = make('const', [], { value: 0 }, [H]);
      let o: Node = make('const', [], { value: 0 }, []);
      for (let t = 1; t <= T; t++) {
        h = make('tanh', [make('add', [make('matmul', [U, h]), make('mul', [make('index', [x], { start: t - 1 }), w])])]);
        o = make('add', [o, make('square', [make('dot', [v, h])])]);
      }
      m.loss(m.call('square', m.sub(m.div(o, T), 'y')));
    }), { lowering: 'loops' });
    const p = f.initParams(4);
    const x = { x: Float64Array.of(0.5, -0.3, 0.8, 0.1, -0.9) }, y = { y: 0.7 };
    const gf = f.gradient(p, x, y), gh = hand.gradient(p, x, y);
    expect(relativeError(gf.loss, gh.loss)).toBeLessThanOrEqual(1e-13);
    expect(worst(gf.grad, gh.grad)).toBeLessThanOrEqual(1e-12);
    // Central differences on one weight of each parameter.
    for (const k of ['U', 'w', 'v'] as const) {
      const a = p[k] as Float64Array, e = 1e-6, old = a[1];
      a[1] = old + e; const up = f.loss(p, x, y);
      a[1] = old - e; const down = f.loss(p, x, y);
      a[1] = old;
      expect(Math.abs((up - down) / (2 * e) - (gf.grad[k] as Float64Array)[1])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs((gf.grad[k] as Float64Array)[1])));
    }
  });
  it('steps that read each other at t are a cycle, named', () => {
    const def = (formulas: string) => () => compile(defineModel({ name: 'cyc', inputs: { x: 4 }, targets: ['y'], params: { w: 1 }, formulas }));
    expect(def('a[0] = 0\nb[0] = 0\na[t] = b[t] + x[t]\nb[t] = w * a[t]\nloss = (a - y)^2')).toThrow(/the steps of a -> b -> a read each other at step t/);
  });
  it('a state without its step, a step that reads no sequence', () => {
    const def = (formulas: string) => () => compile(defineModel({ name: 'bad', inputs: { x: 4 }, targets: ['y'], params: { w: 1 }, formulas }));
    expect(def('h[0] = 0\nloss = (w * h - y)^2')).toThrow(/needs both/);
    // A step with no initial value (a per-step output written as o[t] = ...): the message says how to accumulate one.
    expect(def('h[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\no[t] = h[t-1]^2\nloss = (o - y)^2')).toThrow(/needs both 'o\[0\] = \.\.\.'.*accumulate it in a state: 'o\[0\] = 0' and 'o\[t\] = o\[t-1\] \+ f\(h\[t\]\)'/);
    expect(def('h[0] = 0\nh[t] = w * h[t-1]\nloss = (h - y)^2')).toThrow(/reads no sequence/);
  });
});

describe('truncated backpropagation through time', () => {
  const T = 6;
  const model = (truncate?: number) => defineModel('trunc', (m) => {
    m.input('x', T);
    m.target('y');
    head(m, m.rnn('x', H, 'tanh', { name: 'cell', ...(truncate === undefined ? {} : { truncate }) }).last.h);
  }, { seed: 2 });
  it('k = T is the full gradient; k = 1 is one step from the stored h[T-1]', () => {
    const full = compile(model()), all = compile(model(T)), one = compile(model(1));
    const p = full.initParams();
    const x = { x: Float64Array.of(0.3, -0.5, 0.9, 0.1, -0.7, 0.4) }, y = { y: 0.2 };
    expect(worst(all.gradient(p, x, y).grad, full.gradient(p, x, y).grad)).toBe(0);
    // One step from h[T-1], given as an input: the gradient that flows through the last step only.
    const last = defineModel('trunc', (m) => {
      const xt = m.input('xt');
      const hp = m.input('hp', H);
      m.target('y');
      const W = m.param('cell_W', { shape: [1, H] }), U = m.param('cell_U', { shape: [H, H] }), b = m.param('cell_b', { shape: [H] });
      head(m, make('tanh', [make('add', [make('add', [make('mul', [xt, row(W, 0)]), make('matmul', [hp, U])]), b])]));
    });
    const hPrev = compile(defineModel('h', (m) => {
      m.input('x', T - 1);
      m.target('y');
      const r = m.rnn('x', H, 'tanh', { name: 'cell' });
      m.param('v', { shape: [H] });
      m.param('c');
      m.def('hT', r.last.h);
      m.loss(m.dot('v', 'hT'));
      m.output('hT');
    }));
    const hp = hPrev.forward(p, { x: x.x.slice(0, T - 1) }).hT as Float64Array;
    const want = compile(last).gradient(p, { xt: x.x[T - 1], hp }, y);
    const got = one.gradient(p, x, y);
    expect(relativeError(got.loss, want.loss)).toBeLessThanOrEqual(1e-14);
    expect(worst(got.grad, want.grad)).toBeLessThanOrEqual(1e-12);
  });
});

describe('cells = TF.js layers with the same weights', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const T = 7, V = 2, B = 4;
  const cells = [
    { kind: 'rnn', gates: 1, layer: () => tf.layers.simpleRNN({ units: H, activation: 'tanh', inputShape: [T, V] }) },
    { kind: 'lstm', gates: 4, layer: () => tf.layers.lstm({ units: H, recurrentActivation: 'sigmoid', inputShape: [T, V] }) },
    { kind: 'gru', gates: 3, layer: () => tf.layers.gru({ units: H, recurrentActivation: 'sigmoid', inputShape: [T, V] }) },
  ] as const;
  for (const cell of cells) {
    it(`${cell.kind}: loss and every gradient over a batch of ${B}`, () => {
      const def = defineModel(cell.kind, (m) => {
        m.input('x', [T, V]);
        m.target('y');
        const r = cell.kind === 'rnn' ? m.rnn('x', H, 'tanh', { name: 'cell' }) : cell.kind === 'lstm' ? m.lstm('x', H, { name: 'cell' }) : m.gru('x', H, { name: 'cell' });
        head(m, r.last.h);
      });
      const mod = compile(def);
      const rand = seeded(cell.gates);
      const f32 = (n: number, s = 0.6) => Float64Array.from({ length: n }, () => Math.fround((2 * rand() - 1) * s));
      const G = cell.gates * H;
      const p: Params = { cell_W: f32(V * G), cell_U: f32(H * G), cell_b: f32(G, 0.3), v: f32(H), c: Math.fround(0.1) };
      const X = f32(B * T * V, 1), Y = f32(B, 1);
      const ours = mod.gradientBatch(p, X, Y, B);

      const layer = cell.layer();
      const xT = tf.tensor3d(Float32Array.from(X), [B, T, V]);
      layer.apply(xT); // builds the weights
      layer.setWeights([tf.tensor2d(Float32Array.from(p.cell_W as Float64Array), [V, G]), tf.tensor2d(Float32Array.from(p.cell_U as Float64Array), [H, G]), tf.tensor1d(Float32Array.from(p.cell_b as Float64Array))]);
      const v = tf.variable(tf.tensor2d(Float32Array.from(p.v as Float64Array), [H, 1]));
      const c = tf.variable(tf.scalar(p.c as number));
      const vars = [...layer.trainableWeights.map((w) => w.read() as tf.Variable), v, c];
      const { value, grads } = tf.variableGrads(() => {
        const h = layer.apply(xT) as tf.Tensor2D;
        const yhat = tf.add(tf.matMul(h, v), c).reshape([B]);
        return tf.mean(tf.square(tf.sub(yhat, tf.tensor1d(Float32Array.from(Y)))));
      }, vars);
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

describe('the generated module does not grow with T', () => {
  const model = (T: number) => defineModel('long', (m) => {
    m.input('x', [T, 16]);
    m.target('y');
    head(m, m.rnn('x', H, 'tanh', { name: 'cell' }).last.h);
  });
  it('T = 1000 compiles as fast as T = 10, to a module of the same size (within 2%)', () => {
    // Wall-clock time is reported, not asserted (the machine is shared); the assertion is a ratio.
    const time = (T: number) => {
      const t0 = performance.now();
      const code = compile(model(T)).code; // generate, transpile and load
      return { code, seconds: (performance.now() - t0) / 1000 };
    };
    time(10); // warm-up
    const short = time(10), long = time(1000);
    console.log(`T = 1000: compiled in ${long.seconds.toFixed(2)} s, ${long.code.length} characters (T = 10: ${short.seconds.toFixed(2)} s, ${short.code.length})`);
    expect(long.seconds / short.seconds).toBeLessThan(3);
    expect(Math.abs(long.code.length - short.code.length) / short.code.length).toBeLessThan(0.02);
  });
});

describe('errors', () => {
  it('a sequence that depends on parameters, a state that changes shape, the unrolled lowering', () => {
    expect(() => compile(defineModel('bad', (m) => {
      m.input('x', 4); m.target('y'); m.param('s');
      m.loss(m.sum(m.scan({ h: 0 }, m.mul('s', 'x'), ({ h }, xt) => ({ h: m.add(h, xt) })).last.h));
    }))).toThrow(GradcError);
    expect(() => compile(defineModel('bad', (m) => {
      m.input('x', 4); m.target('y'); m.param('s', { shape: [2] });
      m.loss(m.sum(m.scan({ h: 0 }, 'x', () => ({ h: 's' })).last.h));
    }))).toThrow(/state 'h'/);
    expect(() => compile(recurrent(3), { lowering: 'unrolled' })).toThrow(/unrolled/);
  });
});
