/**
 * The generated module's API types that do not depend on the model: one source for the
 * emitter and the loader.
 *
 * Guarantees: these declarations are the only copy. `scripts/apiText.ts` (run by `npm run
 * gen`) turns each block (`API_BLOCKS` there) into the exact text the emitter writes into
 * every generated module (src/6-emit/apiText.ts, checked up to date by
 * test/apiText.test.ts): the same text with the type parameter lists taken out, so that
 * `Params` and `Sample` there are the module's own types. The loader (load/loader.ts)
 * instantiates the same declarations with its widened `Params` over `Float64Array` or
 * `Float32Array`, so a loaded module's type follows its precision.
 * The type parameters are named after the module types they stand for, on purpose.
 */

/**
 * Options of `fit` and `fitRows`, each checked before training (a SampleError names the
 * first bad one; unknown keys are errors too).
 *
 * Divergence guard: before training, the mean loss of the starting parameters is measured
 * (`FitResult.initialLoss`, which must be finite). An epoch diverges when its mean loss is
 * not finite, when a step of it was refused (a non-finite loss or update, see `step`), or when
 *   loss - best > divergence * max(|best|, |initialLoss|)
 * where `best` is the lowest mean loss so far, the initial loss included. This works for
 * losses of any sign (offsets, negative log-likelihoods), and the first epoch is compared
 * with the starting loss. On divergence the parameters are restored to those of the last
 * epoch that passed (the starting parameters if the first epoch diverged).
 */
export interface FitOptions<Params, Sample, Floats> {
  /** Passes over the data: a non-negative integer (default 100). */
  readonly epochs?: number | undefined;
  /** Step size: a finite number >= 0 (default 0.01; with `optimizer`, the default of its learningRate). */
  readonly learningRate?: number | undefined;
  /**
   * The optimizer (default plain SGD with `learningRate`): its options (see OptimizerOptions,
   * a fresh state is made), or an OptimizerState to resume from (advanced in place).
   */
  readonly optimizer?: OptimizerOptions | OptimizerState<Params> | undefined;
  /** Samples per step, a positive integer; gradients are averaged over the batch (default 1: plain SGD). */
  readonly batchSize?: number | undefined;
  /** Shuffle the samples each epoch with this seed (an integer); no shuffling when undefined. */
  readonly shuffleSeed?: number | undefined;
  /** Stop when an epoch improves the mean loss by less than this fraction of it, a finite number >= 0 (default 0: never). */
  readonly tolerance?: number | undefined;
  /** The divergence guard's factor (see above), a number > 0, Infinity to stop only on non-finite losses (default 1e6). */
  readonly divergence?: number | undefined;
  /** Parameters to start from (updated in place; every value finite); default initParams(). */
  readonly params?: Params | undefined;
  /**
   * Called after each completed epoch; return false to stop ('callback'). The first three
   * arguments are kept for older callers; the fourth is the whole EpochRecord.
   */
  readonly onEpoch?: ((epoch: number, loss: number, params: Params, record: EpochRecord<Params>) => boolean | void) | undefined;
  /**
   * Held-out data, measured after each epoch with the epoch's final parameters (mean loss):
   * samples (at least one), rows packed as `packSamples` gives them (`{ X, Y, count }`,
   * every value finite), or `{ fraction, seed }` to split that fraction of the training
   * samples off (0 < fraction < 1, rounded, both parts non-empty; which samples go where
   * depends only on the seed, an integer, and the sample count).
   */
  readonly validation?: readonly Sample[] | { readonly X: Floats; readonly Y: Floats; readonly count: number } | { readonly fraction: number; readonly seed?: number | undefined } | undefined;
  /**
   * Stop after `patience` (a positive integer) epochs in a row that do not lower the
   * validation loss (the training loss without validation) by more than `minDelta` (finite,
   * >= 0, default 0) below the best so far. With `restoreBest` (default true) the
   * parameters of the best epoch (FitResult.bestEpoch) are put back at the end, whatever
   * stopped training (early stopping, the epochs running out, an abort, onEpoch, the
   * tolerance, divergence) once an epoch has completed; the optimizer state is left as it was at the stop (it does not
   * match the restored parameters: start a fresh optimizer to fine-tune from them).
   */
  readonly earlyStopping?: { readonly patience: number; readonly minDelta?: number | undefined; readonly restoreBest?: boolean | undefined } | undefined;
  /**
   * Checked after every step (an AbortSignal works): when `aborted` is true, training stops
   * after the current batch ('aborted'); the parameters are those after the last completed
   * step (or the best epoch's, with earlyStopping.restoreBest and at least one epoch done);
   * an unfinished epoch is not in the history (an abort seen after an epoch's last batch
   * ends training with that epoch complete, recorded and checked like any other).
   */
  readonly signal?: { readonly aborted: boolean } | undefined;
  /**
   * Called after every step taken: the epoch (from 0), the samples of the epoch done so far
   * and their mean loss; its result is ignored. For progress within an epoch (a caller that
   * redraws should throttle itself: this runs once per batch).
   */
  readonly onBatch?: ((epoch: number, samples: number, loss: number) => void) | undefined;
  /**
   * Metrics measured after each epoch on the training rows and on the validation rows, with
   * the epoch's final parameters: 'accuracy' (the argmax of the output against the argmax of
   * a one-hot target, or against a class-index scalar target; with a scalar output and
   * target, both sides of 0.5), 'mse', 'mae' (mean over samples and values of the squared
   * and absolute difference). They compare one output with one target: `metricsOn`, by
   * default the model's first output and first target.
   */
  readonly metrics?: readonly ('accuracy' | 'mse' | 'mae')[] | undefined;
  /** Which output and target the metrics compare (names as in `shapes`). */
  readonly metricsOn?: { readonly output: string; readonly target: string } | undefined;
  /**
   * Where the gradient of a minibatch of more than one row comes from (default: this
   * module's own, on the calling thread); gradc's `fitParallel` sets it to spread each batch
   * over worker threads. `gradient(params, X, Y, count, first, grad, scale)` adds `scale`
   * times the gradient of the loss summed over rows [first, first + count) of X and Y to
   * `grad` and returns that summed loss; `rows(length)` makes each array that fit fills with
   * shuffled or split rows, so that they can live in memory the threads share.
   */
  readonly batchGradient?: {
    readonly gradient: (params: Params, X: Floats, Y: Floats, count: number, first: number, grad: Params, scale: number) => number;
    readonly rows: (length: number) => Floats;
  } | undefined;
}

/** Values of the metrics asked for. */
export interface Metrics { readonly accuracy?: number | undefined; readonly mse?: number | undefined; readonly mae?: number | undefined }

/** What `onEpoch` receives after each completed epoch. */
export interface EpochRecord<Params> {
  /** Epoch number, from 0. */
  readonly epoch: number;
  /** Mean training loss of the epoch (measured during it, step by step). */
  readonly loss: number;
  /** Mean validation loss after the epoch; undefined without validation. */
  readonly valLoss: number | undefined;
  /** The learning rate of the epoch's last step (after the schedule). */
  readonly learningRate: number;
  /** The metrics asked for, after the epoch, on the training and the validation rows (empty objects when none). */
  readonly metrics: { readonly train: Metrics; readonly validation: Metrics };
  /** Milliseconds since training started. */
  readonly elapsedMs: number;
  /** The parameters after the epoch (live: copy them to keep them). */
  readonly params: Params;
}

export interface FitResult<Params> {
  readonly params: Params;
  /** Mean training loss of each completed epoch (measured during the epoch). */
  readonly losses: number[];
  /** Mean loss of the starting parameters, before training. */
  readonly initialLoss: number;
  readonly epochs: number;
  /**
   * Why training stopped: the epochs ran out, the loss stopped improving (tolerance), it
   * diverged, onEpoch returned false, early stopping, or the signal was aborted.
   */
  readonly stopped: 'epochs' | 'converged' | 'diverged' | 'callback' | 'early-stopping' | 'aborted';
  /** Per completed epoch: training loss (as `losses`) and validation loss (empty without validation). */
  readonly history: { readonly loss: number[]; readonly valLoss: number[]; readonly metrics: { readonly train: Metrics[]; readonly validation: Metrics[] } };
  /** The epoch with the lowest validation loss (training loss without validation); -1 if no epoch completed. */
  readonly bestEpoch: number;
  /** The optimizer state after training (matching `params`), to resume from. */
  readonly optimizer: OptimizerState<Params>;
}

/**
 * A learning-rate schedule: the rate of step t (t = 0, 1, ... counts the steps taken,
 * `OptimizerState.step`), from the optimizer's `learningRate` (lr):
 * - constant: lr;
 * - step: lr * gamma^floor(t / stepSize), the rate multiplied by gamma every stepSize steps;
 * - exponential: lr * gamma^t;
 * - cosine: linear warm-up lr * (t + 1) / warmupSteps for the first warmupSteps steps (default
 *   0), then minLearningRate + (lr - minLearningRate) * (1 + cos(pi * q)) / 2 with q going
 *   from 0 to 1 over the steps up to totalSteps (held at minLearningRate, default 0, after).
 */
export type Schedule =
  | { readonly kind: 'constant' }
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma: number }
  | { readonly kind: 'exponential'; readonly gamma: number }
  | { readonly kind: 'cosine'; readonly totalSteps: number; readonly warmupSteps?: number | undefined; readonly minLearningRate?: number | undefined };

/** Options every optimizer takes. g is the gradient averaged over the batch, p a parameter. */
export interface OptimizerCommon {
  /** The step size before the schedule: finite, >= 0 (default 0.01 for sgd and momentum, 0.001 for adam, adamw and rmsprop). */
  readonly learningRate?: number | undefined;
  /** L2 penalty (coupled weight decay): g <- g + weightDecay * p before the update; finite, >= 0 (default 0). For adamw it is decoupled instead (see AdamWOptions). */
  readonly weightDecay?: number | undefined;
  /** Gradient clipping by global norm: when the l2 norm of all gradients together exceeds clipNorm, every gradient is scaled by clipNorm / norm (before weight decay); > 0 (default Infinity: no clipping). */
  readonly clipNorm?: number | undefined;
  /** The learning-rate schedule (default constant). */
  readonly schedule?: Schedule | undefined;
}
/** Plain SGD: p <- p - lr * g. */
export interface SgdOptions extends OptimizerCommon { readonly kind: 'sgd' }
/** Momentum (as tf.train.momentum): v <- momentum * v + g; p <- p - lr * v, or with nesterov p <- p - lr * (g + momentum * v). */
export interface MomentumOptions extends OptimizerCommon {
  readonly kind: 'momentum';
  /** The velocity's decay: in [0, 1) (default 0.9). */
  readonly momentum?: number | undefined;
  /** Nesterov's accelerated gradient (default false). */
  readonly nesterov?: boolean | undefined;
}
/**
 * Adam (as tf.train.adam): m <- beta1 * m + (1 - beta1) * g; v <- beta2 * v + (1 - beta2) * g^2;
 * p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon), t the step number from 1.
 */
export interface AdamOptions extends OptimizerCommon {
  readonly kind: 'adam';
  /** Decay of the first moment (the gradient's running mean): in [0, 1) (default 0.9). */
  readonly beta1?: number | undefined;
  /** Decay of the second moment (the squared gradient's running mean): in [0, 1) (default 0.999). */
  readonly beta2?: number | undefined;
  /** Added to the root of the second moment: finite, > 0 (default 1e-8; TF.js uses 1e-7). */
  readonly epsilon?: number | undefined;
}
/** AdamW: Adam with decoupled weight decay, p <- p * (1 - lr * weightDecay) before Adam's step (weightDecay default 0.01, never added to g). */
export interface AdamWOptions extends Omit<AdamOptions, 'kind'> { readonly kind: 'adamw' }
/**
 * RMSprop (as tf.train.rmsprop, not centered): s <- rho * s + (1 - rho) * g^2;
 * v <- momentum * v + lr * g / sqrt(s + epsilon); p <- p - v.
 */
export interface RmspropOptions extends OptimizerCommon {
  readonly kind: 'rmsprop';
  /** Decay of the mean square: in [0, 1) (default 0.9). */
  readonly rho?: number | undefined;
  /** Momentum of the step: in [0, 1) (default 0). */
  readonly momentum?: number | undefined;
  /** Added to the mean square under the root: finite, > 0 (default 1e-8). */
  readonly epsilon?: number | undefined;
}
/** An optimizer and its hyperparameters, chosen by `kind`; all are run-time values. */
export type OptimizerOptions = SgdOptions | MomentumOptions | AdamOptions | AdamWOptions | RmspropOptions;

/**
 * What an optimizer carries from step to step, made by `initOptimizer` and advanced by
 * `step`, `stepBatch` and `fit` (only by steps taken: a refused step changes nothing).
 * Plain data (typed arrays per parameter and a count), so it can be saved and restored.
 * The moment objects `initOptimizer` and `loadParams` make are frozen when every parameter
 * is an array (their arrays' values change, the arrays do not), so a step checks them once;
 * a state built by hand works too, with its arrays checked at every step.
 */
export interface OptimizerState<Params> {
  /** The options (frozen, checked at each step). */
  readonly options: OptimizerOptions;
  /** Steps taken: drives the schedule and Adam's bias correction. */
  step: number;
  /** momentum: the velocity; adam, adamw: the first moment; rmsprop: the moment (null for sgd). */
  readonly m: Params | null;
  /** adam, adamw: the second moment; rmsprop: the mean square (null otherwise). */
  readonly v: Params | null;
}

/** One saved array: its shape and its values (row-major; "-0" stands for -0). */
export interface SavedArray {
  readonly shape: readonly number[];
  readonly values: readonly (number | string)[];
}
/** A saved optimizer state: options, steps taken, and the moments (absent when the optimizer has none). */
export interface SavedOptimizer {
  readonly options: OptimizerOptions;
  readonly step: number;
  readonly m?: { readonly [name: string]: SavedArray } | undefined;
  readonly v?: { readonly [name: string]: SavedArray } | undefined;
}
/** What `saveParams` returns and `loadParams` reads: plain JSON. */
export interface SavedParams {
  readonly format: 'gradc-params';
  readonly version: 1;
  readonly model: string;
  readonly structure: string;
  readonly precision: 'f64' | 'f32';
  readonly params: { readonly [name: string]: SavedArray };
  readonly optimizer?: SavedOptimizer | undefined;
}
