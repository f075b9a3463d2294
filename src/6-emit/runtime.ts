/**
 * Phase 6, emit (runtime): the model-independent part of every generated module.
 *
 * This text is pasted into each module (which must have no imports), after the
 * model-specific declarations it uses: Params, Inputs, Outputs, Sample, INPUT_SIZE,
 * TARGET_SIZE, OUTPUT_SIZE, initParams, copyParams, zeroParams, packInputs, packTargets,
 * $forward, $lossRows, $gradientRows, $stepRow, $MAX_ROWS, $acc, $copyInto, $update_sgd,
 * $applyUpdate, $nonFinite, $checkParams, $unpackOutputs, and optimizers.ts's
 * OptimizerState, $initOptimizer, $checkOptimizer, $hyper, $optimizerStep, $copyOptimizerInto.
 * The helpers only some models call are in OPTIONAL_RUNTIME, pasted only where called (no
 * unused declarations).
 * Guarantees: bad run-time data (a missing, non-finite or wrongly sized value, rows
 * outside the arrays, a bad option or parameter object) is a SampleError naming it,
 * thrown before anything is changed; a training step is all or nothing, so no step of
 * `step`, `stepBatch` or `fit` writes a non-finite value into the parameters; `fit` is
 * deterministic for a given shuffleSeed; it averages gradients over each minibatch; it
 * stops when an epoch's loss stops improving (tolerance), when the epochs run out, or when
 * the loss diverges (the rule is in FitOptions' doc comment), and on divergence it
 * restores the parameters of the epoch with the lowest mean loss (the starting ones when no
 * epoch improved on the starting loss), never those of an epoch on the way up.
 * `fit` also stops on early stopping (no better validation loss, or training loss without
 * validation, for `patience` epochs; the best epoch's parameters are put back with
 * restoreBest) and after the step at which an abort signal is seen; a validation fraction is
 * split off by a seeded shuffle, so the split is the same for the same seed and count.
 */
import { API_TEXT } from './apiText.js';
import type { Flavour } from './flavour.js';
import { RUNTIME_JS } from './runtimeJs.js';

export const RUNTIME = `/**
 * Bad data given to this module (a sample without an input, a value of the wrong size).
 * Branded like gradc's own errors (Symbol.for('gradc.GradcError')), so gradc's tools
 * report it as bad input, not as a bug.
 */
export class SampleError extends Error {
  readonly problem: string;
  readonly where: { readonly symbol?: string | undefined };
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

/** A short description of a value for error messages: \`NaN\`, \`the string "abc"\`, \`an array of 3\`. */
function $show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return \`the string \${JSON.stringify(v.length > 20 ? v.slice(0, 20) + '...' : v)}\`;
  if (Array.isArray(v)) return \`an array of \${v.length}\`;
  if (v instanceof Float64Array || v instanceof Float32Array) return \`a \${v instanceof Float64Array ? 'Float64Array' : 'Float32Array'} of \${v.length}\`;
  return \`a value of type \${typeof v}\`;
}

const $isFloats = (v: unknown): v is Floats => v instanceof Floats || v instanceof Float64Array || v instanceof Float32Array;

function $checkRate(where: string, lr: unknown): void {
  if (typeof lr !== 'number' || lr - lr !== 0 || lr < 0) throw new SampleError(\`\${where}: learningRate must be a finite number >= 0, got \${$show(lr)}\`);
}

/** True when \`count\` rows from row \`first\` lie in X and Y, both of this module's Floats (\`$checkRows\` says what is wrong otherwise, and takes the other float type too). */
function $isRows(X: Floats, Y: Floats, count: number, first: number): boolean {
  return Number.isInteger(count) && count >= 1 && Number.isInteger(first) && first >= 0 && X instanceof Floats && Y instanceof Floats &&
    X.length >= (first + count) * INPUT_SIZE && Y.length >= (first + count) * TARGET_SIZE && $idsOk(X, count, first);
}

/** Checks \`count\` rows from row \`first\` lie in X and Y (once per call). */
function $checkRows(where: string, X: Floats, Y: Floats, count: number, first: number): void {
  if (!Number.isInteger(count) || count < 1) throw new SampleError(\`\${where}: count must be a positive integer, got \${$show(count)}\`);
  if (!Number.isInteger(first) || first < 0) throw new SampleError(\`\${where}: first must be a non-negative integer, got \${$show(first)}\`);
  if (!$isFloats(X)) throw new SampleError(\`\${where}: X must be a Float64Array or Float32Array, got \${$show(X)}\`);
  if (!$isFloats(Y)) throw new SampleError(\`\${where}: Y must be a Float64Array or Float32Array, got \${$show(Y)}\`);
  const end = first + count;
  if (X.length < end * INPUT_SIZE || Y.length < end * TARGET_SIZE) {
    throw new SampleError(\`\${where}: rows \${first} to \${end - 1} (first \${first}, count \${count}) are not all in the data: X has \${X.length / INPUT_SIZE} rows of \${INPUT_SIZE} (\${X.length} values), Y has \${Y.length / TARGET_SIZE} rows of \${TARGET_SIZE} (\${Y.length} values)\`);
  }
  $checkIds(where, X, count, first);
}

/** Sum of the loss over rows [first, first + count), adding \`scale\` times the gradients into \`g\`. */
function $gradientSum(p: Params, X: Floats, Y: Floats, count: number, first: number, g: Params, scale: number): number {
  let total = 0;
  for (let i = first; i < first + count; i += $MAX_ROWS) {
    total += $gradientRows(p, X, i * INPUT_SIZE, Y, i * TARGET_SIZE, Math.min($MAX_ROWS, first + count - i), g, scale);
  }
  return total;
}

/** Sum of the loss over rows [first, first + count). */
function $lossSum(p: Params, X: Floats, Y: Floats, count: number, first: number): number {
  let total = 0;
  for (let i = first; i < first + count; i += $MAX_ROWS) {
    total += $lossRows(p, X, i * INPUT_SIZE, Y, i * TARGET_SIZE, Math.min($MAX_ROWS, first + count - i));
  }
  return total;
}

/** One SGD step on rows [first, first + count), all or nothing: the mean loss, or NaN with \`p\` unchanged. */
function $stepRows(p: Params, X: Floats, Y: Floats, count: number, lr: number, first: number): number {
  if (count === 1) return $stepRow(p, X, first * INPUT_SIZE, Y, first * TARGET_SIZE, lr);
  const value = $gradientSum(p, X, Y, count, first, $acc, 1 / count) / count;
  return $update_sgd(p, $acc, 1, value, lr, 1, 0) ? value : NaN;
}

/** After a refused step (parameters and optimizer state unchanged): throws a SampleError saying what was not finite. */
function $stepFailed(where: string, p: Params, X: Floats, Y: Floats, count: number, first: number, lr: number, st: OptimizerState | null): never {
  const rows = where === 'step' ? 'the sample' : count === 1 ? \`row \${first}\` : \`rows \${first} to \${first + count - 1}\`;
  let why = $nonFinite(p);
  const state = st && ((st.m && $nonFinite(st.m) && \`m.\${$nonFinite(st.m)}\`) || (st.v && $nonFinite(st.v) && \`v.\${$nonFinite(st.v)}\`));
  if (why) why = \`params.\${why} before the step\`;
  else if (state) why = \`optimizer.\${state} before the step\`;
  else {
    const g = zeroParams();
    const value = $gradientSum(p, X, Y, count, first, g, 1 / count) / count;
    $untouch(); // g is not the accumulator the update pass reads
    const grad = $nonFinite(g);
    const next = copyParams(p);
    $applyUpdate(next, g, lr);
    why = value - value !== 0 ? \`the loss of \${rows} is \${value}\`
      : grad ? \`the gradient of the loss of \${rows} is not finite: dloss/d\${grad}\`
      : st ? \`the \${st.options.kind} update overflows (learning rate \${lr} at step \${st.step})\`
      : \`the update overflows: params.\${$nonFinite(next) || '?'} after the step (learning rate \${lr})\`;
  }
  throw new SampleError(\`\${where}: step not taken, the parameters are unchanged: \${why}\`);
}

/** Samples as flat rows: X has INPUT_SIZE values per sample, Y has TARGET_SIZE. Throws naming the first bad sample and field (missing, not finite, wrong size). */
export function packSamples(samples: readonly Sample[]): { X: Floats; Y: Floats; count: number } {
  if (!Array.isArray(samples)) throw new SampleError(\`samples must be an array of { inputs, targets }, got \${$show(samples)}\`);
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

${API_TEXT.fit}

const $FIT_OPTIONS = ['epochs', 'learningRate', 'optimizer', 'batchSize', 'shuffleSeed', 'tolerance', 'divergence', 'params', 'onEpoch', 'onBatch', 'validation', 'earlyStopping', 'signal', 'metrics', 'metricsOn', 'batchGradient'];

/** Options with their defaults, each checked; throws a SampleError naming the first bad one. */
function $fitSettings(options: FitOptions, where: string) {
  if (typeof options !== 'object' || options === null) throw new SampleError(\`\${where}: options must be an object, got \${$show(options)}\`);
  for (const key of Object.keys(options)) {
    if (!$FIT_OPTIONS.includes(key)) throw new SampleError(\`\${where}: unknown option '\${key.slice(0, 40)}' (the options are \${$FIT_OPTIONS.join(', ')})\`);
  }
  const number = (key: keyof FitOptions, fallback: number, ok: (v: number) => boolean, what: string): number => {
    const v: unknown = options[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !ok(v)) throw new SampleError(\`\${where}: \${key} must be \${what}, got \${$show(v)}\`);
    return v;
  };
  const epochs = number('epochs', 100, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const learningRate = number('learningRate', 0.01, (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
  const batchSize = number('batchSize', 1, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  const tolerance = number('tolerance', 0, (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
  const divergence = number('divergence', 1e6, (v) => v > 0, 'a number > 0 (or Infinity)');
  const shuffleSeed = options.shuffleSeed === undefined ? undefined : number('shuffleSeed', 0, Number.isInteger, 'an integer');
  if (options.onEpoch !== undefined && typeof options.onEpoch !== 'function') throw new SampleError(\`\${where}: onEpoch must be a function, got \${$show(options.onEpoch)}\`);
  if (options.onBatch !== undefined && typeof options.onBatch !== 'function') throw new SampleError(\`\${where}: onBatch must be a function, got \${$show(options.onBatch)}\`);
  const v: unknown = options.validation;
  let validation: { X: Floats; Y: Floats; count: number } | { fraction: number; seed: number } | null = null;
  if (Array.isArray(v)) {
    try { validation = packSamples(v); } catch (e) { throw e instanceof SampleError ? new SampleError(\`\${where}: options.validation: \${e.problem}\`) : e; }
    if (validation.count === 0) throw new SampleError(\`\${where}: options.validation must hold at least one sample\`);
  } else if (typeof v === 'object' && v !== null && 'X' in v) {
    const { X: vX, Y: vY, count: n } = v as { X: Floats; Y: Floats; count: number };
    try { $checkRows('validation', vX, vY, n, 0); } catch (e) { throw e instanceof SampleError ? new SampleError(\`\${where}: options.\${e.problem}\`) : e; }
    for (let i = 0; i < n * INPUT_SIZE; i++) if (vX[i]! - vX[i]! !== 0) throw new SampleError(\`\${where}: options.validation: X[\${i}] (row \${Math.floor(i / INPUT_SIZE)}) is \${vX[i]}\`);
    for (let i = 0; i < n * TARGET_SIZE; i++) if (vY[i]! - vY[i]! !== 0) throw new SampleError(\`\${where}: options.validation: Y[\${i}] (row \${Math.floor(i / TARGET_SIZE)}) is \${vY[i]}\`);
    validation = { X: vX, Y: vY, count: n };
  } else if (typeof v === 'object' && v !== null) {
    for (const key of Object.keys(v)) if (key !== 'fraction' && key !== 'seed') throw new SampleError(\`\${where}: options.validation: unknown key '\${key.slice(0, 40)}' (the keys are fraction, seed)\`);
    const { fraction, seed } = v as { fraction?: unknown; seed?: unknown };
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) throw new SampleError(\`\${where}: options.validation.fraction must be a number between 0 and 1 (exclusive), got \${$show(fraction)}\`);
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed))) throw new SampleError(\`\${where}: options.validation.seed must be an integer, got \${$show(seed)}\`);
    validation = { fraction, seed: seed ?? 0 };
  } else if (v !== undefined) throw new SampleError(\`\${where}: options.validation must be an array of samples or { fraction, seed }, got \${$show(v)}\`);
  const es: unknown = options.earlyStopping;
  let earlyStopping: { patience: number; minDelta: number; restoreBest: boolean } | null = null;
  if (typeof es === 'object' && es !== null && !Array.isArray(es)) {
    for (const key of Object.keys(es)) if (key !== 'patience' && key !== 'minDelta' && key !== 'restoreBest') throw new SampleError(\`\${where}: options.earlyStopping: unknown key '\${key.slice(0, 40)}' (the keys are patience, minDelta, restoreBest)\`);
    const { patience, minDelta, restoreBest } = es as { patience?: unknown; minDelta?: unknown; restoreBest?: unknown };
    if (typeof patience !== 'number' || !Number.isInteger(patience) || patience < 1) throw new SampleError(\`\${where}: options.earlyStopping.patience must be a positive integer, got \${$show(patience)}\`);
    if (minDelta !== undefined && (typeof minDelta !== 'number' || !Number.isFinite(minDelta) || minDelta < 0)) throw new SampleError(\`\${where}: options.earlyStopping.minDelta must be a finite number >= 0, got \${$show(minDelta)}\`);
    if (restoreBest !== undefined && typeof restoreBest !== 'boolean') throw new SampleError(\`\${where}: options.earlyStopping.restoreBest must be true or false, got \${$show(restoreBest)}\`);
    earlyStopping = { patience, minDelta: minDelta ?? 0, restoreBest: restoreBest ?? true };
  } else if (es !== undefined) throw new SampleError(\`\${where}: options.earlyStopping must be { patience, minDelta?, restoreBest? }, got \${$show(es)}\`);
  const signal: unknown = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof (signal as { aborted?: unknown }).aborted !== 'boolean')) {
    throw new SampleError(\`\${where}: options.signal must be an object with a boolean 'aborted' (an AbortSignal), got \${$show(signal)}\`);
  }
  const ms: unknown = options.metrics;
  const metrics: ('accuracy' | 'mse' | 'mae')[] = [];
  if (ms !== undefined) {
    if (!Array.isArray(ms)) throw new SampleError(\`\${where}: options.metrics must be an array of 'accuracy', 'mse', 'mae', got \${$show(ms)}\`);
    for (const m of ms as unknown[]) {
      if (m !== 'accuracy' && m !== 'mse' && m !== 'mae') throw new SampleError(\`\${where}: options.metrics: unknown metric \${$show(m)} (the metrics are accuracy, mse, mae)\`);
      if (!metrics.includes(m)) metrics.push(m);
    }
  }
  const on: unknown = options.metricsOn;
  let pair: { out: readonly [string, number, number]; tgt: readonly [string, number, number] } | null = null;
  if (on !== undefined && (typeof on !== 'object' || on === null)) throw new SampleError(\`\${where}: options.metricsOn must be { output, target }, got \${$show(on)}\`);
  const outName = on === undefined ? $OUTPUT_SLOTS[0]?.[0] : (on as { output?: unknown }).output;
  const tgtName = on === undefined ? $TARGET_SLOTS[0]?.[0] : (on as { target?: unknown }).target;
  if (metrics.length > 0 || on !== undefined) {
    const out = $OUTPUT_SLOTS.find((x) => x[0] === outName);
    const tgt = $TARGET_SLOTS.find((x) => x[0] === tgtName);
    if (!out) throw new SampleError(\`\${where}: options.metricsOn.output: no output \${$show(outName)} (the outputs are \${$OUTPUT_SLOTS.map((x) => x[0]).join(', ') || 'none'})\`);
    if (!tgt) throw new SampleError(\`\${where}: options.metricsOn.target: no target \${$show(tgtName)} (the targets are \${$TARGET_SLOTS.map((x) => x[0]).join(', ') || 'none'})\`);
    if ((metrics.includes('mse') || metrics.includes('mae')) && out[2] !== tgt[2]) throw new SampleError(\`\${where}: options.metrics: mse and mae compare output \${out[0]} (\${out[2]} values) with target \${tgt[0]} (\${tgt[2]} values), which differ in size\`);
    if (metrics.includes('accuracy') && !(out[2] === tgt[2] || tgt[2] === 1)) throw new SampleError(\`\${where}: options.metrics: accuracy compares output \${out[0]} (\${out[2]} values) with target \${tgt[0]} (\${tgt[2]} values): the target must be one-hot of the same size or one class index\`);
    pair = { out, tgt };
  }
  const bg: unknown = options.batchGradient;
  if (bg !== undefined && (typeof bg !== 'object' || bg === null || typeof (bg as { gradient?: unknown }).gradient !== 'function' || typeof (bg as { rows?: unknown }).rows !== 'function')) {
    throw new SampleError(\`\${where}: options.batchGradient must be { gradient, rows } (two functions), got \${$show(bg)}\`);
  }
  const batchGradient = options.batchGradient ?? { gradient: $gradientSum, rows: (n: number) => new Floats(n) };
  if (options.params !== undefined) $checkParams(options.params, \`\${where}: options.params\`, true, true);
  const params = options.params ?? initParams();
  const o: unknown = options.optimizer;
  let optimizer: OptimizerState;
  if (o === undefined) optimizer = $initOptimizer(params, { kind: 'sgd', learningRate }, \`\${where}: options.optimizer\`);
  else if (typeof o === 'object' && o !== null && !('kind' in o) && 'options' in o) {
    if (options.learningRate !== undefined) throw new SampleError(\`\${where}: learningRate cannot be combined with an OptimizerState: the state's options set the rate (pass optimizer options with a learningRate, or a state made with it)\`);
    $checkOptimizer(\`\${where}: options\`, o);
    optimizer = o as OptimizerState;
  } else {
    const given = o as OptimizerOptions;
    const withRate = options.learningRate !== undefined && typeof o === 'object' && o !== null && (given.learningRate === undefined) ? { ...given, learningRate } : given;
    optimizer = $initOptimizer(params, withRate, \`\${where}: options.optimizer\`);
  }
  return { epochs, batchSize, tolerance, divergence, shuffleSeed, params, optimizer, hyper: $hyper(optimizer.options, \`\${where}: options.optimizer\`), onEpoch: options.onEpoch, onBatch: options.onBatch, validation, earlyStopping, signal: options.signal, metrics, pair, batchGradient };
}

/** The metrics asked for over \`count\` rows (see FitOptions.metrics). */
function $metrics(p: Params, X: Floats, Y: Floats, count: number, names: readonly ('accuracy' | 'mse' | 'mae')[], pair: { out: readonly [string, number, number]; tgt: readonly [string, number, number] } | null): Metrics {
  if (!pair || names.length === 0) return {};
  const [, oAt, oSize] = pair.out, [, tAt, tSize] = pair.tgt;
  const o = new Floats(Math.max(1, OUTPUT_SIZE));
  let right = 0, sq = 0, ab = 0;
  for (let r = 0; r < count; r++) {
    $forward(p, X, r * INPUT_SIZE, o, 0);
    const y = r * TARGET_SIZE + tAt;
    if (oSize === 1 && tSize === 1) right += (o[oAt]! > 0.5) === (Y[y]! > 0.5) ? 1 : 0;
    else {
      let best = 0;
      for (let k = 1; k < oSize; k++) if (o[oAt + k]! > o[oAt + best]!) best = k;
      let cls = 0;
      if (tSize === 1) cls = Math.round(Y[y]!);
      else for (let k = 1; k < tSize; k++) if (Y[y + k]! > Y[y + cls]!) cls = k;
      right += best === cls ? 1 : 0;
    }
    if (oSize === tSize) for (let k = 0; k < oSize; k++) { const d = o[oAt + k]! - Y[y + k]!; sq += d * d; ab += Math.abs(d); }
  }
  const n = count * oSize;
  return { ...(names.includes('accuracy') ? { accuracy: right / count } : {}), ...(names.includes('mse') ? { mse: sq / n } : {}), ...(names.includes('mae') ? { mae: ab / n } : {}) };
}

/** Splits \`fraction\` of the rows off (a seeded shuffle of the row numbers; both parts keep their order): [training, validation]. */
function $split(X: Floats, Y: Floats, count: number, fraction: number, seed: number, where: string, rows: (n: number) => Floats): { X: Floats; Y: Floats; count: number }[] {
  const held = Math.round(count * fraction);
  if (held < 1 || held > count - 1) throw new SampleError(\`\${where}: options.validation.fraction \${fraction} of \${count} samples leaves \${held < 1 ? 'no validation sample' : 'no training sample'}\`);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rand = $rng(seed);
  for (let i = count - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = order[i]!; order[i] = order[j]!; order[j] = t; }
  const isHeld = new Uint8Array(count);
  for (let i = 0; i < held; i++) isHeld[order[i]!] = 1;
  const parts = [count - held, held].map((n) => ({ X: rows(n * INPUT_SIZE), Y: rows(n * TARGET_SIZE), count: 0 }));
  for (let r = 0; r < count; r++) {
    const part = parts[isHeld[r]!]!;
    part.X.set(X.subarray(r * INPUT_SIZE, (r + 1) * INPUT_SIZE), part.count * INPUT_SIZE);
    part.Y.set(Y.subarray(r * TARGET_SIZE, (r + 1) * TARGET_SIZE), part.count * TARGET_SIZE);
    part.count++;
  }
  return parts;
}

/** Splits the validation fraction off when asked for, then trains. */
function $trainAndCheck(X: Floats, Y: Floats, count: number, o: ReturnType<typeof $fitSettings>, where: string): FitResult {
  const v = o.validation;
  if (v && 'fraction' in v) {
    const [train, held] = $split(X, Y, count, v.fraction, v.seed, where, o.batchGradient.rows);
    return $train(train!.X, train!.Y, train!.count, held!, o, where);
  }
  return $train(X, Y, count, v, o, where);
}

/** Trains with minibatches (plain SGD or \`optimizer\`); see FitOptions. Samples and options are checked first. */
export function fit(samples: readonly Sample[], options: FitOptions = {}): FitResult {
  const settings = $fitSettings(options, 'fit');
  const { X, Y, count } = packSamples(samples);
  if (count === 0) throw new SampleError('fit needs at least one sample');
  return $trainAndCheck(X, Y, count, settings, 'fit');
}

/** \`fit\` on samples already packed as rows (see packSamples); every value of the rows used must be finite. */
export function fitRows(X: Floats, Y: Floats, count: number, options: FitOptions = {}): FitResult {
  const settings = $fitSettings(options, 'fitRows');
  $checkRows('fitRows', X, Y, count, 0);
  for (let i = 0; i < count * INPUT_SIZE; i++) {
    if (X[i]! - X[i]! !== 0) throw new SampleError(\`fitRows: X[\${i}] (row \${Math.floor(i / INPUT_SIZE)}, input value \${i % INPUT_SIZE}) is \${X[i]}\`);
  }
  for (let i = 0; i < count * TARGET_SIZE; i++) {
    if (Y[i]! - Y[i]! !== 0) throw new SampleError(\`fitRows: Y[\${i}] (row \${Math.floor(i / TARGET_SIZE)}, target value \${i % TARGET_SIZE}) is \${Y[i]}\`);
  }
  return $trainAndCheck(X, Y, count, settings, 'fitRows');
}

function $train(X: Floats, Y: Floats, count: number, val: { X: Floats; Y: Floats; count: number } | null, o: ReturnType<typeof $fitSettings>, where: string): FitResult {
  const { epochs, tolerance, divergence, params, optimizer, hyper, earlyStopping, signal, onBatch } = o;
  const start = Date.now();
  const batch = Math.min(o.batchSize, count);
  const initialLoss = $lossSum(params, X, Y, count, 0) / count;
  if (!Number.isFinite(initialLoss)) {
    let i = 0;
    while (i < count - 1 && Number.isFinite($lossSum(params, X, Y, 1, i))) i++;
    throw new SampleError(\`\${where}: the loss at the starting parameters is \${initialLoss} (sample \${i}: \${$lossSum(params, X, Y, 1, i)}); training needs a finite loss to start from\`);
  }
  const good = copyParams(params);
  const goodOptimizer: OptimizerState = { options: optimizer.options, step: optimizer.step, m: optimizer.m && copyParams(optimizer.m), v: optimizer.v && copyParams(optimizer.v) };
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rand = o.shuffleSeed === undefined ? null : $rng(o.shuffleSeed);
  const shuffled = rand ? { X: o.batchGradient.rows(count * INPUT_SIZE), Y: o.batchGradient.rows(count * TARGET_SIZE) } : null;
  const losses: number[] = [];
  const valLosses: number[] = [];
  const trainMetrics: Metrics[] = [], valMetrics: Metrics[] = [];
  const bestParams = earlyStopping && earlyStopping.restoreBest ? copyParams(params) : null;
  let bestEpoch = -1, bestWatched = Infinity, wait = 0;
  const scale = Math.abs(initialLoss);
  let best = initialLoss;
  let stopped: FitResult['stopped'] = 'epochs';
  for (let epoch = 0; epoch < epochs; epoch++) {
    let rowsX = X, rowsY = Y;
    if (rand && shuffled) {
      for (let i = count - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = order[i]!; order[i] = order[j]!; order[j] = t; }
      for (let i = 0; i < count; i++) {
        shuffled.X.set(X.subarray(order[i]! * INPUT_SIZE, (order[i]! + 1) * INPUT_SIZE), i * INPUT_SIZE);
        shuffled.Y.set(Y.subarray(order[i]! * TARGET_SIZE, (order[i]! + 1) * TARGET_SIZE), i * TARGET_SIZE);
      }
      rowsX = shuffled.X; rowsY = shuffled.Y;
    }
    let total = 0;
    let aborted = false, partial = false;
    for (let first = 0; first < count && total === total; first += batch) {
      const n = Math.min(batch, count - first);
      total += n * $optimizerStep(params, rowsX, rowsY, n, first, optimizer, hyper, where, o.batchGradient.gradient); // NaN: a step was refused
      if (onBatch && total === total) onBatch(epoch, first + n, total / (first + n));
      if (signal && signal.aborted) { aborted = true; partial = first + n < count; break; } // after the last batch the epoch is complete: it is recorded, then training stops
    }
    if (partial && total === total) { stopped = 'aborted'; break; }
    const mean = total / count;
    if (!Number.isFinite(mean) || mean - best > divergence * Math.max(Math.abs(best), scale)) {
      $copyInto(params, good);
      $copyOptimizerInto(optimizer, goodOptimizer);
      stopped = 'diverged';
      break;
    }
    if (mean <= best) { // the best epoch so far: what divergence falls back to
      $copyInto(good, params);
      $copyOptimizerInto(goodOptimizer, optimizer);
    }
    const previous = losses.length ? losses[losses.length - 1]! : Infinity;
    losses.push(mean);
    best = Math.min(best, mean);
    const valLoss = val ? $lossSum(params, val.X, val.Y, val.count, 0) / val.count : undefined;
    if (valLoss !== undefined) valLosses.push(valLoss);
    const metrics = { train: $metrics(params, X, Y, count, o.metrics, o.pair), validation: val ? $metrics(params, val.X, val.Y, val.count, o.metrics, o.pair) : {} };
    if (o.pair && o.metrics.length) { trainMetrics.push(metrics.train); if (val) valMetrics.push(metrics.validation); }
    const watched = valLoss ?? mean;
    if (watched < bestWatched - (earlyStopping ? earlyStopping.minDelta : 0)) {
      bestWatched = watched; bestEpoch = epoch; wait = 0;
      if (bestParams) $copyInto(bestParams, params);
    } else wait++;
    if (o.onEpoch) {
      const record: EpochRecord = { epoch, loss: mean, valLoss, learningRate: $rate(hyper, Math.max(0, optimizer.step - 1)), metrics, elapsedMs: Date.now() - start, params };
      if (o.onEpoch(epoch, mean, params, record) === false) { stopped = 'callback'; break; }
    }
    if (aborted) { stopped = 'aborted'; break; }
    if (earlyStopping && wait >= earlyStopping.patience) { stopped = 'early-stopping'; break; }
    if (tolerance > 0 && previous - mean < tolerance * Math.abs(previous)) { stopped = 'converged'; break; }
  }
  if (bestParams && bestEpoch >= 0) $copyInto(params, bestParams);
  return { params, losses, initialLoss, epochs: losses.length, stopped, optimizer, history: { loss: losses.slice(), valLoss: valLosses, metrics: { train: trainMetrics, validation: valMetrics } }, bestEpoch };
}

/** Outputs for many inputs; checks the parameters (every value finite) and each input first. */
export function predict(params: Params, inputs: readonly Inputs[]): Outputs[] {
  $checkParams(params, 'predict: params', true);
  if (!Array.isArray(inputs)) throw new SampleError(\`predict: inputs must be an array of inputs, got \${$show(inputs)}\`);
  const x = new Floats(Math.max(1, INPUT_SIZE));
  const o = new Floats(Math.max(1, OUTPUT_SIZE));
  return inputs.map((s, i) => {
    if (typeof s !== 'object' || s === null) throw new SampleError(\`predict: inputs \${i} must be an object of inputs, got \${$show(s)}\`);
    packInputs(s, x, 0, \`inputs \${i}\`);
    $forward(params, x, 0, o, 0);
    return $unpackOutputs(o, 0);
  });
}

/** Mean loss over samples (at least one); checks the parameters (every value finite) and the samples first. */
export function evaluate(params: Params, samples: readonly Sample[]): number {
  $checkParams(params, 'evaluate: params', true);
  const { X, Y, count } = packSamples(samples);
  if (count === 0) throw new SampleError('evaluate needs at least one sample');
  return $lossSum(params, X, Y, count, 0) / count;
}`;


/**
 * Run-time helpers that only some models call (random initializers, packing of scalar or
 * array fields, parameter checks of either kind): the module includes one only where its
 * model code calls it, so a module has no unused declaration (noUnusedLocals).
 */
export const OPTIONAL_RUNTIME: ReadonlyMap<string, string> = new Map([
  ['$uniform', `function $uniform(rand: () => number, low: number, high: number): number {
  return low + (high - low) * rand();
}`],
  ['$normal', `function $normal(rand: () => number): number {
  const u = 1 - rand(), v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}`],
  ['$fill', `function $fill(n: number, f: () => number): Floats {
  const a = new Floats(n);
  for (let i = 0; i < n; i++) a[i] = f();
  return a;
}`],
  ['$packNumber', `/** Writes one number of a sample; throws naming the sample, the field and the value unless it is a finite number. */
function $packNumber(v: unknown, into: Floats, at: number, where: string, kind: string, name: string): void {
  if (typeof v === 'number' && v - v === 0) {
    into[at] = v;
    return;
  }
  throw new SampleError(v == null ? \`\${where} is missing \${kind} '\${name}' (a number)\`
    : \`\${where}: \${kind} '\${name}' must be a finite number, got \${$show(v)}\`, name);
}`],
  ['$packArray', `/** Writes one vector or matrix of a sample (row-major); throws naming the sample, the field and the first bad element. */
function $packArray(v: unknown, size: number, shape: string, into: Floats, at: number, where: string, kind: string, name: string): void {
  if (typeof v !== 'object' || v === null || (v as ArrayLike<unknown>).length !== size) {
    throw new SampleError(\`\${where}: \${kind} '\${name}' must be an array of \${size} numbers (shape \${shape}), got \${v == null ? 'none' : $show(v)}\`, name);
  }
  const a = v as ArrayLike<unknown>;
  for (let k = 0; k < size; k++) {
    const e = a[k];
    if (typeof e !== 'number' || e - e !== 0) throw new SampleError(\`\${where}: \${kind} '\${name}' element \${k} must be a finite number, got \${$show(e)}\`, name);
    into[at + k] = e;
  }
}`],
  ['$packIds', `/** Writes the integer ids of a sample (a number, an array or an Int32Array); throws naming the sample, the field and the position of the first id that is not an integer in low .. limit - 1 (low 1: a sequence's length). */
function $packIds(v: unknown, size: number, shape: string, limit: number, into: Floats, at: number, where: string, kind: string, name: string, low = 0): void {
  const scalar = shape === '[]';
  const what = low === 0 ? 'id' : 'length';
  if (scalar && typeof v === 'number') v = [v];
  if (typeof v !== 'object' || v === null || (v as ArrayLike<unknown>).length !== size) {
    throw new SampleError(v == null ? \`\${where} is missing \${kind} '\${name}' (\${scalar ? \`an integer \${what}\` : \`\${size} integer ids\`} in \${low}..\${limit - 1})\`
      : \`\${where}: \${kind} '\${name}' must be \${scalar ? \`an integer \${what}\` : \`an array of \${size} integer ids (shape \${shape})\`} in \${low}..\${limit - 1}, got \${$show(v)}\`, name);
  }
  const a = v as ArrayLike<unknown>;
  for (let k = 0; k < a.length; k++) {
    const e = a[k];
    if (typeof e !== 'number' || !Number.isInteger(e) || e < low || e >= limit) {
      throw new SampleError(\`\${where}: \${kind} '\${name}'\${scalar ? '' : \` position \${k}\`} must be an integer \${what} in \${low}..\${limit - 1}, got \${$show(e)}\`, name);
    }
    into[at + k] = e;
  }
}`],
  ['$checkNumberParam', `function $checkNumberParam(v: unknown, where: string, name: string): void {
  if (typeof v !== 'number') throw new SampleError(\`\${where}.\${name} must be a number, got \${$show(v)}\`, name);
}`],
  ['$checkWritableParam', `/** Throws unless the scalar parameter \`name\` of \`p\` can be assigned (not frozen, not read-only). */
function $checkWritableParam(p: object, where: string, name: string): void {
  const d = Object.getOwnPropertyDescriptor(p, name);
  if (Object.isFrozen(p) || (d !== undefined && (d.writable === false || (d.get !== undefined && d.set === undefined)))) {
    throw new SampleError(\`\${where}.\${name} is read-only (a frozen params object?): the parameters are updated in place; pass a copy (copyParams)\`, name);
  }
}`],
  ['$checkArrayParam', `/** (Called when \`v\` is not a Floats of \`size\`): throws unless it is the other float array type, of \`size\`. */
function $checkArrayParam(v: unknown, size: number, shape: string, where: string, name: string): void {
  if (!$isFloats(v) || v.length !== size) throw new SampleError(\`\${where}.\${name} must be a Float64Array or Float32Array of \${size} values (shape \${shape}), got \${$show(v)}\`, name);
}`],
]);

/** The optional helpers that `code` calls (as `$name(`), in a fixed order, in TypeScript or (runtimeJs.ts) JavaScript. */
export function optionalRuntime(code: string, flavour: Flavour = 'ts'): string {
  const texts = flavour === 'ts' ? OPTIONAL_RUNTIME : new Map(Object.entries(RUNTIME_JS.optional));
  return [...OPTIONAL_RUNTIME.keys()].filter((name) => code.includes(`${name}(`)).map((name) => texts.get(name)!).join('\n\n');
}
