/**
 * The optimizer examples (examples/optimizers.ts, shown by `npm run demo`):
 * - XOR with momentum (0.9, step 0.1) gets below a mean loss of 0.05 and classifies all
 *   four cases, in several times fewer epochs than plain SGD at the same step;
 * - Iris with Adam reaches 95% on the held-out third;
 * - MNIST with Adam: gradc reaches at least TF.js's held-out accuracy with the same net,
 *   the same initial weights, tf.train.adam's hyperparameters, the same batches in the
 *   same order. It is the same computation in float64 (gradc) and float32 (TF.js), so the
 *   two runs agree epoch by epoch (mean losses to 1e-4 relative); the tolerance on the
 *   accuracy is one held-out digit (0.1% of 1,000): float32 rounding can flip a digit that
 *   sits on a decision boundary, in either direction. (On the demo's 8,000 + 2,000 split
 *   both reach 92.35%.) A smaller split here keeps the test short.
 */
import { describe, expect, it } from 'vitest';
import { irisAdam, mnistAdam, xorMomentum } from '../examples/optimizers.js';

describe('training examples with the emitted optimizers', () => {
  it('XOR with momentum: solved, in several times fewer epochs than plain SGD', () => {
    const { momentum, sgd } = xorMomentum({ learningRate: 0.1, momentum: 0.9, target: 0.05 });
    expect(momentum.epochs).toBeDefined();
    expect(momentum.loss).toBeLessThan(0.05);
    expect(momentum.outputs.map((o) => (o > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
    expect(sgd.epochs === undefined || sgd.epochs > 3 * momentum.epochs!).toBe(true);
    console.log(`training-examples: XOR below 0.05 in ${momentum.epochs} epochs with momentum, ${sgd.epochs ?? '> 5000'} with SGD`);
  });

  it('Iris with Adam: 95% or more on the held-out third', () => {
    const r = irisAdam();
    expect(r.testCount).toBe(50);
    expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it('MNIST with Adam: gradc reaches TF.js\'s held-out accuracy (same net, weights, optimizer, batches)', async () => {
    const r = await mnistAdam({ train: 3000, test: 1000, epochs: 2 });
    console.log(`training-examples: MNIST Adam, 3,000 + 1,000 digits, 2 epochs: gradc ${(100 * r.gradc.accuracy).toFixed(1)}%, TF.js ${r.tfjs.backend} ${(100 * r.tfjs.accuracy).toFixed(1)}%`);
    expect(r.gradc.accuracy).toBeGreaterThanOrEqual(r.tfjs.accuracy - 1 / r.testCount);
    expect(r.gradc.accuracy).toBeGreaterThan(0.85);
    r.gradc.losses.forEach((loss, e) => expect(Math.abs(loss - r.tfjs.losses[e]!) / loss).toBeLessThan(1e-4));
  }, 120_000);
});
