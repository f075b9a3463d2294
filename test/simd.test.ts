/**
 * The WebAssembly SIMD kernels (src/6-emit/wasm/, src/6-emit/simd.ts) against the scalar
 * loops they replace:
 * - the kernel generator alone: both forms, f64 and f32, random strides and sizes
 *   (0, 1, odd, larger than a block), against a plain triple loop;
 * - whole modules: random MLPs of odd widths (1, 3, 5, 7, 33; one and two hidden
 *   layers; MSE and cross-entropy) with `simd: 'on'` equal `simd: 'off'` (loss, every
 *   gradient, and the parameters after several SGD and Adam steps: 1e-12 relative in
 *   f64, 1e-5 in f32), with the kernels counted so that the SIMD path is known to run;
 * - the fallback: `simd: 'off'` emits no Wasm at all; when the feature check fails
 *   (validate refuses the probe) or WebAssembly is missing, the module loads, runs the
 *   scalar loops and gives results bit-identical to `simd: 'off'`;
 * - 'auto' takes every kernel a form fits, calling a product's only from SIMD_MIN_CALL_WORK
 *   multiply-adds a call (counted on both sides), equal to 'off' at batch 1, 3 and 256;
 * - the Wasm tanh against Math.tanh (special values, odd counts, nothing else written);
 * - in headless Chromium (skipped, saying why, where it is not installed): the
 *   784-32-10 module as `gradc build --emit js` writes it trains through the kernels,
 *   equal to the scalar module to 1e-12.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { toJavaScript } from '../src/cli/emitJs.js';
import { compile, defineModel, generate, type GeneratedModule } from '../src/index.js';
import { gemmForm, gemmModule, type GemmShape } from '../src/6-emit/wasm/gemm.js';
import { simdProbe } from '../src/6-emit/wasm/encode.js';
import { tanhModule } from '../src/6-emit/wasm/tanh.js';
import { SIMD_MIN_CALL_WORK } from '../src/6-emit/simd.js';
import { mulberry32 } from '../src/rng.js';

interface WasmApi {
  validate(b: Uint8Array): boolean;
  Memory: new (d: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: object) => { readonly exports: { readonly f: (...a: number[]) => number } };
}
const G = globalThis as unknown as { WebAssembly?: WasmApi };
const Wasm = G.WebAssembly!;

/**
 * Runs `load` with WebAssembly replaced: `validate` as given, and every instantiated
 * kernel's function counting its calls into `counter.calls`. `missing`: no WebAssembly at all.
 */
function withWasm<T>(load: () => T, opts: { validate?: boolean; missing?: boolean } = {}): { value: T; counter: { instances: number; calls: number } } {
  const counter = { instances: 0, calls: 0 };
  const real = G.WebAssembly;
  class Counting {
    readonly exports: { readonly f: (...a: number[]) => number };
    constructor(m: object, i: object) {
      const inner = new Wasm.Instance(m, i).exports.f;
      counter.instances++;
      this.exports = { f: (...a: number[]) => { counter.calls++; return inner(...a); } };
    }
  }
  const fake: WasmApi = { validate: (b) => (opts.validate === false ? false : Wasm.validate(b)), Memory: Wasm.Memory, Module: Wasm.Module, Instance: Counting as unknown as WasmApi['Instance'] };
  G.WebAssembly = opts.missing ? undefined : fake;
  try {
    return { value: load(), counter };
  } finally {
    G.WebAssembly = real;
  }
}

describe('the kernel generator', () => {
  it('validates its probe and every kernel, and computes C = L R (or C += scale L R) for both forms, both precisions, odd and empty sizes', () => {
    expect(Wasm.validate(simdProbe())).toBe(true);
    const rand = mulberry32(11);
    const sizes = [0, 1, 2, 3, 5, 7, 9, 33];
    const pick = () => sizes[Math.floor(rand() * sizes.length)]!;
    let checked = 0;
    for (let trial = 0; trial < 60; trial++) {
      const precision = trial % 2 ? 'f32' : 'f64';
      const P = pick(), Q = Math.max(1, pick()), K = pick();
      const pad = () => Math.floor(rand() * 3);
      const accumulate = trial % 3 === 0, scale = 0.375;
      const shape: GemmShape = trial % 4 < 2
        ? { precision, Q, lsP: K + pad(), lsK: 1, rsK: 1, rsQ: K + pad(), cs: Q + pad(), accumulate } // dot
        : { precision, Q, lsP: 1 + pad(), lsK: P * 3 + 2, rsK: Q + pad(), rsQ: 1, cs: Q + pad(), accumulate }; // outer
      expect(gemmForm(shape)).toBe(trial % 4 < 2 ? 'dot' : 'outer');
      const bytes = gemmModule(shape, 4);
      expect(Wasm.validate(bytes)).toBe(true);
      const memory = new Wasm.Memory({ initial: 4 });
      const f = new Wasm.Instance(new Wasm.Module(bytes), { m: { m: memory } }).exports.f;
      const H = precision === 'f64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
      for (let i = 0; i < H.length; i++) H[i] = Math.fround(2 * rand() - 1);
      const l = 0, r = 8000, c = 16000; // elements; every region below 8000 elements
      const before = H.slice();
      f(P, K, l * (precision === 'f64' ? 8 : 4), r * (precision === 'f64' ? 8 : 4), c * (precision === 'f64' ? 8 : 4), ...(accumulate ? [scale] : []));
      const written = new Set<number>();
      for (let p = 0; p < P; p++) {
        for (let q = 0; q < Q; q++) {
          let s = 0, mag = 0;
          for (let k = 0; k < K; k++) {
            const t = before[l + p * shape.lsP + k * shape.lsK]! * before[r + k * shape.rsK + q * shape.rsQ]!;
            s += t; mag += Math.abs(t);
          }
          const at = c + p * shape.cs + q;
          written.add(at);
          const want = accumulate ? before[at]! + scale * s : s;
          expect(Math.abs(H[at]! - want)).toBeLessThanOrEqual((precision === 'f64' ? 1e-14 : 1e-6) * (mag + 1));
          checked++;
        }
      }
      // Nothing else changed.
      for (let i = 0; i < H.length; i++) if (!written.has(i) && !Object.is(H[i], before[i])) throw new Error(`element ${i} changed (trial ${trial})`);
    }
    expect(checked).toBeGreaterThan(500);
  });
});

const WIDTHS = [1, 3, 5, 7, 33];

/** A random MLP: widths from WIDTHS, one or two hidden layers, MSE or cross-entropy. */
function randomNet(rand: () => number, i: number) {
  const w = () => WIDTHS[Math.floor(rand() * WIDTHS.length)]!;
  const inputs = i === 0 ? 33 : w(), outputs = i === 1 ? 1 : w();
  const hidden = i % 2 ? [w(), w()] : [w()];
  const entropy = i % 3 === 2;
  const name = `net${i}_${inputs}_${hidden.join('_')}_${outputs}${entropy ? '_ce' : ''}`;
  const def = defineModel(name, (m) => {
    const x = m.input('x', inputs);
    const y = m.target('y', outputs);
    const out = m.mlp(x, [...hidden, outputs], i % 2 ? 'sigmoid' : 'tanh', 'linear');
    m.loss(entropy ? m.call('cross_entropy', out, y) : m.mean(m.call('square', m.sub(out, y))));
  });
  return { def, inputs, outputs, name };
}

type Floats = Float64Array | Float32Array;
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

describe("simd: 'on' equals simd: 'off'", () => {
  for (const precision of ['f64', 'f32'] as const) {
    it(`on random nets of odd widths, gradients and training steps (${precision})`, () => {
      const tol = precision === 'f64' ? 1e-12 : 1e-5;
      const T = precision === 'f64' ? Float64Array : Float32Array;
      for (let i = 0; i < 8; i++) {
        const rand = mulberry32(100 + i);
        const { def, inputs, outputs, name } = randomNet(rand, i);
        const options = { lowering: 'loops', precision, maxBatch: 7 } as const;
        const { value: on, counter } = withWasm(() => compile(def, { ...options, simd: 'on' }) as unknown as GeneratedModule);
        const off = compile(def, { ...options, simd: 'off' }) as unknown as GeneratedModule;
        expect(counter.instances, `${name}: kernels instantiated`).toBeGreaterThan(0);
        const n = 1 + Math.floor(rand() * 20); // odd and even batches, below and above maxBatch
        const X = rows(rand, n, inputs, T) as Float64Array, Y = rows(rand, n, outputs, T) as Float64Array;
        if (i % 3 === 2) for (let r = 0; r < n; r++) for (let c = 0; c < outputs; c++) Y[r * outputs + c] = Math.abs(Y[r * outputs + c]!); // targets >= 0 for cross-entropy
        const p0 = on.initParams();
        const copy = () => Object.fromEntries(Object.entries(p0).map(([k, v]) => [k, typeof v === 'number' ? v : (v as Floats).slice()])) as typeof p0;
        const a = on.gradientBatch(copy(), X, Y, n), b = off.gradientBatch(copy(), X, Y, n);
        close([a.loss], [b.loss], tol, `${name} loss`);
        for (const k of Object.keys(b.grad)) close(a.grad[k] as Floats, b.grad[k] as Floats, tol, `${name} grad ${k}`);
        // Training: SGD then Adam steps over the rows, parameters compared after each.
        const pa = copy(), pb = copy();
        const sa = on.initOptimizer(pa, { kind: 'adam', learningRate: 0.01 }), sb = off.initOptimizer(pb, { kind: 'adam', learningRate: 0.01 });
        for (let s = 0; s < 6; s++) {
          const first = s % n, count = Math.min(n - first, 1 + (s * 5) % 9);
          const la = on.stepBatch(pa, X, Y, count, s < 3 ? 0.05 : sa, first);
          const lb = off.stepBatch(pb, X, Y, count, s < 3 ? 0.05 : sb, first);
          close([la], [lb], tol * 10, `${name} step ${s} loss`);
          for (const k of Object.keys(pb)) close(pa[k] as Floats, pb[k] as Floats, tol * 10, `${name} step ${s} ${k}`);
        }
      }
    });
  }

  it('the kernels run: each training step calls them', () => {
    const { def, inputs, outputs } = randomNet(mulberry32(3), 0);
    const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule);
    const rand = mulberry32(4);
    const X = rows(rand, 10, inputs, Float64Array) as Float64Array, Y = rows(rand, 10, outputs, Float64Array) as Float64Array;
    const before = counter.calls;
    m.stepBatch(m.initParams(), X, Y, 10, 0.1);
    expect(counter.calls - before).toBeGreaterThan(0);
  });
});

describe('the fallback', () => {
  const { def, inputs, outputs } = randomNet(mulberry32(5), 0);
  const rand = mulberry32(6);
  const X = rows(rand, 9, inputs, Float64Array) as Float64Array, Y = rows(rand, 9, outputs, Float64Array) as Float64Array;
  const train = (m: GeneratedModule) => {
    const p = m.initParams();
    const losses = [0, 1, 2].map(() => m.stepBatch(p, X, Y, 9, 0.1));
    return { losses, p };
  };
  const reference = train(compile(def, { lowering: 'loops', simd: 'off' }) as unknown as GeneratedModule);

  it("simd: 'off' emits no WebAssembly", () => {
    expect(generate(def, { lowering: 'loops', simd: 'off' }).code).not.toMatch(/\$wasm|WebAssembly/);
    expect(generate(def, { lowering: 'loops', simd: 'on' }).code).toMatch(/\$wasm\.f\[0\]!\(/);
  });

  for (const [label, opts] of [['the feature check fails', { validate: false }], ['WebAssembly is missing', { missing: true }]] as const) {
    it(`when ${label}: no kernel, the scalar loops, results bit-identical to simd: 'off'`, () => {
      const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', simd: 'on' }) as unknown as GeneratedModule, opts);
      const r = train(m);
      expect(counter.instances).toBe(0);
      expect(r.losses).toEqual(reference.losses);
      for (const k of Object.keys(reference.p)) expect(r.p[k]).toEqual(reference.p[k]);
    });
  }
});

describe('a weight gradient added in place', () => {
  // gradientBatch into a Params whose arrays live in the kernels' memory (an initParams() of
  // the module: a pool slot) adds the kernel's product there, without copies: the same bytes
  // as into plain arrays (copied in and out), from zero and from a gradient already there.
  for (const precision of ['f64', 'f32'] as const) {
    it(`gives the bytes of the copied path (${precision})`, () => {
      const T = precision === 'f64' ? Float64Array : Float32Array;
      for (let i = 0; i < 4; i++) {
        const rand = mulberry32(300 + i);
        const { def, inputs, outputs, name } = randomNet(rand, i);
        const { value: m, counter } = withWasm(() => compile(def, { lowering: 'loops', precision, maxBatch: 5, simd: 'on' }) as unknown as GeneratedModule);
        const n = 3 + Math.floor(rand() * 12);
        const X = rows(rand, n, inputs, T) as Float64Array, Y = rows(rand, n, outputs, T) as Float64Array;
        if (i % 3 === 2) for (let r = 0; r < n; r++) for (let c = 0; c < outputs; c++) Y[r * outputs + c] = Math.abs(Y[r * outputs + c]!);
        const p = m.initParams();
        const placed = m.initParams(), plain = m.zeroParams();
        for (const [k, v] of Object.entries(placed)) {
          const a = v as Floats;
          expect(a.buffer.byteLength, `${name} ${k} placed`).toBeGreaterThan(a.byteLength);
          for (let j = 0; j < a.length; j++) a[j] = (plain[k] as Floats)[j] = Math.sin(j + 1) / 8; // a gradient already there
        }
        const calls = counter.calls;
        for (const first of [0, 1]) {
          const a = m.gradientBatch(p, X, Y, n - first, first, placed), b = m.gradientBatch(p, X, Y, n - first, first, plain);
          expect(a.loss).toBe(b.loss);
          for (const k of Object.keys(plain)) expect(Buffer.from((placed[k] as Floats).slice().buffer).equals(Buffer.from((plain[k] as Floats).slice().buffer)), `${name} ${k}`).toBe(true);
        }
        expect(counter.calls).toBeGreaterThan(calls);
      }
    });
  }
});

describe("simd: 'auto'", () => {
  const mlp = (inputs: number, hidden: number, outputs: number) => defineModel('mlp', (m) => {
    const out = m.mlp(m.input('x', inputs), [hidden, outputs], 'tanh', 'linear');
    m.loss(m.mean(m.call('square', m.sub(out, m.target('y', outputs)))));
  });
  it('takes the kernels for 784-32-10 (every product, each call, tanh in Wasm) and for 16-32-4 (small products only from enough rows)', () => {
    const big = generate(mlp(784, 32, 10), {}).code;
    expect(big).toMatch(/\$wasm\.f\[\d+\]!\(32, \$nb, \d+, \d+, \$at < 0 \? \d+ : \$at, \$scale\);/); // dW += $scale * G^T X, in the kernel (in place into an in-memory accumulator)
    expect(big).toMatch(/if \(\$wasm\) \{\n\s+\$wasm\.f\[\d+\]!\(\$nb, 784,/); // W x: 25,088 multiply-adds a row, every call
    expect(big).toMatch(/\$wasm\.f\[\d+\]!\(\$nb \* 32, \d+\); \/\/ tanh in place/);
    expect(big).not.toMatch(/Math\.tanh\(\$H\[/);
    const small = generate(mlp(16, 32, 4), { lowering: 'loops' }).code;
    expect(small).toMatch(/if \(\$wasm\) \{\n\s+\$wasm\.f\[\d+\]!\(\$nb, 16,/); // W x: 512 a row
    expect(small).not.toMatch(/\$nb >= /); // its smallest products, 32 x 4, are 128 multiply-adds a row
    expect(generate(mlp(5, 5, 5), { lowering: 'loops' }).code).toMatch(/if \(\$wasm && \$nb >= 3\) \{\n\s+\$wasm\.f\[\d+\]!\(\$nb, 5,/); // 25 a row
  });

  /** Calls into the gemm kernels (5 or 6 arguments; tanh and the sum of squares take 2, the updates more). */
  const gemmCalls = (load: () => GeneratedModule) => {
    const real = G.WebAssembly!;
    const calls = { gemm: 0, tanh: 0 };
    class Counting {
      readonly exports: { readonly f: (...a: number[]) => number };
      constructor(m: object, i: object) {
        const inner = new real.Instance(m, i).exports.f;
        this.exports = { f: (...a: number[]) => { if (a.length === 5 || a.length === 6) calls.gemm++; return inner(...a); } };
      }
    }
    G.WebAssembly = { validate: real.validate, Memory: real.Memory, Module: real.Module, Instance: Counting as unknown as WasmApi['Instance'] };
    try { return { m: load(), calls }; } finally { G.WebAssembly = real; }
  };

  it('decides at run time: below SIMD_MIN_CALL_WORK multiply-adds a call the loops, from it the kernels; equal to simd: off on both sides', () => {
    // 5-5-5: every product is 25 multiply-adds a row, so a call needs ceil(64 / 25) = 3 rows.
    expect(SIMD_MIN_CALL_WORK).toBe(64);
    for (const precision of ['f64', 'f32'] as const) {
      const def = mlp(5, 5, 5);
      const options = { lowering: 'loops', precision } as const;
      const { m: auto, calls } = gemmCalls(() => compile(def, { ...options, simd: 'auto' }) as unknown as GeneratedModule);
      const off = compile(def, { ...options, simd: 'off' }) as unknown as GeneratedModule;
      const T = precision === 'f64' ? Float64Array : Float32Array;
      const rand = mulberry32(21);
      const X = rows(rand, 8, 5, T) as Float64Array, Y = rows(rand, 8, 5, T) as Float64Array;
      const tol = precision === 'f64' ? 1e-12 : 1e-5;
      for (const [count, kernels] of [[1, false], [2, false], [3, true], [8, true]] as const) {
        const before = calls.gemm;
        const pa = auto.initParams(), pb = off.initParams();
        const la = auto.stepBatch(pa, X, Y, count, 0.1), lb = off.stepBatch(pb, X, Y, count, 0.1);
        expect(calls.gemm > before, `${precision} batch ${count}: kernels called`).toBe(kernels);
        close([la], [lb], tol, `${precision} batch ${count} loss`);
        for (const k of Object.keys(pb)) close(pa[k] as Floats, pb[k] as Floats, tol, `${precision} batch ${count} ${k}`);
      }
    }
  });

  for (const precision of ['f64', 'f32'] as const) {
    it(`equals simd: 'off' on random nets of odd widths at batch 1, 3 and 256 (${precision})`, () => {
      const tol = precision === 'f64' ? 1e-12 : 1e-5;
      const T = precision === 'f64' ? Float64Array : Float32Array;
      for (let i = 0; i < 6; i++) {
        const rand = mulberry32(300 + i);
        const { def, inputs, outputs, name } = randomNet(rand, i);
        const options = { lowering: 'loops', precision } as const;
        const { m: auto, calls } = gemmCalls(() => compile(def, { ...options, simd: 'auto' }) as unknown as GeneratedModule);
        const off = compile(def, { ...options, simd: 'off' }) as unknown as GeneratedModule;
        const X = rows(rand, 256, inputs, T) as Float64Array, Y = rows(rand, 256, outputs, T) as Float64Array;
        if (i % 3 === 2) for (let r = 0; r < 256 * outputs; r++) Y[r] = Math.abs(Y[r]!);
        const pa = auto.initParams();
        const pb = Object.fromEntries(Object.entries(pa).map(([k, v]) => [k, typeof v === 'number' ? v : (v as Floats).slice()])) as typeof pa;
        for (const count of [1, 3, 256, 3, 1]) {
          const la = auto.stepBatch(pa, X, Y, count, 0.05), lb = off.stepBatch(pb, X, Y, count, 0.05);
          close([la], [lb], tol * 10, `${name} batch ${count} loss`);
          for (const k of Object.keys(pb)) close(pa[k] as Floats, pb[k] as Floats, tol * 10, `${name} batch ${count} ${k}`);
        }
        expect(calls.gemm, `${name}: the kernels ran at batch 256`).toBeGreaterThan(0);
      }
    });
  }
});

describe('the Wasm tanh (wasm/tanh.ts)', () => {
  for (const precision of ['f64', 'f32'] as const) {
    it(`equals Math.tanh to 1e-15 relative in f64, after rounding in f32, special values and odd counts included, and writes nothing else (${precision})`, () => {
      const bytes = tanhModule(precision, 1);
      expect(Wasm.validate(bytes)).toBe(true);
      const memory = new Wasm.Memory({ initial: 1 });
      const f = new Wasm.Instance(new Wasm.Module(bytes), { m: { m: memory } }).exports.f;
      const H = precision === 'f64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
      const rand = mulberry32(7);
      const xs = [0, -0, 5e-324, -1e-300, 1e-8, -1e-8, 0.1, 0.3465, 0.3466, 0.5, 1, -1, 2, -5, 10, 18.9, 19.1, 20, -21, 100, 1e300, -1e300, Infinity, -Infinity, NaN];
      for (let i = 0; i < 3000; i++) xs.push((rand() * 2 - 1) * 10 ** (rand() * 5 - 3));
      for (const n of [0, 1, 2, 3, 7, xs.length]) {
        H.fill(7);
        for (let i = 0; i < n; i++) H[1 + i] = xs[i]!;
        f(n, H.BYTES_PER_ELEMENT); // from element 1: an odd start as well
        expect(H[0]).toBe(7);
        expect(H[n + 1]).toBe(7);
        for (let i = 0; i < n; i++) {
          const x = precision === 'f32' ? Math.fround(xs[i]!) : xs[i]!;
          const want = precision === 'f32' ? Math.fround(Math.tanh(x)) : Math.tanh(x), got = H[1 + i]!;
          if (Object.is(got, want)) continue;
          const rel = Math.abs(got - want) / Math.abs(want);
          if (!(precision === 'f64' ? rel <= 1e-15 : rel <= 2 ** -23)) throw new Error(`tanh(${x}): ${got}, Math.tanh: ${want}`);
        }
      }
    });
  }
});

const CHROMIUM = '/usr/bin/chromium';
const chromiumPresent = existsSync(CHROMIUM);
if (!chromiumPresent) console.warn(`test/simd.test.ts: browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run does this)`);

describe.skipIf(!chromiumPresent)('in headless Chromium', () => {
  it("trains 784-32-10 with simd: 'auto' through the kernels, equal to simd: 'off'", async () => {
    const def = defineModel('mlp', (m) => {
      const out = m.mlp(m.input('x', 784), [32, 10], 'tanh', 'linear');
      m.loss(m.mean(m.call('square', m.sub(out, m.target('y', 10)))));
    });
    const files = new Map<string, string>([
      ['/on.js', toJavaScript(generate(def, { simd: 'auto' }).code, 'on').js],
      ['/off.js', toJavaScript(generate(def, { simd: 'off' }).code, 'off').js],
      ['/index.html', `<!doctype html><title>gradc simd</title><script type="module">
// Count the kernels the module instantiates and the calls into them (as the Node tests do).
const W = globalThis.WebAssembly;
const counter = { instances: 0, calls: 0 };
globalThis.WebAssembly = {
  validate: (b) => W.validate(b), Memory: W.Memory, Module: W.Module,
  Instance: function (m, i) { const f = new W.Instance(m, i).exports.f; counter.instances++; return { exports: { f: (...a) => { counter.calls++; return f(...a); } } }; },
};
const on = await import('/on.js');
globalThis.WebAssembly = W;
const off = await import('/off.js');
let s = 7;
const rand = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
const X = Float64Array.from({ length: 64 * 784 }, () => 2 * rand() - 1), Y = Float64Array.from({ length: 64 * 10 }, () => 2 * rand() - 1);
const pa = on.initParams(), pb = off.initParams();
const losses = [];
let diff = 0;
for (let step = 0; step < 20; step++) {
  const first = (step % 2) * 32;
  const a = on.stepBatch(pa, X, Y, 32, 0.05, first), b = off.stepBatch(pb, X, Y, 32, 0.05, first);
  losses.push(a);
  diff = Math.max(diff, Math.abs(a - b) / Math.max(1, Math.abs(b)));
}
for (const k of Object.keys(pb)) for (let i = 0; i < pb[k].length; i++) diff = Math.max(diff, Math.abs(pa[k][i] - pb[k][i]) / Math.max(1, Math.abs(pb[k][i])));
window.result = { ...counter, diff, first: losses[0], last: losses[losses.length - 1] };
</script>`],
    ]);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'], headless: true });
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.route('http://gradc.test/**', (route) => {
        const path = new URL(route.request().url()).pathname;
        const body = files.get(path);
        return body === undefined ? route.fulfill({ status: 404 }) : route.fulfill({ status: 200, contentType: path.endsWith('.js') ? 'text/javascript' : 'text/html', body });
      });
      await tab.goto('http://gradc.test/index.html');
      await tab.waitForFunction('window.result !== undefined || false', undefined, { timeout: 60_000 }).catch(() => undefined);
      expect(errors).toEqual([]);
      const r = (await tab.evaluate('window.result')) as { instances: number; calls: number; diff: number; first: number; last: number };
      expect(r.instances).toBeGreaterThan(0); // the kernels compiled (synchronously, on the main thread)
      expect(r.calls).toBeGreaterThanOrEqual(20 * 2); // forward W x and dW each step
      expect(r.diff).toBeLessThanOrEqual(1e-12);
      expect(r.last).toBeLessThan(r.first);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
