import { describe, expect, it } from 'vitest';
import { compile, defineModel } from '../src/index.js';
import { GradcError } from '../src/errors.js';

const H = 3;
const F = `
  h[0] = 0
  o[0] = 0
  o[t] = o[t-1] + dot(v, h[t])^2
  h[t] = tanh(U * h[t-1] + w * x[t])
  loss = (o / 5 - y)^2
`;
const net = (T: number, opts: object = {}, len = false, formulas = F) => defineModel('rq', (m) => {
  m.input('x', T); m.target('y');
  if (len) m.lengthInput('len', 'x');
  m.param('U', { shape: [H, H] }); m.param('w', { shape: [H] }); m.param('v', { shape: [H] });
  m.formulas(formulas, opts);
});
const xs = [0.5, -0.3, 0.8, 0.1, -0.9, 0.4, 0.2];
function fill(p: any) { let k = 1; for (const n of ['U', 'w', 'v']) { const a = p[n] as Float64Array; for (let i = 0; i < a.length; i++) a[i] = Math.sin(1.7 * k++) * 0.8; } return p; }

function central(c: ReturnType<typeof compile>, p: any, x: any, y: any) {
  const g = c.gradient(p, x, y);
  let w = 0;
  for (const k of ['U', 'w', 'v']) {
    const a = p[k] as Float64Array;
    for (let i = 0; i < a.length; i++) {
      const e = 1e-6, old = a[i];
      a[i] = old + e; const up = c.loss(p, x, y);
      a[i] = old - e; const dn = c.loss(p, x, y);
      a[i] = old;
      w = Math.max(w, Math.abs((up - dn) / (2 * e) - (g.grad[k] as Float64Array)[i]) / Math.max(1, Math.abs((g.grad[k] as Float64Array)[i])));
    }
  }
  return w;
}

/**
 * Review round 4 (q): per-step outputs read as h[t] with checkpoint, lengths, chains (against
 * the plain net, the shorter sequence and central differences, both cell bodies); cycles and
 * bad state indices named before lengths are inferred; scalarCell as a CLI/config option.
 */
describe('h[t] in steps', () => {
  it('checkpoint 2 and 3, both cell bodies: central differences', () => {
    for (const opts of [{}, { checkpoint: 2 }, { checkpoint: 3 }]) {
      for (const lowering of ['loops'] as const) for (const sc of [0, Infinity]) {
        const c = compile(net(7, opts), { lowering, scalarCell: sc });
        const p = fill(c.initParams(4));
        const x = { x: Float64Array.from(xs) }, y = { y: 0.3 };
        expect(central(c, p, x, y)).toBeLessThan(1e-6);
      }
    }
  });
  it('lengths (len 3 of 7), both bodies, with and without checkpoint = the net over the first 3 rows', () => {
    const T = 7;
    for (const lowering of ['loops'] as const) for (const sc of [0, Infinity]) for (const opts of [{}, { checkpoint: 2 }]) {
      const c = compile(net(T, opts, true), { lowering, scalarCell: sc });
      const short = compile(net(3), { lowering });
      const p = fill(c.initParams(4));
      const x = { x: Float64Array.from(xs), len: 3 }, y = { y: 0.3 };
      const ls = short.loss(p, { x: Float64Array.from(xs.slice(0, 3)) }, y);
      expect(Math.abs(c.loss(p, x, y) - ls)).toBeLessThan(1e-12);
      const gs = short.gradient(p, { x: Float64Array.from(xs.slice(0, 3)) }, y), g = c.gradient(p, x, y);
      for (const k of ['U', 'w', 'v']) for (let i = 0; i < (g.grad[k] as Float64Array).length; i++) expect(Math.abs((g.grad[k] as Float64Array)[i] - (gs.grad[k] as Float64Array)[i])).toBeLessThan(1e-12);
    }
  });
  it('chains and cycles', () => {
    const chain = `
      h[0] = 0
      a[0] = 0
      b[0] = 0
      a[t] = a[t-1] + b[t]
      b[t] = dot(v, h[t])^2
      h[t] = tanh(U * h[t-1] + w * x[t])
      loss = (a / 5 - y)^2
    `;
    const c = compile(net(5, {}, false, chain), { lowering: 'loops' });
    const c2 = compile(net(5), { lowering: 'loops' });
    const p = fill(c.initParams(4)), x = { x: Float64Array.from(xs.slice(0, 5)) }, y = { y: 0.3 };
    expect(Math.abs(c.loss(p, x, y) - c2.loss(p, x, y))).toBeLessThan(1e-12);
    expect(central(c, p, x, y)).toBeLessThan(1e-6);
    for (const bad of [
      'h[0] = 0\nh[t] = tanh(U * h[t] + w * x[t])\nloss = (dot(v,h) - y)^2',
      'h[0] = 0\na[0] = 0\nb[0] = 0\nc[0] = 0\na[t] = b[t] + x[t]\nb[t] = c[t]\nc[t] = a[t] * 2\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (a + dot(v,h) - y)^2',
      'h[0] = 0\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (dot(v,h[t]) - y)^2',
      'h[0] = 0\no[0] = 0\no[t] = o[t-1] + dot(v, h[t+1])\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (o - y)^2',
      'h[0] = 0\no[0] = 0\no[t] = o[t-1] + dot(v, h[t-2])\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (o - y)^2',
      'h[0] = 0\no[0] = 0\no[t] = o[t-1] + dot(v, h[t])\nh[t] = tanh(U * h[t-1] + w * x[t] + o[t])\nloss = (o - y)^2',
    ]) {
      expect(() => compile(net(5, {}, false, bad))).toThrow(GradcError);
    }
  });
  it('a cycle of steps read at t is named even when the states\' lengths must be inferred (not a shape mismatch of a trial)', () => {
    const three = 'h[0] = 0\na[0] = 0\nb[0] = 0\nc[0] = 0\na[t] = b[t] + x[t]\nb[t] = c[t]\nc[t] = a[t] * 2\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (a + dot(v,h) - y)^2';
    expect(() => compile(net(5, {}, false, three))).toThrow(/the steps of a -> b -> c -> a read each other at step t/);
    const two = 'h[0] = 0\no[0] = 0\no[t] = o[t-1] + dot(v, h[t])\nh[t] = tanh(U * h[t-1] + w * x[t] + o[t])\nloss = (o - y)^2';
    expect(() => compile(net(5, {}, false, two))).toThrow(/the steps of (h -> o -> h|o -> h -> o) read each other at step t/);
    const self = 'h[0] = 0\no[0] = 0\no[t] = o[t] + dot(v, h[t])\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (o - y)^2';
    expect(() => compile(net(5, {}, false, self))).toThrow(/the state 'o' is read as o\[t-1\]/);
    // Another state read at t+1 or t-2 in a step: named, not a shape mismatch of a trial.
    for (const i of ['t+1', 't-2', '2']) {
      expect(() => compile(net(5, {}, false, `h[0] = 0\no[0] = 0\no[t] = o[t-1] + dot(v, h[${i}])\nh[t] = tanh(U * h[t-1] + w * x[t])\nloss = (o - y)^2`))).toThrow(/the state 'h' is read as h\[t-1\].*is not one of them/);
    }
  });
});

describe('scalarCell from a model file, a config and the command line', () => {
  it("checkCompileOptions takes scalarCell (0, Infinity) and refuses a bad one naming it; --scalar-cell parses", async () => {
    const { checkCompileOptions, compileOptionsFromArgs } = await import('../src/cli/compileOptions.js');
    expect(checkCompileOptions({ scalarCell: 0 }, 'compile')).toEqual({ scalarCell: 0 });
    expect(checkCompileOptions({ scalarCell: Infinity }, 'compile')).toEqual({ scalarCell: Infinity });
    expect(() => checkCompileOptions({ scalarCell: -1 }, 'compile')).toThrow(/'scalarCell' must be a non-negative integer/);
    const { parseArgs } = await import('../src/cli/args.js');
    expect(compileOptionsFromArgs(parseArgs(['--scalar-cell', '0']) as any, 'build')).toEqual({ scalarCell: 0 });
    expect(() => compileOptionsFromArgs(parseArgs(['--scalar-cell', 'x']) as any, 'build')).toThrow(/--scalar-cell must be/);
  });
});

describe('lengths inferred through h[t]', () => {
  it('o[0] = 0, o[t] = o[t-1] + h[t] (o a vector of h\'s length, inferred) = the sum of the states', () => {
    const f = `
      h[0] = 0
      o[0] = 0
      o[t] = o[t-1] + h[t]
      h[t] = tanh(U * h[t-1] + w * x[t])
      loss = (dot(v, o) / 5 - y)^2
    `;
    const c = compile(net(5, {}, false, f), { lowering: 'loops' });
    const p = fill(c.initParams(4)), x = { x: Float64Array.from(xs.slice(0, 5)) }, y = { y: 0.3 };
    // by hand
    const U = p.U as Float64Array, w = p.w as Float64Array, v = p.v as Float64Array;
    let h = [0, 0, 0]; const o = [0, 0, 0];
    for (let t = 0; t < 5; t++) {
      h = [0, 1, 2].map((i) => Math.tanh(U[3 * i] * h[0] + U[3 * i + 1] * h[1] + U[3 * i + 2] * h[2] + w[i] * xs[t]));
      for (let i = 0; i < 3; i++) o[i] += h[i];
    }
    const want = ((v[0] * o[0] + v[1] * o[1] + v[2] * o[2]) / 5 - 0.3) ** 2;
    expect(Math.abs(c.loss(p, x, y) - want)).toBeLessThan(1e-13);
    expect(central(c, p, x, y)).toBeLessThan(1e-6);
  });
});
