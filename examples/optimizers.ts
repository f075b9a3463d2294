/**
 * The examples trained with the emitted optimizers (issue 9), for `npm run demo` and
 * test/training-examples.test.ts; nothing here prints.
 *
 *   xorMomentum   XOR, 2-2-1 sigmoid: momentum against plain SGD at the same step size
 *   irisAdam      Iris, 4-8-3 softmax: Adam with minibatches, held-out accuracy
 *   mnistAdam     MNIST, 784-32-10 softmax: gradc's Adam and TF.js's tf.train.adam side by
 *                 side, on the same split, from the same initial weights, with the same
 *                 minibatches in the same order (the same run in float64 and float32)
 *
 * Guarantees: every run is a function of its seeds (no Math.random); held-out rows are never
 * trained on; gradc and TF.js get the same hyperparameters (learning rate, beta1, beta2,
 * epsilon = TF.js's default 1e-7), batch size and epochs, and each epoch's order of rows
 * comes from one seeded permutation given to both.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { compile, type OptimizerState, type Params } from '../src/index.js';
import { XOR } from './data.js';
import { accuracy, irisSplit, mnistSplit, permutation, type Rows } from './datasets.js';
import iris from './iris.model.js';
import { mnistModel } from './mnist.model.js';
import xor from './xor.model.js';

// ---------------------------------------------------------------------------------
// XOR with momentum

export interface XorRun {
  /** Epochs until the mean loss fell below `target` (undefined: not within the epochs). */
  readonly epochs: number | undefined;
  readonly loss: number;
  /** The four outputs, in the order of XOR (00, 01, 10, 11). */
  readonly outputs: number[];
}

/**
 * XOR trained sample by sample with momentum (tf.train.momentum's rule, mu 0.9) and, for
 * comparison, with plain SGD at the same learning rate, each until its mean loss is below
 * `target` or the epochs run out.
 */
export function xorMomentum(options: { learningRate?: number; momentum?: number; epochs?: number; target?: number } = {}): { momentum: XorRun; sgd: XorRun } {
  const lr = options.learningRate ?? 0.1, epochs = options.epochs ?? 5000, target = options.target ?? 0.05;
  const m = compile(xor);
  const run = (optimizer: { kind: 'sgd' } | { kind: 'momentum'; momentum: number }): XorRun => {
    let reached: number | undefined;
    const r = m.fit(XOR, {
      epochs,
      optimizer: { ...optimizer, learningRate: lr },
      onEpoch: (epoch, loss) => {
        if (loss < target) { reached = epoch + 1; return false; }
        return true;
      },
    });
    return { epochs: reached, loss: r.losses.at(-1)!, outputs: m.predict(r.params, XOR.map((s) => s.inputs)).map((o) => o.yhat as number) };
  };
  return { momentum: run({ kind: 'momentum', momentum: options.momentum ?? 0.9 }), sgd: run({ kind: 'sgd' }) };
}

// ---------------------------------------------------------------------------------
// Iris with Adam

export interface IrisAdamResult {
  readonly accuracy: number;
  readonly trainAccuracy: number;
  readonly epochs: number;
  readonly ms: number;
  readonly testCount: number;
}

/** The 4-8-3 iris classifier trained with Adam (batch 10) on the training two thirds; accuracy on the held-out third. */
export function irisAdam(options: { seed?: number; epochs?: number; learningRate?: number; batchSize?: number } = {}): IrisAdamResult {
  const { train, test } = irisSplit(options.seed ?? 1);
  const m = compile(iris);
  const t0 = performance.now();
  const r = m.fitRows(train.X, train.Y, train.count, {
    epochs: options.epochs ?? 100,
    batchSize: options.batchSize ?? 10,
    shuffleSeed: 7,
    optimizer: { kind: 'adam', learningRate: options.learningRate ?? 0.01 },
  });
  const ms = performance.now() - t0;
  return { accuracy: accuracy(m, r.params, test), trainAccuracy: accuracy(m, r.params, train), epochs: r.epochs, ms, testCount: test.count };
}

// ---------------------------------------------------------------------------------
// MNIST with Adam: gradc and TF.js side by side

export interface MnistAdamOptions {
  /** Training and held-out digits (default 8,000 and 2,000: the demo's split). */
  readonly train?: number;
  readonly test?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** Seed of the split and of each epoch's order of rows (default 1). */
  readonly seed?: number;
  /** TF.js backend (default 'wasm', the faster of the two in Node; 'cpu' works too). */
  readonly backend?: 'cpu' | 'wasm';
}

export interface AdamRun {
  readonly accuracy: number;
  /** Mean training loss of each epoch. */
  readonly losses: number[];
  /** Training time (the steps only), milliseconds. */
  readonly ms: number;
}

export interface MnistAdamResult {
  readonly gradc: AdamRun;
  readonly tfjs: AdamRun & { readonly backend: string };
  readonly trainCount: number;
  readonly testCount: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
}

const BETA1 = 0.9, BETA2 = 0.999, EPSILON = 1e-7; // tf.train.adam's defaults, given to both

/** Rows [0, count) of `rows` in the order `order` (one epoch's shuffle). */
function reordered(rows: Rows, order: Int32Array, width: number, targetWidth: number): { X: Float64Array; Y: Float64Array } {
  const X = new Float64Array(order.length * width), Y = new Float64Array(order.length * targetWidth);
  order.forEach((i, r) => {
    X.set(rows.X.subarray(i * width, (i + 1) * width), r * width);
    Y.set(rows.Y.subarray(i * targetWidth, (i + 1) * targetWidth), r * targetWidth);
  });
  return { X, Y };
}

/** Each epoch's order of the training rows: one seeded permutation per epoch, shared by gradc and TF.js. */
const epochOrder = (count: number, seed: number, epoch: number): Int32Array => permutation(count, seed * 1000 + epoch);

/**
 * MNIST 784-32-10 (tanh, softmax cross-entropy) trained with Adam by gradc (float64) and
 * by TF.js (`tf.train.adam`, float32) from gradc's initial weights, on the same batches in
 * the same order; both accuracies on the same held-out digits.
 */
export async function mnistAdam(options: MnistAdamOptions = {}): Promise<MnistAdamResult> {
  const seed = options.seed ?? 1, epochs = options.epochs ?? 3, batchSize = options.batchSize ?? 32, lr = options.learningRate ?? 0.003;
  const { train, test } = mnistSplit({ train: options.train ?? 8000, test: options.test ?? 2000, seed });
  const m = compile(mnistModel(32));
  const initial = m.initParams();

  // gradc: stepBatch over the epoch's rows, one Adam state throughout.
  const params = m.copyParams(initial);
  const state: OptimizerState = m.initOptimizer(params, { kind: 'adam', learningRate: lr, beta1: BETA1, beta2: BETA2, epsilon: EPSILON });
  const gradcLosses: number[] = [];
  let gradcMs = 0;
  for (let e = 0; e < epochs; e++) {
    const { X, Y } = reordered(train, epochOrder(train.count, seed, e), 784, 10);
    const t0 = performance.now();
    let total = 0;
    for (let first = 0; first < train.count; first += batchSize) {
      const n = Math.min(batchSize, train.count - first);
      total += n * m.stepBatch(params, X, Y, n, state, first);
    }
    gradcMs += performance.now() - t0;
    gradcLosses.push(total / train.count);
  }
  const gradc: AdamRun = { accuracy: accuracy(m, params, test), losses: gradcLosses, ms: gradcMs };
  const tfjs = await tfjsMnistAdam(initial, train, test, { seed, epochs, batchSize, lr, backend: options.backend ?? 'wasm' });
  return { gradc, tfjs, trainCount: train.count, testCount: test.count, epochs, batchSize, learningRate: lr };
}

async function useBackend(backend: 'cpu' | 'wasm'): Promise<void> {
  if (backend === 'wasm') {
    // In Node the .wasm binaries are read from the package's dist folder.
    const require = createRequire(import.meta.url);
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' is not available`);
  await tf.ready();
}

/** [rows x cols] row-major -> [cols x rows] row-major, as float32. */
function transposed32(w: Float64Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

/** The same run in TF.js: x W1 + b1 -> tanh -> W2 + b2, softmax cross-entropy averaged over the batch. */
async function tfjsMnistAdam(initial: Params, train: Rows, test: Rows, o: { seed: number; epochs: number; batchSize: number; lr: number; backend: 'cpu' | 'wasm' }): Promise<AdamRun & { backend: string }> {
  await useBackend(o.backend);
  const p = (name: string) => initial[name] as Float64Array;
  // gradc stores W as [out x in]; TF.js multiplies x [batch x in] by W [in x out].
  const W1 = tf.variable(tf.tensor2d(transposed32(p('layer1_W'), 32, 784), [784, 32]));
  const b1 = tf.variable(tf.tensor1d(Float32Array.from(p('layer1_b'))));
  const W2 = tf.variable(tf.tensor2d(transposed32(p('layer2_W'), 10, 32), [32, 10]));
  const b2 = tf.variable(tf.tensor1d(Float32Array.from(p('layer2_b'))));
  const vars = [W1, b1, W2, b2];
  const logits = (x: tf.Tensor2D): tf.Tensor2D => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, W1), b1)), W2), b2);
  const optimizer = tf.train.adam(o.lr, BETA1, BETA2, EPSILON);
  const losses: number[] = [];
  let ms = 0;
  for (let e = 0; e < o.epochs; e++) {
    const { X, Y } = reordered(train, epochOrder(train.count, o.seed, e), 784, 10);
    const X32 = Float32Array.from(X), Y32 = Float32Array.from(Y);
    const t0 = performance.now();
    let total = tf.scalar(0);
    for (let first = 0; first < train.count; first += o.batchSize) {
      const n = Math.min(o.batchSize, train.count - first);
      const next = tf.tidy(() => {
        const x = tf.tensor2d(X32.subarray(first * 784, (first + n) * 784), [n, 784]);
        const y = tf.tensor2d(Y32.subarray(first * 10, (first + n) * 10), [n, 10]);
        const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, logits(x)) as tf.Scalar, true, vars)!;
        return tf.add(total, tf.mul(loss, n));
      });
      total.dispose();
      total = next as tf.Scalar;
    }
    losses.push((await total.data())[0] / train.count);
    total.dispose();
    ms += performance.now() - t0;
  }
  const predicted = tf.tidy(() => tf.argMax(logits(tf.tensor2d(Float32Array.from(test.X), [test.count, 784])), 1).dataSync());
  let right = 0;
  for (let i = 0; i < test.count; i++) if (predicted[i] === test.labels![i]) right++;
  tf.dispose([...vars]);
  optimizer.dispose();
  return { accuracy: right / test.count, losses, ms, backend: tf.getBackend() };
}
