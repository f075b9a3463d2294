/**
 * The examples do what their comments say.
 *
 * - linreg, the backpropagation tutorial's walkthrough: at x = 1, y = 2, w = 1 the
 *   forward values are yhat = 1, s = -1, loss = 1 and the derivatives dloss/ds = -2,
 *   dloss/dyhat = -2, dloss/dw = -2 (the intermediate ones read from `derive().adjoints`
 *   and evaluated by the interpreter; dloss/dw also from the emitted module).
 * - student: trained sample by sample, it converges (stops on its tolerance) to a loss
 *   far below the initial one.
 * - xor: trained, all four outputs are on the right side of 0.5.
 * - a diverging run (huge learning rate) stops as 'diverged' and keeps the last good,
 *   finite parameters.
 */
import { describe, expect, it } from 'vitest';
import { buildModel, compile } from '../src/index.js';
import type { Node } from '../src/ir/node.js';
import { derive } from '../src/pipeline.js';
import { evaluate } from '../src/interp/evaluate.js';
import { students, XOR } from '../examples/data.js';
import linreg from '../examples/linreg.model.js';
import student from '../examples/student.model.js';
import xor from '../examples/xor.model.js';

describe('linreg: the tutorial walkthrough at x = 1, y = 2, w = 1', () => {
  const derived = derive(buildModel(linreg));
  const node = (name: string): Node => {
    const d = derived.model.defs.find((x) => x.name === name);
    expect(d, `definition '${name}'`).toBeDefined();
    return d!.node;
  };
  const env = { w: 1, x: 1, y: 2 };
  const value = (n: Node) => {
    const v = evaluate([n], env).get(n)!;
    expect(v).toHaveLength(1);
    return v[0];
  };
  const adjoint = (name: string) => {
    const a = derived.adjoints.get(node(name));
    expect(a, `the adjoint of '${name}'`).toBeDefined();
    return value(a!);
  };

  it('forward: yhat = 1, s = -1, loss = 1', () => {
    expect(value(node('yhat'))).toBe(1);
    expect(value(node('s'))).toBe(-1);
    expect(value(node('loss'))).toBe(1);
    expect(value(derived.model.loss)).toBe(1);
  });

  it('backward: dloss/ds = -2, dloss/dyhat = -2, dloss/dw = -2', () => {
    expect(adjoint('s')).toBe(-2);
    expect(adjoint('yhat')).toBe(-2);
    expect(adjoint('loss')).toBe(1);
    expect(value(derived.grads[0])).toBe(-2);
    expect(derived.model.params[0].name).toBe('w');
  });

  it('the emitted module agrees', () => {
    const mod = compile(linreg);
    const p = mod.initParams();
    expect(p).toEqual({ w: 1 });
    expect(mod.forward(p, { x: 1 })).toEqual({ yhat: 1 });
    expect(mod.loss(p, { x: 1 }, { y: 2 })).toBe(1);
    expect(mod.gradient(p, { x: 1 }, { y: 2 })).toEqual({ loss: 1, grad: { w: -2 } });
    expect(mod.step(p, { x: 1 }, { y: 2 }, 0.1)).toBe(1);
    expect(p.w).toBeCloseTo(1.2, 15); // w - lr * dloss/dw = 1 + 0.2
  });
});

describe('student regression, trained sample by sample', () => {
  it('converges to a loss far below the initial loss', () => {
    const samples = students();
    expect(samples.length).toBeGreaterThan(10);
    const mod = compile(student);
    const initial = mod.evaluate(mod.initParams(), samples);
    const r = mod.fit(samples, { learningRate: 0.003, batchSize: 1, tolerance: 1e-4, epochs: 1000 });
    const final = mod.evaluate(r.params, samples);
    console.log(`examples.test: student: loss ${initial.toFixed(3)} -> ${final.toFixed(4)} in ${r.epochs} epochs (${r.stopped})`);
    expect(r.stopped).toBe('converged');
    expect(r.epochs).toBeLessThan(1000);
    expect(final).toBeLessThan(0.01 * initial);
  });
});

describe('xor, a 2-2-1 sigmoid network', () => {
  it('puts all four outputs on the right side of 0.5', () => {
    const mod = compile(xor);
    const r = mod.fit(XOR, { learningRate: 0.5, epochs: 5000 });
    const out = mod.predict(r.params, XOR.map((s) => s.inputs)).map((o) => o.yhat as number);
    console.log(`examples.test: xor: outputs ${out.map((o) => o.toFixed(4)).join(', ')} after ${r.epochs} epochs, loss ${r.losses[r.losses.length - 1].toExponential(2)}`);
    XOR.forEach((s, i) => {
      if (s.targets.y === 1) expect(out[i], `output for ${JSON.stringify(s.inputs)}`).toBeGreaterThan(0.5);
      else expect(out[i], `output for ${JSON.stringify(s.inputs)}`).toBeLessThan(0.5);
    });
  });
});

describe('a diverging run', () => {
  const finite = (p: Record<string, number | Float64Array>) => Object.values(p).every((v) => (typeof v === 'number' ? Number.isFinite(v) : v.every(Number.isFinite)));

  it("stops as 'diverged' and keeps the last good, finite parameters", () => {
    const samples = students();
    const mod = compile(student);
    // A few good epochs first, so the last good parameters are not the initial ones.
    const good = mod.fit(samples, { learningRate: 0.003, epochs: 5 });
    expect(good.stopped).toBe('epochs');
    const lastGood = mod.copyParams(good.params);
    expect(lastGood).not.toEqual(mod.initParams());
    const r = mod.fit(samples, { learningRate: 1e3, epochs: 100, params: good.params });
    expect(r.stopped).toBe('diverged');
    expect(r.epochs).toBe(0);
    expect(finite(r.params)).toBe(true);
    expect(r.params).toEqual(lastGood);
    expect(Number.isFinite(mod.evaluate(r.params, samples))).toBe(true);
  });

  it('keeps the parameters of the last completed epoch when a later epoch diverges', () => {
    const samples = students();
    const mod = compile(student);
    const seen: Record<string, number | Float64Array>[] = [];
    // Epochs at a rate that trains, then the data is scaled up inside the run: the
    // callback swaps in samples whose loss explodes (packed rows are read each epoch).
    const packed = mod.packSamples(samples);
    const r = mod.fitRows(packed.X, packed.Y, packed.count, {
      learningRate: 0.003,
      epochs: 100,
      onEpoch: (epoch, _loss, params) => {
        seen.push(mod.copyParams(params));
        if (epoch === 2) for (let i = 0; i < packed.X.length; i++) packed.X[i] *= 1e6;
      },
    });
    expect(r.stopped).toBe('diverged');
    expect(r.epochs).toBe(3);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(finite(r.params)).toBe(true);
    expect(r.params).toEqual(seen[seen.length - 1]);
  });
});
