/**
 * What every implementation in the benchmark shares: the nets, the data, the initial
 * weights and the timing loop.
 *
 * Guarantees: `makeData` and `initWeights` are deterministic functions of their seed,
 * so every implementation trains on the same rows from the same starting point;
 * `measure` times one trainer the same way for all (warm-up, then fixed wall-time
 * windows, checking the clock only every few steps so that the check costs nothing).
 */

/** A net `inputs -> hidden (tanh) -> outputs (linear)`, loss = mean over outputs of (out - y)^2. */
export interface Net {
  readonly name: string;
  readonly inputs: number;
  readonly hidden: number;
  readonly outputs: number;
}

export const NETS: readonly Net[] = [
  [2, 2, 1],
  [4, 8, 3],
  [16, 32, 4],
  [64, 64, 10],
  [784, 32, 10],
].map(([inputs, hidden, outputs]) => ({ name: `${inputs}-${hidden}-${outputs}`, inputs, hidden, outputs }));

export const BATCHES = [1, 32, 256] as const;
/** Rows in the training set; every batch size divides it (batch 256 is the whole set). */
export const ROWS = 256;
export const LEARNING_RATE = 0.01;
export const DATA_SEED = 12345;
export const WEIGHT_SEED = 777;

/** mulberry32: a small seeded generator of uniform numbers in [0, 1) (the compiler's own, src/rng.ts). */
import { mulberry32 as rng } from '../src/rng.js';
export { rng };

/** `ROWS` samples: inputs and targets uniform in [-1, 1), as flat row-major rows. */
export function makeData(net: Net, seed = DATA_SEED): { X: Float64Array; Y: Float64Array; rows: number } {
  const rand = rng(seed);
  const X = new Float64Array(ROWS * net.inputs);
  const Y = new Float64Array(ROWS * net.outputs);
  for (let i = 0; i < X.length; i++) X[i] = 2 * rand() - 1;
  for (let i = 0; i < Y.length; i++) Y[i] = 2 * rand() - 1;
  return { X, Y, rows: ROWS };
}

/**
 * Glorot-uniform weights and zero biases. `W1` is [hidden x inputs] and `W2` is
 * [outputs x hidden], row-major (out x in, as gradc's `dense` stores them).
 */
export interface Weights {
  readonly W1: Float64Array;
  readonly b1: Float64Array;
  readonly W2: Float64Array;
  readonly b2: Float64Array;
}

export function initWeights(net: Net, seed = WEIGHT_SEED): Weights {
  const rand = rng(seed);
  const glorot = (rows: number, cols: number) => {
    const r = Math.sqrt(6 / (rows + cols));
    const w = new Float64Array(rows * cols);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rand() - 1) * r;
    return w;
  };
  return {
    W1: glorot(net.hidden, net.inputs),
    b1: new Float64Array(net.hidden),
    W2: glorot(net.outputs, net.hidden),
    b2: new Float64Array(net.outputs),
  };
}

/** [rows x cols] row-major -> [cols x rows] row-major. */
export function transposed(w: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

/**
 * Takes SGD step number `i` (a batch of `batch` rows; the trainer picks which rows).
 * An asynchronous trainer (TF.js `trainOnBatch`) returns a promise, which is awaited.
 */
export type Stepper = (i: number) => void | Promise<unknown>;

export interface Timing {
  readonly warmupMs: number;
  /** Each figure is the best of `windows` windows of `windowMs`. */
  readonly windowMs: number;
  readonly windows: number;
}

export const TIMING: Timing = {
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 300),
  windowMs: Number(process.env.BENCH_WINDOW_MS ?? 200),
  windows: Number(process.env.BENCH_WINDOWS ?? 5),
};

/**
 * Training samples per second of `step`: steps run in chunks that grow until a chunk
 * takes about 5 ms (so the clock is read rarely), first for `warmupMs`, then for
 * `windows` windows of `windowMs`; each window gives (steps * batch) / (time actually
 * spent), and the best window is the result (the machine may be shared: the best
 * window is the one least disturbed by other processes).
 */
export async function measure(step: Stepper, batch: number, timing: Timing = TIMING): Promise<number> {
  let i = 0;
  const run = async (ms: number): Promise<number> => {
    const start = performance.now();
    let now = start;
    let steps = 0;
    let chunk = 1;
    while (now - start < ms) {
      const t0 = now;
      for (let k = 0; k < chunk; k++) {
        const pending = step(i++);
        if (pending !== undefined) await pending;
      }
      steps += chunk;
      now = performance.now();
      if (now - t0 < 5) chunk *= 2;
    }
    return (steps * batch) / ((now - start) / 1000);
  };
  await run(timing.warmupMs);
  let best = 0;
  for (let w = 0; w < timing.windows; w++) best = Math.max(best, await run(timing.windowMs));
  return best;
}

/**
 * `measure`, compiled afresh from its source for one contender: a timing loop whose call
 * site sees that contender only, as an app's training loop would. (One loop shared by every
 * contender of the process goes megamorphic, and V8 then stops inlining the step into it: at
 * step costs of 10-20 ns that alone moved a row by 2x, depending on what ran before it.)
 */
export function ownMeasure(): typeof measure {
  const copy = new Function('__name', `return ${measure.toString()}`)((f: unknown) => f) as typeof measure; // __name: tsx's keep-names helper, if its transform put one in
  return (step, batch, timing = TIMING) => copy(step, batch, timing); // TIMING is out of the copy's scope
}
