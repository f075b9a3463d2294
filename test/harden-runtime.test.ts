/**
 * Issue 7, items 14, 16, 17, 18: the run-time API of generated modules.
 *
 * 14: fit's divergence guard works for losses of any sign, compares the first epoch with
 *     the starting loss, restores the last good parameters, and rejects a bad `divergence`.
 * 16: gradientBatch / stepBatch / fitRows check count, first and the row arrays.
 * 17: a training step is all or nothing: it never writes a non-finite parameter; a
 *     refused step throws a SampleError and leaves the parameters as they were.
 * 18: fit / fitRows / evaluate / predict check options, samples and parameters up front.
 * Each in both lowerings and both precisions.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, GradcError } from '../src/index.js';
import type { GeneratedModule } from '../src/load/loader.js';

type Params = ReturnType<GeneratedModule<Float32Array | Float64Array>['initParams']>;
const VARIANTS = [
  { lowering: 'unrolled', precision: 'f64' },
  { lowering: 'loops', precision: 'f64' },
  { lowering: 'unrolled', precision: 'f32' },
  { lowering: 'loops', precision: 'f32' },
] as const;

/** A line through the data, with a vector input: loss = (sum(w .* v) + b * x - y)^2 + offset. */
const line = (offset = 0) => defineModel({
  name: 'line',
  inputs: { v: 3, x: 'scalar' },
  targets: ['y'],
  params: { w: [0.1, 0.2, 0.3], b: 0.5 },
  formulas: `loss = (sum(w .* v) + b * x - y)^2 + ${offset}`,
});
const SAMPLES = Array.from({ length: 8 }, (_, i) => ({
  inputs: { v: [i / 8, 1 - i / 8, 0.5], x: (i % 3) - 1 },
  targets: { y: 0.3 * i - 1 },
}));

function thrown(f: () => unknown): Error & { problem?: string } {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('nothing was thrown');
}
/** `f` throws a SampleError (a GradcError to gradc's tools) whose message matches `pattern`. */
function sampleError(f: () => unknown, pattern: RegExp): void {
  const e = thrown(f);
  expect(e.name).toBe('SampleError');
  expect(e).toBeInstanceOf(GradcError);
  expect(e.message).toMatch(pattern);
}
const finite = (p: Params) => Object.values(p).every((v) => (typeof v === 'number' ? Number.isFinite(v) : Array.from(v).every(Number.isFinite)));
const snapshot = (p: Params) => JSON.stringify(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v)]));

describe.each(VARIANTS)('generated module ($lowering, $precision)', (options) => {
  const mod = compile(line(), options);
  const rows = mod.packSamples(SAMPLES);

  it('14: the divergence guard works for negative losses, compares the first epoch with the start, restores the start, and rejects a bad factor', () => {
    // An offset of -100: every loss is negative. Training must run, not stop as 'diverged'.
    const negative = compile(line(-100), options);
    const r = negative.fit(SAMPLES, { learningRate: 0.05, epochs: 20 });
    expect(r.stopped).toBe('epochs');
    expect(r.epochs).toBe(20);
    expect(r.initialLoss).toBeLessThan(0);
    expect(r.losses.at(-1)!).toBeLessThan(r.initialLoss);
    // A learning rate that blows up in the first epoch: compared with the starting loss,
    // so the first epoch diverges and the starting parameters come back.
    const start = mod.initParams();
    const before = snapshot(start);
    const bad = mod.fit(SAMPLES, { learningRate: 50, epochs: 10, params: start });
    expect(bad.stopped).toBe('diverged');
    expect(bad.epochs).toBe(0);
    expect(snapshot(bad.params)).toBe(before);
    expect(mod.evaluate(bad.params, SAMPLES)).toBeCloseTo(bad.initialLoss, 5);
    // With a factor of Infinity only non-finite losses count; the run ends finite either way.
    const loose = mod.fit(SAMPLES, { learningRate: 50, epochs: 10, divergence: Infinity });
    expect(finite(loose.params)).toBe(true);
    // A bad factor is an error, not a guard switched off.
    for (const divergence of [NaN, 0, -1, '10' as unknown as number]) {
      sampleError(() => mod.fit(SAMPLES, { epochs: 1, divergence }), /fit: divergence must be a number > 0/);
    }
  });

  it('16: stepBatch, gradientBatch and fitRows check count, first and the rows in X and Y; the parameters stay untouched', () => {
    const p = mod.initParams();
    const before = snapshot(p);
    const cases: [number, number, RegExp][] = [
      [0, 0, /count must be a positive integer, got 0/],
      [-1, 0, /count must be a positive integer, got -1/],
      [1.5, 0, /count must be a positive integer, got 1.5/],
      [NaN, 0, /count must be a positive integer, got NaN/],
      [2, -1, /first must be a non-negative integer, got -1/],
      [2, 0.5, /first must be a non-negative integer, got 0.5/],
      [9, 0, /rows 0 to 8 \(first 0, count 9\) are not all in the data: X has 8 rows/],
      [1, 8, /rows 8 to 8 \(first 8, count 1\) are not all in the data/],
      [4, 6, /rows 6 to 9/],
    ];
    for (const [count, first, message] of cases) {
      sampleError(() => mod.stepBatch(p, rows.X, rows.Y, count, 0.1, first), new RegExp(`^stepBatch: ${message.source}`));
      sampleError(() => mod.gradientBatch(p, rows.X, rows.Y, count, first), new RegExp(`^gradientBatch: ${message.source}`));
    }
    // Y shorter than X: the rows must be in both.
    sampleError(() => mod.stepBatch(p, rows.X, rows.Y.subarray(0, 4), 8, 0.1), /Y has 4 rows of 1/);
    sampleError(() => mod.stepBatch(p, rows.X, rows.Y, 2, NaN), /stepBatch: learningRate must be a finite number >= 0, got NaN/);
    sampleError(() => mod.stepBatch(p, null as unknown as Float64Array, rows.Y, 2, 0.1), /stepBatch: X must be a Float64Array or Float32Array, got null/);
    sampleError(() => mod.fitRows(rows.X, rows.Y, 9, { epochs: 1 }), /^fitRows: rows 0 to 8/);
    sampleError(() => mod.fitRows(rows.X, rows.Y, 0, { epochs: 1 }), /^fitRows: count must be a positive integer, got 0/);
    expect(snapshot(p)).toBe(before);
    // The valid edge cases still work: the last row alone, all rows.
    expect(Number.isFinite(mod.gradientBatch(p, rows.X, rows.Y, 1, 7).loss)).toBe(true);
    expect(Number.isFinite(mod.stepBatch(p, rows.X, rows.Y, 8, 0.01))).toBe(true);
  });

  it('17: a step whose loss or update is not finite is refused with a SampleError and changes nothing (step, stepBatch, fit)', () => {
    const p = mod.initParams();
    const before = snapshot(p);
    // The learning rate: checked before anything is done.
    sampleError(() => mod.step(p, SAMPLES[0].inputs, SAMPLES[0].targets, NaN), /^step: learningRate must be a finite number >= 0, got NaN/);
    sampleError(() => mod.step(p, SAMPLES[0].inputs, SAMPLES[0].targets, Infinity), /^step: learningRate must be a finite number >= 0, got Infinity/);
    // A finite sample whose loss overflows (about 1e400).
    const huge = { v: [1e200, 0, 0], x: 0 };
    sampleError(() => mod.step(p, huge, { y: 0 }, 0.1), /^step: step not taken, the parameters are unchanged: the loss of the sample is Infinity/);
    // A finite loss with an update that overflows: lr * gradient beyond the largest double (or float).
    sampleError(() => mod.step(p, SAMPLES[1].inputs, SAMPLES[1].targets, 1e308), /^step: step not taken, the parameters are unchanged: the update overflows: params\.\w+(\[\d\])? is -?Infinity after the step/);
    expect(snapshot(p)).toBe(before);
    // stepBatch: one bad row among many (written into the packed rows), in both step paths (1 row, 3 rows).
    const X = rows.X.slice();
    X[3 * 4] = 1e200; // row 3, v[0]
    sampleError(() => mod.stepBatch(p, X, rows.Y, 1, 0.1, 3), /^stepBatch: step not taken, the parameters are unchanged: the loss of row 3 is Infinity/);
    sampleError(() => mod.stepBatch(p, X, rows.Y, 3, 0.1, 2), /^stepBatch: step not taken, the parameters are unchanged: the loss of rows 2 to 4 is Infinity/);
    expect(snapshot(p)).toBe(before);
    // Parameters that are already NaN: named, and left alone.
    const q = mod.initParams();
    (q.w as Float64Array)[1] = NaN;
    sampleError(() => mod.step(q, SAMPLES[0].inputs, SAMPLES[0].targets, 0.1), /params\.w\[1\] is NaN before the step/);
    // A good step still steps.
    const loss = mod.step(p, SAMPLES[0].inputs, SAMPLES[0].targets, 0.1);
    expect(loss).toBeCloseTo(mod.loss(mod.initParams(), SAMPLES[0].inputs, SAMPLES[0].targets), 5);
    expect(snapshot(p)).not.toBe(before);
    // fit at absurd learning rates never leaves a non-finite parameter.
    for (const learningRate of [1e3, 1e10, 1e300]) {
      for (const batchSize of [1, 3]) {
        const r = mod.fit(SAMPLES, { learningRate, batchSize, epochs: 5, divergence: Infinity });
        expect(finite(r.params), `lr ${learningRate}, batch ${batchSize}`).toBe(true);
        expect(r.losses.every(Number.isFinite)).toBe(true);
      }
    }
  });

  it('18: fit, fitRows, evaluate and predict check options, samples and parameters first, naming the problem', () => {
    const opt = (o: object) => () => mod.fit(SAMPLES, o);
    sampleError(opt({ learningRate: NaN }), /^fit: learningRate must be a finite number >= 0, got NaN$/);
    sampleError(opt({ learningRate: Infinity }), /^fit: learningRate must be a finite number >= 0, got Infinity$/);
    sampleError(opt({ learningRate: -0.1 }), /^fit: learningRate must be a finite number >= 0, got -0.1$/);
    for (const epochs of [-1, NaN, 1.5, '3']) sampleError(opt({ epochs }), /^fit: epochs must be a non-negative integer, got /);
    for (const batchSize of [0, -1, NaN, 1.5]) sampleError(opt({ batchSize }), /^fit: batchSize must be a positive integer, got /);
    for (const tolerance of [NaN, -1, Infinity]) sampleError(opt({ tolerance }), /^fit: tolerance must be a finite number >= 0, got /);
    sampleError(opt({ shuffleSeed: 0.5 }), /^fit: shuffleSeed must be an integer, got 0.5$/);
    sampleError(opt({ onEpoch: 3 }), /^fit: onEpoch must be a function, got 3$/);
    sampleError(opt({ learningrate: 0.1 }), /^fit: unknown option 'learningrate' \(the options are epochs, learningRate, /);
    sampleError(() => mod.fit(SAMPLES, null as unknown as object), /^fit: options must be an object, got null$/);
    sampleError(() => mod.fitRows(rows.X, rows.Y, 8, { batchSize: 0 }), /^fitRows: batchSize must be a positive integer, got 0$/);
    // Samples: not finite, strings, arrays of strings, wrong sizes, missing, null.
    const withInput = (i: number, inputs: object) => SAMPLES.map((s, k) => (k === i ? { ...s, inputs: { ...s.inputs, ...inputs } } : s));
    sampleError(() => mod.fit(withInput(2, { x: NaN })), /^sample 2: input 'x' must be a finite number, got NaN$/);
    sampleError(() => mod.fit(withInput(5, { x: Infinity })), /^sample 5: input 'x' must be a finite number, got Infinity$/);
    sampleError(() => mod.fit(withInput(1, { v: [0, NaN, 1] })), /^sample 1: input 'v' element 1 must be a finite number, got NaN$/);
    sampleError(() => mod.fit(withInput(1, { v: 'abc' })), /^sample 1: input 'v' must be an array of 3 numbers \(shape \[3\]\), got the string "abc"$/);
    sampleError(() => mod.fit(withInput(0, { v: ['1', '2', '3'] })), /^sample 0: input 'v' element 0 must be a finite number, got the string "1"$/);
    sampleError(() => mod.fit(withInput(0, { v: [1, 2] })), /^sample 0: input 'v' must be an array of 3 numbers \(shape \[3\]\), got an array of 2$/);
    sampleError(() => mod.fit(withInput(3, { x: '1' })), /^sample 3: input 'x' must be a finite number, got the string "1"$/);
    sampleError(() => mod.fit(SAMPLES.map((s, k) => (k === 4 ? { ...s, targets: { y: -Infinity } } : s))), /^sample 4: target 'y' must be a finite number, got -Infinity$/);
    sampleError(() => mod.fit(null as unknown as []), /^samples must be an array of \{ inputs, targets \}, got null$/);
    sampleError(() => mod.fit([]), /^fit needs at least one sample$/);
    const X = rows.X.slice();
    X[9] = NaN;
    sampleError(() => mod.fitRows(X, rows.Y, 8), /^fitRows: X\[9\] \(row 2, input value 1\) is NaN$/);
    // Parameters: missing key, wrong length, wrong kind, non-finite values.
    const p = mod.initParams();
    const { b: _b, ...noB } = p;
    sampleError(() => mod.fit(SAMPLES, { params: noB as Params }), /^fit: options\.params\.b must be a number, got undefined$/);
    sampleError(() => mod.predict({ ...p, w: new Float64Array(2) }, [SAMPLES[0].inputs]), /^predict: params\.w must be a Float64Array or Float32Array of 3 values \(shape \[3\]\), got a Float64Array of 2$/);
    sampleError(() => mod.predict({ ...p, w: [1, 2, 3] as unknown as Float64Array }, [SAMPLES[0].inputs]), /^predict: params\.w must be a Float64Array or Float32Array of 3 values \(shape \[3\]\), got an array of 3$/);
    sampleError(() => mod.predict({ ...p, b: NaN }, [SAMPLES[0].inputs]), /^predict: params\.b is NaN$/);
    sampleError(() => mod.evaluate({ ...p, w: Float64Array.of(0, Infinity, 0) }, SAMPLES), /^evaluate: params\.w\[1\] is Infinity$/);
    sampleError(() => mod.fit(SAMPLES, { params: { ...p, w: Float64Array.of(0, 0, NaN) } }), /^fit: options\.params\.w\[2\] is NaN$/);
    sampleError(() => mod.step(noB as Params, SAMPLES[0].inputs, SAMPLES[0].targets, 0.1), /^step: params\.b must be a number, got undefined$/);
    sampleError(() => mod.gradient(null as unknown as Params, SAMPLES[0].inputs, SAMPLES[0].targets), /^gradient: params must be an object with 'w', 'b', got null$/);
    // predict and evaluate: null and empty.
    sampleError(() => mod.predict(p, null as unknown as []), /^predict: inputs must be an array of inputs, got null$/);
    sampleError(() => mod.predict(p, [null as unknown as { x: number }]), /^predict: inputs 0 must be an object of inputs, got null$/);
    expect(mod.predict(p, [])).toEqual([]);
    sampleError(() => mod.evaluate(p, []), /^evaluate needs at least one sample$/);
    sampleError(() => mod.evaluate(p, null as unknown as []), /^samples must be an array/);
    // Nothing was trained on the way: the starting parameters are intact.
    expect(snapshot(p)).toBe(snapshot(mod.initParams()));
  });
});
