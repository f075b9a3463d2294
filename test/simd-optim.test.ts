/**
 * The optimizer update pass and the clipping norm in WebAssembly, over parameters and
 * optimizer state that live in the kernels' memory (src/6-emit/wasm/update.ts, simd.ts):
 * - the kernels alone: every rule (momentum plain and Nesterov), both precisions, sizes
 *   0..33, bit-identical to the rule's own JavaScript element code, nothing outside the
 *   arrays touched, the check is NaN exactly when a new value is not finite; the sum of
 *   squares against a plain loop;
 * - whole modules: random nets 1, 3, 5, 7, 33 wide with `simd: 'on'` equal `simd: 'off'` over
 *   several steps of every optimizer with weight decay, clipping and schedules (1e-12 f64,
 *   1e-5 f32), the update kernels counted so that the Wasm path is known to run, and the
 *   parameters known to live in the memory;
 * - all or nothing: a step whose update overflows leaves parameters and state as they
 *   were, with the same error as `simd: 'off'`;
 * - the fallbacks: parameters of plain arrays (a caller's own), a used-up pool, no
 *   WebAssembly: the JavaScript pass, the same results; loadParams places what it reads,
 *   and a save -> load round trip resumes training identically.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, generate, type GeneratedModule, type OptimizerOptions } from '../src/index.js';
import { UPDATES, distinctRules } from '../src/6-emit/optimizers.js';
import { normModule, ruleFlags, updateArgs, updateModule } from '../src/6-emit/wasm/update.js';
import { POOL_SLOTS } from '../src/6-emit/simd.js';
import { mulberry32 } from '../src/rng.js';

interface WasmApi {
  validate(b: Uint8Array): boolean;
  Memory: new (d: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: object) => { readonly exports: { readonly f: (...a: number[]) => number } };
}
const G = globalThis as unknown as { WebAssembly?: WasmApi };
const Wasm = G.WebAssembly!;

/** Calls into the kernels by kind: gemm (5-6 arguments), norm (2), update (8 or more). */
interface Counter { instances: number; gemm: number; norm: number; update: number }

/** Runs `load` with WebAssembly's kernels counting their calls (`missing`: no WebAssembly at all). */
function withWasm<T>(load: () => T, missing = false): { value: T; counter: Counter } {
  const counter: Counter = { instances: 0, gemm: 0, norm: 0, update: 0 };
  const real = G.WebAssembly;
  class Counting {
    readonly exports: { readonly f: (...a: number[]) => number };
    constructor(m: object, i: object) {
      const inner = new Wasm.Instance(m, i).exports.f;
      counter.instances++;
      this.exports = { f: (...a: number[]) => { if (a.length === 2) counter.norm++; else if (a.length >= 8) counter.update++; else counter.gemm++; return inner(...a); } };
    }
  }
  G.WebAssembly = missing ? undefined : { validate: (b) => Wasm.validate(b), Memory: Wasm.Memory, Module: Wasm.Module, Instance: Counting as unknown as WasmApi['Instance'] };
  try {
    return { value: load(), counter };
  } finally {
    G.WebAssembly = real;
  }
}

type Floats = Float64Array | Float32Array;

describe('the update kernels', () => {
  const HYPER: Record<string, number> = { $lr: 0.03, $keep: 0.999, $l2: 0.002, $b1: 0.9, $b2: 0.999, $a: 0.0013, $e: 1e-8, $mu: 0.8, $rho: 0.9, $eps: 1e-7 };
  for (const precision of ['f64', 'f32'] as const) {
    it(`equal the rules' JavaScript bit for bit and touch nothing else (${precision})`, () => {
      const T = precision === 'f64' ? Float64Array : Float32Array, e = T.BYTES_PER_ELEMENT;
      const rand = mulberry32(precision === 'f64' ? 1 : 2);
      let checked = 0;
      for (const { kind, rule } of distinctRules()) {
        const flags = ruleFlags(rule);
        for (const flag of flags.length ? [false, true] : [false]) {
          const bytes = updateModule(rule, new Map(flags.map((f) => [f, flag])), precision, 1);
          expect(Wasm.validate(bytes), kind).toBe(true);
          expect(bytes.length).toBeLessThan(4096); // browsers compile it synchronously
          const memory = new Wasm.Memory({ initial: 1, maximum: 1 });
          const f = new Wasm.Instance(new Wasm.Module(bytes), { m: { m: memory } }).exports.f;
          const H = new T(memory.buffer);
          const hyper = { ...HYPER, ...Object.fromEntries(flags.map((x) => [x, flag ? 1 : 0])) };
          const names = Object.keys(hyper);
          const js = new Function('c', '$wk', '$gr', '$mk', '$vk', ...names, `const $gk = c * $gr + $l2 * $wk; ${rule.element.join(' ')} return [$p1, ${rule.state.m ? '$m1' : 0}, ${rule.state.v ? '$v1' : 0}];`) as (...a: number[]) => number[];
          for (const n of [0, 1, 2, 3, 5, 7, 33]) {
            for (let i = 0; i < H.length; i++) H[i] = 2 * rand() - 1;
            const at = (k: number) => 40 * k + 1; // odd element offsets: arrays not 16-byte aligned
            const [w, g, m, v, w0, m0, v0] = [0, 1, 2, 3, 4, 5, 6].map(at);
            for (let k = 0; k < n; k++) H[v! + k] = Math.abs(H[v! + k]!); // a second moment is >= 0
            const before = H.slice();
            const c = 0.75;
            const addresses = [w, g, ...(rule.state.m ? [m] : []), ...(rule.state.v ? [v] : []), w0, ...(rule.state.m ? [m0] : []), ...(rule.state.v ? [v0] : [])].map((x) => x! * e);
            const s = f(n, ...addresses, c, ...updateArgs(rule).map((x) => hyper[x]!));
            expect(s).toBe(0);
            const written = new Set<number>();
            const expectAt = (i: number, want: number) => {
              written.add(i);
              const stored = precision === 'f32' ? Math.fround(want) : want;
              if (!Object.is(H[i], stored)) throw new Error(`${kind}${flag ? ' (flag)' : ''} n=${n}: element ${i}: ${H[i]} vs ${stored}`);
            };
            for (let k = 0; k < n; k++) {
              const [p1, m1, v1] = js(c, before[w! + k]!, before[g! + k]!, before[m! + k]!, before[v! + k]!, ...names.map((x) => hyper[x]!));
              expectAt(w0! + k, before[w! + k]!); expectAt(w! + k, p1!); expectAt(g! + k, 0);
              if (rule.state.m) { expectAt(m0! + k, before[m! + k]!); expectAt(m! + k, m1!); }
              if (rule.state.v) { expectAt(v0! + k, before[v! + k]!); expectAt(v! + k, v1!); }
              checked++;
            }
            for (let i = 0; i < H.length; i++) if (!written.has(i) && !Object.is(H[i], before[i])) throw new Error(`${kind} n=${n}: element ${i} changed`);
          }
          // A new value that is not finite (as stored) makes the check NaN.
          H.fill(0);
          H[0] = precision === 'f64' ? 1e300 : 3e38; // w, with a gradient of 1e300 below
          H[40] = precision === 'f64' ? 1e300 : 3e38;
          const addresses = [0, 40, ...(rule.state.m ? [80] : []), ...(rule.state.v ? [120] : []), 160, ...(rule.state.m ? [200] : []), ...(rule.state.v ? [240] : [])].map((x) => x * e);
          const big: Record<string, number> = { ...hyper, $lr: 1e10, $a: 1e10, $l2: 0, $keep: 1 };
          expect(f(3, ...addresses, 1, ...updateArgs(rule).map((x) => big[x]!)), `${kind}: overflow`).toBeNaN();
        }
      }
      expect(checked).toBe(255);
    });

    it(`sum the squares (${precision})`, () => {
      const T = precision === 'f64' ? Float64Array : Float32Array, e = T.BYTES_PER_ELEMENT;
      const bytes = normModule(precision, 1);
      expect(Wasm.validate(bytes)).toBe(true);
      const memory = new Wasm.Memory({ initial: 1, maximum: 1 });
      const f = new Wasm.Instance(new Wasm.Module(bytes), { m: { m: memory } }).exports.f;
      const H = new T(memory.buffer);
      const rand = mulberry32(9);
      for (let i = 0; i < H.length; i++) H[i] = 2 * rand() - 1;
      for (const n of [0, 1, 2, 3, 7, 33, 1000]) {
        let want = 0;
        for (let k = 0; k < n; k++) want += H[3 + k]! * H[3 + k]!;
        expect(Math.abs(f(n, 3 * e) - want)).toBeLessThanOrEqual(1e-14 * (want + 1));
      }
    });
  }
});

const WIDTHS = [1, 3, 5, 7, 33];

/** A random tanh MLP of widths from WIDTHS (one or two hidden layers), MSE loss, looped. */
function randomNet(rand: () => number, i: number) {
  const w = () => WIDTHS[Math.floor(rand() * WIDTHS.length)]!;
  const inputs = i % 2 ? 33 : w(), outputs = w();
  const hidden = i % 2 ? [w(), w()] : [w()];
  const name = `net${i}_${inputs}_${hidden.join('_')}_${outputs}`;
  const def = defineModel(name, (m) => {
    const out = m.mlp(m.input('x', inputs), [...hidden, outputs], 'tanh', 'linear');
    m.loss(m.mean(m.call('square', m.sub(out, m.target('y', outputs)))));
  });
  return { def, inputs, outputs, name };
}

const rows = (rand: () => number, n: number, size: number, T: typeof Float64Array | typeof Float32Array): Floats => {
  const out = new T(n * size);
  for (let i = 0; i < out.length; i++) out[i] = 2 * rand() - 1;
  return out;
};

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= tol * Math.max(1, Math.abs(b[i]!)))) throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]} (difference ${d})`);
  }
}

/** Every optimizer, with weight decay, clipping and schedules. */
const OPTIMIZERS: readonly OptimizerOptions[] = [
  { kind: 'sgd', learningRate: 0.05, weightDecay: 0.01 },
  { kind: 'momentum', learningRate: 0.05, momentum: 0.9, clipNorm: 0.5 },
  { kind: 'momentum', learningRate: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.001, schedule: { kind: 'step', stepSize: 2, gamma: 0.5 } },
  { kind: 'adam', learningRate: 0.01, weightDecay: 0.001, clipNorm: 0.3 },
  { kind: 'adamw', learningRate: 0.01, weightDecay: 0.05, schedule: { kind: 'cosine', totalSteps: 6, warmupSteps: 2 } },
  { kind: 'rmsprop', learningRate: 0.01, momentum: 0.5, clipNorm: 0.2, schedule: { kind: 'exponential', gamma: 0.9 } },
];

/** The module's kernel memory (the buffer of its first placed parameters; asked once per module: each initParams takes a pool slot). */
const memories = new WeakMap<GeneratedModule, ArrayBufferLike>();
function memoryOf(m: GeneratedModule): ArrayBufferLike {
  if (!memories.has(m)) memories.set(m, (Object.values(m.initParams())[0] as Floats).buffer);
  return memories.get(m)!;
}

describe("the update pass with simd: 'on' equals simd: 'off'", () => {
  for (const precision of ['f64', 'f32'] as const) {
    it(`every optimizer on random nets of odd widths, several steps (${precision})`, () => {
      const tol = precision === 'f64' ? 1e-12 : 1e-5;
      const T = precision === 'f64' ? Float64Array : Float32Array;
      let updates = 0, norms = 0;
      for (let i = 0; i < 6; i++) {
        const rand = mulberry32(300 + i);
        const { def, inputs, outputs, name } = randomNet(rand, i);
        const options = { lowering: 'loops', precision, maxBatch: 5 } as const;
        const { value: on, counter } = withWasm(() => compile(def, { ...options, simd: 'on' }) as unknown as GeneratedModule);
        const off = compile(def, { ...options, simd: 'off' }) as unknown as GeneratedModule;
        const n = 9;
        const X = rows(rand, n, inputs, T) as Float64Array, Y = rows(rand, n, outputs, T) as Float64Array;
        // Three optimizers per net (each net's module has POOL_SLOTS slots; every optimizer runs on three nets).
        for (const opt of [0, 1, 2].map((j) => OPTIMIZERS[(i + 2 * j) % OPTIMIZERS.length]!)) {
          const pa = on.initParams(), pb = off.initParams();
          for (const [k, v] of Object.entries(pa)) expect((v as Floats).buffer.byteLength, `${name}: ${k} lives in the kernels' memory`).toBeGreaterThan((v as Floats).byteLength);
          const sa = on.initOptimizer(pa, opt), sb = off.initOptimizer(pb, opt);
          for (const st of [sa.m, sa.v]) if (st) for (const v of Object.values(st)) expect((v as Floats).buffer).toBe(memoryOf(on));
          const before = { ...counter };
          for (let s = 0; s < 6; s++) {
            const first = s % n, count = Math.min(n - first, 1 + (s * 5) % 7);
            const la = on.stepBatch(pa, X, Y, count, sa, first);
            const lb = off.stepBatch(pb, X, Y, count, sb, first);
            const what = `${name} ${opt.kind}${'nesterov' in opt ? ' nesterov' : ''} step ${s}`;
            close([la], [lb], tol, `${what} loss`);
            for (const k of Object.keys(pb)) close(pa[k] as Floats, pb[k] as Floats, tol, `${what} ${k}`);
            for (const k of Object.keys(pb)) for (const [x, y] of [[sa.m, sb.m], [sa.v, sb.v]] as const) if (x && y) close(x[k] as Floats, y[k] as Floats, tol, `${what} state ${k}`);
          }
          expect(counter.update - before.update, `${name} ${opt.kind}: the update kernels ran`).toBeGreaterThanOrEqual(6);
          if (opt.clipNorm) expect(counter.norm - before.norm, `${name} ${opt.kind}: the norm kernel ran`).toBeGreaterThanOrEqual(6);
          updates += counter.update - before.update;
          norms += counter.norm - before.norm;
        }
      }
      expect(updates).toBeGreaterThan(0);
      expect(norms).toBeGreaterThan(0);
    });
  }

  it('plain SGD (a learning rate) and fit run the update kernels too, equal to off', () => {
    const { def, inputs, outputs } = randomNet(mulberry32(21), 1);
    const { value: on, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on', maxBatch: 4 }) as unknown as GeneratedModule);
    const off = compile(def, { lowering: 'loops', simd: 'off', maxBatch: 4 }) as unknown as GeneratedModule;
    const rand = mulberry32(22);
    const X = rows(rand, 12, inputs, Float64Array) as Float64Array, Y = rows(rand, 12, outputs, Float64Array) as Float64Array;
    const pa = on.initParams(), pb = off.initParams();
    for (let s = 0; s < 4; s++) close([on.stepBatch(pa, X, Y, 12, 0.05)], [off.stepBatch(pb, X, Y, 12, 0.05)], 1e-12, `sgd step ${s}`);
    for (const k of Object.keys(pb)) close(pa[k] as Floats, pb[k] as Floats, 1e-12, k);
    expect(counter.update).toBeGreaterThanOrEqual(4);
    const samples = Array.from({ length: 12 }, (_, r) => ({ inputs: { x: Array.from(X.subarray(r * inputs, (r + 1) * inputs)) }, targets: { y: Array.from(Y.subarray(r * outputs, (r + 1) * outputs)) } }));
    const fit = (m: GeneratedModule) => m.fit(samples, { epochs: 3, batchSize: 4, optimizer: { kind: 'adam', learningRate: 0.01, clipNorm: 1 } });
    const before = counter.update;
    const a = fit(on), b = fit(off);
    expect(counter.update - before).toBeGreaterThanOrEqual(9);
    close(a.losses, b.losses, 1e-12, 'fit losses');
    for (const k of Object.keys(b.params)) close(a.params[k] as Floats, b.params[k] as Floats, 1e-12, `fit ${k}`);
  });
});

describe('all or nothing in the kernels\' memory', () => {
  it('an update that overflows changes nothing and says so as off does; finite steps go on', () => {
    const { def, inputs, outputs } = randomNet(mulberry32(31), 0);
    const off = compile(def, { lowering: 'loops', simd: 'off' }) as unknown as GeneratedModule;
    const rand = mulberry32(32);
    const X = rows(rand, 6, inputs, Float64Array) as Float64Array, Y = rows(rand, 6, outputs, Float64Array) as Float64Array;
    for (const opt of OPTIMIZERS) {
      const { value: on, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule); // a fresh pool per optimizer
      const pa = on.initParams(), pb = off.initParams();
      const sa = on.initOptimizer(pa, opt), sb = off.initOptimizer(pb, opt);
      on.stepBatch(pa, X, Y, 6, sa); off.stepBatch(pb, X, Y, 6, sb);
      const snapshot = (p: Record<string, unknown>) => JSON.stringify(Object.entries(p).map(([k, v]) => [k, Array.from(v as Floats)]));
      const kept = [snapshot(pa), sa.m && snapshot(sa.m), sa.v && snapshot(sa.v), sa.step];
      // A parameter of 1e300 with weight decay or a huge rate: a new value overflows.
      const k0 = Object.keys(pa)[0]!;
      (pa[k0] as Floats)[0] = 1e300; (pb[k0] as Floats)[0] = 1e300;
      const kept1 = [snapshot(pa), sa.m && snapshot(sa.m), sa.v && snapshot(sa.v), sa.step];
      const huge = on.initOptimizer(pa, { ...opt, learningRate: 1e300, clipNorm: undefined, schedule: undefined, weightDecay: opt.kind === 'adamw' ? 0.5 : 1e10 });
      const hugeOff = off.initOptimizer(pb, { ...opt, learningRate: 1e300, clipNorm: undefined, schedule: undefined, weightDecay: opt.kind === 'adamw' ? 0.5 : 1e10 });
      huge.step = sa.step; hugeOff.step = sb.step;
      if (huge.m && sa.m) for (const k of Object.keys(sa.m)) (huge.m[k] as Floats).set(sa.m[k] as Floats);
      if (huge.v && sa.v) for (const k of Object.keys(sa.v)) (huge.v[k] as Floats).set(sa.v[k] as Floats);
      const before = counter.update;
      let errOn = '', errOff = '';
      try { on.stepBatch(pa, X, Y, 6, huge); } catch (e) { errOn = String(e); }
      try { off.stepBatch(pb, X, Y, 6, hugeOff); } catch (e) { errOff = String(e); }
      expect(counter.update - before, opt.kind).toBeGreaterThan(0); // refused in the kernels
      expect(errOn, opt.kind).toMatch(/SampleError/);
      expect(errOn).toBe(errOff);
      expect([snapshot(pa), sa.m && snapshot(sa.m), sa.v && snapshot(sa.v), sa.step]).toEqual(kept1);
      expect(kept[3]).toBe(kept1[3]);
      // Then a good step still goes through, equal to off.
      (pa[k0] as Floats)[0] = 0.5; (pb[k0] as Floats)[0] = 0.5;
      close([on.stepBatch(pa, X, Y, 6, sa)], [off.stepBatch(pb, X, Y, 6, sb)], 1e-12, `${opt.kind} after`);
      for (const k of Object.keys(pb)) close(pa[k] as Floats, pb[k] as Floats, 1e-12, `${opt.kind} after ${k}`);
    }
  });
});

describe('the fallbacks', () => {
  const { def, inputs, outputs } = randomNet(mulberry32(41), 1);
  const rand = mulberry32(42);
  const X = rows(rand, 8, inputs, Float64Array) as Float64Array, Y = rows(rand, 8, outputs, Float64Array) as Float64Array;
  const opt: OptimizerOptions = { kind: 'adam', learningRate: 0.02, clipNorm: 0.5, weightDecay: 0.01 };
  const train = (m: GeneratedModule, p = m.initParams()) => {
    const st = m.initOptimizer(p, opt);
    const losses = [0, 1, 2, 3].map((s) => m.stepBatch(p, X, Y, 8 - s, st, s));
    return { losses, p, st };
  };
  const reference = train(compile(def, { lowering: 'loops', simd: 'off' }) as unknown as GeneratedModule);
  const same = (r: ReturnType<typeof train>, tol: number) => {
    close(r.losses, reference.losses, tol, 'losses');
    for (const k of Object.keys(reference.p)) close(r.p[k] as Floats, reference.p[k] as Floats, tol, k);
  };

  it("parameters of a caller's own plain arrays: the JavaScript pass, the same results", () => {
    const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule);
    const plain = Object.fromEntries(Object.entries(m.initParams()).map(([k, v]) => [k, Float64Array.from(v as Floats)]));
    const r = train(m, plain);
    expect(counter.update).toBe(0);
    expect(counter.gemm).toBeGreaterThan(0);
    same(r, 1e-12);
  });

  it('a used-up pool: plain arrays from then on, the same results', () => {
    const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule);
    const views: Floats[] = [];
    for (let i = 0; i < POOL_SLOTS + 2; i++) views.push(...(Object.values(m.initParams()) as Floats[]));
    const memory = memoryOf(m);
    // No two views overlap (slots are never reused).
    const spans = views.filter((v) => v.buffer === memory).map((v) => [v.byteOffset, v.byteOffset + v.byteLength] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    const r = train(m);
    expect((r.p[Object.keys(r.p)[0]!] as Floats).buffer).not.toBe(memory);
    expect(counter.update).toBe(0);
    same(r, 1e-12);
  });

  it('no WebAssembly: plain arrays, the scalar loops, bit-identical to off', () => {
    const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule, true);
    const r = train(m);
    expect(counter.instances).toBe(0);
    expect(r.losses).toEqual(reference.losses);
    for (const k of Object.keys(reference.p)) expect(r.p[k]).toEqual(reference.p[k]);
  });

  it('loadParams places what it reads; save -> load resumes training identically', () => {
    const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule);
    const a = train(m);
    const doc = JSON.parse(JSON.stringify(m.saveParams(a.p, a.st)));
    const loaded = m.loadParams(doc);
    for (const v of [...Object.values(loaded.params), ...Object.values(loaded.optimizer!.m!), ...Object.values(loaded.optimizer!.v!)]) expect((v as Floats).buffer).toBe(memoryOf(m));
    for (const k of Object.keys(a.p)) expect(Array.from(loaded.params[k] as Floats)).toEqual(Array.from(a.p[k] as Floats));
    const before = counter.update;
    const l1 = m.stepBatch(a.p, X, Y, 8, a.st), l2 = m.stepBatch(loaded.params, X, Y, 8, loaded.optimizer!);
    expect(counter.update - before).toBeGreaterThan(0);
    expect(l2).toBe(l1);
    for (const k of Object.keys(a.p)) expect(Array.from(loaded.params[k] as Floats)).toEqual(Array.from(a.p[k] as Floats));
  });

  it('models with no kernel keep plain arrays and the JavaScript pass', () => {
    expect(Object.keys(UPDATES).length).toBeGreaterThan(0);
    // No matrix product at all (simd 'auto' plans a kernel for every product a form fits, however small: simd.ts).
    const def = defineModel('small', (m) => {
      const w = m.param('w', { shape: [3], init: 0.5 });
      m.loss(m.mean(m.call('square', m.sub(m.mul(w, m.input('x', 3)), m.target('y', 3)))));
    });
    expect(generate(def, { lowering: 'loops' }).code).not.toMatch(/\$wasm/);
    const small = compile(def, { lowering: 'loops' }) as unknown as GeneratedModule;
    const p = small.initParams();
    for (const v of Object.values(p)) expect((v as Floats).buffer.byteLength).toBe((v as Floats).byteLength);
  });
});
