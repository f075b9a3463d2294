/**
 * Optimizers, emitted (issue 9): every optimizer of the generated module follows the
 * trajectory of a plain float64 reference written once below (straightforward loops over
 * the parameter arrays) to 1e-12 over 100 steps, in both lowerings, at batch 1 and batch
 * 4; and that of TF.js's own optimizer (float32) on the same net, same weights, same data
 * and the same loss formula, to 1e-5 relative. Schedules, weight decay and clipping are
 * checked against the reference. A refused step (a NaN gradient) leaves the parameters,
 * the optimizer state and its step count unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, defineModel, type GeneratedModule, type OptimizerOptions, type OptimizerState } from '../src/index.js';

// ---- The net: 2-3-1, tanh hidden layer, linear output, mean squared error. ----
const def = defineModel('net231', (m) => {
  const x = m.input('x', 2);
  const y = m.target('y', 1);
  const out = m.mlp(x, [3, 1], 'tanh', 'linear');
  m.loss(m.mean(m.call('square', m.sub(out, y))));
});
const NAMES = ['layer1_W', 'layer1_b', 'layer2_W', 'layer2_b'] as const;
const INIT = [
  [0.3, -0.2, 0.5, 0.1, -0.4, 0.25], // layer1_W [3x2], row-major
  [0.05, -0.1, 0.2],
  [0.6, -0.35, 0.45], // layer2_W [1x3]
  [0.1],
];
const ROWS = 8;
const X = Float64Array.from({ length: ROWS * 2 }, (_, i) => Math.sin(1.3 * i + 0.2) * 1.5);
const Y = Float64Array.from({ length: ROWS }, (_, i) => Math.cos(0.7 * i) * 0.8 + 0.1 * X[2 * i]);
const STEPS = 100;

// ---- The float64 reference, written once. ----
type Arrays = number[][];
/** Mean loss and mean gradient over rows [first, first + count). */
function refGradient(p: Arrays, first: number, count: number): { loss: number; g: Arrays } {
  const [W1, b1, W2, b2] = p;
  const g = p.map((a) => a.map(() => 0));
  let loss = 0;
  for (let r = first; r < first + count; r++) {
    const x = [X[2 * r], X[2 * r + 1]];
    const h = [0, 1, 2].map((j) => Math.tanh(W1[2 * j] * x[0] + W1[2 * j + 1] * x[1] + b1[j]));
    const out = W2[0] * h[0] + W2[1] * h[1] + W2[2] * h[2] + b2[0];
    const e = out - Y[r];
    loss += (e * e) / count;
    const dout = (2 * e) / count;
    g[3][0] += dout;
    for (let j = 0; j < 3; j++) {
      g[2][j] += dout * h[j];
      const dz = dout * W2[j] * (1 - h[j] * h[j]);
      g[1][j] += dz;
      g[0][2 * j] += dz * x[0];
      g[0][2 * j + 1] += dz * x[1];
    }
  }
  return { loss, g };
}

interface RefOptions {
  kind: OptimizerOptions['kind'];
  lr: number; wd?: number; clip?: number; momentum?: number; nesterov?: boolean;
  beta1?: number; beta2?: number; epsilon?: number; rho?: number;
  rate?: (t: number) => number;
}
/** 100 steps of the textbook update; returns the parameters after each step and the losses. */
function refTrajectory(o: RefOptions, batch: number): { params: Arrays[]; losses: number[] } {
  const p = INIT.map((a) => [...a]);
  const m = p.map((a) => a.map(() => 0));
  const v = p.map((a) => a.map(() => 0));
  const params: Arrays[] = [], losses: number[] = [];
  for (let t = 0; t < STEPS; t++) {
    const first = (t * batch) % ROWS;
    const { loss, g } = refGradient(p, first, batch);
    const lr = o.rate ? o.rate(t) : o.lr;
    let scale = 1;
    if (o.clip !== undefined) {
      const norm = Math.sqrt(g.flat().reduce((s, x) => s + x * x, 0));
      if (norm > o.clip) scale = o.clip / norm;
    }
    for (let i = 0; i < p.length; i++) {
      for (let k = 0; k < p[i].length; k++) {
        let gk = g[i][k] * scale;
        if (o.kind !== 'adamw') gk += (o.wd ?? 0) * p[i][k];
        switch (o.kind) {
          case 'sgd': p[i][k] -= lr * gk; break;
          case 'momentum': {
            const mu = o.momentum ?? 0.9;
            m[i][k] = mu * m[i][k] + gk;
            p[i][k] -= lr * (o.nesterov ? gk + mu * m[i][k] : m[i][k]);
            break;
          }
          case 'adam': case 'adamw': {
            const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.epsilon ?? 1e-8;
            if (o.kind === 'adamw') p[i][k] -= lr * (o.wd ?? 0.01) * p[i][k];
            m[i][k] = b1 * m[i][k] + (1 - b1) * gk;
            v[i][k] = b2 * v[i][k] + (1 - b2) * gk * gk;
            const mHat = m[i][k] / (1 - b1 ** (t + 1)), vHat = v[i][k] / (1 - b2 ** (t + 1));
            p[i][k] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
            break;
          }
          case 'rmsprop': {
            const rho = o.rho ?? 0.9, mu = o.momentum ?? 0, eps = o.epsilon ?? 1e-8;
            v[i][k] = rho * v[i][k] + (1 - rho) * gk * gk;
            m[i][k] = mu * m[i][k] + (lr * gk) / Math.sqrt(v[i][k] + eps);
            p[i][k] -= m[i][k];
            break;
          }
        }
      }
    }
    params.push(p.map((a) => [...a]));
    losses.push(loss);
  }
  return { params, losses };
}

/** Worst error seen per comparison, printed at the end (the tolerances actually reached). */
const worst = new Map<string, { error: number; where: string }>();
const note = (what: string, error: number, where: string) => {
  if (error >= (worst.get(what)?.error ?? -1)) worst.set(what, { error, where });
};
afterAll(() => {
  console.log(['optimizers.test: worst errors', ...[...worst].map(([k, v]) => `  ${k.padEnd(44)} ${v.error.toExponential(2)}  (${v.where})`)].join('\n'));
});

// ---- gradc ----
const modules = new Map<string, GeneratedModule>();
beforeAll(() => {
  for (const lowering of ['unrolled', 'loops'] as const) modules.set(lowering, compile(def, { lowering } as never));
});
const start = (mod: GeneratedModule) => {
  const p = mod.initParams();
  NAMES.forEach((n, i) => (p[n] as Float64Array).set(INIT[i]));
  return p;
};
const rows = () => ({ X: X.slice(), Y: Y.slice() });

function gradcTrajectory(mod: GeneratedModule, options: OptimizerOptions, batch: number): { params: Arrays[]; losses: number[]; state: OptimizerState } {
  const p = start(mod);
  const state = mod.initOptimizer(p, options);
  const { X: x, Y: y } = rows();
  const params: Arrays[] = [], losses: number[] = [];
  for (let t = 0; t < STEPS; t++) {
    const first = (t * batch) % ROWS;
    // batch 1 also goes through `step` (one sample as objects) on odd steps.
    losses.push(batch === 1 && t % 2 ? mod.step(p, { x: x.subarray(2 * first, 2 * first + 2) }, { y: [y[first]] }, state) : mod.stepBatch(p, x, y, batch, state, first));
    params.push(NAMES.map((n) => [...(p[n] as Float64Array)]));
  }
  return { params, losses, state };
}

/** The largest |a - b| / max(1, |b|) over all steps and values. */
function maxError(a: Arrays[], b: Arrays[]): number {
  let e = 0;
  a.forEach((s, t) => s.forEach((arr, i) => arr.forEach((x, k) => { e = Math.max(e, Math.abs(x - b[t][i][k]) / Math.max(1, Math.abs(b[t][i][k]))); })));
  return e;
}

const CASES: { name: string; options: OptimizerOptions; ref: RefOptions; tfjs?: () => tf.Optimizer }[] = [
  { name: 'sgd', options: { kind: 'sgd', learningRate: 0.1 }, ref: { kind: 'sgd', lr: 0.1 }, tfjs: () => tf.train.sgd(0.1) },
  { name: 'momentum', options: { kind: 'momentum', learningRate: 0.05, momentum: 0.9 }, ref: { kind: 'momentum', lr: 0.05, momentum: 0.9 }, tfjs: () => tf.train.momentum(0.05, 0.9) },
  { name: 'momentum, nesterov', options: { kind: 'momentum', learningRate: 0.05, momentum: 0.8, nesterov: true }, ref: { kind: 'momentum', lr: 0.05, momentum: 0.8, nesterov: true }, tfjs: () => tf.train.momentum(0.05, 0.8, true) },
  { name: 'adam', options: { kind: 'adam', learningRate: 0.02, beta1: 0.9, beta2: 0.99, epsilon: 1e-7 }, ref: { kind: 'adam', lr: 0.02, beta1: 0.9, beta2: 0.99, epsilon: 1e-7 }, tfjs: () => tf.train.adam(0.02, 0.9, 0.99, 1e-7) },
  { name: 'adamw', options: { kind: 'adamw', learningRate: 0.02, weightDecay: 0.1 }, ref: { kind: 'adamw', lr: 0.02, wd: 0.1 } },
  { name: 'rmsprop', options: { kind: 'rmsprop', learningRate: 0.01, rho: 0.9, epsilon: 1e-7 }, ref: { kind: 'rmsprop', lr: 0.01, rho: 0.9, epsilon: 1e-7 }, tfjs: () => tf.train.rmsprop(0.01, 0.9, 0, 1e-7) },
  { name: 'rmsprop with momentum', options: { kind: 'rmsprop', learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-6 }, ref: { kind: 'rmsprop', lr: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-6 }, tfjs: () => tf.train.rmsprop(0.01, 0.8, 0.5, 1e-6) },
  // Weight decay, clipping and schedules (against the reference).
  { name: 'sgd with L2 weight decay', options: { kind: 'sgd', learningRate: 0.1, weightDecay: 0.05 }, ref: { kind: 'sgd', lr: 0.1, wd: 0.05 } },
  { name: 'adam with L2 weight decay and clipping', options: { kind: 'adam', learningRate: 0.02, weightDecay: 0.01, clipNorm: 0.3 }, ref: { kind: 'adam', lr: 0.02, wd: 0.01, clip: 0.3 } },
  { name: 'sgd clipped by global norm', options: { kind: 'sgd', learningRate: 0.1, clipNorm: 0.2 }, ref: { kind: 'sgd', lr: 0.1, clip: 0.2 } },
  { name: 'momentum, step schedule', options: { kind: 'momentum', learningRate: 0.05, schedule: { kind: 'step', stepSize: 30, gamma: 0.5 } }, ref: { kind: 'momentum', lr: 0.05, rate: (t) => 0.05 * 0.5 ** Math.floor(t / 30) } },
  { name: 'sgd, exponential schedule', options: { kind: 'sgd', learningRate: 0.2, schedule: { kind: 'exponential', gamma: 0.98 } }, ref: { kind: 'sgd', lr: 0.2, rate: (t) => 0.2 * 0.98 ** t } },
  {
    name: 'adam, cosine schedule with warm-up',
    options: { kind: 'adam', learningRate: 0.03, schedule: { kind: 'cosine', warmupSteps: 10, totalSteps: 80, minLearningRate: 0.001 } },
    ref: { kind: 'adam', lr: 0.03, rate: (t) => (t < 10 ? (0.03 * (t + 1)) / 10 : 0.001 + ((0.03 - 0.001) * (1 + Math.cos((Math.PI * Math.min(1, (t - 10) / 70))))) / 2) },
  },
];

describe('each optimizer follows the float64 reference to 1e-12 over 100 steps', () => {
  for (const lowering of ['unrolled', 'loops'] as const) {
    for (const batch of [1, 4]) {
      for (const c of CASES) {
        it(`${c.name}, ${lowering}, batch ${batch}`, () => {
          const mod = modules.get(lowering)!;
          const got = gradcTrajectory(mod, c.options, batch);
          const want = refTrajectory(c.ref, batch);
          const error = maxError(got.params, want.params);
          note('params vs float64 reference (abs, floor 1)', error, `${c.name}, ${lowering}, batch ${batch}`);
          expect(error).toBeLessThan(1e-12);
          got.losses.forEach((l, t) => expect(Math.abs(l - want.losses[t])).toBeLessThan(1e-12 * Math.max(1, want.losses[t])));
          expect(got.state.step).toBe(STEPS);
          // The trajectory really moves (a test that cannot fail by standing still).
          expect(maxError([got.params[STEPS - 1]], [INIT])).toBeGreaterThan(1e-3);
        });
      }
    }
  }
});

// ---- TF.js, float32 ----
function tfTrajectory(make: () => tf.Optimizer, batch: number): Arrays {
  const shapes = [[3, 2], [3], [1, 3], [1]];
  const vars = INIT.map((a, i) => tf.variable(tf.tensor(a, shapes[i])));
  const [W1, b1, W2, b2] = vars;
  const opt = make();
  for (let t = 0; t < STEPS; t++) {
    const first = (t * batch) % ROWS;
    const x = tf.tensor2d(Array.from(X.subarray(2 * first, 2 * (first + batch))), [batch, 2]);
    const y = tf.tensor2d(Array.from(Y.subarray(first, first + batch)), [batch, 1]);
    opt.minimize(() => {
      const h = tf.tanh(tf.add(tf.matMul(x, W1, false, true), b1));
      const out = tf.add(tf.matMul(h, W2, false, true), b2);
      return tf.mean(tf.square(tf.sub(out, y))) as tf.Scalar;
    }, false, vars);
    x.dispose(); y.dispose();
  }
  const out = vars.map((v) => [...(v.dataSync() as Float32Array)]);
  vars.forEach((v) => v.dispose());
  opt.dispose();
  return out;
}

describe("each optimizer matches TF.js's (float32) to 1e-5 relative after 100 steps", () => {
  beforeAll(async () => { await tf.setBackend('cpu'); });
  for (const lowering of ['unrolled', 'loops'] as const) {
    for (const batch of [1, 4]) {
      for (const c of CASES.filter((k) => k.tfjs)) {
        it(`${c.name}, ${lowering}, batch ${batch}`, () => {
          const got = gradcTrajectory(modules.get(lowering)!, c.options, batch).params[STEPS - 1];
          const want = tfTrajectory(c.tfjs!, batch);
          const scale = Math.max(...want.flat().map(Math.abs));
          const err = Math.max(...got.flat().map((x, i) => Math.abs(x - want.flat()[i]) / scale));
          note('params vs TF.js float32 (relative to max |p|)', err, `${c.name}, ${lowering}, batch ${batch}`);
          expect(err).toBeLessThan(1e-5);
        });
      }
    }
  }
});

describe('a refused step changes nothing', () => {
  for (const lowering of ['unrolled', 'loops'] as const) {
    for (const kind of ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'] as const) {
      it(`${kind}, ${lowering}: a NaN gradient or an overflowing update leaves the parameters, the optimizer state and its step count as they were`, () => {
        const mod = modules.get(lowering)!;
        const p = start(mod);
        const state = mod.initOptimizer(p, { kind, weightDecay: kind === 'sgd' ? 0.01 : undefined, clipNorm: kind === 'momentum' ? 1 : undefined } as OptimizerOptions);
        const { X: x, Y: y } = rows();
        for (let t = 0; t < 5; t++) mod.stepBatch(p, x, y, 2, state, 2 * t % ROWS);
        const before = { p: mod.copyParams(p), m: state.m && mod.copyParams(state.m), v: state.v && mod.copyParams(state.v), step: state.step };
        // A NaN in the targets: finite inputs, so the loss and the gradient are NaN.
        const bad = y.slice();
        bad[3] = NaN;
        for (const [count, first] of [[1, 3], [4, 2]]) {
          expect(() => mod.stepBatch(p, x, bad, count, state, first)).toThrow(/step not taken, the parameters are unchanged: the loss of rows? 3|the loss of rows 2 to 5/);
        }
        expect(() => mod.step(p, { x: [1, 2] }, { y: [1e200] }, state)).toThrow(/step not taken/);
        expect(p).toEqual(before.p);
        expect(state.m).toEqual(before.m);
        expect(state.v).toEqual(before.v);
        expect(state.step).toBe(before.step);
        // Finite loss and gradient, but an update that overflows part way through the
        // parameters: the values already written are put back.
        const wild = mod.initOptimizer(p, { kind, learningRate: 10, weightDecay: 1e308 });
        for (const count of [1, 4]) {
          expect(() => mod.stepBatch(p, x, y, count, wild, 0)).toThrow(new RegExp(`step not taken, the parameters are unchanged: the ${kind} update overflows`));
        }
        expect(p).toEqual(before.p);
        expect(wild.step).toBe(0);
        expect(wild.m ? Object.values(wild.m).every((a) => (a as Float64Array).every((e) => e === 0)) : true).toBe(true);
        expect(wild.v ? Object.values(wild.v).every((a) => (a as Float64Array).every((e) => e === 0)) : true).toBe(true);
        // A NaN in the state is named and refused too.
        if (state.m) {
          (state.m.layer2_b as Float64Array)[0] = NaN;
          expect(() => mod.stepBatch(p, x, y, 2, state, 0)).toThrow(/optimizer\.m\.layer2_b\[0\] is NaN before the step/);
          expect(p).toEqual(before.p);
        }
      });
    }
  }
});

describe('options, checked', () => {
  it('bad optimizer options are SampleErrors naming the option; a number is still a learning rate', () => {
    const mod = modules.get('unrolled')!;
    const p = start(mod);
    expect(() => mod.initOptimizer(p, { kind: 'adagrad' } as never)).toThrow(/initOptimizer: options\.kind must be one of 'sgd', 'momentum', 'adam', 'adamw', 'rmsprop', got "adagrad"/);
    expect(() => mod.initOptimizer(p, { kind: 'adam', beta1: 1 })).toThrow(/initOptimizer: options\.beta1 must be a number in \[0, 1\), got 1/);
    expect(() => mod.initOptimizer(p, { kind: 'sgd', momentum: 0.9 } as never)).toThrow(/unknown option 'momentum'/);
    expect(() => mod.initOptimizer(p, { kind: 'sgd', schedule: { kind: 'cosine', totalSteps: 0 } })).toThrow(/options\.schedule\.totalSteps must be a positive integer, got 0/);
    expect(() => mod.stepBatch(p, X, Y, 2, { lr: 0.1 } as never)).toThrow(/stepBatch: optimizer must be a learning rate/);
    const before = mod.copyParams(p);
    expect(Number.isFinite(mod.stepBatch(p, X, Y, 2, 0.1))).toBe(true);
    expect(p).not.toEqual(before);
  });

  it('fit takes an optimizer, returns its state, and resumes from it', () => {
    const mod = modules.get('loops')!;
    const samples = Array.from({ length: ROWS }, (_, r) => ({ inputs: { x: [X[2 * r], X[2 * r + 1]] }, targets: { y: [Y[r]] } }));
    const a = mod.fit(samples, { params: start(mod), epochs: 10, batchSize: 4, optimizer: { kind: 'adam', learningRate: 0.02 } });
    expect(a.optimizer.step).toBe(20);
    expect(a.losses[9]).toBeLessThan(a.losses[0]);
    // 10 + 10 epochs resumed equals 20 epochs in one go.
    const b = mod.fit(samples, { params: a.params, epochs: 10, batchSize: 4, optimizer: a.optimizer });
    const c = mod.fit(samples, { params: start(mod), epochs: 20, batchSize: 4, optimizer: { kind: 'adam', learningRate: 0.02 } });
    expect(b.params).toEqual(c.params);
    expect(b.optimizer.step).toBe(40);
    // fit's learningRate fills in the optimizer's.
    const d = mod.fit(samples, { params: start(mod), epochs: 1, learningRate: 0.5, optimizer: { kind: 'momentum' } });
    expect(d.optimizer.options.learningRate).toBe(0.5);
    // Default: plain SGD as before.
    expect(mod.fit(samples, { params: start(mod), epochs: 1 }).optimizer.options).toEqual({ kind: 'sgd', learningRate: 0.01 });
    expect(() => mod.fit(samples, { optimizer: { kind: 'nadam' } as never })).toThrow(/fit: options\.optimizer\.kind must be one of/);
  });
});
