/**
 * A small recurrence's step as straight-line scalar code (5-lower/cell.ts) against the same
 * step as the looped body (element loops and gemms over the batch).
 *
 * - Forced each way (`scalarCell: Infinity` and `scalarCell: 0`): the CO2 recurrence, Elman,
 *   LSTM and GRU cells of 3 and 8 units over a batch, the names GRU with a length per sample
 *   (select + step counter), and an LSTM with a checkpoint give the same loss and every
 *   gradient (1e-12), and three Adam steps end at the same parameters.
 * - The plans differ as said: the scalar one has a `cell` step in each time loop,
 *   the looped one none; by default (operations of at
 *   most 32 scalar ops each on average) the CO2 net and a 4-unit GRU are scalar, the names
 *   GRU and a 64-unit LSTM are not.
 * - The module's size does not depend on T: T = 1000 within 2% of T = 10, scalar body.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type ModelBuilder } from '../src/index.js';
import { generate } from '../src/pipeline.js';
import type { LoopStep } from '../src/5-lower/plan.js';
import type { Params } from '../src/load/loader.js';
import { co2Model } from '../examples/co2.model.js';
import { NAME_SYMBOLS, namesModel } from '../examples/names.model.js';
import { seeded } from './helpers/numeric.js';

type Def = ReturnType<typeof co2Model>;
const SCALAR = { scalarCell: Infinity }, LOOPED = { scalarCell: 0 };

function worst(a: { loss: number; grad: Params }, b: { loss: number; grad: Params }): number {
  let w = Math.abs(a.loss - b.loss) / Math.max(1, Math.abs(b.loss));
  for (const name of Object.keys(b.grad)) {
    const x = a.grad[name], y = b.grad[name];
    if (typeof x === 'number') w = Math.max(w, Math.abs(x - (y as number)) / Math.max(1, Math.abs(y as number)));
    else for (let i = 0; i < x.length; i++) w = Math.max(w, Math.abs(x[i] - (y as Float64Array)[i]) / Math.max(1, Math.abs((y as Float64Array)[i])));
  }
  return w;
}

/** Every step of a kernel, time loops opened. */
function flat(steps: readonly LoopStep[]): LoopStep[] {
  return steps.flatMap((s) => (s.kind === 'time' ? [s, ...flat(s.steps)] : [s]));
}
const timeLoops = (def: Def, options: object) => Object.values(generate(def, { lowering: 'loops', ...options }).program.loops!.kernels)
  .flatMap((k) => flat(k.steps)).filter((s): s is Extract<LoopStep, { kind: 'time' }> => s.kind === 'time');

/** Both bodies on rows X, Y of n samples: gradients equal, and three Adam steps. */
function sameBothWays(def: Def, X: Float64Array, Y: Float64Array, n: number): void {
  const scalar = compile(def, { lowering: 'loops', ...SCALAR }), looped = compile(def, { lowering: 'loops', ...LOOPED });
  expect(scalar.code).not.toBe(looped.code);
  const p = looped.initParams(7);
  expect(worst(scalar.gradientBatch(p, X, Y, n), looped.gradientBatch(p, X, Y, n))).toBeLessThan(1e-12);
  const q = looped.copyParams(p);
  const sa = scalar.initOptimizer(p, { kind: 'adam', learningRate: 0.01 }), sb = looped.initOptimizer(q, { kind: 'adam', learningRate: 0.01 });
  for (let s = 0; s < 3; s++) {
    const a = scalar.stepBatch(p, X, Y, n, sa), b = looped.stepBatch(q, X, Y, n, sb);
    expect(Math.abs(a - b) / Math.max(1, Math.abs(b))).toBeLessThan(1e-12);
  }
  expect(worst({ loss: 0, grad: p }, { loss: 0, grad: q })).toBeLessThan(1e-12);
  // Each way as asked: a cell step in every time loop, or in none.
  for (const t of timeLoops(def, SCALAR)) expect(t.steps.some((s) => s.kind === 'cell')).toBe(true);
  for (const t of timeLoops(def, LOOPED)) expect(t.steps.some((s) => s.kind === 'cell')).toBe(false);
}

const rows = (n: number, seed: number) => { const r = seeded(seed); return Float64Array.from({ length: n }, () => 2 * r() - 1); };

function cellNet(cell: 'rnn' | 'lstm' | 'gru', T: number, V: number, H: number, options: { checkpoint?: number } = {}): Def {
  return defineModel(`cb_${cell}`, (m: ModelBuilder) => {
    m.input('x', [T, V]);
    m.target('y');
    const r = cell === 'rnn' ? m.rnn('x', H, 'tanh', options) : cell === 'gru' ? m.gru('x', H, options) : m.lstm('x', H, options);
    m.loss(m.mean(m.call('square', m.sub(m.dense(r.last.h, 1), 'y'))));
  }, { seed: 3 });
}

describe('scalar cell bodies = looped bodies', () => {
  it('the CO2 recurrence (8 units, T = 12), batch of 5', () => {
    sameBothWays(co2Model(), rows(5 * 12, 1), rows(5, 2), 5);
  });

  for (const cell of ['rnn', 'lstm', 'gru'] as const) {
    for (const H of [3, 8]) {
      it(`${cell}, ${H} units, T = 6 over 4 inputs, batch of 5`, () => {
        sameBothWays(cellNet(cell, 6, 4, H), rows(5 * 6 * 4, H), rows(5, 9), 5);
      });
    }
  }

  it('an LSTM with checkpoint 2 (T = 7)', () => {
    sameBothWays(cellNet('lstm', 7, 3, 4, { checkpoint: 2 }), rows(5 * 7 * 3, 4), rows(5, 5), 5);
  });

  it('the names GRU (6 units, T = 6) with a length per sample', () => {
    const def = namesModel(6, 6);
    const m = compile(def, { lowering: 'loops' });
    const r = seeded(12);
    const samples = [1, 6, 3, 4, 2, 5].map((len) => ({
      inputs: { x: Float64Array.from({ length: 6 * NAME_SYMBOLS }, (_, i) => (i % NAME_SYMBOLS === Math.floor(r() * NAME_SYMBOLS) ? 1 : 0)), len },
      targets: { y: r() < 0.5 ? 0 : 1 },
    }));
    const { X, Y, count } = m.packSamples(samples);
    sameBothWays(def, X as Float64Array, Y as Float64Array, count);
  });
});

describe('which body, and the size', () => {
  it('by default the CO2 net and a 4-unit GRU are scalar, the names GRU (16 units over 27) and a 64-unit LSTM looped', () => {
    for (const def of [co2Model(), cellNet('gru', 5, 4, 4)]) for (const t of timeLoops(def, {})) expect(t.steps.some((s) => s.kind === 'cell')).toBe(true);
    for (const def of [namesModel(), cellNet('lstm', 5, 16, 64)]) for (const t of timeLoops(def, {})) expect(t.steps.some((s) => s.kind === 'cell')).toBe(false);
  });

  it('T = 1000 within 2% of T = 10 (scalar body)', () => {
    const size = (T: number) => generate(cellNet('lstm', T, 3, 8), { lowering: 'loops', ...SCALAR }).code.length;
    const [a, b] = [size(10), size(1000)];
    expect(Math.abs(b - a) / a).toBeLessThan(0.02);
  });
});
