/**
 * One source for the generated module's API types (src/6-emit/api.ts): the emitter writes
 * the text generated from it, and the loader's types are instantiated from it, following
 * the module's precision.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { compile, defineModel, generate, type FitResult, type OptimizerState, type Params } from '../src/index.js';
import { API_TEXT } from '../src/6-emit/apiText.js';
import { apiTextModule } from '../scripts/apiText.js';

const net = defineModel('apinet', (m) => {
  const x = m.input('x', 3);
  const y = m.target('y', 2);
  m.loss(m.call('sum', m.call('square', m.sub(m.mlp(x, [4, 2], 'tanh'), y))));
});
const samples = [0, 1, 2, 3].map((i) => ({ inputs: { x: [i, -i, 1] }, targets: { y: [i % 2, 1 - (i % 2)] } }));

describe('the generated API types have one source', () => {
  it('src/6-emit/apiText.ts is what scripts/apiText.ts makes of src/6-emit/api.ts (npm run gen)', () => {
    const source = readFileSync(new URL('../src/6-emit/api.ts', import.meta.url), 'utf8');
    expect(readFileSync(new URL('../src/6-emit/apiText.ts', import.meta.url), 'utf8')).toBe(apiTextModule(source));
  });

  it('the emitted text has no type parameters left and every generated module carries each block', () => {
    for (const text of Object.values(API_TEXT)) expect(text).not.toMatch(/\b(FitOptions|EpochRecord|FitResult|OptimizerState)</);
    for (const precision of ['f64', 'f32'] as const) {
      const { code } = generate(net, { precision });
      for (const text of Object.values(API_TEXT)) expect(code).toContain(text);
    }
  });

  it('an f32 module is typed and built with Float32Array (no cast), an f64 one with Float64Array', () => {
    const f = compile(net, { precision: 'f32' });
    const { X, Y, count } = f.packSamples(samples);
    expectTypeOf(X).toEqualTypeOf<Float32Array>();
    expect(X).toBeInstanceOf(Float32Array);
    const p = f.initParams(1);
    expectTypeOf(p).toEqualTypeOf<Params<Float32Array>>();
    expect(p.layer1_W).toBeInstanceOf(Float32Array);
    const st = f.initOptimizer(p, { kind: 'adam', learningRate: 0.01 });
    expectTypeOf(st).toEqualTypeOf<OptimizerState<Float32Array>>();
    expect(Number.isFinite(f.stepBatch(p, X, Y, count, st))).toBe(true);
    expect(st.m!.layer1_W).toBeInstanceOf(Float32Array);
    const r = f.fitRows(X, Y, count, { epochs: 2, learningRate: 0.01 });
    expectTypeOf(r).toEqualTypeOf<FitResult<Float32Array>>();
    expect(r.params.layer1_W).toBeInstanceOf(Float32Array);

    const d = compile(net);
    expectTypeOf(d.packSamples(samples).X).toEqualTypeOf<Float64Array>();
    expect(d.packSamples(samples).X).toBeInstanceOf(Float64Array);

    // A precision chosen at run time: the type is the union, and the value the one chosen.
    const chosen = (process.env.GRADC_TEST_NEVER_SET ? 'f64' : 'f32') as 'f32' | 'f64';
    const u = compile(net, { precision: chosen });
    expectTypeOf(u.packSamples(samples).X).toEqualTypeOf<Float32Array | Float64Array>();
    expect(u.packSamples(samples).X).toBeInstanceOf(Float32Array);
  });
});
