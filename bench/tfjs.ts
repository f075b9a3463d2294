/**
 * TF.js in the benchmark: the same net on the `cpu` or `wasm` backend, written three
 * ways; each is measured and the fastest is reported:
 *   'ops'     raw ops, tanh(add(matMul(x, W), b)), trained with
 *             `tf.train.sgd(lr).minimize(loss)` inside `tf.tidy`
 *   'fused'   the same with `tf.fused.matMul({ a: x, b: W, bias: b })` (one kernel)
 *   'layers'  `tf.sequential` of two `tf.layers.dense`, `model.trainOnBatch` (async)
 * The batches are tensors made once before timing, so the timed loop is pure training:
 * forward, gradients and the SGD update. The loss is `meanSquaredError`, the mean over
 * every element: the mean over outputs, averaged over the batch, as for the others.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LEARNING_RATE, transposed, type Net, type Stepper, type Weights } from './setup.js';

export type Backend = 'cpu' | 'wasm';
export type Variant = 'ops' | 'fused' | 'layers';
export const VARIANTS: readonly Variant[] = ['ops', 'fused', 'layers'];

let wasmPathSet = false;

export async function useBackend(backend: Backend): Promise<void> {
  if (backend === 'wasm' && !wasmPathSet) {
    // In Node the .wasm binaries are read from the package's dist folder.
    const require = createRequire(import.meta.url);
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
    wasmPathSet = true;
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' is not available`);
  await tf.ready();
}

/** Build-time facts worth printing next to the numbers. */
export function backendInfo(): string {
  return `tfjs ${tf.version.tfjs}, wasm SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, wasm threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`;
}

export interface TfTrainer {
  readonly step: Stepper;
  /** Mean loss of one step from the initial weights on the first batch (before that step's update). */
  readonly firstLoss: number;
  readonly dispose: () => void;
}

/** A trainer on the current backend; `X`, `Y` are `rows` rows, cut into tensors of `batch` rows. */
export function tfTrainer(net: Net, w: Weights, X: Float64Array, Y: Float64Array, rows: number, batch: number, variant: Variant, makeOptimizer: () => tf.Optimizer = () => tf.train.sgd(LEARNING_RATE)): TfTrainer {
  // TF.js takes Float32Array (float32 is its only float type), not Float64Array; it
  // multiplies x [batch x in] by W [in x out], so the shared [out x in] weights are transposed.
  const f32 = (a: Float64Array) => Float32Array.from(a);
  const W1 = f32(transposed(w.W1, net.hidden, net.inputs));
  const W2 = f32(transposed(w.W2, net.outputs, net.hidden));
  const xs: tf.Tensor2D[] = [];
  const ys: tf.Tensor2D[] = [];
  for (let first = 0; first < rows; first += batch) {
    xs.push(tf.tensor2d(f32(X.subarray(first * net.inputs, (first + batch) * net.inputs)), [batch, net.inputs]));
    ys.push(tf.tensor2d(f32(Y.subarray(first * net.outputs, (first + batch) * net.outputs)), [batch, net.outputs]));
  }
  const batches = xs.length;

  if (variant === 'layers') {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [net.inputs], units: net.hidden, activation: 'tanh', weights: [tf.tensor2d(W1, [net.inputs, net.hidden]), tf.tensor1d(f32(w.b1))] }),
        tf.layers.dense({ units: net.outputs, weights: [tf.tensor2d(W2, [net.hidden, net.outputs]), tf.tensor1d(f32(w.b2))] }),
      ],
    });
    model.compile({ optimizer: makeOptimizer(), loss: 'meanSquaredError' });
    const firstLoss = tf.tidy(() => (model.evaluate(xs[0], ys[0], { batchSize: batch }) as tf.Scalar).dataSync()[0]);
    return {
      step: (i) => model.trainOnBatch(xs[i % batches], ys[i % batches]),
      firstLoss,
      dispose: () => {
        model.dispose();
        tf.dispose([...xs, ...ys]);
      },
    };
  }

  const vars = [
    tf.variable(tf.tensor2d(W1, [net.inputs, net.hidden])),
    tf.variable(tf.tensor1d(f32(w.b1))),
    tf.variable(tf.tensor2d(W2, [net.hidden, net.outputs])),
    tf.variable(tf.tensor1d(f32(w.b2))),
  ];
  const [vW1, vb1, vW2, vb2] = vars;
  const dense = variant === 'fused'
    ? (x: tf.Tensor2D, W: tf.Variable, b: tf.Variable): tf.Tensor2D => tf.fused.matMul({ a: x, b: W as tf.Tensor2D, bias: b }) as tf.Tensor2D
    : (x: tf.Tensor2D, W: tf.Variable, b: tf.Variable): tf.Tensor2D => tf.add(tf.matMul(x, W as tf.Tensor2D), b);
  const losses = xs.map((x, k) => () => tf.losses.meanSquaredError(ys[k], dense(tf.tanh(dense(x, vW1, vb1)), vW2, vb2)) as tf.Scalar);
  const optimizer = makeOptimizer();
  const firstLoss = tf.tidy(() => optimizer.minimize(losses[0], true, vars)!.dataSync()[0]);
  return {
    step: (i) => { tf.tidy(() => { optimizer.minimize(losses[i % batches], false, vars); }); },
    firstLoss,
    dispose: () => {
      tf.dispose([...vars, ...xs, ...ys]);
      optimizer.dispose();
    },
  };
}
