/**
 * Checkpointed recurrences (`checkpoint: k`) and the step values a forward time loop stores
 * for its gradient loops (5-lower/stash.ts).
 *
 * - With checkpoint k the loss and every gradient equal those without, to 1e-12, for k = 1,
 *   k dividing T, k not dividing T, k = T and k > T; for the Elman, LSTM and GRU cells over
 *   a batch, and for a recurrence written as formulas; three SGD steps too.
 * - The stored history is smaller: the forward scan's history buffer holds floor(T/k) + 1
 *   states per sample instead of T + 1, nothing is stored per step for the gradient, and on
 *   a long sequence the scratch memory per sample as a whole is smaller (the loop plan's
 *   buffers, which the module allocates).
 * - Without a checkpoint an LSTM's gradient loops read the gates the forward loop stored
 *   (buffers `$v_stored_*`), and that changes no number: the gradient equals, bit for bit,
 *   that of checkpoint 1, which recomputes them.
 * - Errors: k not a positive integer, truncate and checkpoint together, a state asked for at
 *   a step that is not kept.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, GradcError, type ModelBuilder } from '../src/index.js';
import { generate } from '../src/pipeline.js';
import type { Params } from '../src/load/loader.js';

type Cell = 'rnn' | 'lstm' | 'gru';
const V = 3, H = 4, B = 5;

function net(T: number, cell: Cell, options: { checkpoint?: number; truncate?: number } = {}) {
  return defineModel(`ck_${cell}`, (m: ModelBuilder) => {
    m.input('x', [T, V]);
    m.target('y');
    const r = cell === 'rnn' ? m.rnn('x', H, 'tanh', options) : cell === 'gru' ? m.gru('x', H, options) : m.lstm('x', H, options);
    m.loss(m.mean(m.call('square', m.sub(m.dense(r.last.h, 1), 'y'))));
  }, { seed: 3 });
}

function data(T: number): { X: Float64Array; Y: Float64Array } {
  return {
    X: Float64Array.from({ length: B * T * V }, (_, i) => Math.sin(1.7 * i + 0.3)),
    Y: Float64Array.from({ length: B }, (_, i) => Math.cos(i)),
  };
}

/** The largest |a - b| over the loss and every gradient element. */
function worst(a: { loss: number; grad: Params }, b: { loss: number; grad: Params }): number {
  let w = Math.abs(a.loss - b.loss);
  for (const name of Object.keys(a.grad)) {
    const x = a.grad[name], y = b.grad[name];
    if (typeof x === 'number') w = Math.max(w, Math.abs(x - (y as number)));
    else for (let i = 0; i < x.length; i++) w = Math.max(w, Math.abs(x[i] - (y as Float64Array)[i]));
  }
  return w;
}

/** Scratch numbers per sample of the looped plan, and the per-sample size of each buffer. */
function memory(def: ReturnType<typeof net>): { perSample: number; sizes: Map<string, number> } {
  const plan = generate(def).program.loops!;
  const batched = plan.buffers.filter((b) => b.batched);
  return {
    perSample: batched.reduce((s, b) => s + b.size / plan.maxBatch, 0),
    sizes: new Map(batched.map((b) => [b.name, b.size / plan.maxBatch])),
  };
}

describe('checkpointed recurrences = the same recurrence without checkpoints', () => {
  const T = 7;
  for (const cell of ['rnn', 'lstm', 'gru'] as const) {
    it(`${cell}, T = ${T}: k = 1, 2, 3, 7 and 9`, () => {
      const { X, Y } = data(T);
      const plain = compile(net(T, cell));
      const p = plain.initParams(1);
      const g0 = plain.gradientBatch(p, X, Y, B);
      for (const k of [1, 2, 3, T, T + 2]) {
        const m = compile(net(T, cell, { checkpoint: k }));
        expect(worst(m.gradientBatch(p, X, Y, B), g0), `k = ${k}`).toBeLessThan(1e-12);
      }
    });
  }

  it('three SGD steps with checkpoint 3 end where they end without (T = 8, LSTM)', () => {
    const { X, Y } = data(8);
    const plain = compile(net(8, 'lstm')), ck = compile(net(8, 'lstm', { checkpoint: 3 }));
    const p = plain.initParams(2), q = plain.copyParams(p);
    for (let s = 0; s < 3; s++) {
      const a = plain.stepBatch(p, X, Y, B, 0.1), b = ck.stepBatch(q, X, Y, B, 0.1);
      expect(Math.abs(a - b)).toBeLessThan(1e-12);
    }
    expect(worst({ loss: 0, grad: p }, { loss: 0, grad: q })).toBeLessThan(1e-12);
  });

  it('in formulas: m.formulas(text, { checkpoint: 2 })', () => {
    const T = 5;
    const def = (checkpoint?: number) => defineModel('ckf', (m) => {
      m.input('x', T);
      m.target('y');
      m.param('w', { init: 0.7 });
      m.param('u', { init: -0.4 });
      m.param('v', { init: 1.3 });
      m.formulas(`
        h[0] = 0
        h[t] = tanh(w * x[t] + u * h[t-1])
        yhat = v * h[T]
        err = (yhat - y)^2
      `, checkpoint === undefined ? {} : { checkpoint });
      m.loss('err');
    });
    const plain = compile(def()), ck = compile(def(2));
    const p = plain.initParams(1);
    const X = Float64Array.from({ length: B * T }, (_, i) => Math.sin(i));
    const Y = Float64Array.from({ length: B }, (_, i) => 0.1 * i);
    expect(worst(ck.gradientBatch(p, X, Y, B), plain.gradientBatch(p, X, Y, B))).toBeLessThan(1e-12);
  });
});

describe('memory', () => {
  it('the history holds floor(T/k) + 1 states, nothing is stored per step, and a long sequence needs less scratch per sample', () => {
    const T = 200, k = 14, C = 2 * H; // an LSTM's carry: h and c
    const plain = memory(net(T, 'lstm'));
    const ck = memory(net(T, 'lstm', { checkpoint: k }));
    const history = (m: { sizes: Map<string, number> }) => Math.max(...[...m.sizes].filter(([n]) => n.startsWith('$v_scan')).map(([, s]) => s));
    expect(history(plain)).toBe((T + 1) * C);
    expect(history(ck)).toBe((Math.floor(T / k) + 1) * C);
    expect([...plain.sizes.keys()].some((n) => n.startsWith('$v_stored'))).toBe(true);
    expect([...ck.sizes.keys()].some((n) => n.startsWith('$v_stored'))).toBe(false);
    expect(ck.perSample).toBeLessThan(0.6 * plain.perSample);
  });
});

describe('stored gates', () => {
  it('an LSTM gradient reads the gates its forward loop stored, and equals the recomputing one bit for bit', () => {
    const T = 6;
    const { X, Y } = data(T);
    expect([...memory(net(T, 'lstm')).sizes.keys()].filter((n) => n.startsWith('$v_stored')).length).toBeGreaterThanOrEqual(4);
    const stored = compile(net(T, 'lstm')), recomputed = compile(net(T, 'lstm', { checkpoint: 1 }));
    const p = stored.initParams(4);
    expect(worst(stored.gradientBatch(p, X, Y, B), recomputed.gradientBatch(p, X, Y, B))).toBe(0);
  });
});

describe('errors', () => {
  it('k not a positive integer, truncate with checkpoint, a state at a step not kept', () => {
    expect(() => compile(net(6, 'rnn', { checkpoint: 0 }))).toThrow(/checkpoint must be a positive integer/);
    expect(() => compile(net(6, 'rnn', { checkpoint: 1.5 }))).toThrow(GradcError);
    expect(() => compile(net(6, 'rnn', { checkpoint: 2, truncate: 3 }))).toThrow(/truncate or checkpoint/);
    expect(() => compile(defineModel('at', (m) => {
      m.input('x', [6, V]); m.target('y');
      const r = m.rnn('x', H, 'tanh', { checkpoint: 4 });
      m.loss(m.sum(m.sub(r.at(3).h, 'y')));
    }))).toThrow(/step 3 is not one of them/);
    // Steps kept: multiples of k and the tail after the last one.
    expect(() => compile(defineModel('at2', (m) => {
      m.input('x', [6, V]); m.target('y');
      const r = m.rnn('x', H, 'tanh', { checkpoint: 4 });
      m.loss(m.add(m.sum(r.at(4).h), m.sum(m.add(r.at(5).h, 'y'))));
    }))).not.toThrow();
  });
});
