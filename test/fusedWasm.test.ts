/**
 * The fused steps whose update runs in WebAssembly SIMD (WASM_UPDATE in 6-emit/fusedSteps.ts):
 * Adam, AdamW and RMSprop on an unrolled module, moments in a slot of the module's memory.
 *
 * - Where: an unrolled module short enough to fuse gets `$wstep_<kind>` for the rules with two
 *   moments, unless compiled with simd 'off'; a looped or split module, or one with a scalar
 *   parameter, gets none.
 * - Placement: the moments initOptimizer and loadParams make are views on one memory (a slot
 *   each), start at 0, save and load as before; a slot is never reused, and once the pool is
 *   used up the moments are plain arrays.
 * - Same numbers: 100 steps (batch 1) give exactly the losses, parameters, moments and step
 *   count of the same model compiled with simd 'off' (the JavaScript fused step, which
 *   test/fused.test.ts holds to the unfused path and test/optimizers.test.ts to the float64
 *   reference and TF.js), in float64 and float32, with and without the decay terms, on a
 *   short kernel (with the NO_DECAY steps) and a longer one (without); and the Wasm kernel is
 *   what ran (the step's call into it is counted).
 * - All or nothing: a step whose new second moment overflows, or whose loss is not finite, is
 *   refused with the parameters, both moments and the step count exactly as before.
 * - The kernel alone (wasm/update.ts `fusedUpdateModule`): for 1 to 1,000 elements (odd and
 *   even counts, both precisions, edge values), the moments, the old moments, each step and
 *   the check are those of the rule's JavaScript text; its module stays a few hundred bytes.
 * - In headless Chromium (when /usr/bin/chromium exists; .ci/run installs it): a 67-parameter
 *   net trained with Adam on the main thread goes through the kernel and equals simd 'off'.
 * - States the module did not place (built by hand, from another module instance, past the
 *   pool) and two states used in turn train exactly as with simd 'off'.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { toJavaScript } from '../src/cli/emitJs.js';
import { compile, defineModel, generate, loadModule, type GeneratedModule, type OptimizerOptions, type OptimizerState, type Params } from '../src/index.js';
import { UPDATES } from '../src/6-emit/optimizers.js';
import { fusedUpdateArgs, fusedUpdateModule } from '../src/6-emit/wasm/update.js';

const net = (hidden: number, inputs = 2, outputs = 1) =>
  defineModel(`net${inputs}${hidden}${outputs}`, (m) => {
    const x = m.input('x', inputs);
    const y = m.target('y', outputs);
    const out = m.mlp(x, [hidden, outputs], 'tanh', 'linear');
    m.loss(m.mean(m.call('square', m.sub(out, y))));
  });
const SMALL = net(3); // 13 parameters: a short kernel (NO_DECAY steps)
const WIDE = net(8, 4, 3); // 67 parameters: no NO_DECAY steps
const ROWS = 8;
const rows = (inputs: number, outputs: number) => ({
  X: Float64Array.from({ length: ROWS * inputs }, (_, i) => Math.sin(1.3 * i + 0.2) * 1.5),
  Y: Float64Array.from({ length: ROWS * outputs }, (_, i) => Math.cos(0.7 * i) * 0.8),
});

const KINDS: OptimizerOptions[] = [
  { kind: 'adam', learningRate: 0.02, beta1: 0.9, beta2: 0.99, epsilon: 1e-7 },
  { kind: 'adam', learningRate: 0.02, weightDecay: 0.01 }, // L2 in the gradient
  { kind: 'adamw', learningRate: 0.02, weightDecay: 0.1 }, // decoupled: $keep
  { kind: 'adam', learningRate: 0.02, beta1: 0.5, beta2: 0.6 }, // steady hyperparameters from step 74
  { kind: 'adam', learningRate: 0.02, schedule: { kind: 'cosine', totalSteps: 80, warmupSteps: 10 } },
  { kind: 'rmsprop', learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-6 },
  { kind: 'rmsprop', learningRate: 0.01, weightDecay: 0.01 },
];

/** Every number of a parameter-shaped object, in its keys' order. */
/** A parameter-shaped object's array `name`. */
const arr = (p: Params | null | undefined, name: string): Float64Array => p![name] as Float64Array;
const flat = (p: Params | null | undefined): number[] => (p ? Object.keys(p).flatMap((k) => [...(p[k] as Float64Array)]) : []);
const bits = (xs: readonly number[]) => xs.map((x) => (Object.is(x, -0) ? '-0' : String(x)));

/** The module, with each call into a Wasm update kernel counted in `calls.n`. */
function counted(code: string): { mod: GeneratedModule; calls: { n: number } } {
  const calls = { n: 0 };
  const key = `__gradcWasmCalls${Math.random().toString(36).slice(2)}`;
  (globalThis as Record<string, unknown>)[key] = calls;
  const text = code.replace(/\$s \+= \$fw!\.f\[(\d+)\]!\(/g, (_, i: string) => `$s += ((globalThis as any).${key}.n++, $fw!.f[${i}]!)(`);
  return { mod: loadModule(text), calls };
}

/** 100 steps of batch 1 from the module's initParams(7): losses, parameters, moments, step count. */
function run(mod: GeneratedModule, options: OptimizerOptions, X: Float64Array, Y: Float64Array, steps = 100) {
  const p = mod.initParams(7);
  const st = mod.initOptimizer(p, options);
  const losses: number[] = [];
  for (let t = 0; t < steps; t++) losses.push(mod.stepBatch(p, X, Y, 1, st, t % ROWS));
  return { losses: bits(losses), p: bits(flat(p)), m: bits(flat(st.m)), v: bits(flat(st.v)), step: st.step };
}

const WasmApi = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer }; Instance: new (m: object, i: object) => { exports: { f: (...a: number[]) => number } }; Module: new (b: Uint8Array) => object } }).WebAssembly;

describe('the fused update kernel (fusedUpdateModule)', () => {
  const at = { g: 0, d: 16384, m0: 32768, v0: 49152 }; // room for 1,000 f64 each
  const M = 65536, V = 81920;
  for (const kind of ['adam', 'rmsprop'] as const) {
    for (const precision of ['f64', 'f32'] as const) {
      it(`${kind}, ${precision}: the rule's numbers for 1, 2, 3, 10 and 1,000 elements`, () => {
        const rule = UPDATES[kind];
        const args = fusedUpdateArgs(rule);
        const values: Record<string, number> = { $b1: 0.9, $b2: 0.999, $a: 0.003, $e: 1e-8, $mu: 0.5, $rho: 0.8, $eps: 1e-6, $lr: 0.01 };
        // The rule's element statements but the last, and its step D, as JavaScript (the same text the fused step runs).
        const last = rule.element.at(-1)!.replace('const $p1 = $wk * $keep - ', 'return ');
        const js = new Function(...args, '$gk', '$mk', '$vk', `${rule.element.slice(0, -1).join('\n')}\n${last.replace(/;$/, '')}, $m1, $v1];`.replace('return ', 'return [')) as (...a: number[]) => number[];
        const Arr = precision === 'f64' ? Float64Array : Float32Array;
        for (const n of [1, 2, 3, 10, 1000]) {
          const bytes = fusedUpdateModule(rule, precision, 2, n, at);
          expect(bytes.length).toBeLessThan(1024);
          const memory = new WasmApi.Memory({ initial: 2 });
          const f = new WasmApi.Instance(new WasmApi.Module(bytes), { m: { m: memory } }).exports.f;
          const g = new Float64Array(memory.buffer, at.g, n), d = new Float64Array(memory.buffer, at.d, n);
          const m = new Arr(memory.buffer, M, n), v = new Arr(memory.buffer, V, n), m0 = new Arr(memory.buffer, at.m0, n), v0 = new Arr(memory.buffer, at.v0, n);
          const edge = [0, -0, 1e-300, 5e-324, 1e150, -1e150];
          for (let k = 0; k < n; k++) {
            g[k] = k < edge.length ? edge[k]! : Math.sin(k) * 10 ** ((k % 7) - 3);
            m[k] = Math.cos(k) * 0.1;
            v[k] = Math.abs(Math.sin(3 * k)) * 0.01;
          }
          const want = Array.from({ length: n }, (_, k) => js(...args.map((x) => values[x]!), g[k]!, m[k]!, v[k]!));
          const oldM = [...m], oldV = [...v];
          const check = f(M, V, ...args.map((x) => values[x]!));
          const round = (x: number) => (precision === 'f64' ? x : Math.fround(x));
          for (let k = 0; k < n; k++) {
            const [step, m1, v1] = want[k]!;
            expect([d[k], m[k], v[k], m0[k], v0[k]]).toEqual([step, round(m1!), round(v1!), oldM[k], oldV[k]]);
          }
          const finite = want.every(([, m1, v1]) => Number.isFinite(round(m1!)) && Number.isFinite(round(v1!)));
          expect(check === 0).toBe(finite);
        }
      });
    }
  }
});

describe('fused steps with the update in WebAssembly (WASM_UPDATE)', () => {
  it('are emitted for the rules with two moments of a short unrolled module, unless simd is off', () => {
    const { code } = generate(SMALL, { lowering: 'unrolled' });
    for (const kind of ['adam', 'rmsprop']) for (const variant of ['', '_nodecay']) expect(code).toContain(`function $wstep_${kind}${variant}(`);
    expect(code).not.toMatch(/\$wstep_(sgd|momentum|adamw)/);
    expect(generate(WIDE, { lowering: 'unrolled' }).code).toMatch(/function \$wstep_adam\(/);
    expect(generate(WIDE, { lowering: 'unrolled' }).code).not.toMatch(/\$wstep_adam_nodecay/);
    expect(generate(SMALL, { lowering: 'unrolled', simd: 'off' }).code).not.toContain('$wstep_');
    expect(generate(SMALL, { lowering: 'unrolled', chunkSize: 20 }).code).not.toContain('$wstep_');
    expect(generate(SMALL, { lowering: 'loops' }).code).not.toContain('$wstep_');
    const scalar = defineModel('scalarParam', (m) => {
      const x = m.input('x', 2);
      const y = m.target('y', 1);
      const b = m.param('b', { init: 0 }); // a scalar parameter: it lives in the Params object itself
      m.loss(m.mean(m.call('square', m.sub(m.add(m.mlp(x, [3, 1], 'tanh', 'linear'), b), y))));
    });
    expect(generate(scalar, { lowering: 'unrolled' }).code).not.toContain('$wstep_');
  });

  it('places the moments initOptimizer and loadParams make in slots of one memory, never reused', () => {
    const mod = compile(SMALL, { lowering: 'unrolled' });
    const p = mod.initParams();
    const a = mod.initOptimizer(p, { kind: 'adam' }), b = mod.initOptimizer(p, { kind: 'rmsprop' });
    const arrays = [a.m!, a.v!, b.m!, b.v!].flatMap((q) => Object.values(q) as Float64Array[]);
    const buffer = arrays[0]!.buffer;
    for (const x of arrays) {
      expect(x.buffer).toBe(buffer); // one memory
      expect([...x].every((v) => v === 0)).toBe(true);
    }
    const ranges = arrays.map((x) => [x.byteOffset, x.byteOffset + x.byteLength] as const).sort((u, w) => u[0] - w[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]); // no two overlap
    expect(Object.isFrozen(a.m)).toBe(true);
    // Saved and loaded (a new slot, the same values), then resumed exactly.
    const { X, Y } = rows(2, 1);
    for (let t = 0; t < 5; t++) mod.stepBatch(p, X, Y, 1, a, t);
    const doc = mod.saveParams(p, a);
    const back = mod.loadParams(JSON.parse(JSON.stringify(doc)));
    const st = back.optimizer!;
    expect(arr(st.m, 'layer1_W').buffer).toBe(buffer);
    expect(arr(st.m, 'layer1_W').byteOffset).not.toBe(arr(a.m, 'layer1_W').byteOffset);
    expect(flat(st.m)).toEqual(flat(a.m));
    expect(flat(st.v)).toEqual(flat(a.v));
    for (let t = 5; t < 30; t++) expect(mod.stepBatch(back.params, X, Y, 1, st, t % ROWS)).toBe(mod.stepBatch(p, X, Y, 1, a, t % ROWS));
    expect(flat(back.params)).toEqual(flat(p));
    expect(flat(st.v)).toEqual(flat(a.v));
  });

  for (const [name, def, inputs, outputs] of [['short kernel', SMALL, 2, 1], ['longer kernel', WIDE, 4, 3]] as const) {
    for (const precision of ['f64', 'f32'] as const) {
      for (const options of KINDS) {
        it(`${name}, ${precision}, ${JSON.stringify(options)}: 100 steps equal simd 'off' exactly, through the Wasm kernel`, () => {
          const { X, Y } = rows(inputs, outputs);
          const { mod, calls } = counted(generate(def, { lowering: 'unrolled', precision }).code);
          const off = loadModule(generate(def, { lowering: 'unrolled', precision, simd: 'off' }).code);
          const got = run(mod, options, X, Y), want = run(off, options, X, Y);
          expect(got).toEqual(want);
          expect(calls.n).toBe(99); // every step but the first (which checks the new moments: the JavaScript step)
        });
      }
    }
  }

  it('refuses a step whose second moment overflows, or whose loss is not finite, with everything unchanged', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const { mod, calls } = counted(generate(SMALL, { lowering: 'unrolled', precision }).code);
      const { X, Y } = rows(2, 1);
      const p = mod.initParams(3);
      const st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.01 });
      for (let t = 0; t < 10; t++) mod.stepBatch(p, X, Y, 1, st, t % ROWS);
      const before = { p: bits(flat(p)), m: bits(flat(st.m)), v: bits(flat(st.v)), step: st.step };
      const seen = calls.n;
      // A target of 1e160 (1e30 in float32): gradients whose squares overflow the second moment, while each new parameter stays finite.
      const big = Float64Array.from(Y, () => (precision === 'f64' ? 1e160 : 1e30));
      expect(() => mod.stepBatch(p, X, big, 1, st, 0)).toThrow(/step not taken/);
      expect(calls.n).toBe(seen + 1); // the Wasm step ran, and refused
      expect({ p: bits(flat(p)), m: bits(flat(st.m)), v: bits(flat(st.v)), step: st.step }).toEqual(before);
      const nan = Float64Array.from(Y, () => NaN);
      expect(() => mod.stepBatch(p, X, nan, 1, st, 0)).toThrow(/step not taken/);
      expect({ p: bits(flat(p)), m: bits(flat(st.m)), v: bits(flat(st.v)), step: st.step }).toEqual(before);
      // And training goes on as before.
      const off = loadModule(generate(SMALL, { lowering: 'unrolled', precision, simd: 'off' }).code);
      const q = off.initParams(3), so = off.initOptimizer(q, { kind: 'adam', learningRate: 0.01 });
      for (let t = 0; t < 10; t++) off.stepBatch(q, X, Y, 1, so, t % ROWS);
      for (let t = 10; t < 40; t++) expect(mod.stepBatch(p, X, Y, 1, st, t % ROWS)).toBe(off.stepBatch(q, X, Y, 1, so, t % ROWS));
    }
  });

  it('trains states it did not place (by hand, another module instance, past the pool) and states taken in turn exactly as simd off', () => {
    const code = generate(SMALL, { lowering: 'unrolled' }).code;
    const offCode = generate(SMALL, { lowering: 'unrolled', simd: 'off' }).code;
    const { X, Y } = rows(2, 1);
    const options: OptimizerOptions = { kind: 'adam', learningRate: 0.02 };
    const reference = (steps: number) => run(loadModule(offCode), options, X, Y, steps);
    const trace = (mod: GeneratedModule, p: Params, st: OptimizerState, steps: number) => {
      const losses: number[] = [];
      for (let t = 0; t < steps; t++) losses.push(mod.stepBatch(p, X, Y, 1, st, t % ROWS));
      return { losses: bits(losses), p: bits(flat(p)), m: bits(flat(st.m)), v: bits(flat(st.v)), step: st.step };
    };
    // By hand: plain arrays.
    const mod = loadModule(code);
    const p1 = mod.initParams(7);
    const made = mod.initOptimizer(p1, options);
    const byHand: OptimizerState = { options: made.options, step: 0, m: mod.zeroParams(), v: mod.zeroParams() };
    expect(trace(mod, p1, byHand, 60)).toEqual(reference(60));
    // Made by another instance of the same module.
    const other = loadModule(code);
    const p2 = mod.initParams(7);
    expect(trace(mod, p2, other.initOptimizer(p2, options), 60)).toEqual(reference(60));
    // Past the pool: the 70th state's moments are plain arrays, and train the same.
    const pool = loadModule(code);
    const pp = pool.initParams(7);
    let last = pool.initOptimizer(pp, options);
    const buffer = arr(last.m, 'layer1_W').buffer;
    for (let i = 0; i < 70; i++) last = pool.initOptimizer(pp, options);
    expect(arr(last.m, 'layer1_W').buffer).not.toBe(buffer);
    expect(trace(pool, pp, last, 60)).toEqual(reference(60));
    // Two placed states in turn, on one module: each as if alone.
    const two = loadModule(code);
    const pa = two.initParams(7), pb = two.initParams(7);
    const sa = two.initOptimizer(pa, options), sb = two.initOptimizer(pb, options);
    const la: number[] = [], lb: number[] = [];
    for (let t = 0; t < 60; t++) {
      la.push(two.stepBatch(pa, X, Y, 1, sa, t % ROWS));
      if (t % 3 !== 2) lb.push(two.stepBatch(pb, X, Y, 1, sb, lb.length % ROWS)); // b skips some turns: a runs several in a row
    }
    expect({ losses: bits(la), p: bits(flat(pa)), m: bits(flat(sa.m)), v: bits(flat(sa.v)), step: sa.step }).toEqual(reference(60));
    expect(bits(lb)).toEqual(reference(lb.length).losses);
  });

  it('fit with Adam gives the same result with and without the Wasm update', () => {
    const samples = Array.from({ length: 24 }, (_, i) => ({ inputs: { x: [Math.sin(i), Math.cos(2 * i)] }, targets: { y: [Math.sin(i) * Math.cos(2 * i)] } }));
    const fitWith = (simd: 'auto' | 'off') => {
      const mod = compile(SMALL, { lowering: 'unrolled', simd });
      const r = mod.fit(samples, { optimizer: { kind: 'adam', learningRate: 0.01 }, epochs: 20, shuffleSeed: 3, params: mod.initParams(5) });
      return { losses: r.losses, p: flat(r.params), m: flat(r.optimizer.m), v: flat(r.optimizer.v) };
    };
    expect(fitWith('auto')).toEqual(fitWith('off'));
  });
});

const CHROMIUM = '/usr/bin/chromium';
const chromiumPresent = existsSync(CHROMIUM);
if (!chromiumPresent) console.warn(`test/fusedWasm.test.ts: browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run does this)`);

describe.skipIf(!chromiumPresent)('WASM_UPDATE in headless Chromium', () => {
  it('trains 4-8-3 with Adam on the main thread through the kernel, equal to simd off', async () => {
    const files = new Map<string, string>([
      ['/on.js', toJavaScript(generate(WIDE, { lowering: 'unrolled' }).code, 'on').js],
      ['/off.js', toJavaScript(generate(WIDE, { lowering: 'unrolled', simd: 'off' }).code, 'off').js],
      ['/index.html', `<!doctype html><title>gradc wasm update</title><script type="module">
const W = globalThis.WebAssembly;
const counter = { instances: 0, calls: 0 };
globalThis.WebAssembly = {
  validate: (b) => W.validate(b), Memory: W.Memory, Module: W.Module,
  Instance: function (m, i) { const f = new W.Instance(m, i).exports.f; counter.instances++; return { exports: { f: (...a) => { counter.calls++; return f(...a); } } }; },
};
const on = await import('/on.js');
globalThis.WebAssembly = W;
const off = await import('/off.js');
const X = Float64Array.from({ length: 8 * 4 }, (_, i) => Math.sin(1.3 * i + 0.2) * 1.5), Y = Float64Array.from({ length: 8 * 3 }, (_, i) => Math.cos(0.7 * i) * 0.8);
const pa = on.initParams(7), pb = off.initParams(7);
const sa = on.initOptimizer(pa, { kind: 'adam', learningRate: 0.02 }), sb = off.initOptimizer(pb, { kind: 'adam', learningRate: 0.02 });
let same = true;
for (let t = 0; t < 100; t++) same = same && on.stepBatch(pa, X, Y, 1, sa, t % 8) === off.stepBatch(pb, X, Y, 1, sb, t % 8);
for (const q of [[pa, pb], [sa.m, sb.m], [sa.v, sb.v]]) for (const k of Object.keys(q[1])) for (let i = 0; i < q[1][k].length; i++) same = same && Object.is(q[0][k][i], q[1][k][i]);
window.result = { ...counter, same, placed: sa.m.layer1_W.buffer === sa.v.layer1_W.buffer };
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
      const r = (await tab.evaluate('window.result')) as { instances: number; calls: number; same: boolean; placed: boolean };
      expect(r.instances).toBe(2); // adam's and rmsprop's kernels, compiled synchronously on the main thread
      expect(r.placed).toBe(true);
      expect(r.calls).toBe(99);
      expect(r.same).toBe(true);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
