/**
 * Review, round 4 (speed surfaces: parameters in the Wasm kernels' memory, threads,
 * compile()) by a hostile user: one test per defect found, each failing before its fix.
 *
 *   P1  loadParams of a file with an Adam state took five pool slots of the kernels' memory
 *       (params, m and v, plus m and v again for the arrays read before copying them in), so
 *       after 12 loads the moments of every later load were plain arrays and the update pass
 *       ran in JavaScript, silently; now three (params, m, v): 20 loads after one initParams
 *       and initOptimizer.
 *   P2  A loadParams refused halfway (a bad optimizer step, a bad moment value) had already
 *       placed the parameters and the moments: every refused file took up to five slots for
 *       good, and 70 refused loads left initParams with plain arrays for the rest of the
 *       process. Now everything is read and checked in plain arrays and placed at the end:
 *       a refused file takes no slot.
 *   P3  An expression kept from another model's body (`let x; defineModel('a', (m) => { x =
 *       m.input(...) })`, then `m.mul(w, x)` in model 'b') was taken by the builder and
 *       compile() crashed in lowering with a raw TypeError ("Cannot read properties of
 *       undefined (reading 'offset')", an internal error in the CLI): now a GradcError
 *       saying the expression belongs to another model.
 *   P4  A parameter given as a view of the other float type on the kernels' memory (in an f64
 *       module, `new Float32Array(p.layer2_b.buffer, ...)`: a valid Float32Array of the right
 *       length, which the module's checks take) was taken for one of the module's own arrays
 *       (`$inMemory` and `$address` compared only the buffer): the Wasm update wrote 8 bytes
 *       per 4-byte element, past the view into another parameters object (a second
 *       initParams() changed by a step on the first), and the products read its bits as f64.
 *       Now such a view goes through the JavaScript pass and is copied in for the products,
 *       as any array outside the memory: the same results as simd 'off', nothing else touched.
 *   P5  initOptimizer for parameters that are not in the kernels' memory (a caller's own
 *       arrays, copyParams, fit's `params` option) placed the moments in two pool slots anyway,
 *       where they are useless (the Wasm update runs only when parameters, gradient and moments
 *       all live there): 32 such optimizers used the pool up, and every later initParams got
 *       plain arrays. Now the moments go to the pool only with parameters that are there.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, GradcError, type GeneratedModule } from '../src/index.js';

type Floats = Float64Array | Float32Array;
type Loose = GeneratedModule & Record<string, (...a: never[]) => unknown>;

const net = defineModel('net', (m) => {
  const out = m.mlp(m.input('x', 5), [7, 3], 'tanh', 'linear');
  m.loss(m.mean(m.call('square', m.sub(out, m.target('y', 3)))));
});
const simdModule = (precision: 'f64' | 'f32' = 'f64') => compile(net, { lowering: 'loops', precision, maxBatch: 5, simd: 'on' }) as unknown as GeneratedModule;

/** Whether every array of `p` is a view on a larger buffer (the kernels' memory) rather than an array of its own. */
const inMemory = (p: object | null): boolean => p !== null && Object.values(p).every((a: Floats) => a.buffer.byteLength > a.byteLength);

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('P1, P2: loadParams and the pool of the kernels\' memory', () => {
  it('P1: a file with an Adam state takes three slots (params, m, v), not five', () => {
    const m = simdModule();
    const p = m.initParams();
    const st = m.initOptimizer(p, { kind: 'adam', learningRate: 0.01 });
    expect(inMemory(p) && inMemory(st.m) && inMemory(st.v)).toBe(true);
    const doc = m.saveParams(p, st);
    let placed = 0;
    for (let i = 0; i < 30; i++) {
      const { params, optimizer } = m.loadParams(doc);
      if (inMemory(params) && inMemory(optimizer!.m) && inMemory(optimizer!.v)) placed++;
      // Loaded bit-exactly either way.
      for (const [k, v] of Object.entries(params)) expect(Array.from(v as Floats)).toEqual(Array.from((p as Record<string, Floats>)[k]!));
    }
    expect(placed).toBe(Math.floor((64 - 3) / 3)); // 20; 12 before the fix
  });

  it('P2: a file refused halfway takes no slot', () => {
    const m = simdModule();
    const p = m.initParams();
    const st = m.initOptimizer(p, { kind: 'adam', learningRate: 0.01 });
    const doc = JSON.parse(JSON.stringify(m.saveParams(p, st)));
    const badStep = { ...doc, optimizer: { ...doc.optimizer, step: -1 } };
    const badV = JSON.parse(JSON.stringify(doc));
    badV.optimizer.v.layer1_b.values[2] = -1; // a second moment is never negative
    for (let i = 0; i < 40; i++) {
      expect(thrown(() => m.loadParams(badStep)).message).toMatch(/optimizer\.step must be a non-negative integer/);
      expect(thrown(() => m.loadParams(badV)).message).toMatch(/optimizer\.v\.layer1_b\.values\[2\] is -1/);
    }
    // Every slot but the three above is still free: 61 more placed initParams.
    let placed = 0;
    for (let i = 0; i < 61; i++) if (inMemory(m.initParams())) placed++;
    expect(placed).toBe(61);
    expect(inMemory(m.initParams())).toBe(false); // then the pool is used up (plain arrays)
  });

  it('P1/P2: what loadParams placed trains exactly as before the fix (the same values as simd off)', () => {
    const on = simdModule(), off = compile(net, { lowering: 'loops', maxBatch: 5, simd: 'off' }) as unknown as GeneratedModule;
    const X = new Float64Array(20).map((_, i) => Math.sin(i)), Y = new Float64Array(12).map((_, i) => Math.cos(3 * i));
    const p = on.initParams();
    const st = on.initOptimizer(p, { kind: 'adam', learningRate: 0.02, clipNorm: 0.5 });
    for (let s = 0; s < 3; s++) on.stepBatch(p, X, Y, 4, st);
    const doc = JSON.stringify(on.saveParams(p, st));
    const a = on.loadParams(doc), b = off.loadParams(doc);
    expect(inMemory(a.params) && inMemory(a.optimizer!.m) && inMemory(a.optimizer!.v)).toBe(true);
    for (let s = 0; s < 5; s++) {
      const la = on.stepBatch(a.params, X, Y, 4, a.optimizer!), lb = off.stepBatch(b.params, X, Y, 4, b.optimizer!);
      expect(Math.abs(la - lb)).toBeLessThan(1e-12);
    }
    for (const [k, v] of Object.entries(a.params)) {
      const w = (b.params as Record<string, Floats>)[k]!;
      (v as Floats).forEach((x, i) => expect(Math.abs(x - w[i]!)).toBeLessThan(1e-12));
    }
  });
});

describe('P3: expressions of another model', () => {
  it('an expression kept from another model body is a GradcError, not a TypeError in lowering', () => {
    let x: unknown, l: unknown;
    compile(defineModel('a', (m) => { x = m.input('x', 3); const w = m.param('w', 3); l = m.sum(m.mul(w, x as never)); m.loss(l as never); }));
    const cases = [
      defineModel('b', (m) => { const w = m.param('w', 3); m.input('x', 3); m.loss(m.sum(m.mul(w, x as never))); }),
      defineModel('c', (m) => { m.param('w', 3); m.input('x', 3); m.loss(l as never); }),
      defineModel('d', (m) => { const o = m.mlp(x as never, [2], 'tanh'); m.loss(m.sum(o)); }),
    ];
    for (const def of cases) {
      const e = thrown(() => compile(def));
      expect(e).toBeInstanceOf(GradcError);
      expect(e.message).toMatch(/made in another model/);
    }
  });
});

describe('P4: a view of the other float type on the kernels\' memory', () => {
  it('trains as simd off and touches no other parameters', () => {
    const on = simdModule(), off = compile(net, { lowering: 'loops', maxBatch: 5, simd: 'off' }) as unknown as GeneratedModule;
    const X = new Float64Array(20).map((_, i) => Math.sin(i)), Y = new Float64Array(12).map((_, i) => Math.cos(i));
    const a = on.initParams(1) as unknown as Record<string, Float64Array>, b = on.initParams(2) as unknown as Record<string, Float64Array>;
    const bBefore = Object.values(b).map((x) => Array.from(x));
    // layer2_b as 3 float32s at the end of a's layer2_b region: 8 bytes per element run past it.
    const view = new Float32Array(a.layer2_b!.buffer, a.layer2_b!.byteOffset + 20, 3);
    view.set([0.25, -0.5, 0.125]);
    const q = { ...a, layer2_b: view };
    const plain = { ...Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Float64Array.from(v)])), layer2_b: Float32Array.from(view) };
    for (let s = 0; s < 3; s++) {
      const la = on.stepBatch(q as never, X, Y, 4, 0.5), lb = off.stepBatch(plain as never, X, Y, 4, 0.5);
      expect(Math.abs(la - lb)).toBeLessThan(1e-12);
    }
    for (const k of Object.keys(plain)) {
      const x = (q as Record<string, Floats>)[k]!, y = (plain as Record<string, Floats>)[k]!;
      x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThan(1e-12));
    }
    expect(Object.values(b).map((x) => Array.from(x))).toEqual(bBefore);
  });
});

describe('P5: moments of parameters outside the memory', () => {
  it('take no pool slot, and train as before', () => {
    const m = simdModule();
    const own = m.copyParams(m.initParams()); // plain arrays (one slot used above)
    expect(inMemory(own)).toBe(false);
    for (let i = 0; i < 40; i++) {
      const st = m.initOptimizer(own, { kind: 'adam', learningRate: 0.01 });
      expect(inMemory(st.m) || inMemory(st.v)).toBe(false);
    }
    const X = new Float64Array(20).map((_, i) => Math.sin(i)), Y = new Float64Array(12).map((_, i) => Math.cos(i));
    const st = m.initOptimizer(own, { kind: 'rmsprop', learningRate: 0.01, momentum: 0.5 });
    expect(Number.isFinite(m.stepBatch(own, X, Y, 4, st))).toBe(true);
    // The pool is untouched: 63 more placed parameters, each with placed moments.
    let placed = 0;
    for (let i = 0; i < 21; i++) {
      const p = m.initParams(i);
      const s = m.initOptimizer(p, { kind: 'adam' });
      if (inMemory(p) && inMemory(s.m) && inMemory(s.v)) placed++;
    }
    expect(placed).toBe(21);
    expect(inMemory(m.initParams())).toBe(false);
  });
});
