/**
 * fit's progress hook and validation rows (issue 9, for `gradc train`): `onBatch` is
 * called after every step taken with the epoch, the samples of the epoch done and their
 * running mean loss (which ends equal to the epoch's loss); an abort seen in it stops
 * training after that batch; validation given as packed rows `{ X, Y, count }` measures
 * exactly what the same samples do, and a non-finite value in them is refused up front.
 * Both lowerings.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type Sample } from '../src/index.js';

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
const samples: Sample[] = Array.from({ length: 10 }, (_, i) => ({ inputs: { x: i / 5 - 1 }, targets: { y: 2 * (i / 5 - 1) + 0.5 } }));
const heldOut: Sample[] = Array.from({ length: 7 }, (_, i) => ({ inputs: { x: i / 3 - 1 }, targets: { y: 1.5 * (i / 3 - 1) } }));

describe.each(['unrolled', 'loops'] as const)('fit hooks, %s lowering', (lowering) => {
  const m = compile(line, { lowering });

  it('onBatch runs after every step: epoch, samples done, running mean loss', () => {
    const calls: [number, number, number][] = [];
    const r = m.fit(samples, { epochs: 2, batchSize: 3, learningRate: 0.05, onBatch: (e, n, loss) => { calls.push([e, n, loss]); } });
    expect(calls.map(([e, n]) => [e, n])).toEqual([[0, 3], [0, 6], [0, 9], [0, 10], [1, 3], [1, 6], [1, 9], [1, 10]]);
    expect(calls[3]![2]).toBeCloseTo(r.losses[0]!, 14); // the running mean at the end is the epoch's loss
    expect(calls[7]![2]).toBeCloseTo(r.losses[1]!, 14);
    expect(calls.every(([, , loss]) => Number.isFinite(loss) && loss > 0)).toBe(true);
  });

  it('an abort raised from onBatch stops after that batch (mid-epoch)', () => {
    const signal = { aborted: false };
    const r = m.fit(samples, { epochs: 5, batchSize: 2, learningRate: 0.05, signal, onBatch: (e, n) => { if (e === 1 && n === 4) signal.aborted = true; } });
    expect(r.stopped).toBe('aborted');
    expect(r.epochs).toBe(1); // the unfinished second epoch is not in the history
    expect(r.optimizer.step).toBe(5 + 2); // a full epoch of 5 steps, then 2
  });

  it('validation as rows measures what the same samples measure', () => {
    const rows = m.packSamples(heldOut);
    const a = m.fit(samples, { epochs: 4, learningRate: 0.05, validation: heldOut });
    const b = m.fit(samples, { epochs: 4, learningRate: 0.05, validation: rows });
    expect(b.history.valLoss).toEqual(a.history.valLoss);
    expect(b.history.valLoss).toHaveLength(4);
  });

  it('bad validation rows and a bad onBatch are refused before training', () => {
    const rows = m.packSamples(heldOut);
    rows.X[4] = NaN;
    expect(() => m.fit(samples, { validation: rows })).toThrow(/options\.validation: X\[4\] \(row 4\) is NaN/);
    expect(() => m.fit(samples, { validation: { X: new Float64Array(3), Y: new Float64Array(3), count: 5 } })).toThrow(/options\.validation: rows 0 to 4 .* are not all in the data/);
    expect(() => m.fit(samples, { onBatch: 3 as never })).toThrow(/onBatch must be a function/);
  });
});
