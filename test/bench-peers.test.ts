/**
 * The benchmark's new peers compute the same thing as gradc: from the same weights on
 * the same rows, one training step of jax-js (bench/jax.ts, f32 and f64) and of
 * synaptic (bench/synaptic.ts) changes every weight and bias by what one gradc
 * `stepBatch` changes it by (tanh MLP, mean squared error, plain SGD).
 *
 * The update (after - before), not the weights, is compared, relative to the largest
 * update: the weights hardly move in one step, so comparing them would hide a wrong
 * update. The learning rate is large (0.5) so that the f32 update is not lost in the
 * rounding of the weights. jax-js f32 gets weights and data rounded to float32 on both
 * sides, and agrees to 1e-4 of the largest update; jax-js f64 to 1e-6 (its float64
 * tanh and exp are approximations, below); synaptic (float64) to 1e-9, with its one
 * difference of order (bench/synaptic.ts) written into the reference. Biases start
 * non-zero so that their updates are checked too.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../src/index.js';
import { gradcModel, gradcParams } from '../bench/gradc.js';
import { initJax, jaxTrainer, type JaxDtype } from '../bench/jax.js';
import { initWeights, makeData, rng, type Net, type Weights } from '../bench/setup.js';
import { synapticTrainer, synapticWeights } from '../bench/synaptic.js';

const NET: Net = { name: '3-5-2', inputs: 3, hidden: 5, outputs: 2 };
const LR = 0.5;
const KEYS = ['W1', 'b1', 'W2', 'b2'] as const;

function startWeights(f32: boolean): Weights {
  const w = initWeights(NET);
  const rand = rng(99);
  const round = (a: Float64Array) => (f32 ? Float64Array.from(Float32Array.from(a)) : a);
  return {
    W1: round(w.W1),
    b1: round(Float64Array.from(w.b1, () => rand() - 0.5)),
    W2: round(w.W2),
    b2: round(Float64Array.from(w.b2, () => rand() - 0.5)),
  };
}

function data(f32: boolean) {
  const { X, Y, rows } = makeData(NET);
  return f32 ? { X: Float64Array.from(Float32Array.from(X)), Y: Float64Array.from(Float32Array.from(Y)), rows } : { X, Y, rows };
}

/** gradc's (f64) loss and weights after one SGD step on rows 0 .. batch-1. */
let compiled: ReturnType<typeof compile> | undefined;
/** The 3-5-2 model, compiled once (f64, default options). */
const gradcModule = () => (compiled ??= compile(gradcModel(NET)));

function gradcStep(w: Weights, X: Float64Array, Y: Float64Array, batch: number): { loss: number; after: Weights } {
  const mod = gradcModule();
  const p = gradcParams(mod, w);
  const loss = mod.stepBatch(p, X, Y, batch, LR, 0);
  return { loss, after: { W1: p.layer1_W as Float64Array, b1: p.layer1_b as Float64Array, W2: p.layer2_W as Float64Array, b2: p.layer2_b as Float64Array } };
}

/** max |Δpeer - Δgradc| / max |Δgradc| over every weight and bias. */
function updateError(before: Weights, gradc: Weights, peer: Weights): number {
  let err = 0;
  let scale = 0;
  for (const k of KEYS) {
    for (let i = 0; i < before[k].length; i++) {
      const dg = gradc[k][i]! - before[k][i]!;
      const dp = peer[k][i]! - before[k][i]!;
      err = Math.max(err, Math.abs(dp - dg));
      scale = Math.max(scale, Math.abs(dg));
    }
  }
  expect(scale).toBeGreaterThan(1e-3);
  return err / scale;
}

describe('jax-js peer (bench/jax.ts)', () => {
  beforeAll(async () => { await initJax(); });

  // f64 is not 1e-9: jax-js 0.1.25's float64 tanh and exp are approximations (measured
  // against Math: tanh 3e-5 relative near 0, exp 3e-7), which moves the loss by 5e-9 and
  // the update by 4e-8 here; the matrix products and the update themselves are float64.
  const cases: readonly { dtype: JaxDtype; loss: number; tol: number }[] = [
    { dtype: 'f32', loss: 1e-6, tol: 1e-4 },
    { dtype: 'f64', loss: 1e-7, tol: 1e-6 },
  ];
  for (const { dtype, loss, tol } of cases) {
    it(`one ${dtype} step at batch 4 equals gradc's to ${tol} of the update`, () => {
      const f32 = dtype === 'f32';
      const w = startWeights(f32);
      const { X, Y, rows } = data(f32);
      const ref = gradcStep(w, X, Y, 4);
      const t = jaxTrainer(NET, w, X, Y, rows, 4, dtype, LR);
      try {
        expect(Math.abs(t.firstLoss - ref.loss) / ref.loss).toBeLessThan(loss);
        expect(updateError(w, ref.after, t.weights())).toBeLessThan(tol);
      } finally {
        t.dispose();
      }
    });
  }

  it('a wrong learning rate is caught (the comparison can fail)', () => {
    const w = startWeights(false);
    const { X, Y, rows } = data(false);
    const ref = gradcStep(w, X, Y, 4);
    const t = jaxTrainer(NET, w, X, Y, rows, 4, 'f64', LR * 1.001);
    try {
      expect(updateError(w, ref.after, t.weights())).toBeGreaterThan(1e-4);
    } finally {
      t.dispose();
    }
  });
});

/**
 * What one synaptic step on row `row` gives from `before`: the output layer as gradc's
 * batch-1 step; the hidden layer by the backpropagation rule with the output weights
 * after that step (synaptic's order, bench/synaptic.ts):
 *   Δb1_j = (1 - h_j²) Σ_k W2after[k, j] Δb2_k,  ΔW1[j, i] = Δb1_j x_i
 * (with W2 before the step, the same rule must give gradc's own hidden update: checked,
 * so the rule is the right one).
 */
function synapticReference(before: Weights, X: Float64Array, Y: Float64Array, row: number): Weights {
  const { inputs: I, hidden: H, outputs: O } = NET;
  const x = X.subarray(row * I, (row + 1) * I);
  const mod = gradcModule();
  const p = gradcParams(mod, before);
  mod.stepBatch(p, X, Y, 1, LR, row);
  const W2after = p.layer2_W as Float64Array;
  const db2 = Float64Array.from(p.layer2_b as Float64Array, (v, k) => v - before.b2[k]!);
  const hidden = (W2: Float64Array) => {
    const b1 = new Float64Array(H);
    const W1 = new Float64Array(H * I);
    for (let j = 0; j < H; j++) {
      let z = before.b1[j]!;
      for (let i = 0; i < I; i++) z += before.W1[j * I + i]! * x[i]!;
      const h = Math.tanh(z);
      let back = 0;
      for (let k = 0; k < O; k++) back += W2[k * H + j]! * db2[k]!;
      const d = (1 - h * h) * back;
      b1[j] = before.b1[j]! + d;
      for (let i = 0; i < I; i++) W1[j * I + i] = before.W1[j * I + i]! + d * x[i]!;
    }
    return { W1, b1 };
  };
  const sgd = hidden(before.W2);
  expect(updateError(before, { ...sgd, W2: W2after, b2: p.layer2_b as Float64Array }, { W1: p.layer1_W as Float64Array, b1: p.layer1_b as Float64Array, W2: W2after, b2: p.layer2_b as Float64Array })).toBeLessThan(1e-12);
  return { ...hidden(W2after), W2: W2after, b2: p.layer2_b as Float64Array };
}

describe('synaptic peer (bench/synaptic.ts)', () => {
  it("one per-sample step: the output layer equals gradc's batch-1 step, the hidden layer gradc's rule in synaptic's order, to 1e-9", () => {
    const w = startWeights(false);
    const { X, Y, rows } = data(false);
    const ref = gradcStep(w, X, Y, 1);
    const t = synapticTrainer(NET, w, X, Y, rows, LR);
    expect(Math.abs(t.firstLoss - ref.loss) / ref.loss).toBeLessThan(1e-12);
    const peer = synapticWeights(t.net, NET);
    expect(updateError(w, synapticReference(w, X, Y, 0), peer)).toBeLessThan(1e-9);
    // The order matters at this learning rate: against plain SGD the hidden update differs.
    expect(updateError(w, ref.after, peer)).toBeGreaterThan(1e-3);
  });

  it('the timed step (the compiled network) trains the next row the same way', () => {
    const w = startWeights(false);
    const { X, Y, rows } = data(false);
    const t = synapticTrainer(NET, w, X, Y, rows, LR);
    const afterFirst = synapticWeights(t.net, NET);
    t.step(0); // row 1
    expect(updateError(afterFirst, synapticReference(afterFirst, X, Y, 1), synapticWeights(t.net, NET))).toBeLessThan(1e-9);
  });
});
