/**
 * Saved parameters (issue 9): `saveParams` -> JSON -> `loadParams` is bit-exact (random
 * values, -0, subnormals, the largest doubles) in both lowerings and both precisions; the
 * structure hash does not depend on lowering, precision or initial values; a model edited
 * after saving (hidden width changed, a parameter renamed or added) is refused with the
 * differing names and shapes; tampered documents are refused with clear messages; and
 * Adam's state round-trips so that N steps, save, load into a fresh module, M steps equals
 * N + M steps bit-exactly.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type GeneratedModule, type Params } from '../src/index.js';
import { structureHash, structureText } from '../src/6-emit/structureHash.js';
import { buildModel } from '../src/index.js';

const net = (opts: { hidden?: number; first?: string; extra?: boolean; name?: string; init?: number } = {}) =>
  defineModel(opts.name ?? 'savenet', (m) => {
    const x = m.input('x', 2);
    const y = m.target('y', 1);
    const h = m.dense(x, opts.hidden ?? 3, 'tanh', { name: opts.first ?? 'layer1', ...(opts.init !== undefined ? { biasInit: opts.init } : {}) });
    let out = m.dense(h, 1, 'linear', { name: 'layer2' });
    if (opts.extra) out = m.mul(out, m.param('scale', { init: 1 }));
    m.loss(m.mean(m.call('square', m.sub(out, y))));
  });

const bits = (x: number) => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  return b.getBigUint64(0);
};
const SPECIAL = [-0, 0, 1e-310, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1 / 3, Math.PI];

/** Parameters filled with special values then pseudo-random doubles of every magnitude. */
function filled(mod: GeneratedModule, f32: boolean): Params {
  const p = mod.initParams();
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  let i = 0;
  for (const name of Object.keys(p)) {
    const a = p[name] as Float64Array;
    for (let k = 0; k < a.length; k++, i++) {
      const v = i < SPECIAL.length ? SPECIAL[i]! : (next() - 0.5) * 10 ** Math.floor(next() * 600 - 300);
      a[k] = f32 ? (Object.is(v, -0) ? -0 : Math.abs(Math.fround(v)) === Infinity ? 3.4e38 : v) : v;
    }
  }
  return p;
}

const sameBits = (a: Params, b: Params) => {
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const name of Object.keys(a)) {
    const x = Array.from(a[name] as Float64Array), y = Array.from(b[name] as Float64Array);
    expect(y.map(bits)).toEqual(x.map(bits));
  }
};

describe('saveParams / loadParams', () => {
  for (const lowering of ['unrolled', 'loops'] as const) {
    for (const precision of ['f64', 'f32'] as const) {
      it(`round-trips bit-exactly through JSON text (${lowering}, ${precision}), -0 and subnormals included`, () => {
        const mod = compile(net(), { lowering, precision } as never);
        const p = filled(mod, precision === 'f32');
        const text = JSON.stringify(mod.saveParams(p));
        const doc = JSON.parse(text);
        expect(doc.format).toBe('gradc-params');
        expect(doc.version).toBe(1);
        expect(doc.model).toBe('savenet');
        expect(doc.precision).toBe(precision);
        expect(doc.params.layer1_W.shape).toEqual([3, 2]);
        expect(doc.params.layer1_W.values[0]).toBe('-0');
        const back = mod.loadParams(text).params;
        expect(back.layer1_W).toBeInstanceOf(precision === 'f32' ? Float32Array : Float64Array);
        sameBits(p, back);
        sameBits(p, mod.loadParams(doc).params); // the object works too
      });
    }
  }

  it('round-trips scalar parameters, -0 included', () => {
    const mod = compile(net({ extra: true }));
    for (const v of [-0, 5e-324, -1.7976931348623157e308, 0.30000000000000004]) {
      const p = mod.initParams();
      p.scale = v;
      const doc = JSON.parse(JSON.stringify(mod.saveParams(p)));
      expect(doc.params.scale).toEqual({ shape: [], values: [Object.is(v, -0) ? '-0' : v] });
      expect(Object.is(mod.loadParams(doc).params.scale, v)).toBe(true);
    }
  });

  it('the structure hash ignores lowering, precision, initial values and seed, and loads across builds', () => {
    const a = compile(net(), { lowering: 'unrolled' } as never);
    const b = compile(net({ init: 0.5 }), { lowering: 'loops', precision: 'f32' } as never);
    expect(a.STRUCTURE_HASH).toMatch(/^[0-9a-f]{64}$/);
    expect(b.STRUCTURE_HASH).toBe(a.STRUCTURE_HASH);
    expect(structureHash(buildModel(net()))).toBe(a.STRUCTURE_HASH);
    expect(structureText(buildModel(net()))).toContain('param layer1_W [3x2]');
    // f32 file into an f64 module: exact; f64 file into an f32 module: rounded to nearest.
    const p32 = b.initParams();
    (p32.layer1_W as unknown as Float32Array)[0] = Math.fround(0.1);
    expect((a.loadParams(b.saveParams(p32)).params.layer1_W as Float64Array)[0]).toBe(Math.fround(0.1));
    const p64 = a.initParams();
    (p64.layer1_W as Float64Array)[0] = 0.1;
    expect((b.loadParams(a.saveParams(p64)).params.layer1_W as unknown as Float32Array)[0]).toBe(Math.fround(0.1));
    (p64.layer1_W as Float64Array)[0] = 1e300;
    expect(() => b.loadParams(a.saveParams(p64))).toThrow(/layer1_W\.values\[0\] = 1e\+300 does not fit in this module's f32/);
  });

  it('refuses a file saved before the hidden width changed, naming the shapes', () => {
    const old = compile(net({ hidden: 3 }));
    const edited = compile(net({ hidden: 4 }));
    expect(edited.STRUCTURE_HASH).not.toBe(old.STRUCTURE_HASH);
    const doc = old.saveParams(old.initParams());
    const err = (() => { try { edited.loadParams(doc); } catch (e) { return e as Error; } return null; })();
    expect(err?.name).toBe('SampleError');
    expect(err?.message).toMatch(/saved from a different model structure/);
    expect(err?.message).toContain('layer1_W has shape [3x2] in the file, the model expects [4x2]');
    expect(err?.message).toContain('layer1_b has shape [3] in the file, the model expects [4]');
    expect(err?.message).toContain('layer2_W has shape [1x3] in the file, the model expects [1x4]');
  });

  it('refuses a file saved before a parameter was renamed or added, naming them', () => {
    const doc = compile(net()).saveParams(compile(net()).initParams());
    expect(() => compile(net({ first: 'hidden' })).loadParams(doc)).toThrow(
      /different model structure.*the file has no parameter 'hidden_W' \(the model expects \[3x2\]\).*the file has a parameter 'layer1_W' that the model does not have/);
    expect(() => compile(net({ extra: true })).loadParams(doc)).toThrow(/different model structure.*the file has no parameter 'scale' \(the model expects \[\]\)/);
    expect(() => compile(net({ name: 'other' })).loadParams(doc)).toThrow(/model "savenet", not of model "other"/);
  });

  it('refuses tampered documents with clear messages', () => {
    const mod = compile(net());
    const good = () => JSON.parse(JSON.stringify(mod.saveParams(mod.initParams())));
    const bad = (edit: (d: any) => void) => { const d = good(); edit(d); return () => mod.loadParams(d); };
    expect(() => mod.loadParams('{oops')).toThrow(/not JSON/);
    expect(() => mod.loadParams('[]')).toThrow(/expected a gradc parameter file/);
    expect(bad((d) => { d.format = 'keras'; })).toThrow(/not a gradc parameter file \(format is the string "keras"/);
    expect(bad((d) => { d.version = 2; })).toThrow(/unsupported file version 2/);
    expect(bad((d) => { d.structure = 'abc'; })).toThrow(/different model structure.*names and shapes match, but the computation differs/);
    expect(bad((d) => { d.precision = 'f16'; })).toThrow(/precision must be "f64" or "f32"/);
    expect(bad((d) => { d.params.layer1_W.values[2] = 'x'; })).toThrow(/params\.layer1_W\.values\[2\] must be a finite number \(or "-0"\), got the string "x"/);
    expect(bad((d) => { d.params.layer1_W.values[2] = null; })).toThrow(/values\[2\] must be a finite number/);
    expect(bad((d) => { d.params.layer1_b.values.pop(); })).toThrow(/params\.layer1_b\.values must be an array of 3 numbers, got an array of 2/);
    expect(bad((d) => { d.params.layer1_b.shape = [2]; })).toThrow(/params do not match the model: layer1_b has shape \[2\] in the file, the model expects \[3\]/);
    expect(bad((d) => { d.params.extra = { shape: [], values: [1] }; })).toThrow(/'extra' that the model does not have/);
    // saving refuses what JSON cannot hold
    const p = mod.initParams();
    (p.layer1_W as Float64Array)[4] = NaN;
    expect(() => mod.saveParams(p)).toThrow(/saveParams: params\.layer1_W\[4\] is NaN; only finite values can be saved/);
  });

  for (const lowering of ['unrolled', 'loops'] as const) {
    it(`resumes Adam training bit-exactly: N steps, save, load into a fresh module, M steps = N + M steps (${lowering})`, () => {
      const def = net();
      const rows = 8;
      const X = Float64Array.from({ length: rows * 2 }, (_, i) => Math.sin(1.3 * i + 0.2) * 1.5);
      const Y = Float64Array.from({ length: rows }, (_, i) => Math.cos(0.7 * i) * 0.8);
      const options = { kind: 'adam', learningRate: 0.01, clipNorm: Infinity, schedule: { kind: 'cosine', totalSteps: 50, warmupSteps: 5 } } as const;
      const run = (mod: GeneratedModule, p: Params, st: ReturnType<GeneratedModule['initOptimizer']>, from: number, to: number) => {
        for (let t = from; t < to; t++) mod.stepBatch(p, X, Y, 4, st, (t % 2) * 4);
      };
      const a = compile(def, { lowering } as never);
      const pa = a.initParams();
      const sa = a.initOptimizer(pa, options);
      run(a, pa, sa, 0, 30);

      const b = compile(def, { lowering } as never);
      const pb = b.initParams();
      const sb = b.initOptimizer(pb, options);
      run(b, pb, sb, 0, 12);
      const text = JSON.stringify(b.saveParams(pb, sb));
      const c = compile(def, { lowering } as never);
      const loaded = c.loadParams(text);
      expect(loaded.optimizer?.step).toBe(12);
      run(c, loaded.params, loaded.optimizer!, 12, 30);
      sameBits(pa, loaded.params);
      expect(loaded.optimizer!.step).toBe(sa.step);
      sameBits(sa.m!, loaded.optimizer!.m!);
      sameBits(sa.v!, loaded.optimizer!.v!);
    });
  }

  it('checks the optimizer state in the file', () => {
    const mod = compile(net());
    const p = mod.initParams();
    const doc = JSON.parse(JSON.stringify(mod.saveParams(p, mod.initOptimizer(p, { kind: 'momentum' }))));
    expect(doc.optimizer.v).toBeUndefined();
    expect(mod.loadParams(doc).optimizer?.options.kind).toBe('momentum');
    expect(mod.loadParams(mod.saveParams(p)).optimizer).toBeUndefined();
    const bad = (edit: (d: any) => void) => { const d = structuredClone(doc); edit(d); return () => mod.loadParams(d); };
    expect(bad((d) => { d.optimizer.step = -1; })).toThrow(/optimizer\.step must be a non-negative integer/);
    expect(bad((d) => { d.optimizer.options.kind = 'lion'; })).toThrow(/optimizer\.options\.kind must be one of/);
    expect(bad((d) => { delete d.optimizer.m; })).toThrow(/optimizer\.m is missing/);
    expect(bad((d) => { d.optimizer.v = d.optimizer.m; })).toThrow(/optimizer\.v is in the file, but a momentum optimizer has none/);
    expect(bad((d) => { d.optimizer.m.layer2_b.values[0] = '1'; })).toThrow(/optimizer\.m\.layer2_b\.values\[0\] must be a finite number/);
  });
});
