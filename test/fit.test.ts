/**
 * fit, grown up (issue 9): validation data (given or split off by a seeded fraction),
 * early stopping on the validation loss with the best parameters restored, an abort
 * signal checked after every step, the per-epoch record given to onEpoch, the loss
 * history and why training stopped; every option checked up front (SampleError). Both
 * lowerings.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type EpochRecord, type GeneratedModule, type Sample } from '../src/index.js';

// y = w x + b, squared error.
const line = defineModel({
  name: 'line',
  inputs: ['x'],
  targets: ['y'],
  params: { w: 0, b: 0 },
  formulas: `
    yhat = w * x + b
    loss = (yhat - y)^2
  `,
});
const xs = Array.from({ length: 20 }, (_, i) => (i - 10) / 5);
const train: Sample[] = xs.map((x) => ({ inputs: { x }, targets: { y: 2 * x + 0.5 } }));
// Validation from another line: its loss falls while w is small, then rises as w heads for 2.
const heldOut: Sample[] = xs.map((x) => ({ inputs: { x }, targets: { y: 0.6 * x + 0.5 } }));

/** An abort signal whose `aborted` turns true on its (n+1)-th read; counts its reads. */
function abortAfter(n: number) {
  let reads = 0;
  return { get aborted() { reads++; return reads > n; }, get reads() { return reads; } };
}

// A 3-class softmax classifier on 2 inputs, with its logits and the line's prediction as outputs.
const classifier = defineModel({
  name: 'classifier',
  inputs: { x: 2 },
  targets: { y: 3 },
  params: { W: { shape: [3, 2], init: 0 }, b: { shape: [3], init: 0 } },
  outputs: ['logits'],
  formulas: `
    logits = W * x + b
    loss = -dot(y, log_softmax(logits))
  `,
});
const centers = [[3, 0], [-2, 2.5], [-2, -2.5]];
const points: Sample[] = Array.from({ length: 30 }, (_, i) => {
  const c = i % 3;
  const x = [centers[c]![0]! + Math.sin(i * 1.7) * 0.8, centers[c]![1]! + Math.cos(i * 2.3) * 0.8];
  return { inputs: { x }, targets: { y: [0, 1, 2].map((k) => (k === c ? 1 : 0)) } };
});
const lineWithOutput = defineModel({
  name: 'line_out',
  inputs: ['x'],
  targets: ['y'],
  params: { w: 0, b: 0 },
  outputs: ['yhat'],
  formulas: `
    yhat = w * x + b
    loss = (yhat - y)^2
  `,
});

for (const lowering of ['unrolled', 'loops'] as const) {
  describe(`metrics (${lowering})`, () => {
    it('accuracy on a separable toy problem reaches 1, on training and validation data', () => {
      const mod = compile(classifier, { lowering } as never);
      const records: EpochRecord[] = [];
      const r = mod.fit(points, { epochs: 30, learningRate: 0.1, shuffleSeed: 1, metrics: ['accuracy'], validation: { fraction: 0.2, seed: 5 }, onEpoch: (_e, _l, _p, rec) => { records.push(rec); } });
      expect(r.history.metrics.train).toHaveLength(30);
      expect(r.history.metrics.validation).toHaveLength(30);
      expect(r.history.metrics.train[29]!.accuracy).toBe(1);
      expect(r.history.metrics.validation[29]!.accuracy).toBe(1);
      expect(r.history.metrics.train[0]).toEqual(records[0]!.metrics.train);
      // Accuracy by hand from predict.
      const out = mod.predict(r.params, points.map((s) => s.inputs));
      const argmax = (v: ArrayLike<number>) => Array.from(v).indexOf(Math.max(...Array.from(v)));
      const right = out.filter((o, i) => argmax(o.logits as Float64Array) === argmax(points[i]!.targets.y as number[])).length;
      expect(right).toBe(30);
    });

    it('mse and mae match a hand computation; metricsOn names the pair; bad metrics are SampleErrors', () => {
      const mod = compile(lineWithOutput, { lowering } as never);
      const r = mod.fit(train, { epochs: 3, learningRate: 0.01, metrics: ['mse', 'mae'], metricsOn: { output: 'yhat', target: 'y' } });
      const pred = mod.predict(r.params, train.map((s) => s.inputs)).map((o) => o.yhat as number);
      const d = pred.map((p, i) => p - (train[i]!.targets.y as number));
      expect(r.history.metrics.train[2]!.mse).toBeCloseTo(d.reduce((t, x) => t + x * x, 0) / 20, 12);
      expect(r.history.metrics.train[2]!.mae).toBeCloseTo(d.reduce((t, x) => t + Math.abs(x), 0) / 20, 12);
      expect(r.history.metrics.train[2]!.accuracy).toBeUndefined();
      expect(r.history.metrics.validation).toEqual([]);
      expect(() => mod.fit(train, { metrics: ['f1'] } as never)).toThrow(/unknown metric the string "f1"/);
      expect(() => mod.fit(train, { metrics: 'mse' } as never)).toThrow(/metrics must be an array/);
      expect(() => mod.fit(train, { metrics: ['mse'], metricsOn: { output: 'nope', target: 'y' } })).toThrow(/no output the string "nope" \(the outputs are yhat\)/);
      expect(() => mod.fit(train, { metrics: ['mse'], metricsOn: { output: 'yhat', target: 'z' } })).toThrow(/no target the string "z"/);
      const cls = compile(classifier, { lowering } as never);
      expect(() => cls.fit(points, { metrics: ['mse'] })).not.toThrow();
    });
  });

  describe(`fit (${lowering})`, () => {
    const mod: GeneratedModule = compile(line, { lowering } as never);

    it('records training and validation loss history of equal lengths, bestEpoch at the lowest validation loss', () => {
      const r = mod.fit(train, { epochs: 7, learningRate: 0.01, validation: heldOut });
      expect(r.stopped).toBe('epochs');
      expect(r.history.loss).toHaveLength(7);
      expect(r.history.valLoss).toHaveLength(7);
      expect(r.losses).toEqual(r.history.loss);
      const min = Math.min(...r.history.valLoss);
      expect(r.history.valLoss[r.bestEpoch]).toBe(min);
      // The validation loss is the mean loss of the held-out samples after the epoch.
      const again = mod.fit(train, { epochs: 3, learningRate: 0.01 });
      expect(mod.evaluate(again.params, heldOut)).toBeCloseTo(r.history.valLoss[2]!, 12);
      // Without validation: no valLoss, bestEpoch by the training loss.
      expect(again.history.valLoss).toEqual([]);
      expect(again.history.loss[again.bestEpoch]).toBe(Math.min(...again.history.loss));
    });

    it('early stopping stops after `patience` epochs without improvement and restores the best parameters', () => {
      const seen: Record<string, number>[] = [];
      const r = mod.fit(train, {
        epochs: 200, learningRate: 0.01, validation: heldOut, earlyStopping: { patience: 3 },
        onEpoch: (_e, _l, p) => { seen.push({ w: p.w as number, b: p.b as number }); },
      });
      expect(r.stopped).toBe('early-stopping');
      const v = r.history.valLoss;
      expect(v.length).toBe(r.bestEpoch + 1 + 3);
      expect(v[r.bestEpoch]).toBe(Math.min(...v));
      for (let i = r.bestEpoch + 1; i < v.length; i++) expect(v[i]!).toBeGreaterThanOrEqual(v[r.bestEpoch]!);
      expect(v[v.length - 1]!).toBeGreaterThan(v[r.bestEpoch]!); // the val loss did rise
      expect({ w: r.params.w, b: r.params.b }).toEqual(seen[r.bestEpoch]);
      expect(mod.evaluate(r.params, heldOut)).toBeCloseTo(v[r.bestEpoch]!, 12);
      // restoreBest: false keeps the last epoch's parameters.
      const last = mod.fit(train, { epochs: 200, learningRate: 0.01, validation: heldOut, earlyStopping: { patience: 3, restoreBest: false } });
      expect(last.history.valLoss.length).toBe(v.length);
      expect(mod.evaluate(last.params, heldOut)).toBeCloseTo(v[v.length - 1]!, 12);
    });

    it('patience counts consecutive epochs, and minDelta makes small improvements not count', () => {
      // Training loss only: it falls every epoch, so patience never runs out...
      const r = mod.fit(train, { epochs: 30, learningRate: 0.001, earlyStopping: { patience: 1 } });
      expect(r.stopped).toBe('epochs');
      expect(r.bestEpoch).toBe(29);
      // ...unless improvements below minDelta do not count.
      const d = mod.fit(train, { epochs: 300, learningRate: 0.01, earlyStopping: { patience: 2, minDelta: 1e-3 } });
      expect(d.stopped).toBe('early-stopping');
      const l = d.history.loss;
      expect(l.length).toBe(d.bestEpoch + 3);
      expect(l[l.length - 1]!).toBeLessThan(l[d.bestEpoch]!); // still improving, but by too little
      expect(l[d.bestEpoch]! - l[l.length - 1]!).toBeLessThan(2e-3);
    });

    it('an aborted signal stops after the current batch, with the steps done kept', () => {
      for (const [batchSize, reads] of [[1, 7], [4, 2], [3, 9]] as const) {
        const signal = abortAfter(reads);
        const r = mod.fit(train, { epochs: 50, learningRate: 0.01, batchSize, signal });
        expect(r.stopped).toBe('aborted');
        // Read once when the options are checked, then once after every step: the step after
        // which it turned true is the last one.
        const steps = reads;
        expect(signal.reads).toBe(steps + 1);
        expect(r.optimizer.step).toBe(steps);
        const perEpoch = Math.ceil(train.length / batchSize);
        expect(r.epochs).toBe(Math.floor(steps / perEpoch));
        // Same parameters as stepping by hand.
        const p = mod.initParams();
        const packed = mod.packSamples(train);
        for (let s = 0; s < steps; s++) {
          const first = (s % perEpoch) * batchSize;
          mod.stepBatch(p, packed.X, packed.Y, Math.min(batchSize, train.length - first), 0.01, first);
        }
        expect(r.params.w).toBeCloseTo(p.w as number, 12);
        expect(r.params.b).toBeCloseTo(p.b as number, 12);
      }
      // An AbortSignal works, and one aborted before training stops after one step.
      const ac = new AbortController();
      ac.abort();
      const r = mod.fit(train, { epochs: 5, signal: ac.signal });
      expect(r.stopped).toBe('aborted');
      expect(r.optimizer.step).toBe(1);
      expect(r.history.loss).toEqual([]);
      expect(r.bestEpoch).toBe(-1);
    });

    it('abort with early stopping restores the best completed epoch', () => {
      const signal = abortAfter(20 * 40 + 5);
      const r = mod.fit(train, { epochs: 200, learningRate: 0.01, validation: heldOut, earlyStopping: { patience: 1000 }, signal });
      expect(r.stopped).toBe('aborted');
      expect(r.history.valLoss).toHaveLength(40);
      expect(mod.evaluate(r.params, heldOut)).toBeCloseTo(Math.min(...r.history.valLoss), 12);
    });

    it('a validation fraction is split off deterministically by its seed', () => {
      const data = mod.packSamples(train);
      const run = (seed: number) => mod.fit(train, { epochs: 3, learningRate: 0.01, validation: { fraction: 0.25, seed } });
      const a = run(7), b = run(7), c = run(8);
      expect(a.history).toEqual(b.history);
      expect(a.history.valLoss).not.toEqual(c.history.valLoss);
      // 5 of 20 held out (the rest in their order): the validation loss after training is
      // that of some 5 samples, and training on the 15 others alone gives the same history.
      void data;
      let found = 0;
      const w = a.params;
      const losses = train.map((s) => mod.evaluate(w, [s]));
      const target = a.history.valLoss[2]! * 5;
      // Find the 5 held-out samples: the ones whose removal reproduces the training history.
      const subsets = (from: number, k: number): number[][] => k === 0 ? [[]] : from >= 20 ? [] :
        [...subsets(from + 1, k - 1).map((r) => [from, ...r]), ...subsets(from + 1, k)];
      for (const held of subsets(0, 5)) {
        const sum = held.reduce((t, i) => t + losses[i]!, 0);
        if (Math.abs(sum - target) > 1e-9 * Math.max(1, target)) continue;
        const rest = train.filter((_, i) => !held.includes(i));
        const solo = mod.fit(rest, { epochs: 3, learningRate: 0.01, validation: held.map((i) => train[i]!) });
        if (solo.history.loss.every((l, e) => l === a.history.loss[e]) && solo.history.valLoss.every((l, e) => l === a.history.valLoss[e])) found++;
      }
      expect(found).toBe(1);
      // Both parts non-empty, else an error.
      expect(() => mod.fit(train.slice(0, 2), { validation: { fraction: 0.1 } })).toThrow(/no validation sample/);
      expect(() => mod.fit(train.slice(0, 2), { validation: { fraction: 0.9 } })).toThrow(/no training sample/);
    });

    it('onEpoch receives the old arguments and an EpochRecord; returning false stops', () => {
      const records: EpochRecord[] = [];
      const r = mod.fit(train, {
        epochs: 10, validation: heldOut,
        optimizer: { kind: 'sgd', learningRate: 0.02, schedule: { kind: 'exponential', gamma: 0.99 } },
        onEpoch: (epoch, loss, params, record) => {
          expect(record.epoch).toBe(epoch);
          expect(record.loss).toBe(loss);
          expect(record.params).toBe(params);
          records.push({ ...record });
          return epoch < 3;
        },
      });
      expect(r.stopped).toBe('callback');
      expect(records.map((x) => x.epoch)).toEqual([0, 1, 2, 3]);
      expect(records.map((x) => x.valLoss)).toEqual(r.history.valLoss);
      expect(records.every((x) => x.elapsedMs >= 0)).toBe(true);
      expect(records[0]!.learningRate).toBeGreaterThan(records[3]!.learningRate);
    });

    it('bad validation, earlyStopping and signal values are SampleErrors before training', () => {
      const bad: [object, RegExp][] = [
        [{ validation: 3 }, /validation must be an array of samples or \{ fraction, seed \}/],
        [{ validation: [] }, /validation must hold at least one sample/],
        [{ validation: [{ inputs: { x: 1 } }] }, /validation: sample 0 has no targets/],
        [{ validation: { fraction: 1 } }, /fraction must be a number between 0 and 1/],
        [{ validation: { fraction: 0 } }, /fraction must be a number between 0 and 1/],
        [{ validation: { fraction: 0.2, seed: 1.5 } }, /seed must be an integer/],
        [{ validation: { fraction: 0.2, sede: 1 } }, /unknown key 'sede'/],
        [{ earlyStopping: { patience: 0 } }, /patience must be a positive integer/],
        [{ earlyStopping: {} }, /patience must be a positive integer/],
        [{ earlyStopping: { patience: 2, minDelta: -1 } }, /minDelta must be a finite number >= 0/],
        [{ earlyStopping: { patience: 2, restoreBest: 'yes' } }, /restoreBest must be true or false/],
        [{ earlyStopping: 5 }, /earlyStopping must be \{ patience/],
        [{ signal: {} }, /signal must be an object with a boolean 'aborted'/],
        [{ signal: true }, /signal must be an object/],
      ];
      for (const [options, message] of bad) {
        const params = mod.initParams();
        let error: unknown;
        try { mod.fit(train, { ...options, params } as never); } catch (e) { error = e; }
        expect((error as Error)?.name, JSON.stringify(options)).toBe('SampleError');
        expect((error as Error).message).toMatch(message);
        expect(params).toEqual(mod.initParams());
      }
      // fitRows takes the same options.
      const { X, Y, count } = mod.packSamples(train);
      expect(() => mod.fitRows(X, Y, count, { earlyStopping: { patience: -1 } })).toThrow(/fitRows: options.earlyStopping.patience/);
      const r = mod.fitRows(X, Y, count, { epochs: 4, validation: { fraction: 0.5, seed: 3 } });
      expect(r.history.valLoss).toHaveLength(4);
    });
  });
}
