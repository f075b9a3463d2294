/**
 * Round 5 of the hostile review: the SIMD kernels (simd.ts, loopKernels.ts, wasm/tanh.ts)
 * and the threads (train/team.ts, parallel.ts) as merged this morning, used as a user who
 * breaks things would: degenerate shapes (width 1, 1x1 products, 1-row batches, counts
 * past the kernels' row buffer, first offsets near the end of X), f32 and f64 with rows
 * of the other float type, tanh of special values, parameters built from plain arrays or
 * from subarrays of a bigger buffer or from another module's kernel memory, a parameter
 * array replaced between steps, many fit() calls (the pool of slots runs out: the
 * fallback gives the same bits), caller-given accumulators in and out of the kernels'
 * memory, saveParams/loadParams of views, parameter names that collide with JavaScript's
 * own, fitParallel with 2 and 3 threads. Each compares with `simd: 'off'` (1e-12 in f64,
 * 1e-5 in f32) or with the bits of the single-thread run.
 */
import { describe, expect, it } from 'vitest';
import { defineModel, generate } from '../src/index.js';
import { runModule, transpile, type Params } from '../src/load/loader.js';
import { mulberry32 } from '../src/rng.js';
import { tanhModule } from '../src/6-emit/wasm/tanh.js';
import { fitParallel } from '../src/train/parallel.js';

type F = Float64Array | Float32Array;
type P = Params<F>;
type Mod = any;

interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: object) => { readonly exports: { readonly f: (n: number, at: number) => void } };
}
/** The Wasm tanh pass alone, on a memory of 4 pages: its function and the memory's buffer. */
function tanhPass(precision: 'f64' | 'f32'): { f: (n: number, at: number) => void; buffer: ArrayBuffer } {
  const W = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const memory = new W.Memory({ initial: 4, maximum: 4 });
  return { f: new W.Instance(new W.Module(tanhModule(precision, 4)), { m: { m: memory } }).exports.f, buffer: memory.buffer };
}

const cache = new Map<string, string>();
/** The JavaScript of an `inputs -> hidden (tanh) -> outputs` MSE net, looped lowering. */
function netJs(inputs: number, hidden: readonly number[], outputs: number, precision: 'f64' | 'f32', simd: 'on' | 'off' | 'auto', names?: string): string {
  const key = [inputs, hidden.join('_'), outputs, precision, simd, names ?? ''].join('/');
  const hit = cache.get(key);
  if (hit) return hit;
  const def = defineModel(`rv_${inputs}_${hidden.join('_')}_${outputs}`, (m) => {
    let x = m.input('x', inputs);
    const y = m.target('y', outputs);
    [...hidden, outputs].forEach((n, i) => { x = m.dense(x, n, i < hidden.length ? 'tanh' : 'linear', names ? { name: `${names}${i}` } : {}); });
    m.loss(m.mean(m.call('square', m.sub(x, y))));
  }, { seed: inputs * 31 + outputs });
  const js = transpile(generate(def, { precision, lowering: 'loops', simd }).code);
  cache.set(key, js);
  return js;
}
const load = (js: string): Mod => runModule(js);

function rows(count: number, n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  return Float64Array.from({ length: count * n }, () => 2 * rand() - 1);
}

function maxRel(a: P, b: P): number {
  let worst = 0;
  for (const [k, v] of Object.entries(a)) {
    const w = b[k]!;
    const xs = typeof v === 'number' ? [v] : [...v], ys = typeof w === 'number' ? [w] : [...w];
    expect(ys.length).toBe(xs.length);
    xs.forEach((x, i) => { worst = Math.max(worst, Math.abs(x - ys[i]!) / Math.max(1, Math.abs(x))); });
  }
  return worst;
}
const hex = (p: P): string => Object.entries(p).map(([k, v]) => `${k}:${typeof v === 'number' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`).join(',');
const plain = (p: P, Floats: typeof Float64Array | typeof Float32Array): P => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? v : Floats.from(v)])) as P;
const TOL = { f64: 1e-12, f32: 1e-5 } as const;

describe('degenerate shapes: simd on equals simd off', () => {
  const shapes: [number, number[], number][] = [[1, [1], 1], [1, [1, 1], 1], [3, [1], 5], [9, [65], 1], [33, [7], 3]];
  for (const precision of ['f64', 'f32'] as const) {
    for (const [i, h, o] of shapes) {
      it(`${i}-${h.join('-')}-${o} ${precision}, simd on and auto: gradientBatch and stepBatch at counts 1 to 140 and first offsets near the end`, () => {
        const off = load(netJs(i, h, o, precision, 'off'));
        const Floats = precision === 'f64' ? Float64Array : Float32Array;
        const N = 140;
        const X = Floats.from(rows(N, i, 1)), Y = Floats.from(rows(N, o, 2));
        for (const on of [load(netJs(i, h, o, precision, 'on')), load(netJs(i, h, o, precision, 'auto'))])
        for (const [count, first] of [[1, 0], [1, N - 1], [2, N - 2], [3, 1], [7, 0], [9, 2], [63, 5], [64, N - 64], [65, N - 65], [130, N - 130], [N, 0]] as const) {
          const p0 = off.initParams(3);
          const a = on.gradientBatch(on.initParams(3), X, Y, count, first);
          const b = off.gradientBatch(p0, X, Y, count, first);
          expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(TOL[precision] * Math.max(1, Math.abs(b.loss)));
          expect(maxRel(a.grad, b.grad)).toBeLessThan(TOL[precision]);
          const pa = on.initParams(3), pb = off.initParams(3);
          const sa = on.initOptimizer(pa, { kind: 'adam', learningRate: 0.01, clipNorm: 0.3 }), sb = off.initOptimizer(pb, { kind: 'adam', learningRate: 0.01, clipNorm: 0.3 });
          for (let s = 0; s < 3; s++) {
            const la = on.stepBatch(pa, X, Y, count, sa, first), lb = off.stepBatch(pb, X, Y, count, sb, first);
            expect(Math.abs(la - lb)).toBeLessThanOrEqual(TOL[precision] * Math.max(1, Math.abs(lb)));
          }
          expect(maxRel(pa, pb)).toBeLessThan(TOL[precision]);
        }
      });
    }
  }

  it('rows of the other float type: Float32Array rows into an f64 model and Float64Array rows into an f32 model', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const on = load(netJs(9, [65], 1, precision, 'on')), off = load(netJs(9, [65], 1, precision, 'off'));
      const Other = precision === 'f64' ? Float32Array : Float64Array;
      const X = Other.from(rows(70, 9, 3)), Y = Other.from(rows(70, 1, 4));
      const a = on.gradientBatch(on.initParams(1), X, Y, 70, 0), b = off.gradientBatch(off.initParams(1), X, Y, 70, 0);
      expect(maxRel(a.grad, b.grad)).toBeLessThan(TOL[precision]);
      const pa = on.initParams(1), pb = off.initParams(1);
      on.stepBatch(pa, X, Y, 70, 0.1); off.stepBatch(pb, X, Y, 70, 0.1);
      expect(maxRel(pa, pb)).toBeLessThan(TOL[precision]);
    }
  });
});

describe('the Wasm tanh pass', () => {
  it('is within 4.4e-16 of Math.tanh in f64 over every exponent, and exact on -0, NaN, Infinity, subnormals', () => {
    const { f, buffer } = tanhPass('f64');
    const H = new Float64Array(buffer);
    const rand = mulberry32(5);
    const xs: number[] = [0, -0, NaN, Infinity, -Infinity, 5e-324, -5e-324, 2.2e-308, 1e-300, 1e-17, 1e-8, 0.3, 0.5493, 0.55, 1, 19, 19.06, 20, 22, 40, 710, 1e300, Number.MAX_VALUE];
    for (let e = -1074; e < 1024; e += 1) xs.push((rand() + 0.5) * 2 ** e * (rand() < 0.5 ? -1 : 1));
    for (let i = 0; i < 20000; i++) xs.push((rand() * 2 - 1) * 25);
    const n = xs.length;
    expect(n * 8).toBeLessThan(buffer.byteLength);
    H.set(xs, 0);
    f(n, 0);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const want = Math.tanh(xs[i]!), got = H[i]!;
      if (Number.isNaN(want)) { expect(got).toBeNaN(); continue; }
      if (Object.is(want, -0) || Object.is(want, 0)) { expect(Object.is(got, want)).toBe(true); continue; }
      worst = Math.max(worst, Math.abs(got - want) / Math.abs(want));
    }
    expect(worst).toBeLessThanOrEqual(4.5e-16);
  });
});

describe('parameters that are not where the module put them', () => {
  for (const precision of ['f64', 'f32'] as const) {
    it(`${precision}: plain arrays, subarrays of a bigger buffer, views on another module's kernel memory, and an array replaced between steps train as with simd off`, () => {
      const Floats = precision === 'f64' ? Float64Array : Float32Array;
      const jsOn = netJs(9, [65], 3, precision, 'on');
      const on = load(jsOn), other = load(jsOn), off = load(netJs(9, [65], 3, precision, 'off'));
      const X = rows(80, 9, 7), Y = rows(80, 3, 8);
      const start: P = plain(off.initParams(2), Floats);
      const kinds = ['plain', 'subarray', 'other module', 'replaced'] as const;
      for (const kind of kinds) {
        const pb: P = plain(start, Floats);
        let pa: P;
        if (kind === 'plain' || kind === 'replaced') pa = plain(start, Floats);
        else if (kind === 'subarray') {
          const big = new Floats(100000);
          let at = 3;
          pa = Object.fromEntries(Object.entries(start).map(([k, v]) => { const s = big.subarray(at, at + (v as F).length); s.set(v as F); at += (v as F).length + 5; return [k, s]; })) as P;
        } else {
          pa = other.initParams(2); // in the other module's memory
          for (const [k, v] of Object.entries(start)) (pa[k] as F).set(v as F);
        }
        for (const opt of [{ kind: 'sgd', learningRate: 0.05 }, { kind: 'momentum', learningRate: 0.02, nesterov: true }, { kind: 'rmsprop', learningRate: 0.01 }, { kind: 'adam', learningRate: 0.01, clipNorm: 0.2 }] as const) {
          const qa = plain(start, Floats), qb = plain(pb, Floats);
          if (kind === 'subarray' || kind === 'other module') Object.entries(pa).forEach(([k, v]) => (v as F).set(start[k] as F)); // restart from the start
          const ta = kind === 'subarray' || kind === 'other module' ? pa : qa;
          const sa = on.initOptimizer(ta, opt), sb = off.initOptimizer(qb, opt);
          for (let s = 0; s < 4; s++) {
            if (kind === 'replaced' && s === 2) { ta['layer1_W'] = (ta['layer1_W'] as F).slice(); qb['layer1_W'] = (qb['layer1_W'] as F).slice(); }
            on.stepBatch(ta, X, Y, 80, sa, 0);
            off.stepBatch(qb, X, Y, 80, sb, 0);
          }
          expect(maxRel(ta, qb)).toBeLessThan(TOL[precision]);
        }
      }
    });
  }

  it('params placed by the module, with an array replaced by a plain one between steps (the moments stay in memory), train as with simd off (the update pass falls back to JavaScript)', () => {
    const on = load(netJs(9, [65], 3, 'f64', 'on')), off = load(netJs(9, [65], 3, 'f64', 'off'));
    const X = rows(80, 9, 9), Y = rows(80, 3, 10);
    const pa = on.initParams(4), pb = off.initParams(4);
    const sa = on.initOptimizer(pa, { kind: 'adam', learningRate: 0.01 }), sb = off.initOptimizer(pb, { kind: 'adam', learningRate: 0.01 });
    for (let s = 0; s < 5; s++) {
      if (s === 2) { pa['layer1_b'] = Float64Array.from(pa['layer1_b'] as F); pb['layer1_b'] = Float64Array.from(pb['layer1_b'] as F); }
      on.stepBatch(pa, X, Y, 80, sa, 0);
      off.stepBatch(pb, X, Y, 80, sb, 0);
    }
    expect(maxRel(pa, pb)).toBeLessThan(1e-12);
  });
});

describe('gradientBatch with a caller-given accumulator', () => {
  it('adds into a non-zero accumulator in the kernels memory, in a plain array, in a subarray and in another module\'s memory, as simd off does', () => {
    const jsOn = netJs(33, [7], 3, 'f64', 'on');
    const on = load(jsOn), other = load(jsOn), off = load(netJs(33, [7], 3, 'f64', 'off'));
    const X = rows(70, 33, 11), Y = rows(70, 3, 12);
    const seedGrad = (g: P): P => { Object.values(g).forEach((v, j) => { if (typeof v !== 'number') for (let i = 0; i < v.length; i++) v[i] = 0.001 * (i + j); }); return g; };
    const want = off.gradientBatch(off.initParams(1), X, Y, 70, 0, seedGrad(off.zeroParams())).grad;
    const inMemory = on.initParams(9); // a view on the kernels' memory
    const big = new Float64Array(20000);
    let at = 1;
    const sub = Object.fromEntries(Object.entries(on.zeroParams() as P).map(([k, v]) => { const s = big.subarray(at, at + (v as F).length); at += (v as F).length; return [k, s]; })) as P;
    for (const g of [seedGrad(inMemory), seedGrad(on.zeroParams()), seedGrad(sub), seedGrad(other.initParams(3))]) {
      const r = on.gradientBatch(on.initParams(1), X, Y, 70, 0, g);
      expect(r.grad).toBe(g);
      expect(maxRel(want, g)).toBeLessThan(1e-12);
    }
  });

  it('params passed as their own accumulator give the same result as simd off', () => {
    const on = load(netJs(33, [7], 3, 'f64', 'on')), off = load(netJs(33, [7], 3, 'f64', 'off'));
    const X = rows(70, 33, 13), Y = rows(70, 3, 14);
    const pa = on.initParams(1), pb = off.initParams(1);
    on.gradientBatch(pa, X, Y, 70, 0, pa);
    off.gradientBatch(pb, X, Y, 70, 0, pb);
    expect(maxRel(pa, pb)).toBeLessThan(1e-12);
  });
});

describe('many fit() calls in one process', () => {
  it('every fit gives the same bits after the 64 pool slots are used up (the fallback equals the kernels), and equals simd off', () => {
    const on = load(netJs(9, [65], 3, 'f64', 'on')), off = load(netJs(9, [65], 3, 'f64', 'off'));
    const X = rows(90, 9, 15), Y = rows(90, 3, 16);
    const options = { epochs: 2, batchSize: 33, shuffleSeed: 3, optimizer: { kind: 'adam', learningRate: 0.01, clipNorm: 0.5 } } as const;
    const want = off.fitRows(X, Y, 90, options);
    const first = hex(on.fitRows(X, Y, 90, options).params);
    for (let i = 0; i < 30; i++) {
      const r = on.fitRows(X, Y, 90, options);
      expect(hex(r.params)).toBe(first);
    }
    expect(maxRel(on.fitRows(X, Y, 90, options).params, want.params)).toBeLessThan(1e-12);
    // loadParams after the pool is used: still loads and trains the same
    const saved = on.saveParams(on.initParams(5));
    const { params } = on.loadParams(saved);
    expect(hex(params)).toBe(hex(off.loadParams(off.saveParams(off.initParams(5))).params));
  });
});

describe('saveParams / loadParams of views', () => {
  it('round-trips parameters that are subarrays of a bigger buffer and views on the kernels memory (with an optimizer)', () => {
    const on = load(netJs(9, [65], 3, 'f32', 'on'));
    const p = on.initParams(6);
    const st = on.initOptimizer(p, { kind: 'adam', learningRate: 0.01 });
    on.stepBatch(p, Float32Array.from(rows(40, 9, 1)), Float32Array.from(rows(40, 3, 2)), 40, st, 0);
    const big = new Float32Array(5000);
    let at = 7;
    const sub = Object.fromEntries(Object.entries(p as P).map(([k, v]) => { const s = big.subarray(at, at + (v as F).length); s.set(v as F); at += (v as F).length + 1; return [k, s]; })) as P;
    for (const q of [p, sub]) {
      const text = JSON.stringify(on.saveParams(q, st));
      const back = on.loadParams(text);
      expect(hex(back.params)).toBe(hex(p));
      expect(hex(back.optimizer.m)).toBe(hex(st.m));
      expect(back.optimizer.step).toBe(st.step);
    }
  });
});

/** Parameter names that are also properties of typed arrays, of Math and of every array. */
function namesJs(precision: 'f64' | 'f32', simd: 'on' | 'off'): string {
  const key = `names/${precision}/${simd}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const def = defineModel('rv_names', (m) => {
    m.input('x', 9); m.target('y', 3);
    m.param('proto', { shape: [33, 9] }); m.param('length', { shape: [33] });
    m.param('buffer', { shape: [3, 33] }); m.param('byteOffset', { shape: [3] }); m.param('Math');
    m.formulas(`
      h = tanh(matmul(proto, x) + length)
      o = matmul(buffer, h) + byteOffset + Math
      loss = mean(square(o - y))
    `);
  });
  const js = transpile(generate(def, { precision, lowering: 'loops', simd }).code);
  cache.set(key, js);
  return js;
}

describe('names that collide with JavaScript and typed-array properties', () => {
  it("'$at', '$nb', '$wasm' are refused as names; 'constructor' too, saying why", () => {
    for (const bad of ['$at', '$nb', '$wasm', 'constructor']) {
      const def = defineModel('rv_bad', (m) => { m.input('x', 3); m.target('y'); m.param(bad, { shape: [3] }); m.loss(m.expr('sum(x) - y')); });
      expect(() => generate(def, { lowering: 'loops', simd: 'on' })).toThrow(/not a valid name|cannot be used as a name/);
    }
  });

  for (const precision of ['f64', 'f32'] as const) {
    it(`${precision}: parameters named buffer, byteOffset, length, Math train with the kernels as with simd off, and with 2 and 3 threads as with 1`, () => {
      const js = namesJs(precision, 'on');
      const on = load(js), off = load(namesJs(precision, 'off'));
      const Floats = precision === 'f64' ? Float64Array : Float32Array;
      const X = Floats.from(rows(75, 9, 21)), Y = Floats.from(rows(75, 3, 22));
      const options = { epochs: 3, batchSize: 31, shuffleSeed: 4, optimizer: { kind: 'momentum', learningRate: 0.03, clipNorm: 1 } } as const;
      const a = on.fitRows(X, Y, 75, options), b = off.fitRows(X, Y, 75, options);
      expect(Object.keys(a.params).sort()).toEqual(['Math', 'buffer', 'byteOffset', 'length', 'proto']);
      expect(maxRel(a.params, b.params)).toBeLessThan(TOL[precision]);
      for (const threads of [2, 3]) {
        const many = fitParallel({ js }, X as Float64Array, Y as Float64Array, 75, { ...options, threads });
        expect(many.threads).toBe(threads);
        expect(maxRel(a.params, many.params)).toBeLessThan(TOL[precision]);
        const again = fitParallel({ js }, X as Float64Array, Y as Float64Array, 75, { ...options, threads });
        expect(hex(again.params)).toBe(hex(many.params));
      }
    });
  }
});

describe('other model shapes through the kernels', () => {
  const models = {
    'rnn cell then dense': () => defineModel('rv_rnn', (m) => { const xs = m.input('x', [6, 5]); m.target('y', 3); const r = m.rnn(xs, 33); const o = m.dense(r.last.h, 3); m.loss(m.mean(m.call('square', m.sub(o, m.expr('y'))))); }),
    'tanh, relu, softmax cross-entropy': () => defineModel('rv_ce', (m) => { let x = m.input('x', 20); m.target('y', 10); x = m.dense(x, 33, 'tanh'); x = m.dense(x, 33, 'relu'); m.dense(x, 10); m.loss(m.expr('cross_entropy(layer3_z, y)')); }),
    'a product of two parameters': () => defineModel('rv_po', (m) => { m.input('x', 8); m.target('y', 8); m.param('A', { shape: [8, 8] }); m.param('B', { shape: [8, 8] }); m.formulas(`
      z = tanh(matmul(matmul(A, B), x))
      loss = mean(square(z - y))
    `); }),
  };
  for (const [name, make] of Object.entries(models)) {
    it(`${name}: fitRows with kernels equals simd off (f64 and f32), an abort mid-epoch included`, () => {
      for (const precision of ['f64', 'f32'] as const) {
        const def = make();
        const code = generate(def, { precision, lowering: 'loops', simd: 'on' }).code;
        expect(code).toMatch(/\$wasm\.f\[/);
        const on: Mod = load(transpile(code)), off: Mod = load(transpile(generate(def, { precision, lowering: 'loops', simd: 'off' }).code));
        const n = 70, Floats = precision === 'f64' ? Float64Array : Float32Array;
        const X = Floats.from(Array.from({ length: on.INPUT_SIZE * n }, (_, i) => Math.sin(i * 1.3)));
        const Y = Floats.from(Array.from({ length: on.TARGET_SIZE * n }, (_, i) => name.includes('cross') ? (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0) : Math.cos(i)));
        const o = { epochs: 2, batchSize: 33, optimizer: { kind: 'adam', learningRate: 0.01 } } as const;
        expect(maxRel(on.fitRows(X, Y, n, o).params, off.fitRows(X, Y, n, o).params)).toBeLessThan(TOL[precision]);
        const stopped = [on, off].map((mod: Mod) => {
          const ctl = new AbortController();
          let b = 0;
          const r = mod.fitRows(X, Y, n, { ...o, batchSize: 9, signal: ctl.signal, onBatch: () => { if (++b === 3) ctl.abort(); } });
          expect(r.stopped).toBe('aborted');
          return mod.fitRows(X, Y, n, { epochs: 1, batchSize: 9, params: r.params, optimizer: { kind: 'rmsprop', learningRate: 0.01 } }).params;
        });
        expect(maxRel(stopped[0], stopped[1])).toBeLessThan(TOL[precision]);
      }
    });
  }

  it('maxBatch 1, 2, 3, 5 (more rows than the kernels take per call), simd on and auto, equal simd off', () => {
    const def = defineModel('rv_mb', (m) => { let x = m.input('x', 9); m.target('y', 3); x = m.dense(x, 65, 'tanh'); m.dense(x, 3); m.loss(m.expr('mean(square(layer2_z - y))')); });
    const X = rows(11, 9, 31), Y = rows(11, 3, 32);
    for (const maxBatch of [1, 2, 3, 5]) {
      const off: Mod = load(transpile(generate(def, { lowering: 'loops', simd: 'off', maxBatch }).code));
      for (const simd of ['on', 'auto'] as const) {
        const on: Mod = load(transpile(generate(def, { lowering: 'loops', simd, maxBatch }).code));
        for (const [count, first] of [[1, 0], [3, 8], [7, 4], [11, 0]] as const) {
          const a = on.gradientBatch(on.initParams(1), X, Y, count, first), b = off.gradientBatch(off.initParams(1), X, Y, count, first);
          expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
          expect(maxRel(a.grad, b.grad)).toBeLessThan(1e-12);
        }
      }
    }
  });
});

describe("the Wasm update pass gives the JavaScript pass's bits", () => {
  const optimizers = [
    { kind: 'sgd', learningRate: 0.05, weightDecay: 0.01 },
    { kind: 'momentum', learningRate: 0.02, momentum: 0.8, nesterov: true, weightDecay: 0.003, clipNorm: 0.1 },
    { kind: 'momentum', learningRate: 0.02, schedule: { kind: 'step', stepSize: 2, gamma: 0.5 } },
    { kind: 'adam', learningRate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-6, schedule: { kind: 'cosine', totalSteps: 5, warmupSteps: 2 } },
    { kind: 'adamw', learningRate: 0.01, weightDecay: 0.1, clipNorm: 0.05 },
    { kind: 'rmsprop', learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-5, schedule: { kind: 'exponential', gamma: 0.9 } },
  ] as const;
  for (const precision of ['f64', 'f32'] as const) {
    it(`${precision}: parameters and moments in the kernels' memory and in plain arrays of the same module step to the same bytes, every optimizer`, () => {
      const on = load(netJs(9, [65], 3, precision, 'on'));
      const Floats = precision === 'f64' ? Float64Array : Float32Array;
      const X = Floats.from(rows(50, 9, 41)), Y = Floats.from(rows(50, 3, 42));
      for (const opt of optimizers) {
        const pa = on.initParams(2), pb = plain(pa, Floats);
        const sa = on.initOptimizer(pa, opt), sb = on.initOptimizer(pb, opt);
        expect((pa['layer1_W'] as F).buffer).not.toBe((pb['layer1_W'] as F).buffer);
        for (let s = 0; s < 6; s++) expect(on.stepBatch(pa, X, Y, 50 - s, sa, s)).toBe(on.stepBatch(pb, X, Y, 50 - s, sb, s));
        expect(hex(pa)).toBe(hex(pb));
        if (sa.m) expect(hex(sa.m)).toBe(hex(sb.m));
        if (sa.v) expect(hex(sa.v)).toBe(hex(sb.v));
      }
    });
  }
});

describe('the Wasm tanh pass in f32', () => {
  it('is within one f32 rounding of Math.tanh, and exact on -0, NaN, Infinity, subnormals', () => {
    const { f, buffer } = tanhPass('f32');
    const H = new Float32Array(buffer);
    const rand = mulberry32(6);
    const xs: number[] = [0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 1e-40, 1e-30, 1e-8, 0.3, 0.55, 9, 9.01, 10, 20, 3e38, -3e38];
    for (let e = -149; e < 128; e++) xs.push(Math.fround((rand() + 0.5) * 2 ** e * (rand() < 0.5 ? -1 : 1)));
    for (let i = 0; i < 20000; i++) xs.push(Math.fround((rand() * 2 - 1) * 12));
    const n = xs.length; // odd counts and a lone last element: the pass takes two at a time
    H.set(xs, 1);
    f(n, 4);
    expect(H[0]).toBe(0);
    expect(H[n + 1]).toBe(0); // nothing past the end written
    for (let i = 0; i < n; i++) {
      const x = Math.fround(xs[i]!), want = Math.tanh(x), got = H[i + 1]!;
      if (Number.isNaN(want)) { expect(got).toBeNaN(); continue; }
      if (want === 0) { expect(Object.is(got, Math.fround(want))).toBe(true); continue; }
      expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23);
    }
  });
});

describe('fitParallel with parameters the caller placed', () => {
  it('parameters in another module\'s kernel memory, subarrays of one buffer, and plain arrays give the same bytes, with and without kernels, 2 and 3 threads; a batch smaller than the team too', () => {
    for (const simd of ['on', 'off'] as const) {
      const js = netJs(9, [65], 3, 'f64', simd);
      const X = rows(40, 9, 51), Y = rows(40, 3, 52);
      for (const threads of [2, 3]) {
        for (const batchSize of [2, 13]) {
          const options = { epochs: 2, batchSize, shuffleSeed: 1, optimizer: { kind: 'adam', learningRate: 0.01, clipNorm: 0.5 } } as const;
          const start = plain(load(js).initParams(8), Float64Array);
          const inOther: P = load(js).initParams(8);
          const big = new Float64Array(2000);
          let at = 1;
          const sub = Object.fromEntries(Object.entries(start).map(([k, v]) => { const s = big.subarray(at, at + (v as F).length); s.set(v as F); at += (v as F).length; return [k, s]; })) as P;
          const given = [plain(start, Float64Array), inOther, sub];
          const results = given.map((params) => {
            const r = fitParallel({ js }, X, Y, 40, { ...options, params: params as Params<Float64Array>, threads });
            expect(r.threads).toBe(threads);
            expect(r.params).toBe(params);
            return hex(params);
          });
          expect(results[1]).toBe(results[0]);
          expect(results[2]).toBe(results[0]);
          const one = load(js).fitRows(X, Y, 40, { ...options, params: plain(start, Float64Array) });
          expect(maxRel(one.params, given[0]!)).toBeLessThan(1e-12);
        }
      }
    }
  });
});

describe('the per-sample API with kernels', () => {
  it('predict, evaluate, loss, gradient and step over 150 samples (past the row buffer) equal simd off, f64 and f32, parameters of the other float type too', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const on = load(netJs(9, [65], 3, precision, 'on')), off = load(netJs(9, [65], 3, precision, 'off'));
      const X = rows(150, 9, 61), Y = rows(150, 3, 62);
      const samples = Array.from({ length: 150 }, (_, r) => ({ inputs: { x: Array.from(X.subarray(r * 9, r * 9 + 9)) }, targets: { y: Array.from(Y.subarray(r * 3, r * 3 + 3)) } }));
      const inputs = samples.map((s) => s.inputs), [s7, s9] = [samples[7]!, samples[9]!];
      const Other = precision === 'f64' ? Float32Array : Float64Array;
      for (const make of [(m: Mod) => m.initParams(3), (m: Mod) => plain(m.initParams(3), Other)]) {
        const pa = make(on), pb = make(off);
        const ya = on.predict(pa, inputs) as Record<string, F>[], yb = off.predict(pb, inputs) as Record<string, F>[];
        ya.forEach((o, r) => Object.entries(o).forEach(([k, v]) => v.forEach((x, i) => expect(Math.abs(x - yb[r]![k]![i]!)).toBeLessThan(TOL[precision]))));
        expect(Math.abs(on.evaluate(pa, samples) - off.evaluate(pb, samples))).toBeLessThan(TOL[precision]);
        expect(Math.abs(on.loss(pa, s7.inputs, s7.targets) - off.loss(pb, s7.inputs, s7.targets))).toBeLessThan(TOL[precision]);
        expect(maxRel(on.gradient(pa, s9.inputs, s9.targets).grad, off.gradient(pb, s9.inputs, s9.targets).grad)).toBeLessThan(TOL[precision]);
        for (let s = 0; s < 3; s++) { on.step(pa, samples[s]!.inputs, samples[s]!.targets, 0.05); off.step(pb, samples[s]!.inputs, samples[s]!.targets, 0.05); }
        expect(maxRel(pa, pb)).toBeLessThan(TOL[precision]);
      }
    }
  });
});
