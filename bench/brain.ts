/**
 * brain.js 1.6.1 in the benchmark: `new NeuralNetwork({ hiddenLayers: [h], activation:
 * 'tanh' })` trained with its own `train` loop.
 *
 * What is timed: a call `net.train(data, { iterations: huge, errorThresh: 1e-12,
 * learningRate, timeout: window })` after a warm-up call, measured with
 * `performance.now()` around the call; samples = (epochs it reports) x rows; the best
 * of `timing.windows` such calls, as `measure` does for the others. That is
 * brain.js's whole training loop as a user runs it: per sample a forward pass, deltas,
 * and a weight update with momentum (its default 0.1; it rejects 0), plus its
 * per-epoch error bookkeeping (it computes the training error every epoch).
 *
 * Differences that cannot be configured away: brain.js trains one sample at a time
 * (no minibatch; it is reported under batch 1 only); with activation 'tanh' it applies
 * tanh to the output layer too; its loss is its own MSE (deltas from target - output).
 * Weights are brain.js's own random ones; rows are plain arrays (it requires them).
 */
import brain from 'brain.js';
import { LEARNING_RATE, TIMING, type Net, type Timing } from './setup.js';

/** Training samples per second of brain.js on the rows of X, Y. */
export function measureBrain(net: Net, X: Float64Array, Y: Float64Array, rows: number, timing: Timing = TIMING, extra: Readonly<Record<string, unknown>> = {}): number {
  const data = Array.from({ length: rows }, (_, i) => ({
    input: Array.from(X.subarray(i * net.inputs, (i + 1) * net.inputs)),
    output: Array.from(Y.subarray(i * net.outputs, (i + 1) * net.outputs)),
  }));
  const nn = new brain.NeuralNetwork({ hiddenLayers: [net.hidden], activation: 'tanh' });
  const options = (ms: number) => ({ iterations: 1e9, errorThresh: 1e-12, learningRate: LEARNING_RATE, timeout: ms, ...extra });
  nn.train(data, options(timing.warmupMs));
  let best = 0;
  for (let w = 0; w < timing.windows; w++) {
    const t0 = performance.now();
    const { iterations } = nn.train(data, options(timing.windowMs));
    best = Math.max(best, (iterations * rows) / ((performance.now() - t0) / 1000));
  }
  return best;
}
