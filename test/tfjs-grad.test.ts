/**
 * Whole-network gradients, checked against a second implementation (TF.js) and
 * against central finite differences.
 *
 * Random MLPs (each hidden activation: sigmoid, tanh, relu, softplus) with three
 * losses: mean squared error, softmax cross-entropy written `logsumexp(z) - dot(y, z)`
 * for one-hot y, and `-sum(y .* log_softmax(z))`. For each, gradc's `gradient` must
 * equal
 *   - TF.js `tf.grads` of the same network (cpu backend, float32, which is TF.js's only
 *     float type on cpu: parameters and inputs are rounded to float32 so that both sides
 *     see the same numbers; gradients agree to 1e-6 of the gradient's scale (the worst
 *     seen is about 7e-7: float32 accumulation in TF.js), losses to 1e-5; TF.js's loss is its own `tf.losses.softmaxCrossEntropy` /
 *     mean of squares, not a transcription of gradc's formula), and
 *   - central differences of gradc's own float64 `loss` at 1e-6 relative.
 * One case also checks `gradientBatch` (the mean over a batch) against TF.js on the batch.
 * The nets are small, so gradc unrolls them by default; a third of the cases, and the
 * batch case, are also compiled with the looped lowering forced.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, defineModel, type Activation, type GeneratedModule } from '../src/index.js';

type Hidden = Exclude<Activation, 'linear' | 'exp'>;
type Loss = 'mse' | 'logsumexp' | 'log_softmax';
type Params = Record<string, number | Float64Array>;

const ACTIVATIONS: readonly Hidden[] = ['sigmoid', 'tanh', 'relu', 'softplus'];
const LOSSES: readonly Loss[] = ['mse', 'logsumexp', 'log_softmax'];

/** mulberry32, rounded to float32 so that TF.js and gradc start from identical numbers. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const uniform = (rand: () => number, scale: number) => Math.fround((2 * rand() - 1) * scale);

/** Layer widths, input first: [3, 4, 2] is 3 inputs, 4 hidden units, 2 outputs. */
function mlpModel(sizes: readonly number[], activation: Hidden, loss: Loss) {
  return defineModel('mlp', (m) => {
    const x = m.input('x', sizes[0]);
    const y = m.target('y', sizes[sizes.length - 1]);
    const z = m.mlp(x, sizes.slice(1), activation, 'linear');
    if (loss === 'mse') m.loss(m.mean(m.call('square', m.sub(z, y))));
    else if (loss === 'logsumexp') m.loss(m.sub(m.call('logsumexp', z), m.dot(y, z)));
    else m.loss(m.neg(m.sum(m.mul(y, m.call('log_softmax', z)))));
  });
}

/** Random parameters in gradc's layout: layer<k>_W is [out x in] row-major, layer<k>_b is [out]. */
function randomParams(sizes: readonly number[], rand: () => number): Params {
  const p: Params = {};
  for (let k = 1; k < sizes.length; k++) {
    const scale = 1.5 / Math.sqrt(sizes[k - 1]);
    p[`layer${k}_W`] = Float64Array.from({ length: sizes[k] * sizes[k - 1] }, () => uniform(rand, scale));
    p[`layer${k}_b`] = Float64Array.from({ length: sizes[k] }, () => uniform(rand, 0.5));
  }
  return p;
}

function randomSample(sizes: readonly number[], loss: Loss, rand: () => number): { x: Float64Array; y: Float64Array } {
  const n = sizes[sizes.length - 1];
  const x = Float64Array.from({ length: sizes[0] }, () => uniform(rand, 1.5));
  const y = new Float64Array(n);
  if (loss === 'mse') for (let i = 0; i < n; i++) y[i] = uniform(rand, 1);
  else y[Math.floor(rand() * n)] = 1;
  return { x, y };
}

/** The same network and loss in TF.js; returns the mean loss over the rows and its gradient per parameter. */
function tfGradient(sizes: readonly number[], activation: Hidden, loss: Loss, params: Params, xs: readonly Float64Array[], ys: readonly Float64Array[]) {
  const act = { sigmoid: tf.sigmoid, tanh: tf.tanh, relu: tf.relu, softplus: tf.softplus }[activation];
  const names: string[] = [];
  const values: tf.Tensor[] = [];
  for (let k = 1; k < sizes.length; k++) {
    names.push(`layer${k}_W`, `layer${k}_b`);
    values.push(tf.tensor2d(Float32Array.from(params[`layer${k}_W`] as Float64Array), [sizes[k], sizes[k - 1]]));
    values.push(tf.tensor2d(Float32Array.from(params[`layer${k}_b`] as Float64Array), [sizes[k], 1]));
  }
  const n = xs.length;
  // Columns are samples: X is [inputs x n], Y is [outputs x n].
  const X = tf.tensor2d(xs.flatMap((x) => [...x]), [n, sizes[0]]).transpose();
  const Y = tf.tensor2d(ys.flatMap((y) => [...y]), [n, sizes[sizes.length - 1]]).transpose();
  const f = (...ps: tf.Tensor[]): tf.Scalar => {
    let h: tf.Tensor = X;
    for (let k = 0; k < ps.length; k += 2) {
      h = tf.add(tf.matMul(ps[k] as tf.Tensor2D, h as tf.Tensor2D), ps[k + 1]);
      if (k + 2 < ps.length) h = act(h);
    }
    if (loss === 'mse') return tf.mean(tf.mean(tf.square(tf.sub(h, Y)), 0)); // mean over outputs, then over samples
    return tf.losses.softmaxCrossEntropy(Y.transpose(), h.transpose()) as tf.Scalar; // mean over samples
  };
  const { value, grads } = tf.valueAndGrads(f)(values);
  const out = { loss: value.dataSync()[0], grad: Object.fromEntries(names.map((name, i) => [name, Float64Array.from(grads[i].dataSync())])) };
  tf.dispose([value, ...grads, ...values, X, Y]);
  return out;
}

/** Largest |a - b| over all entries, and the largest |b| (the gradient's scale). */
function compare(a: Params, b: Params): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (const name of Object.keys(b)) {
    const av = a[name] as Float64Array;
    const bv = b[name] as Float64Array;
    expect(av.length, name).toBe(bv.length);
    for (let i = 0; i < bv.length; i++) {
      diff = Math.max(diff, Math.abs(av[i] - bv[i]));
      scale = Math.max(scale, Math.abs(bv[i]));
    }
  }
  return { diff, scale };
}

/** Central differences of gradc's float64 loss, one parameter entry at a time. */
function finiteDifferences(mod: GeneratedModule, params: Params, x: Float64Array, y: Float64Array): Params {
  const out: Params = {};
  for (const name of Object.keys(params)) {
    const v = params[name] as Float64Array;
    const g = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const keep = v[i];
      const h = 1e-5 * Math.max(1, Math.abs(keep));
      v[i] = keep + h;
      const up = mod.loss(params, { x }, { y });
      v[i] = keep - h;
      const down = mod.loss(params, { x }, { y });
      v[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    out[name] = g;
  }
  return out;
}

const worst = { tf: 0, fd: 0 };

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('whole-network gradients equal TF.js and finite differences', () => {
  let seed = 100;
  ACTIVATIONS.forEach((activation, a) => {
    LOSSES.forEach((loss, l) => {
      const sizes = seed % 2 === 0 ? [3, 4, 2] : [5, 3, 3];
      const caseSeed = seed++;
      // Small nets: gradc's default lowering is 'unrolled'; one loss per activation (each
      // loss at least once) is also compiled with 'loops' forced.
      const lowerings = l === a % LOSSES.length ? (['unrolled', 'loops'] as const) : (['unrolled'] as const);
      it.each(lowerings)(`${sizes.join('-')} ${activation}, ${loss} (%s)`, (lowering) => {
        const rand = rng(caseSeed);
        const mod = compile(mlpModel(sizes, activation, loss), { lowering });
        for (let trial = 0; trial < 3; trial++) {
          const params = randomParams(sizes, rand);
          const { x, y } = randomSample(sizes, loss, rand);
          const mine = mod.gradient(params, { x }, { y });
          const theirs = tfGradient(sizes, activation, loss, params, [x], [y]);
          expect(Math.abs(mine.loss - theirs.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(theirs.loss)));
          const vsTf = compare(mine.grad, theirs.grad);
          worst.tf = Math.max(worst.tf, vsTf.diff / vsTf.scale);
          expect(vsTf.diff).toBeLessThan(1e-6 * vsTf.scale);
          const vsFd = compare(mine.grad, finiteDifferences(mod, params, x, y));
          worst.fd = Math.max(worst.fd, vsFd.diff / vsFd.scale);
          expect(vsFd.diff).toBeLessThan(1e-6 * vsFd.scale);
        }
      });
    });
  });

  it.each(['unrolled', 'loops'] as const)('two hidden layers (4-5-3-3 tanh, log_softmax) and the batch mean (gradientBatch), %s', (lowering) => {
    const sizes = [4, 5, 3, 3];
    const rand = rng(7);
    const mod = compile(mlpModel(sizes, 'tanh', 'log_softmax'), { lowering });
    const params = randomParams(sizes, rand);
    const samples = Array.from({ length: 6 }, () => randomSample(sizes, 'log_softmax', rand));
    const xs = samples.map((s) => s.x);
    const ys = samples.map((s) => s.y);
    const { X, Y, count } = mod.packSamples(samples.map((s) => ({ inputs: { x: s.x }, targets: { y: s.y } })));
    const mine = mod.gradientBatch(params, X, Y, count);
    const theirs = tfGradient(sizes, 'tanh', 'log_softmax', params, xs, ys);
    expect(Math.abs(mine.loss - theirs.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(theirs.loss)));
    const vsTf = compare(mine.grad, theirs.grad);
    expect(vsTf.diff).toBeLessThan(1e-6 * vsTf.scale);
    // One sample of the same net against finite differences.
    const one = mod.gradient(params, { x: xs[0] }, { y: ys[0] });
    const vsFd = compare(one.grad, finiteDifferences(mod, params, xs[0], ys[0]));
    expect(vsFd.diff).toBeLessThan(1e-6 * vsFd.scale);
  });

  it('reports the worst relative errors seen', () => {
    // Printed for the record: float32 TF.js vs gradc, and float64 central differences vs gradc.
    console.log(`worst |gradc - TF.js| / scale = ${worst.tf.toExponential(2)}; worst |gradc - central differences| / scale = ${worst.fd.toExponential(2)}`);
    expect(worst.tf).toBeLessThan(1e-6);
  });
});
