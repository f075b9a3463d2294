/**
 * Phase 6, emit (runtime): the model-independent part of every generated module.
 *
 * This text is pasted into each module (which must have no imports), after the
 * model-specific declarations it uses: Params, Inputs, Outputs, Sample, INPUT_SIZE,
 * TARGET_SIZE, OUTPUT_SIZE, initParams, copyParams, zeroParams, packInputs, packTargets,
 * $forward, $loss, $step, $copyInto, $finite, $unpackOutputs, stepBatch.
 * Guarantees: `fit` is deterministic for a given shuffleSeed; it averages gradients over
 * each minibatch; it stops when an epoch's loss stops improving (tolerance), when the
 * epochs run out, or when the loss diverges (not finite, or `divergence` times the best
 * so far), and on divergence it restores the parameters of the last good epoch.
 */
export const RUNTIME = `/**
 * Bad data given to this module (a sample without an input, a value of the wrong size).
 * Branded like gradc's own errors (Symbol.for('gradc.GradcError')), so gradc's tools
 * report it as bad input, not as a bug.
 */
export class SampleError extends Error {
  readonly problem: string;
  readonly where: { readonly symbol?: string };
  constructor(problem: string, symbol?: string) {
    super(problem);
    this.name = 'SampleError';
    this.problem = problem;
    this.where = { symbol };
    (this as unknown as Record<symbol, boolean>)[Symbol.for('gradc.GradcError')] = true;
  }
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
function $rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function $uniform(rand: () => number, low: number, high: number): number {
  return low + (high - low) * rand();
}
function $normal(rand: () => number): number {
  const u = 1 - rand(), v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
function $fill(n: number, f: () => number): Floats {
  const a = new Floats(n);
  for (let i = 0; i < n; i++) a[i] = f();
  return a;
}
void $uniform; void $normal; void $fill;

/** Samples as flat rows: X has INPUT_SIZE values per sample, Y has TARGET_SIZE. */
export function packSamples(samples: readonly Sample[]): { X: Floats; Y: Floats; count: number } {
  const X = new Floats(samples.length * INPUT_SIZE);
  const Y = new Floats(samples.length * TARGET_SIZE);
  samples.forEach((s, i) => {
    if (s == null || s.inputs == null) throw new SampleError(\`sample \${i} has no inputs\`);
    if (s.targets == null) throw new SampleError(\`sample \${i} has no targets\`);
    packInputs(s.inputs, X, i * INPUT_SIZE, \`sample \${i}\`);
    packTargets(s.targets, Y, i * TARGET_SIZE, \`sample \${i}\`);
  });
  return { X, Y, count: samples.length };
}

export interface FitOptions {
  /** Passes over the data (default 100). */
  readonly epochs?: number;
  /** Step size (default 0.01). */
  readonly learningRate?: number;
  /** Samples per step; gradients are averaged over the batch (default 1: plain SGD). */
  readonly batchSize?: number;
  /** Shuffle the samples each epoch with this seed; no shuffling when undefined. */
  readonly shuffleSeed?: number;
  /** Stop when an epoch improves the mean loss by less than this fraction (default 0: never). */
  readonly tolerance?: number;
  /** Stop when the loss is not finite or exceeds this factor times the best loss (default 1e6). */
  readonly divergence?: number;
  /** Parameters to start from (updated in place); default initParams(). */
  readonly params?: Params;
  /** Called after each epoch; return false to stop. */
  readonly onEpoch?: (epoch: number, loss: number, params: Params) => boolean | void;
}

export interface FitResult {
  readonly params: Params;
  /** Mean training loss of each completed epoch (measured during the epoch). */
  readonly losses: number[];
  readonly epochs: number;
  readonly stopped: 'epochs' | 'converged' | 'diverged' | 'callback';
}

/** Trains with minibatch SGD; see FitOptions. */
export function fit(samples: readonly Sample[], options: FitOptions = {}): FitResult {
  const { X, Y, count } = packSamples(samples);
  return fitRows(X, Y, count, options);
}

/** \`fit\` on samples already packed as rows (see packSamples). */
export function fitRows(X: Floats, Y: Floats, count: number, options: FitOptions = {}): FitResult {
  const epochs = options.epochs ?? 100;
  const lr = options.learningRate ?? 0.01;
  const batch = Math.max(1, Math.min(options.batchSize ?? 1, count));
  const tolerance = options.tolerance ?? 0;
  const divergence = options.divergence ?? 1e6;
  const params = options.params ?? initParams();
  if (count === 0) throw new SampleError('fit needs at least one sample');
  const good = copyParams(params);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rand = options.shuffleSeed === undefined ? null : $rng(options.shuffleSeed);
  const shuffled = rand ? { X: new Floats(X.length), Y: new Floats(Y.length) } : null;
  const losses: number[] = [];
  let best = Infinity;
  let stopped: FitResult['stopped'] = 'epochs';
  for (let epoch = 0; epoch < epochs; epoch++) {
    let rowsX = X, rowsY = Y;
    if (rand && shuffled) {
      for (let i = count - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
      for (let i = 0; i < count; i++) {
        shuffled.X.set(X.subarray(order[i] * INPUT_SIZE, (order[i] + 1) * INPUT_SIZE), i * INPUT_SIZE);
        shuffled.Y.set(Y.subarray(order[i] * TARGET_SIZE, (order[i] + 1) * TARGET_SIZE), i * TARGET_SIZE);
      }
      rowsX = shuffled.X; rowsY = shuffled.Y;
    }
    let total = 0;
    for (let first = 0; first < count; first += batch) {
      const n = Math.min(batch, count - first);
      total += n * stepBatch(params, rowsX, rowsY, n, lr, first);
    }
    const mean = total / count;
    if (!Number.isFinite(mean) || !$finite(params) || mean > divergence * Math.max(best, 1e-300)) {
      $copyInto(params, good);
      stopped = 'diverged';
      break;
    }
    $copyInto(good, params);
    const previous = losses.length ? losses[losses.length - 1] : Infinity;
    losses.push(mean);
    best = Math.min(best, mean);
    if (options.onEpoch && options.onEpoch(epoch, mean, params) === false) { stopped = 'callback'; break; }
    if (tolerance > 0 && previous - mean < tolerance * Math.abs(previous)) { stopped = 'converged'; break; }
  }
  return { params, losses, epochs: losses.length, stopped };
}

/** Outputs for many inputs. */
export function predict(params: Params, inputs: readonly Inputs[]): Outputs[] {
  const x = new Floats(Math.max(1, INPUT_SIZE));
  const o = new Floats(Math.max(1, OUTPUT_SIZE));
  return inputs.map((s, i) => {
    packInputs(s, x, 0, \`inputs \${i}\`);
    $forward(params, x, 0, o, 0);
    return $unpackOutputs(o, 0);
  });
}

/** Mean loss over samples. */
export function evaluate(params: Params, samples: readonly Sample[]): number {
  const { X, Y, count } = packSamples(samples);
  let total = 0;
  for (let i = 0; i < count; i++) total += $loss(params, X, i * INPUT_SIZE, Y, i * TARGET_SIZE);
  return total / count;
}`;
