/**
 * The two lowerings of one model agree: unrolled straight-line code and batched loops
 * with register-blocked gemms give the same losses and gradients (1e-12 relative), for
 * every activation and both losses, for batch counts that do not divide the kernel's
 * row limit; Float32 stays close to Float64; softmax cross-entropy stays finite at
 * logits of 1000 and its gradient is emitted as sum(y) p - y (p - y for one-hot y).
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, generate, gradientDoc } from '../src/index.js';
import type { Activation } from '../src/2-build/builder.js';

function mlp(sizes: number[], act: Activation, loss: 'mse' | 'ce') {
  return defineModel(`mlp_${act}_${loss}`, (m) => {
    const x = m.input('x', sizes[0]);
    const y = m.target('y', sizes.at(-1)!);
    const out = m.mlp(x, sizes.slice(1), act, 'linear');
    if (loss === 'ce') m.loss(m.call('cross_entropy', out, y));
    else m.loss(m.mean(m.pow(m.sub(out, y), 2)));
  });
}

function rows(n: number, width: number, f: (i: number) => number): Float64Array {
  return Float64Array.from({ length: n * width }, (_, i) => f(i));
}

function maxRelDiff(a: Record<string, number | ArrayLike<number>>, b: Record<string, number | ArrayLike<number>>): number {
  let worst = 0;
  for (const k of Object.keys(a)) {
    const x = a[k], y = b[k];
    const xs = typeof x === 'number' ? [x] : Array.from(x);
    const ys = typeof y === 'number' ? [y] : Array.from(y);
    expect(ys.length).toBe(xs.length);
    xs.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - ys[i]) / Math.max(1e-300, Math.abs(v), Math.abs(ys[i]))); });
  }
  return worst;
}

describe('unrolled and looped lowerings agree', () => {
  const acts: Activation[] = ['tanh', 'sigmoid', 'relu', 'softplus'];
  for (const loss of ['mse', 'ce'] as const) {
    for (const act of acts) {
      it(`${act} ${loss} 5-7-3, 13 samples, kernels of 4 rows`, () => {
        const def = mlp([5, 7, 3], act, loss);
        const u = compile(def, { lowering: 'unrolled' });
        const l = compile(def, { lowering: 'loops', maxBatch: 4 });
        const p = u.initParams(11);
        const n = 13;
        const X = rows(n, 5, (i) => Math.sin(1.7 * i) * 2);
        const Y = rows(n, 3, (i) => (i % 3 === (Math.floor(i / 3) % 3) ? 1 : 0));
        const gu = u.gradientBatch(p, X, Y, n);
        const gl = l.gradientBatch(p, X, Y, n);
        expect(Math.abs(gu.loss - gl.loss) / Math.abs(gu.loss)).toBeLessThan(1e-12);
        expect(maxRelDiff(gu.grad, gl.grad)).toBeLessThan(1e-12);
        const fu = u.forward(p, { x: X.subarray(0, 5) });
        const fl = l.forward(p, { x: X.subarray(0, 5) });
        expect(maxRelDiff(fu, fl)).toBeLessThan(1e-12);
        // A step moves both the same way.
        const pu = u.copyParams(p), pl = l.copyParams(p);
        u.stepBatch(pu, X, Y, n, 0.1);
        l.stepBatch(pl, X, Y, n, 0.1);
        expect(maxRelDiff(pu, pl)).toBeLessThan(1e-12);
      });
    }
  }

  it('chooses the lowering by parameter count, and the option overrides it', () => {
    expect(generate(mlp([4, 8, 3], 'tanh', 'mse')).program.lowering).toBe('unrolled'); // 67 parameters
    expect(generate(mlp([64, 64, 10], 'tanh', 'mse')).program.lowering).toBe('loops'); // 4810 parameters
    expect(generate(mlp([4, 8, 3], 'tanh', 'mse'), { lowering: 'loops' }).program.lowering).toBe('loops');
    expect(generate(mlp([4, 8, 3], 'tanh', 'mse'), { unrollLimit: 10 }).program.lowering).toBe('loops');
  });

  it('decides per operation, inside looped kernels, whether an element loop is unrolled', () => {
    const def = mlp([6, 20, 3], 'tanh', 'mse'); // 3 outputs: unrolled under the default 16; 20 hidden units: a loop
    const unrolled = (unrollElements: number) => {
      const steps = Object.values(generate(def, { lowering: 'loops', unrollElements }).program.loops!.kernels).flatMap((k) => k.steps);
      const flagged = steps.filter((s) => 'unroll' in s);
      return { flagged: flagged.length, unrolled: flagged.filter((s) => 'unroll' in s && s.unroll).length };
    };
    const none = unrolled(0), some = unrolled(16), all = unrolled(1000);
    expect(none.flagged).toBeGreaterThan(0);
    expect(none.unrolled).toBe(0);
    expect(some.unrolled).toBeGreaterThan(0);
    expect(some.unrolled).toBeLessThan(some.flagged); // the 20-element reduction stays a loop
    expect(all.unrolled).toBe(all.flagged);
    const n = 9, X = rows(n, 6, (i) => Math.sin(i)), Y = rows(n, 3, (i) => Math.cos(i));
    const p = compile(def, { lowering: 'unrolled' }).initParams(5);
    const reference = compile(def, { lowering: 'unrolled' }).gradientBatch(p, X, Y, n);
    const results = [0, 16, 1000].map((k) => compile(def, { lowering: 'loops', unrollElements: k, maxBatch: 4 }).gradientBatch(p, X, Y, n));
    for (const r of results) expect(maxRelDiff(reference.grad, r.grad)).toBeLessThan(1e-12);
  });

  it('lowers every matrix product of a looped MLP to a matrix-product step, forward and backward', () => {
    const { program } = generate(mlp([16, 12, 4], 'tanh', 'mse'), { lowering: 'loops' });
    const gemms = (kind: 'forward' | 'loss' | 'gradient') => program.loops!.kernels[kind].steps.filter((s) => s.kind === 'gemm').length;
    // Forward: one per layer. Gradient: the forward ones, each layer's dW and the hidden layer's dx.
    expect(gemms('forward')).toBe(2);
    expect(gemms('loss')).toBe(2);
    expect(gemms('gradient')).toBeGreaterThanOrEqual(2 + 2 + 1);
    expect(gemms('gradient')).toBeLessThanOrEqual(2 + 2 + 2);
  });
});

describe('precision', () => {
  it('Float32 modules use Float32Array and stay within float32 rounding of Float64', () => {
    const def = mlp([6, 5, 3], 'tanh', 'ce');
    for (const lowering of ['unrolled', 'loops'] as const) {
      const d = compile(def, { lowering });
      const f = compile(def, { lowering, precision: 'f32' });
      expect(f.code).toContain('export type Floats = Float32Array;');
      const p64 = d.initParams(3), p32 = f.initParams(3);
      expect(p32.layer1_W).toBeInstanceOf(Float32Array);
      const X = rows(8, 6, (i) => Math.cos(i));
      const Y = rows(8, 3, (i) => (i % 3 === 0 ? 1 : 0));
      const g64 = d.gradientBatch(p64, X, Y, 8);
      const g32 = f.gradientBatch(p32, Float32Array.from(X), Float32Array.from(Y), 8);
      expect(Math.abs(g64.loss - g32.loss)).toBeLessThan(1e-5);
      expect(maxRelDiff(g64.grad, g32.grad)).toBeLessThan(1e-3);
    }
  });
});

describe('softmax cross-entropy', () => {
  const def = defineModel('ce', (m) => {
    const x = m.input('x', 3);
    const y = m.target('y', 3);
    const W = m.param('W', { shape: [3, 3] });
    m.def('z', m.matmul(W, x));
    m.loss('cross_entropy(z, y)');
  });

  it('its gradient is emitted as sum(y) softmax(z) - y (softmax(z) - y for a distribution y)', () => {
    expect(gradientDoc(generate(def).derived)).toEqual(['dloss/dW = outer(sum(y) * softmax(z) - y, x)']);
  });

  for (const lowering of ['unrolled', 'loops'] as const) {
    for (const precision of ['f64', 'f32'] as const) {
      it(`stays finite with logits of 1000 (${lowering}, ${precision})`, () => {
        const m = compile(def, { lowering, precision });
        const p = m.initParams();
        (p.W as Float64Array).set([1000, 0, 0, 0, -1000, 0, 0, 0, 999]);
        const r = m.gradient(p, { x: [1, 1, 1] }, { y: [0, 1, 0] });
        // logits (1000, -1000, 999): loss = lse - (-1000) = 2000 + log(1 + e^-1)
        expect(r.loss).toBeCloseTo(2000 + Math.log(1 + Math.exp(-1)), precision === 'f32' ? 2 : 9);
        const p0 = 1 / (1 + Math.exp(-1)), p2 = 1 - p0;
        const g = Array.from(r.grad.W as Float64Array);
        expect(g.every(Number.isFinite)).toBe(true);
        // dz = p - y = (p0, -1, p2), each row times x = (1, 1, 1)
        [p0, p0, p0, -1, -1, -1, p2, p2, p2].forEach((v, i) => expect(g[i]).toBeCloseTo(v, precision === 'f32' ? 4 : 9)); // f32 logits near 1000 carry ~1e-5
      });
    }
  }

  it('log(sigmoid(z)) is rewritten to -softplus(-z) and stays finite', () => {
    const bce = defineModel('bce', (m) => {
      m.input('x');
      m.target('y');
      m.param('w', 1);
      m.def('z', 'w * x');
      m.loss('-(y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z)))');
    });
    const g = generate(bce);
    expect(g.code).toContain('Math.log1p');
    expect(g.code).not.toMatch(/Math\.log\(1 \/ /);
    const m = compile(bce);
    const r = m.gradient(m.initParams(), { x: 1000 }, { y: 0 });
    expect(r.loss).toBeCloseTo(1000, 9);
    expect(r.grad.w).toBeCloseTo(1000, 9);
  });
});

describe('looped lowering: cases found in review', () => {
  const cases = {
    // A fused epilogue must not read a value computed after its gemm (2*b, a second gemm, a softmax).
    'epilogue reads a parameter-only value': defineModel('e1', (m) => {
      m.input('x', 3); m.target('y', 2); m.param('W', { shape: [2, 3] }); m.param('b', { shape: [2], init: [0.4, -0.7] });
      m.def('h', 'tanh(W * x + 2 * b)'); m.loss('sum((h - y).^2)'); m.output('h');
    }),
    'two gemms summed': defineModel('e2', (m) => {
      m.input('x', 3); m.input('u', 2); m.target('y', 4); m.param('W1', { shape: [4, 3] }); m.param('W2', { shape: [4, 2] });
      m.def('h', 'tanh(W1 * x + W2 * u)'); m.loss('sum((h - y).^2)'); m.output('h');
    }),
    'two heads on one layer (the backward pass sums two gemms)': defineModel('e3', (m) => {
      m.input('x', 3); m.target('y', 2); m.target('t', 2);
      m.param('W1', { shape: [4, 3] }); m.param('W2', { shape: [2, 4] }); m.param('W3', { shape: [2, 4] });
      m.def('h', 'tanh(W1 * x)'); m.def('o', 'W2 * h'); m.def('p', 'W3 * h'); m.loss('sum((o - y).^2) + sum((p - t).^2)');
    }),
    // Parameter names that are globals or reserved words in JavaScript.
    'parameters named Math and new': defineModel('e4', (m) => {
      m.input('x', 3); m.target('y'); m.param('Math', { shape: [3], init: [0.1, 0.2, 0.3] }); m.param('new', 0.5);
      m.loss('(new * exp(dot(Math, x)) - y)^2');
    }),
  };
  for (const [name, def] of Object.entries(cases)) {
    it(`${name}: loops = unrolled, and stays so when the parameters change`, () => {
      const u = compile(def, { lowering: 'unrolled' });
      const l = compile(def, { lowering: 'loops', maxBatch: 3 });
      const p = u.initParams(2);
      const n = 5, X = rows(n, u.INPUT_SIZE, (i) => Math.sin(0.9 * i)), Y = rows(n, u.TARGET_SIZE, (i) => Math.cos(i));
      for (let round = 0; round < 2; round++) {
        const gu = u.gradientBatch(p, X, Y, n), gl = l.gradientBatch(p, X, Y, n);
        expect(Math.abs(gu.loss - gl.loss) / Math.abs(gu.loss)).toBeLessThan(1e-12);
        expect(maxRelDiff(gu.grad, gl.grad)).toBeLessThan(1e-12);
        u.stepBatch(p, X, Y, n, 0.3); // new parameters for the second round
      }
    });
  }
});
