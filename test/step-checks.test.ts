/**
 * The per-step checks of `step` / `stepBatch` with an OptimizerState, where they now run
 * (6-emit/optimizers.ts `$knownState`, `$optimizerStep`; 6-emit/fusedSteps.ts): the fast
 * path checks the options and the step count; the moment arrays are checked where the step
 * loads them, and a read-only step count is found by writing it first. These tests break a
 * state *after* it has taken steps (so the fast path is the one taken, not the full check
 * of a state seen for the first time) and hold the result to the full check's: a SampleError
 * naming the problem, and parameters, moments and step count exactly as they were. Each
 * lowering path: the fused step (unrolled), the unfused row step (split kernels), the looped
 * lowering, and a minibatch (the update pass).
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type GeneratedModule, type OptimizerState, type Params } from '../src/index.js';

const def = defineModel('net221', (m) => {
  const x = m.input('x', 2);
  const y = m.target('y', 1);
  const out = m.mlp(x, [2, 1], 'tanh', 'linear');
  m.loss(m.mean(m.call('square', m.sub(out, y))));
});
const X = Float64Array.from({ length: 8 }, (_, i) => Math.sin(1.1 * i + 0.3));
const Y = Float64Array.from({ length: 4 }, (_, i) => Math.cos(0.9 * i) * 0.5);
const NAMES = ['layer1_W', 'layer1_b', 'layer2_W', 'layer2_b'];
const flat = (p: Params | null): number[] => (p ? NAMES.flatMap((k) => [...(p[k] as Float64Array)]) : []);

const MODULES: readonly (readonly [string, GeneratedModule])[] = [
  ['fused', compile(def, { lowering: 'unrolled' })],
  ['split', compile(def, { lowering: 'unrolled', chunkSize: 8 })],
  ['looped', compile(def, { lowering: 'loops' })],
];

/** A state broken after three steps, and what the step must say about it. */
const BREAKS: readonly { readonly what: string; readonly kind: 'adam' | 'momentum'; readonly brk: (st: OptimizerState) => void; readonly message: RegExp }[] = [
  { what: 'a frozen state', kind: 'adam', brk: (st) => Object.freeze(st), message: /optimizer\.step is read-only/ },
  { what: 'a read-only step count', kind: 'momentum', brk: (st) => Object.defineProperty(st, 'step', { writable: false }), message: /optimizer\.step is read-only/ },
  // The module's moment objects are frozen: a user swaps in an object of their own.
  { what: 'a moment array of the wrong size', kind: 'adam', brk: (st) => { (st as { v: Params | null }).v = { ...st.v!, layer1_W: new Float64Array(3) }; }, message: /optimizer\.v\.layer1_W/ },
  { what: 'a missing moment', kind: 'momentum', brk: (st) => { (st as { m: Params | null }).m = null; }, message: /optimizer\.m/ },
  { what: 'a negative step count', kind: 'adam', brk: (st) => { st.step = -1; }, message: /optimizer\.step must be a non-negative integer/ },
];

describe.each(MODULES)('a state broken after it has trained (%s)', (_name, mod) => {
  for (const { what, kind, brk, message } of BREAKS) {
    for (const count of [1, 2]) {
      it(`${what}, stepBatch of ${count}: a SampleError, nothing changed`, () => {
        const p = mod.initParams(5);
        const st = mod.initOptimizer(p, { kind, learningRate: 0.05 });
        for (let t = 0; t < 3; t++) mod.stepBatch(p, X, Y, count, st, t % 2);
        expect(st.step).toBe(3);
        brk(st);
        const before = { p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step };
        let error: unknown;
        try { mod.stepBatch(p, X, Y, count, st, 0); } catch (e) { error = e; }
        expect((error as Error)?.name).toBe('SampleError');
        expect((error as Error).message).toMatch(message);
        expect({ p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step }).toEqual(before);
      });
    }
    it(`${what}, step: a SampleError, nothing changed`, () => {
      const p = mod.initParams(5);
      const st = mod.initOptimizer(p, { kind, learningRate: 0.05 });
      for (let t = 0; t < 3; t++) mod.step(p, { x: [0.5, -0.25] }, { y: [0.3] }, st);
      brk(st);
      const before = { p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step };
      expect(() => mod.step(p, { x: [0.5, -0.25] }, { y: [0.3] }, st)).toThrow(message);
      expect({ p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step }).toEqual(before);
    });
  }

  it('a refused step (NaN target) puts the step count back; the state trains on afterwards', () => {
    const p = mod.initParams(5);
    const st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.05 });
    mod.stepBatch(p, X, Y, 1, st, 0);
    const bad = Y.slice();
    bad[1] = NaN;
    expect(() => mod.stepBatch(p, X, bad, 1, st, 1)).toThrow(/the loss of row 1 is NaN/);
    expect(st.step).toBe(1);
    expect(Number.isFinite(mod.stepBatch(p, X, Y, 1, st, 1))).toBe(true);
    expect(st.step).toBe(2);
  });

  it('a scheduled rate in the one-row step equals the minibatch path with the same rows', () => {
    // The one-row step reads the rate of step t; a batch of one repeated row takes the other path ($optimizerRows) with the same rate.
    const schedule = { kind: 'exponential', gamma: 0.5 } as const;
    const run = (count: number) => {
      const p = mod.initParams(5);
      const st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.05, schedule });
      const XX = new Float64Array([...X.subarray(0, 2), ...X.subarray(0, 2)]), YY = new Float64Array([Y[0]!, Y[0]!]);
      for (let t = 0; t < 6; t++) mod.stepBatch(p, XX, YY, count, st, 0);
      return flat(p);
    };
    const one = run(1), two = run(2);
    one.forEach((x, i) => expect(Math.abs(x - two[i]!)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(x))));
  });
});

/**
 * The fused step remembers the state arrays it checked last and then compares identity only
 * (fusedSteps.ts stateCheck), and checks $p1 and $v1 but not $m1 in float64 (UNCHECKED_M1).
 * These switch states under it and plant non-finite first moments, per rule.
 */
describe('the fused step\'s remembered state arrays and its checks of new values', () => {
  const mod = compile(def, { lowering: 'unrolled' });
  const trained = (kind: 'adam' | 'momentum' | 'rmsprop') => {
    const p = mod.initParams(5);
    const st = mod.initOptimizer(p, { kind, learningRate: 0.05 });
    for (let t = 0; t < 3; t++) mod.stepBatch(p, X, Y, 1, st, t % 4);
    return { p, st };
  };
  const refused = (p: Params, st: OptimizerState, message: RegExp) => {
    const before = { p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step };
    expect(() => mod.stepBatch(p, X, Y, 1, st, 1)).toThrow(message);
    expect({ p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step }).toEqual(before);
  };

  it('two states trained alternately equal each trained alone; a bad array swapped into the one checked first is refused', () => {
    const a = trained('adam'), b = trained('adam');
    const a2 = trained('adam'), b2 = trained('adam');
    for (let t = 0; t < 6; t++) { mod.stepBatch(a.p, X, Y, 1, a.st, t % 4); mod.stepBatch(b.p, X, Y, 1, b.st, (t + 1) % 4); }
    for (let t = 0; t < 6; t++) mod.stepBatch(a2.p, X, Y, 1, a2.st, t % 4);
    for (let t = 0; t < 6; t++) mod.stepBatch(b2.p, X, Y, 1, b2.st, (t + 1) % 4);
    expect([flat(a.p), flat(a.st.v)]).toEqual([flat(a2.p), flat(a2.st.v)]);
    expect([flat(b.p), flat(b.st.m)]).toEqual([flat(b2.p), flat(b2.st.m)]);
    (a.st as { m: Params | null }).m = { ...a.st.m!, layer2_W: new Float32Array(2) as unknown as Float64Array }; // right length, wrong kind
    refused(a.p, a.st, /^stepBatch/); // refused as the old per-step check refused it (the full check's wording for a Float32Array in a float64 model)
    (b.st as { v: Params | null }).v = { ...b.st.v!, layer1_b: [0, 0] as unknown as Float64Array }; // a plain array
    refused(b.p, b.st, /optimizer\.v\.layer1_b/);
  });

  it('the moment objects initOptimizer and loadParams make are frozen; a state built by hand trains the same and is checked at every step', () => {
    const own = trained('adam');
    expect(Object.isFrozen(own.st.m) && Object.isFrozen(own.st.v)).toBe(true);
    expect(() => { own.st.m!.layer1_W = new Float64Array(4); }).toThrow(TypeError);
    const loaded = mod.loadParams(mod.saveParams(own.p, own.st)).optimizer!;
    expect(Object.isFrozen(loaded.m) && Object.isFrozen(loaded.v)).toBe(true);
    // A hand-built state (plain objects), an own one and a loaded one, stepped in turn, each equal to its run alone.
    const copy = (q: Params): Params => Object.fromEntries(NAMES.map((k) => [k, (q[k] as Float64Array).slice()]));
    const hand = { p: copy(own.p), st: { options: { kind: 'adam', learningRate: 0.05 }, step: own.st.step, m: copy(own.st.m!), v: copy(own.st.v!) } as OptimizerState };
    const fromFile = { p: copy(own.p), st: loaded };
    const alone = [own, hand, fromFile].map((x) => {
      const p = copy(x.p), st = { ...x.st, m: copy(x.st.m!), v: copy(x.st.v!) };
      for (let t = 0; t < 8; t++) mod.stepBatch(p, X, Y, 1, st, t % 4);
      return [flat(p), flat(st.m), flat(st.v)];
    });
    for (let t = 0; t < 8; t++) for (const x of [own, hand, fromFile]) mod.stepBatch(x.p, X, Y, 1, x.st, t % 4);
    expect([own, hand, fromFile].map((x) => [flat(x.p), flat(x.st.m), flat(x.st.v)])).toEqual(alone);
    // The hand-built state's arrays are checked at every step, after it has been the one checked last.
    hand.st.m!.layer1_b = new Float64Array(3);
    refused(hand.p, hand.st, /optimizer\.m\.layer1_b/);
    // The own state still takes its steps (its arrays were not the ones just refused).
    expect(Number.isFinite(mod.stepBatch(own.p, X, Y, 1, own.st, 0))).toBe(true);
  });

  it('a frozen moment object not made by the module is still checked at every step (a getter may answer differently)', () => {
    const { p, st } = trained('adam');
    const good = st.m!.layer1_W as Float64Array;
    let ok = true;
    const m = Object.freeze({ ...st.m!, get layer1_W() { return ok ? good : new Float64Array(1); } }) as Params;
    (st as { m: Params | null }).m = m;
    for (let t = 0; t < 2; t++) expect(Number.isFinite(mod.stepBatch(p, X, Y, 1, st, t))).toBe(true); // checked, and taken
    ok = false;
    refused(p, st, /optimizer\.m\.layer1_W/);
  });

  for (const kind of ['adam', 'rmsprop'] as const) {
    it(`${kind}: a second moment that overflows to Infinity is refused though the new parameter is finite, nothing changed`, () => {
      const { p, st } = trained(kind);
      (st.v!.layer1_W as Float64Array)[1] = Infinity; // v1 = Infinity, sqrt(v1) = Infinity, $p1 = $wk: finite
      refused(p, st, /not finite|NaN|Infinity|overflows/);
    });
  }

  for (const kind of ['adam', 'momentum', 'rmsprop'] as const) {
    for (const bad of [Infinity, -Infinity, NaN]) {
      it(`${kind}: a first moment of ${bad} is refused (the new parameter is not finite), nothing changed`, () => {
        const { p, st } = trained(kind);
        (st.m!.layer1_W as Float64Array)[2] = bad;
        refused(p, st, /not finite|NaN|Infinity/);
      });
    }
  }
});
