/**
 * jax-js (`@jax-js/jax` 0.1.25) in the benchmark: the same net written as JAX is
 * written, one training step = `jit` of (`valueAndGrad` of the loss, then the SGD
 * update), on the `wasm` device (its kernels are WebAssembly with SIMD; one thread, as
 * Node 20 has no `Worker` global), in float32 or float64.
 *
 *   loss(p, x, y) = mean(square(tanh(x @ W1 + b1) @ W2 + b2 - y))
 *   step(p, x, y) = [p - lr * grad loss(p, x, y), loss(p, x, y)]      (one jitted function)
 *
 * The mean is over every element of the [batch x outputs] error, so it is the mean
 * over outputs averaged over the batch, as for the others. Weights are stored
 * [in x out] (x @ W), so the shared [out x in] weights are transposed, as for TF.js.
 * The batches are device arrays made once before timing.
 *
 * What one timed step includes: the jitted call and reading its loss back (`dataSync`,
 * as gradc's `stepBatch` returns the loss). jax-js dispatches lazily: without reading
 * something per step, the steps queue up unexecuted and the clock measures dispatch
 * only (and the queue made it 2-5x slower overall when it was flushed, measured).
 *
 * Float64 on Node 20: jax-js's array constructor tests `data instanceof Float16Array`
 * before `Float64Array`, and Node 20 has no `Float16Array` global, so a Float64Array
 * cannot be turned into a device array there. `withFloat16Name` defines an empty class
 * of that name (no value is an instance of it, as no Float64Array is a Float16Array
 * where the class exists) for the duration of those constructor calls only, and
 * removes it afterwards. Nothing else in jax-js's float64 path needs it.
 */
import { defaultDevice, init, jit, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { LEARNING_RATE, transposed, type Net, type Stepper, type Weights } from './setup.js';

export type JaxDtype = 'f32' | 'f64';
export const JAX_DTYPES: readonly JaxDtype[] = ['f32', 'f64'];

let ready: Promise<void> | undefined;

/** Starts jax-js's wasm device once and makes it the default. */
export function initJax(): Promise<void> {
  ready ??= init('wasm').then((devices) => {
    if (!devices.includes('wasm')) throw new Error(`jax-js: no wasm device (got ${devices.join(', ')})`);
    defaultDevice('wasm');
  });
  return ready;
}

function withFloat16Name<T>(make: () => T): T {
  const g = globalThis as { Float16Array?: unknown };
  if (g.Float16Array !== undefined) return make();
  g.Float16Array = class Float16Array {};
  try {
    return make();
  } finally {
    delete g.Float16Array;
  }
}

/** Parameters as jax-js arrays, stored [in x out]. */
type JaxParams = { W1: np.Array; b1: np.Array; W2: np.Array; b2: np.Array };

export interface JaxTrainer {
  readonly step: Stepper;
  /** Mean loss of the first step (on the first batch, from the initial weights, before its update). */
  readonly firstLoss: number;
  /** The current parameters in the shared layout ([out x in], float64 copies); for the tests. */
  readonly weights: () => Weights;
  readonly dispose: () => void;
}

/**
 * A jax-js trainer for `net` from the shared weights, on `rows` rows of X, Y cut into
 * batches of `batch`. `initJax()` must have resolved. The first step is taken here
 * (it also traces and compiles the jitted step); `firstLoss` is its loss.
 */
export function jaxTrainer(net: Net, w: Weights, X: Float64Array, Y: Float64Array, rows: number, batch: number, dtype: JaxDtype, lr = LEARNING_RATE): JaxTrainer {
  const jdt = dtype === 'f32' ? np.float32 : np.float64;
  const arr = (a: Float64Array, shape: number[]) => withFloat16Name(() => np.array(dtype === 'f32' ? Float32Array.from(a) : a.slice(), { shape, dtype: jdt }));

  const loss = (p: JaxParams, x: np.Array, y: np.Array): np.Array => {
    const h = np.tanh(np.matmul(x, p.W1).add(p.b1));
    const out = np.matmul(h, p.W2).add(p.b2);
    return np.mean(np.square(out.sub(y)));
  };
  const step = jit((p: JaxParams, x: np.Array, y: np.Array): [JaxParams, np.Array] => {
    const [value, g] = valueAndGrad(loss)(tree.ref(p), x, y);
    const next = tree.map((v: np.Array, gv: np.Array) => v.sub(gv.mul(lr)), p, g) as JaxParams;
    return [next, value];
  });

  const xs: np.Array[] = [];
  const ys: np.Array[] = [];
  for (let first = 0; first < rows; first += batch) {
    xs.push(arr(X.subarray(first * net.inputs, (first + batch) * net.inputs), [batch, net.inputs]));
    ys.push(arr(Y.subarray(first * net.outputs, (first + batch) * net.outputs), [batch, net.outputs]));
  }
  const batches = xs.length;
  let p: JaxParams = {
    W1: arr(transposed(w.W1, net.hidden, net.inputs), [net.inputs, net.hidden]),
    b1: arr(w.b1, [net.hidden]),
    W2: arr(transposed(w.W2, net.outputs, net.hidden), [net.hidden, net.outputs]),
    b2: arr(w.b2, [net.outputs]),
  };
  const run = (i: number): number => {
    const k = i % batches;
    const [next, value] = step(p, xs[k]!.ref, ys[k]!.ref);
    p = next;
    return value.dataSync()[0]!;
  };
  const firstLoss = run(0);
  const read = (a: np.Array) => Float64Array.from(a.ref.dataSync());
  return {
    step: (i) => { run(i + 1); },
    firstLoss,
    weights: () => ({
      W1: transposed(read(p.W1), net.inputs, net.hidden),
      b1: read(p.b1),
      W2: transposed(read(p.W2), net.hidden, net.outputs),
      b2: read(p.b2),
    }),
    dispose: () => {
      tree.dispose(p);
      tree.dispose([...xs, ...ys]);
      step.dispose();
    },
  };
}
