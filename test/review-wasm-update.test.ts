/**
 * Review of WASM_UPDATE (6-emit/fusedSteps.ts, commit 28a439c) as a hostile user: the
 * Adam/AdamW/RMSprop one-row step whose moments live in slots of a WebAssembly memory.
 *
 * Every test compares a whole trajectory (losses or the error thrown, parameters, st.m, st.v,
 * st.step, bit for bit, -0 included) of a module compiled with the default simd ('auto', the
 * Wasm step) against the same model compiled with simd 'off' (the JavaScript fused step),
 * and checks with a counter spliced into the emitted call that the Wasm kernel really ran.
 *
 * Findings:
 * - DEFECT (fixed in 6-emit/optimizers.ts): loadParams of a file refused after its optimizer
 *   options were read (bad step count, missing or negative moments) took two moment slots
 *   each, since `$initOptimizer` handed its fresh moments to `$ownMoments`, which places them
 *   (`$placeMoments`) before the rest of the file was checked; slots are never reused, so 32
 *   refused loads silently turned the Wasm step off for every state the module makes after.
 * - Divergence kept as `it.fails` (not fixed): the optimizer's own moment object passed as the
 *   parameters (`stepBatch(st.m, ...)`).
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type GeneratedModule, type OptimizerOptions, type OptimizerState, type Params } from '../src/index.js';
import { generateJavaScript } from '../src/pipeline.js';
import { runModule } from '../src/load/loader.js';

type Precision = 'f64' | 'f32';
// Both precisions run through the same code: their modules, arrays and states are typed loosely.
type Mod = GeneratedModule<any>;
type P = Params<any>;
type Def = ReturnType<typeof defineModel>;
type Mutable = { -readonly [K in keyof OptimizerState]: OptimizerState[K] };

const mlp = (name: string, inputs: number, sizes: number[], act: 'tanh' | 'relu' | 'sigmoid', loss: 'mse' | 'ce' = 'mse') =>
  defineModel(name, (m) => {
    const x = m.input('x', inputs);
    const y = m.target('y', sizes.at(-1)!);
    const out = m.mlp(x, sizes, act, 'linear');
    m.loss(loss === 'ce' ? m.call('cross_entropy', out, y) : m.mean(m.call('square', m.sub(out, y))));
  });

const SMALL = mlp('rv_small', 2, [3, 1], 'tanh'); // 13 parameters (NO_DECAY steps)
const MODELS: [string, Def, number, number][] = [
  ['2-3-1 tanh', SMALL, 2, 1],
  ['2-4-4-3-1 tanh', mlp('rv_deep', 2, [4, 4, 3, 1], 'tanh'), 2, 1],
  ['2-4-2 sigmoid', mlp('rv_sig', 2, [4, 2], 'sigmoid'), 2, 2],
  ['3-5-3 relu, cross-entropy', mlp('rv_ce', 3, [5, 3], 'relu', 'ce'), 3, 3],
  ['3-20-1 tanh (101 parameters)', mlp('rv_w100', 3, [20, 1], 'tanh'), 3, 1],
];

const OPTIONS: OptimizerOptions[] = [
  { kind: 'adam', learningRate: 0.02 },
  { kind: 'adamw', learningRate: 0.02, weightDecay: 0.1 },
  { kind: 'adam', learningRate: 0.02, weightDecay: 0.01, beta1: 0.5, beta2: 0.6 },
  { kind: 'adam', learningRate: 0.02, epsilon: 5e-324 },
  { kind: 'adam', learningRate: 0.05, beta1: 0, beta2: 0 },
  { kind: 'adam', learningRate: 1e300 },
  { kind: 'adam', learningRate: 0 },
  { kind: 'adam', learningRate: 0.02, schedule: { kind: 'step', stepSize: 3, gamma: 0.5 } },
  { kind: 'adamw', learningRate: 0.02, weightDecay: 1e10, schedule: { kind: 'cosine', totalSteps: 20, warmupSteps: 4 } },
  { kind: 'adam', learningRate: 0.02, clipNorm: 0.1 }, // clipping: the unfused path
  { kind: 'rmsprop', learningRate: 0.01 },
  { kind: 'rmsprop', learningRate: 0.01, momentum: 0.9 },
  { kind: 'rmsprop', learningRate: 0.01, momentum: 0.5, weightDecay: 0.01, rho: 0, epsilon: 5e-324 },
];

const bits = (xs: Iterable<number>) => [...xs].map((x) => (Object.is(x, -0) ? '-0' : String(x)));
const flat = (p: P | null | undefined): string[] => (p ? bits(Object.keys(p).flatMap((k) => [...(p[k] as Float64Array)])) : []);
const snap = (p: P, st: OptimizerState) => ({ p: flat(p), m: flat(st.m), v: flat(st.v), step: st.step });
/** The loss as a string, or the error's name (a refused step throws a SampleError). */
const attempt = (f: () => number): string => {
  try {
    return bits([f()])[0]!;
  } catch (e) {
    return `throws ${(e as Error).name}`;
  }
};
const arr = (p: P | null | undefined, name: string) => p![name] as Float64Array;

const CODE = new Map<Def, Map<string, string>>();
/** The unrolled module as JavaScript (what `compile` runs), generated once per model, precision and simd. */
function codeOf(def: Def, precision: Precision, simd: 'auto' | 'off'): string {
  const byDef = CODE.get(def) ?? new Map<string, string>();
  CODE.set(def, byDef);
  const key = `${precision}/${simd}`;
  if (!byDef.has(key)) byDef.set(key, generateJavaScript(def, { lowering: 'unrolled', precision, simd }));
  return byDef.get(key)!;
}

/** A fresh instance of the module (simd 'auto' or 'off'), with each call into a Wasm update kernel counted in `calls.n`. */
function counted(def: Def, precision: Precision, simd: 'auto' | 'off' = 'auto'): { mod: Mod; calls: { n: number } } {
  const calls = { n: 0 };
  const key = `__rvWasmCalls${Math.random().toString(36).slice(2)}`;
  (globalThis as Record<string, unknown>)[key] = calls;
  const code = codeOf(def, precision, simd);
  const spliced = code.replace(/\$s \+= \$fw\.f\[(\d+)\]\(/g, (_, i: string) => `$s += (globalThis.${key}.n++, $fw.f[${i}])(`);
  if (simd === 'auto' && spliced === code) throw new Error('no Wasm update call to count');
  return { mod: runModule(spliced), calls };
}

function rows(count: number, inputs: number, outputs: number, precision: Precision, oneHot = false) {
  const F = precision === 'f64' ? Float64Array : Float32Array;
  const X = new F(count * inputs), Y = new F(count * outputs);
  for (let i = 0; i < X.length; i++) X[i] = Math.sin(1.3 * i + 0.2) * 1.5;
  for (let i = 0; i < Y.length; i++) Y[i] = oneHot ? (i % outputs === Math.floor(i / outputs) % outputs ? 1 : 0) : Math.cos(0.7 * i) * 0.8;
  return { X: X as Float64Array, Y: Y as Float64Array }; // typed as f64: the modules are typed loosely
}

/** A big target: gradients whose squares overflow the second moment while each new parameter stays finite. */
const HUGE = { f64: 1e160, f32: 1e30 } as const;

describe('WASM_UPDATE under attack: every trajectory equals simd off bit for bit', () => {
  for (const [name, def, ni, no] of MODELS) {
    for (const precision of ['f64', 'f32'] as const) {
      it(`${name}, ${precision}: every optimizer, batch 1 and 2 interleaved, step(), refused steps, save and load`, () => {
        const { X, Y } = rows(8, ni, no, precision, no > 1);
        const { mod, calls } = counted(def, precision);
        const { mod: off, calls: offCalls } = counted(def, precision, 'off');
        const run = (M: Mod, options: OptimizerOptions) => {
          const out: unknown[] = [];
          let p = M.initParams(7);
          let st = M.initOptimizer(p, options);
          for (let t = 0; t < 30; t++) out.push(attempt(() => M.stepBatch(p, X, Y, t % 7 === 3 ? 2 : 1, st, t % 6)));
          const big = Y.map(() => HUGE[precision]);
          out.push(attempt(() => M.stepBatch(p, X, big, 1, st, 1)), snap(p, st));
          const nan = X.map(() => NaN);
          out.push(attempt(() => M.stepBatch(p, nan, Y, 1, st, 1)), snap(p, st));
          for (let t = 0; t < 4; t++) out.push(attempt(() => M.step(p, { x: [...X.slice(t * ni, t * ni + ni)] }, { y: [...Y.slice(t * no, t * no + no)] }, st)));
          const back = M.loadParams(JSON.stringify(M.saveParams(p, st)));
          p = back.params;
          st = back.optimizer!;
          for (let t = 0; t < 10; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, t % 6)));
          out.push(snap(p, st));
          return out;
        };
        for (const options of OPTIONS) expect(run(mod, options), JSON.stringify(options)).toEqual(run(off, options));
        expect(calls.n).toBeGreaterThan(300); // the Wasm step did run
        expect(offCalls.n).toBe(0);
      });
    }
  }

  for (const precision of ['f64', 'f32'] as const) {
    it(`${precision}: extreme values written into st.m, st.v or the parameters between steps (refused or taken exactly as simd off)`, () => {
      const { X, Y } = rows(8, 2, 1, precision);
      const { mod, calls } = counted(SMALL, precision);
      const off = compile(SMALL, { lowering: 'unrolled', precision, simd: 'off' });
      const max = precision === 'f64' ? Number.MAX_VALUE : 3.4028234663852886e38;
      const values = [NaN, Infinity, -Infinity, max, -max, max / 2, 1e30, 1e19, -1, 5e-324, -0];
      for (const options of [{ kind: 'adam', learningRate: 0.02 }, { kind: 'adamw', learningRate: 0.5, weightDecay: 0.5 }, { kind: 'rmsprop', learningRate: 0.02, momentum: 0.9 }] as OptimizerOptions[]) {
        for (const where of ['m', 'v', 'p'] as const) {
          for (const value of values) {
            const run = (M: Mod) => {
              const p = M.initParams(7);
              const st = M.initOptimizer(p, options);
              const out: unknown[] = [];
              for (let t = 0; t < 3; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, t)));
              const into = where === 'p' ? p : st[where]!;
              arr(into, 'layer1_W')[1] = value;
              arr(into, 'layer1_b').fill(value);
              for (let t = 0; t < 4; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, t)), snap(p, st));
              return out;
            };
            expect(run(mod), `${options.kind} ${where} ${value}`).toEqual(run(off));
          }
        }
      }
      expect(calls.n).toBeGreaterThan(100);
    });

    it(`${precision}: all finite but the sum overflows (CHECK_ONCE hands the row to the exact path): taken as simd off`, () => {
      const { X, Y } = rows(8, 2, 1, precision);
      const { mod, calls } = counted(SMALL, precision);
      const off = compile(SMALL, { lowering: 'unrolled', precision, simd: 'off' });
      const max = precision === 'f64' ? 1e308 : 3e38;
      const run = (M: Mod) => {
        const p = M.initParams(2);
        const st = M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 });
        const out: unknown[] = [];
        for (let t = 0; t < 3; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, t)));
        arr(p, 'layer1_b').fill(max); // tanh saturates: the loss and every new value stay finite, their sum does not
        for (let t = 0; t < 4; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, t)), snap(p, st));
        const r = M.initOptimizer(p, { kind: 'rmsprop', learningRate: 0.02 });
        arr(r.v, 'layer1_b').fill(max);
        for (let t = 0; t < 4; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, r, t)), snap(p, r));
        return out;
      };
      const got = run(mod);
      expect(got).toEqual(run(off));
      expect(got.filter((x) => typeof x === 'string' && x.startsWith('throws'))).toEqual([]); // the exact path took them all
      expect(calls.n).toBeGreaterThan(4);
    });
  }

  it('many states (past the pool of 64 slots), interleaved at random with minibatches, references dropped: as simd off', () => {
    const { X, Y } = rows(8, 2, 1, 'f64');
    const { mod, calls } = counted(SMALL, 'f64');
    const off = compile(SMALL, { lowering: 'unrolled', simd: 'off' });
    const run = (M: Mod) => {
      const ps: P[] = [], sts: OptimizerState[] = [];
      for (let i = 0; i < 150; i++) {
        ps.push(M.initParams(i + 1));
        sts.push(M.initOptimizer(ps[i]!, i % 3 === 0 ? { kind: 'rmsprop', learningRate: 0.01, momentum: 0.3 } : { kind: 'adam', learningRate: 0.02 }));
        if (i % 10 === 0) M.initOptimizer(ps[i]!, { kind: 'adam' }); // made and dropped: its slots are never handed out again
      }
      const out: string[] = [];
      let r = 12345;
      for (let t = 0; t < 1500; t++) {
        r = (r * 1103515245 + 12345) & 0x7fffffff;
        const i = r % 150;
        // 1 to 3 steps in a row: the Wasm step is taken from a state's second step in a row (its moments checked by the first)
        for (let k = 0; k <= (r >> 12) % 3; k++) out.push(attempt(() => M.stepBatch(ps[i]!, X, Y, (r >> 8) % 5 === 0 ? 3 : 1, sts[i]!, (r >> 4) % 5)));
      }
      return [out, sts.map((s, i) => snap(ps[i]!, s))];
    };
    expect(run(mod)).toEqual(run(off));
    expect(calls.n).toBeGreaterThan(100); // the states with slots (the first 32 or so; batch 3 and the first of a run take the JavaScript paths)
  });

  for (const precision of ['f64', 'f32'] as const) {
    it(`${precision}: one state's steps write nothing outside its own slot (the other slots stay exactly 0)`, () => {
      const { X, Y } = rows(8, 2, 1, precision);
      const mod = compile(SMALL, { lowering: 'unrolled', precision });
      const p = mod.initParams(2);
      const sts = Array.from({ length: 5 }, (_, i) => mod.initOptimizer(p, i % 2 ? { kind: 'rmsprop', learningRate: 0.02, momentum: 0.5 } : { kind: 'adam', learningRate: 0.02 }));
      const mine = sts[2]!;
      for (let t = 0; t < 20; t++) mod.stepBatch(p, X, Y, 1, mine, t % 8);
      const B = precision === 'f64' ? 8 : 4;
      const memory = precision === 'f64' ? new Float64Array(arr(mine.m, 'layer1_W').buffer) : new Float32Array(arr(mine.m, 'layer1_W').buffer);
      const own = new Set<number>();
      for (const q of [mine.m!, mine.v!]) for (const a of Object.values(q) as Float64Array[]) for (let i = 0; i < a.length; i++) own.add(a.byteOffset / B + i);
      const first = Math.min(...sts.flatMap((s) => [s.m!, s.v!]).flatMap((q) => (Object.values(q) as Float64Array[]).map((a) => a.byteOffset / B)));
      const touched: number[] = [];
      for (let i = first; i < memory.length; i++) if (!own.has(i) && memory[i] !== 0) touched.push(i);
      expect(touched).toEqual([]);
      expect(flat(mine.v).some((x) => x !== '0')).toBe(true);
    });
  }

  it('moments swapped by hand mid-training (plain arrays, another state\'s, spread copies, m and v the same object, refusals): as simd off', () => {
    const { X, Y } = rows(8, 2, 1, 'f64');
    const { mod, calls } = counted(SMALL, 'f64');
    const off = compile(SMALL, { lowering: 'unrolled', simd: 'off' });
    const run = (M: Mod) => {
      const out: unknown[] = [];
      const p = M.initParams(3), q = M.initParams(4);
      const a = M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 }) as Mutable, b = M.initOptimizer(q, { kind: 'adam', learningRate: 0.02 }) as Mutable;
      const both = (n: number, big = false) => {
        for (let t = 0; t < n; t++) out.push(attempt(() => M.stepBatch(p, X, big && t % 2 ? Y.map(() => 1e160) : Y, 1, a, t % 8)));
        for (let t = 0; t < n; t++) out.push(attempt(() => M.stepBatch(q, X, Y, 1, b, t % 8)));
        out.push(snap(p, a), snap(q, b));
      };
      both(10);
      a.m = M.zeroParams(); // plain arrays
      both(5, true);
      a.v = b.v; // b's second moment shared
      both(5, true);
      a.m = b.m;
      both(5, true);
      a.m = { ...b.v! }; // a spread copy: the same arrays, not the frozen object
      both(5, true);
      a.v = a.m = M.initOptimizer(p, { kind: 'adam' }).m; // m and v one object
      both(6, true);
      const mom = M.initOptimizer(q, { kind: 'momentum', learningRate: 0.02 });
      a.m = mom.m; // a momentum state's velocity
      for (let t = 0; t < 5; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, a, t)), attempt(() => M.stepBatch(q, X, Y, 1, mom, t)));
      out.push(snap(p, a), snap(q, mom));
      const frozen = Object.freeze(M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 }));
      out.push(attempt(() => M.stepBatch(p, X, Y, 1, frozen, 0)), snap(p, frozen));
      return out;
    };
    expect(run(mod)).toEqual(run(off));
    expect(calls.n).toBeGreaterThan(40);
  });

  it('the 64th slot: a state whose m has a slot and whose v has none (and the other way round by hand) trains as simd off', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const { X, Y } = rows(8, 2, 1, precision);
      const run = (M: Mod) => {
        const p = M.initParams(2);
        const velocities = Array.from({ length: 63 }, () => M.initOptimizer(p, { kind: 'momentum', learningRate: 0.01 })); // one slot each
        const a = M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 }) as Mutable; // m: the last slot; v: plain arrays
        const b = M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 });
        const out: unknown[] = [arr(a.m, 'layer1_W').byteOffset > 0, arr(a.v, 'layer1_W').byteOffset > 0];
        for (let t = 0; t < 15; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, a, t % 8)));
        a.m = b.m; // plain arrays (past the pool)
        a.v = velocities[4]!.m; // a slot (a velocity's: any Params of the model will do)
        for (let t = 0; t < 15; t++) out.push(attempt(() => M.stepBatch(p, X, t % 3 ? Y : Y.map(() => HUGE[precision]), 1, a, t % 8)));
        out.push(snap(p, a), flat(velocities[3]!.m));
        return out;
      };
      const got = run(compile(SMALL, { lowering: 'unrolled', precision }));
      expect(got.slice(0, 2)).toEqual([true, false]); // m in the 64th slot, v past the pool
      expect(got.slice(2)).toEqual(run(compile(SMALL, { lowering: 'unrolled', precision, simd: 'off' })).slice(2));
    }
  });

  it('fit (refused steps, divergence rollback, early stopping with restoreBest, abort, minibatches, resumed from a state): as simd off', () => {
    const samples = Array.from({ length: 24 }, (_, i) => ({ inputs: { x: [Math.sin(i), Math.cos(2 * i)] }, targets: { y: [Math.sin(i) * Math.cos(2 * i)] } }));
    const spiky = samples.map((s, i) => (i === 13 ? { ...s, targets: { y: [1e154] } } : s)); // a finite loss; with beta2 0 its step's v overflows: refused
    const cases: [string, typeof samples, Record<string, unknown>][] = [
      ['adam', samples, { optimizer: { kind: 'adam', learningRate: 0.01 }, epochs: 12, shuffleSeed: 3 }],
      ['rmsprop', samples, { optimizer: { kind: 'rmsprop', learningRate: 0.01, momentum: 0.5 }, epochs: 12, shuffleSeed: 3 }],
      ['refused steps', spiky, { optimizer: { kind: 'adam', learningRate: 0.01, beta2: 0 }, epochs: 6, shuffleSeed: 3, divergence: Infinity }],
      ['divergence', samples, { optimizer: { kind: 'adam', learningRate: 50 }, epochs: 12, shuffleSeed: 3, divergence: 0.5 }],
      ['early stopping', samples, { optimizer: { kind: 'adamw', learningRate: 0.05, weightDecay: 0.1 }, epochs: 40, shuffleSeed: 3, validation: { fraction: 0.25, seed: 1 }, earlyStopping: { patience: 2, restoreBest: true } }],
      ['minibatches', samples, { optimizer: { kind: 'adam', learningRate: 0.01 }, epochs: 8, batchSize: 5, shuffleSeed: 3 }],
    ];
    for (const [name, data, options] of cases) {
      const fitWith = (simd: 'auto' | 'off') => {
        const mod = compile(SMALL, { lowering: 'unrolled', simd });
        let n = 0;
        const signal = name === 'adam' ? { get aborted() { return ++n > 150; } } : undefined;
        try {
          const r = mod.fit(data, { ...options, params: mod.initParams(5), ...(signal ? { signal } : {}) });
          return [r.losses, r.stopped, r.epochs, r.bestEpoch, snap(r.params, r.optimizer)];
        } catch (e) {
          return (e as Error).message;
        }
      };
      const got = fitWith('auto');
      expect(got, name).toEqual(fitWith('off'));
      if (name === 'refused steps' || name === 'divergence') expect(got[1], name).toBe('diverged');
    }
    const resumed = (simd: 'auto' | 'off') => {
      const mod = compile(SMALL, { lowering: 'unrolled', simd });
      let p = mod.initParams(5);
      let st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.01 });
      const out: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        out.push(mod.fit(samples, { optimizer: st, epochs: 3, params: p, shuffleSeed: i }).losses);
        const back = mod.loadParams(JSON.stringify(mod.saveParams(p, st)));
        p = back.params;
        st = back.optimizer!;
      }
      return [out, snap(p, st)];
    };
    expect(resumed('auto')).toEqual(resumed('off'));
  });

  it('a parameter named like a property the step or the state reads (m, v, step, length, then, prototype): as simd off', () => {
    for (const name of ['m', 'v', 'step', 'length', 'then', 'prototype']) {
      const def = defineModel(`rv_name_${name}`, (m) => {
        const x = m.input('x', 2);
        const y = m.target('y', 1);
        const w = m.param(name, { shape: [2], init: { kind: 'uniform', low: -1, high: 1 } });
        const c = m.param('c', { shape: [1], init: { kind: 'uniform', low: -1, high: 1 } });
        m.loss(m.mean(m.call('square', m.sub(m.add(m.call('tanh', m.dot(w, x)), c), y))));
      });
      const { X, Y } = rows(8, 2, 1, 'f64');
      const { mod, calls } = counted(def, 'f64');
      const off = compile(def, { lowering: 'unrolled', simd: 'off' });
      const run = (M: Mod) => {
        const p = M.initParams(3);
        const st = M.initOptimizer(p, { kind: 'adam', learningRate: 0.05 });
        const out: unknown[] = [];
        for (let t = 0; t < 20; t++) out.push(attempt(() => M.stepBatch(p, X, t === 9 ? Y.map(() => 1e160) : Y, 1, st, t % 8)));
        const back = M.loadParams(JSON.stringify(M.saveParams(p, st)));
        for (let t = 0; t < 5; t++) out.push(attempt(() => M.stepBatch(back.params, X, Y, 1, back.optimizer!, t)));
        return [out, snap(p, st), snap(back.params, back.optimizer!)];
      };
      expect(run(mod), name).toEqual(run(off));
      expect(calls.n, name).toBeGreaterThan(15);
    }
  });

  it('random operation sequences (steps, minibatches, step(), extreme values, huge targets, save/load, swaps, new states): as simd off', () => {
    const defs: [Def, number, number, boolean][] = [[SMALL, 2, 1, false], [mlp('rv_fz', 3, [6, 2], 'sigmoid'), 3, 2, false], [mlp('rv_fzce', 2, [3, 3, 2], 'relu', 'ce'), 2, 2, true]];
    const kinds: OptimizerOptions[] = [{ kind: 'adam', learningRate: 0.05 }, { kind: 'adamw', learningRate: 0.05, weightDecay: 0.2 }, { kind: 'adam', learningRate: 0.05, weightDecay: 0.01, beta1: 0.5, beta2: 0.6 }, { kind: 'rmsprop', learningRate: 0.02 }, { kind: 'rmsprop', learningRate: 0.02, momentum: 0.7, weightDecay: 0.1 }, { kind: 'adam', learningRate: 0.05, clipNorm: 0.5 }, { kind: 'momentum', learningRate: 0.05 }, { kind: 'sgd', learningRate: 0.05 }];
    const values = [NaN, Infinity, -Infinity, 1e308, -1e308, 1e160, 0, -0, 1e-320, 3e38, 1e30, -1];
    let wasm = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const [def, ni, no, ce] = defs[seed % defs.length]!;
      const precision: Precision = seed % 2 ? 'f64' : 'f32';
      const run = (M: Mod) => {
        let r = seed * 7919;
        const rnd = (n: number) => ((r = (r * 1103515245 + 12345) & 0x7fffffff) >> 3) % n;
        const { X, Y } = rows(8, ni, no, precision, ce);
        const ps = [M.initParams(seed), M.initParams(seed + 1)];
        const sts = [M.initOptimizer(ps[0]!, kinds[rnd(kinds.length)]!), M.initOptimizer(ps[1]!, kinds[rnd(kinds.length)]!)] as Mutable[];
        const out: unknown[] = [];
        for (let t = 0; t < 100; t++) {
          const i = rnd(2), p = ps[i]!, st = sts[i]!, op = rnd(20);
          if (op < 11) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, rnd(8))));
          else if (op === 11) out.push(attempt(() => M.stepBatch(p, X, Y, 3, st, rnd(5))));
          else if (op === 12) out.push(attempt(() => M.step(p, { x: [...X.slice(0, ni)] }, { y: [...Y.slice(0, no)] }, st)));
          else if (op === 13 || op === 14) {
            const into = op === 14 ? p : rnd(2) ? st.m : st.v;
            if (into) { const k = Object.keys(into); const a = arr(into, k[rnd(k.length)]!); a[rnd(a.length)] = values[rnd(values.length)]!; }
          } else if (op === 15) {
            try { const d = M.loadParams(JSON.stringify(M.saveParams(p, st))); ps[i] = d.params; sts[i] = d.optimizer! as Mutable; out.push('loaded'); } catch { out.push('not saved'); }
          } else if (op === 16) out.push(attempt(() => M.stepBatch(p, X, Y.map((y) => y * [1e160, 1e30, 1e200, NaN][rnd(4)]!), 1, st, rnd(8))));
          else if (op === 17) { const o = sts[1 - i]!; if (o.options.kind === st.options.kind) { if (rnd(2)) st.m = o.m; else st.v = o.v; } }
          else if (op === 18) sts[i] = M.initOptimizer(p, kinds[rnd(kinds.length)]!) as Mutable;
          else if (st.m) { if (rnd(2)) st.m = M.copyParams(st.m); else st.m = { ...st.m }; }
          out.push(snap(ps[0]!, sts[0]!), snap(ps[1]!, sts[1]!));
        }
        return out;
      };
      const { mod, calls } = counted(def, precision);
      expect(run(mod), `seed ${seed}`).toEqual(run(counted(def, precision, 'off').mod));
      wasm += calls.n;
    }
    expect(wasm).toBeGreaterThan(1000);
  });
});

describe('WASM_UPDATE without WebAssembly', () => {
  it('a module loaded where WebAssembly is missing places nothing and trains as simd off', () => {
    const js = codeOf(SMALL, 'f64', 'auto');
    const W = (globalThis as Record<string, unknown>).WebAssembly;
    (globalThis as Record<string, unknown>).WebAssembly = undefined;
    let mod: Mod;
    try {
      mod = runModule(js);
    } finally {
      (globalThis as Record<string, unknown>).WebAssembly = W;
    }
    const { X, Y } = rows(8, 2, 1, 'f64');
    const run = (M: Mod) => {
      const p = M.initParams(7);
      const st = M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 });
      const out: unknown[] = [arr(st.m, 'layer1_W').byteOffset];
      for (let t = 0; t < 30; t++) out.push(attempt(() => M.stepBatch(p, X, t === 10 ? Y.map(() => 1e160) : Y, 1, st, t % 8)));
      return [out, snap(p, st)];
    };
    expect(run(mod)).toEqual(run(counted(SMALL, 'f64', 'off').mod));
  });
});

describe('WASM_UPDATE: moment slots', () => {
  const inSlot = (st: OptimizerState) => arr(st.m, 'layer1_W').byteOffset > 0 && arr(st.v, 'layer1_W').byteOffset > 0;

  // DEFECT (fixed): loadParams placed the file's moments in a slot before checking the rest of
  // the file, so every refused file took two slots; slots are never reused, so after 32 the
  // module silently lost the Wasm step for every state made later (initOptimizer, fit, loadParams).
  it('a file refused by loadParams takes no moment slot (as loadParams documents): the Wasm step still runs after many refusals', () => {
    const { mod, calls } = counted(SMALL, 'f64');
    const p = mod.initParams(1);
    const good = mod.saveParams(p, mod.initOptimizer(p, { kind: 'adam', learningRate: 0.02 })); // 2 slots
    const damaged = [
      (d: any) => { d.optimizer.step = -1; },
      (d: any) => { delete d.optimizer.v; },
      (d: any) => { d.optimizer.v.layer1_W.values[0] = -1; },
      (d: any) => { d.optimizer.m.layer2_b.values = []; },
    ];
    for (let i = 0; i < 40; i++) {
      const doc = JSON.parse(JSON.stringify(good));
      damaged[i % damaged.length]!(doc);
      expect(() => mod.loadParams(doc)).toThrow(/loadParams/);
    }
    const st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.02 });
    expect(inSlot(st)).toBe(true);
    const loaded = mod.loadParams(JSON.parse(JSON.stringify(good))).optimizer!;
    expect(inSlot(loaded)).toBe(true);
    const { X, Y } = rows(8, 2, 1, 'f64');
    for (let t = 0; t < 5; t++) mod.stepBatch(p, X, Y, 1, st, t);
    for (let t = 0; t < 5; t++) mod.stepBatch(p, X, Y, 1, loaded, t);
    expect(calls.n).toBe(8); // the first step of each checks its moments in JavaScript, the rest run in Wasm
  });

  it('a loaded state still takes exactly one slot per moment, frozen, with the file\'s values', () => {
    const mod = compile(SMALL, { lowering: 'unrolled' });
    const p = mod.initParams(1);
    const st = mod.initOptimizer(p, { kind: 'rmsprop', learningRate: 0.02, momentum: 0.5 });
    const { X, Y } = rows(8, 2, 1, 'f64');
    for (let t = 0; t < 5; t++) mod.stepBatch(p, X, Y, 1, st, t);
    const doc = JSON.stringify(mod.saveParams(p, st));
    const first = mod.loadParams(doc).optimizer!;
    const second = mod.loadParams(doc).optimizer!;
    const at = (s: OptimizerState) => [arr(s.m, 'layer1_W').byteOffset, arr(s.v, 'layer1_W').byteOffset];
    const [m1, v1] = at(first), [m2, v2] = at(second);
    expect(arr(first.m, 'layer1_W').buffer).toBe(arr(st.m, 'layer1_W').buffer);
    expect(v1! - m1!).toBe(m2! - v1!); // consecutive slots: nothing taken in between
    expect(v2! - m2!).toBe(v1! - m1!);
    expect(Object.isFrozen(first.m) && Object.isFrozen(first.v)).toBe(true);
    expect([flat(first.m), flat(first.v), first.step]).toEqual([flat(st.m), flat(st.v), st.step]);
  });

  // Not fixed (a misuse, documented here): the optimizer's own moment object passed as the
  // parameters. The JavaScript step writes each element's new parameter, then its new moment
  // into the same place (the moment stays); the Wasm step updates the moments first and then
  // writes the parameters over them (the parameter stays). Both are meaningless training, but
  // the two compilations no longer agree bit for bit.
  it.fails('the moment object passed as the parameters (stepBatch(st.v, ...)): as simd off', () => {
    const { X, Y } = rows(8, 2, 1, 'f64');
    const run = (M: Mod) => {
      const p = M.initParams(2);
      const st = M.initOptimizer(p, { kind: 'adam', learningRate: 0.02 });
      const out: unknown[] = [];
      for (let t = 0; t < 3; t++) out.push(attempt(() => M.stepBatch(p, X, Y, 1, st, t)));
      arr(st.v, 'layer1_W').set(arr(p, 'layer1_W').map(Math.abs));
      for (let t = 0; t < 4; t++) out.push(attempt(() => M.stepBatch(st.v!, X, Y, 1, st, t)), snap(p, st));
      return out;
    };
    expect(run(compile(SMALL, { lowering: 'unrolled' }))).toEqual(run(compile(SMALL, { lowering: 'unrolled', simd: 'off' })));
  });
});
