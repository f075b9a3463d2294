/**
 * Issue 7, numerics (items 7, 10, 11, 12, 13, 15): results that were wrong, non-finite or
 * a crash where a correct finite one exists. Each case is checked in both lowerings and
 * against the reference interpreter, with exact values where the convention fixes them
 * and with central differences elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { buildModel, compile, defineModel, derive, generate } from '../src/index.js';
import type { EmitOptions } from '../src/6-emit/module.js';
import type { GeneratedModule } from '../src/load/loader.js';
import { constant, input, make } from '../src/ir/build.js';
import type { Node } from '../src/ir/node.js';
import { shape } from '../src/ir/shape.js';
import { REWRITES, applyRewrite, simplify } from '../src/4-simplify/simplify.js';
import { evaluate } from '../src/interp/evaluate.js';
import { printIr } from '../src/ir/print.js';
import type { ModelSpec } from '../src/2-build/define.js';
import { evaluate as mathEval } from 'mathjs';

const LOWERINGS = ['unrolled', 'loops'] as const;
type Lowering = (typeof LOWERINGS)[number];
type Values = Record<string, number | number[]>;
type Grad = Record<string, number[]>;

const flat = (v: number | ArrayLike<number>): number[] => (typeof v === 'number' ? [v] : Array.from(v));

/** Loss and gradient of `spec` at a point, by the module of one lowering. */
function run(spec: ModelSpec, lowering: Lowering, params: Values, inputs: Values, targets: Values): { loss: number; grad: Grad; mod: GeneratedModule } {
  const mod = compile(defineModel(spec), { lowering } as EmitOptions);
  const p = mod.initParams();
  for (const [k, v] of Object.entries(params)) p[k] = typeof v === 'number' ? v : Float64Array.from(v);
  const r = mod.gradient(p, inputs, targets);
  const grad: Grad = {};
  for (const [k, v] of Object.entries(r.grad)) grad[k] = flat(v);
  return { loss: r.loss, grad, mod };
}

/** Loss and gradient by the reference interpreter on the derived (simplified) IR. */
function interpreted(spec: ModelSpec, env: Values): { loss: number; grad: Grad } {
  const d = derive(buildModel(defineModel(spec)));
  const values = evaluate([d.model.loss, ...d.grads], env);
  const grad: Grad = {};
  d.model.params.forEach((p, i) => { grad[p.name] = Array.from(values.get(d.grads[i])!); });
  return { loss: values.get(d.model.loss)![0], grad };
}

/** Central differences of the module's loss in every parameter element. */
function differences(mod: GeneratedModule, params: Values, inputs: Values, targets: Values, h = 1e-6): Grad {
  const out: Grad = {};
  for (const [k, v] of Object.entries(params)) {
    const base = flat(v);
    out[k] = base.map((_, i) => {
      const at = (dx: number) => {
        const p = mod.initParams();
        for (const [k2, v2] of Object.entries(params)) p[k2] = typeof v2 === 'number' ? v2 : Float64Array.from(v2);
        if (typeof v === 'number') p[k] = v + dx;
        else { const a = Float64Array.from(base); a[i] += dx; p[k] = a; }
        return mod.loss(p, inputs, targets);
      };
      return (at(h) - at(-h)) / (2 * h);
    });
  }
  return out;
}

const close = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
function expectGradClose(got: Grad, want: Grad, tol: number, what: string) {
  for (const k of Object.keys(want)) {
    expect(got[k].length, `${what}: ${k}`).toBe(want[k].length);
    got[k].forEach((v, i) => expect(close(v, want[k][i], tol), `${what}: d${k}[${i}] = ${v}, expected ${want[k][i]}`).toBe(true));
  }
}

/** Both lowerings and the interpreter agree with each other and with `want` (exact values, Object.is for zeros). */
function checkAll(spec: ModelSpec, params: Values, inputs: Values, targets: Values, want: { loss?: number; grad?: Grad; fd?: boolean }) {
  const ref = interpreted(spec, { ...params, ...inputs, ...targets });
  for (const lowering of LOWERINGS) {
    const r = run(spec, lowering, params, inputs, targets);
    if (want.loss !== undefined) expect(close(r.loss, want.loss, 1e-9), `${lowering}: loss ${r.loss}, expected ${want.loss}`).toBe(true);
    expect(close(r.loss, ref.loss, 1e-12), `${lowering}: loss ${r.loss}, interpreter ${ref.loss}`).toBe(true);
    for (const [k, g] of Object.entries(r.grad)) {
      for (const v of g) expect(Number.isFinite(v), `${lowering}: d${k} = ${g}`).toBe(true);
    }
    expectGradClose(r.grad, ref.grad, 1e-10, `${lowering} vs interpreter`);
    if (want.grad) expectGradClose(r.grad, want.grad, 1e-12, `${lowering} vs expected`);
    if (want.fd) expectGradClose(r.grad, differences(r.mod, params, inputs, targets), 1e-5, `${lowering} vs central differences`);
  }
}

describe('issue 7 item 10: exp(v) / sum(exp(v)) becomes softmax only for a vector', () => {
  it('P = exp(w * X) ./ sum(exp(w * X)) with X [2x3] compiles and is right in both lowerings', () => {
    const spec: ModelSpec = {
      name: 'softmax_matrix', inputs: { X: [2, 3] }, targets: ['y'], params: { w: 0.5 },
      formulas: 'P = exp(w * X) ./ sum(exp(w * X))\nloss = sum(P .* X) - y',
    };
    const X = [1, 2, 3, 4, 5, 6];
    const e = X.map((x) => Math.exp(0.5 * x)), s = e.reduce((a, b) => a + b);
    const loss = e.reduce((acc, v, i) => acc + (v / s) * X[i], 0);
    checkAll(spec, { w: 0.5 }, { X }, { y: 0 }, { loss, fd: true });
    // Still finite where exp overflows: the max is shifted out.
    checkAll(spec, { w: 300 }, { X }, { y: 0 }, { loss: 6 });
  });

  it('a scalar and a vector: the scalar gives 1, the vector still becomes softmax', () => {
    checkAll({ name: 'softmax_scalar', inputs: ['x'], targets: ['y'], params: { w: 0.5 }, formulas: 'loss = exp(w * x) / sum(exp(w * x)) - y' },
      { w: 0.5 }, { x: 2 }, { y: 0 }, { loss: 1, grad: { w: [0] } });
    const spec: ModelSpec = { name: 'softmax_vector', inputs: { x: 3 }, targets: ['y'], params: { w: 0.5 }, formulas: 'P = exp(w * x) ./ sum(exp(w * x))\nloss = dot(P, x) - y' };
    expect(generate(defineModel(spec)).derived.model.defs.find((d) => d.name === 'P')!.node.op).toBe('softmax');
    checkAll(spec, { w: 0.5 }, { x: [1, -2, 3] }, { y: 0 }, { fd: true });
  });
});

describe('issue 7 item 11: no rewrite changes a shape', () => {
  it('sum(log(exp(w) + x .^ 0)) with x [3], w = 0.5 is 2.922 in both lowerings', () => {
    const spec: ModelSpec = { name: 'softplus_tensor_one', inputs: { x: 3 }, targets: ['y'], params: { w: 0.5 }, formulas: 'loss = sum(log(exp(w) + x .^ 0)) - y' };
    const loss = 3 * Math.log1p(Math.exp(0.5)); // 2.9222...
    expect(loss).toBeCloseTo(2.922, 3);
    checkAll(spec, { w: 0.5 }, { x: [1, 2, 3] }, { y: 0 }, { loss, grad: { w: [3 / (1 + Math.exp(-0.5))] }, fd: true });
  });

  it('log(1 - sigmoid(w)) with a tensor 1 keeps its shape', () => {
    const spec: ModelSpec = { name: 'log1m_tensor_one', inputs: { x: 3 }, targets: ['y'], params: { w: 0.5 }, formulas: 'loss = sum(log(x .^ 0 - sigmoid(w))) - y' };
    checkAll(spec, { w: 0.5 }, { x: [1, 2, 3] }, { y: 0 }, { loss: 3 * Math.log(1 - 1 / (1 + Math.exp(-0.5))), fd: true });
  });

  it('the simplifier rejects a rewrite that changes a shape, naming its law', () => {
    const bad = { law: 'broken: x = sum(x)', apply: (n: Node) => (n.op === 'exp' ? make('sum', [n]) : null) };
    const v = input('hv_bad', shape(3));
    expect(() => applyRewrite(bad, make('exp', [v]))).toThrow(/broken: x = sum\(x\).*\[3\] to scalar/);
  });

  it('every REWRITE law, on scalar, vector and matrix mixes, keeps the shape and the value', () => {
    // Leaves and constants of every rank; constants 1 and 2 of each shape (the rules look for 1).
    const shapes = [shape(), shape(3), shape(2, 3)];
    const leaves = shapes.map((s, i) => input(`hv${i}`, s));
    const consts = shapes.flatMap((s) => [constant(1, s), constant(2, s)]);
    const level0 = [...leaves, ...consts];
    const fits = (a: Node, b: Node) => a.shape.length === 0 || b.shape.length === 0 || a.shape.join() === b.shape.join();
    const tryMake = (op: Node['op'], args: Node[]): Node | null => {
      try { return make(op, args); } catch { return null; } // shapes that do not combine
    };
    const unaries = (xs: readonly Node[], ops: readonly Node['op'][]) => xs.flatMap((x) => ops.map((op) => tryMake(op, [x])));
    const binaries = (as: readonly Node[], bs: readonly Node[]) =>
      as.flatMap((a) => bs.flatMap((b) => (fits(a, b) ? (['add', 'sub', 'mul', 'div'] as const).map((op) => tryMake(op, [a, b])) : [])));
    const uniq = (xs: (Node | null)[]) => [...new Set(xs.filter((x): x is Node => x !== null))];
    const level1 = uniq([...unaries(level0, ['neg', 'exp', 'sigmoid', 'square', 'sum', 'softmax', 'log']), ...binaries(level0, level0)]);
    const exps = level1.filter((n) => n.op === 'exp');
    const level2 = uniq([
      ...unaries(level1, ['log', 'sqrt', 'exp', 'neg', 'sum', 'softmax', 'sigmoid', 'square']),
      ...binaries(level1, level0), ...binaries(level0, level1), ...binaries(level1.filter((n) => n.op === 'neg'), level1),
      ...level1.flatMap((n) => (['add', 'mul'] as const).map((op) => tryMake(op, [n, n]))),
      ...exps.map((e) => tryMake('div', [e, make('sum', [e])])),
    ]);
    const level3 = uniq(unaries(level2, ['log', 'sqrt', 'neg']));
    const candidates = uniq([...level1, ...level2, ...level3]);
    expect(candidates.length).toBeGreaterThan(5000);

    const env: Record<string, number[]> = { hv0: [0.7], hv1: [0.3, -1.2, 2.1], hv2: [0.5, -0.25, 1.5, -2, 0.1, 0.9] };
    const fired = new Map<string, Set<string>>(REWRITES.map((r) => [r.law, new Set<string>()]));
    const checked = new Map<string, number>();
    for (const n of candidates) {
      for (const r of REWRITES) {
        const out = applyRewrite(r, n); // throws, naming the law, if the shape changes
        if (!out || out === n) continue;
        expect(out.shape, r.law).toEqual(n.shape);
        fired.get(r.law)!.add(`${n.shape.length}:${n.args.map((a) => a.shape.length).join('')}`);
        if ((checked.get(r.law) ?? 0) >= 40) continue;
        checked.set(r.law, (checked.get(r.law) ?? 0) + 1);
        const values = evaluate([n, out], env);
        const a = values.get(n)!, b = values.get(out)!;
        a.forEach((want, i) => {
          if (Number.isFinite(want)) expect(close(b[i], want, 1e-9), `${r.law}: ${printIr([n])} = ${want}, rewritten ${b[i]}`).toBe(true);
        });
      }
      const whole = simplify([n]).roots[0];
      expect(whole.shape).toEqual(n.shape);
    }
    for (const [law, on] of fired) expect(on.size, `law '${law}' never fired`).toBeGreaterThan(0);
    // The broadcasting cases of the issue are among them: a tensor 1 around a scalar x.
    expect([...fired.get('log(1 + exp(x)) = softplus(x)')!].some((k) => k.startsWith('1:'))).toBe(true);
    expect([...fired.get('exp(x) / sum(exp(x)) = exp(x - logsumexp(x)) (x a scalar or a matrix)')!].some((k) => k.startsWith('2:'))).toBe(true);
  });
});

describe('issue 7 item 12: pow at base 0 with exponent 0', () => {
  it('sum(w .^ concat(0, 1, 2)) at w = 0 has dw = 1 in both lowerings', () => {
    const spec: ModelSpec = { name: 'pow_concat', inputs: ['x'], targets: ['y'], params: { w: 0 }, formulas: 'loss = sum(w .^ concat(0, 1, 2)) - y' };
    checkAll(spec, { w: 0 }, { x: 0 }, { y: 0 }, { loss: 1, grad: { w: [1] }, fd: true });
    checkAll(spec, { w: 0.3 }, { x: 0 }, { y: 0 }, { fd: true });
  });

  it('w ^ x with x = 0, w = 0 has dw = 0 in both lowerings', () => {
    const spec: ModelSpec = { name: 'pow_var', inputs: ['x'], targets: ['y'], params: { w: 0 }, formulas: 'loss = w ^ x - y' };
    checkAll(spec, { w: 0 }, { x: 0 }, { y: 0 }, { loss: 1, grad: { w: [0] }, fd: true });
    checkAll(spec, { w: 0 }, { x: 1 }, { y: 0 }, { loss: 0, grad: { w: [1] }, fd: true });
    checkAll(spec, { w: 0 }, { x: 2 }, { y: 0 }, { loss: 0, grad: { w: [0] } });
    checkAll(spec, { w: 1.3 }, { x: 0.7 }, { y: 0 }, { fd: true });
  });
});

describe('issue 7 item 13: a zero adjoint contributes zero', () => {
  it('an inactive hinge on a distance, relu(sqrt(sum((a - x) .^ 2)) - m), at a = x: gradient exactly 0', () => {
    const spec: ModelSpec = {
      name: 'hinge_distance', inputs: { x: 2 }, targets: ['y'], params: { a: [1, 2], m: 0.5 },
      formulas: 'd = sqrt(sum((a - x) .^ 2))\nloss = relu(d - m) + 0 * y',
    };
    checkAll(spec, { a: [1, 2], m: 0.5 }, { x: [1, 2] }, { y: 0 }, { loss: 0, grad: { a: [0, 0], m: [0] } });
    // Away from the kink, the same model agrees with central differences (active and inactive).
    checkAll(spec, { a: [1.5, 3], m: 0.5 }, { x: [1, 2] }, { y: 0 }, { fd: true });
    checkAll(spec, { a: [1.1, 2.1], m: 0.5 }, { x: [1, 2] }, { y: 0 }, { loss: 0, grad: { a: [0, 0], m: [0] }, fd: true });
  });

  it('log, div, pow and exp behind a branch that is not taken: gradient exactly 0', () => {
    const at = { a: [1, 2], w: -1 }, x = { x: [1, 2] }, y = { y: 0 };
    const cases: [string, string][] = [
      ['log', 'loss = max(y, log(sum((a - x) .^ 2))) + 0 * w'], // log(0) = -Infinity, not chosen
      ['div', 'loss = max(y, w / sum((a - x) .^ 2))'], // -1 / 0 = -Infinity, not chosen
      ['pow', 'loss = relu(sum((a - x) .^ 2) .^ 0.5 - 1) + 0 * w'], // 0.5 * 0^-0.5 = Infinity
      ['exp', 'loss = max(y, -exp(1000 * w * w)) + 0 * sum(a)'], // exp(1000) = Infinity, not chosen
    ];
    for (const [name, formulas] of cases) {
      const spec: ModelSpec = { name: `zero_adjoint_${name}`, inputs: { x: 2 }, targets: ['y'], params: { a: [1, 2], w: -1 }, formulas };
      checkAll(spec, at, x, y, { loss: 0, grad: { a: [0, 0], w: [0] } });
      checkAll(spec, { a: [1.5, 2.5], w: -0.01 }, x, y, { fd: true });
    }
  });

  it('a non-zero adjoint through an infinite derivative is still infinite (the convention only covers 0)', () => {
    const spec: ModelSpec = { name: 'sqrt_at_zero', inputs: ['x'], targets: ['y'], params: { w: 0 }, formulas: 'loss = sqrt(w) + 0 * x * y' };
    for (const lowering of LOWERINGS) expect(run(spec, lowering, { w: 0 }, { x: 1 }, { y: 0 }).grad.w[0]).toBe(Infinity);
  });
});

describe('issue 7 item 15: cross_entropy with any targets', () => {
  const spec: ModelSpec = { name: 'ce_multi', inputs: { z0: 3 }, targets: { t: 3 }, params: { w: 1 }, formulas: 'loss = cross_entropy(w * z0, t)' };
  const lsm = (z: number[]) => { const m = Math.max(...z); const l = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)); return z.map((v) => v - l); };
  const reference = (z: number[], t: number[]) => -t.reduce((s, ti, i) => s + ti * lsm(z)[i], 0);

  it('multi-hot targets: -sum(t log softmax(z)) = 3.815, gradient by central differences', () => {
    const z = [1, 2, 3], t = [1, 1, 0];
    const loss = reference(z, t);
    expect(loss).toBeCloseTo(3.815, 3);
    // A second implementation: mathjs, from the definition.
    const byMathjs = mathEval('-sum(t .* (z - log(sum(map(z, exp)))))', { z, t }) as number;
    expect(close(byMathjs, loss, 1e-12)).toBe(true);
    // d/dw = sum_i (sum(t) softmax(z)_i - t_i) z_i
    const p = lsm(z).map(Math.exp);
    const dw = z.reduce((s, zi, i) => s + (2 * p[i] - t[i]) * zi, 0);
    checkAll(spec, { w: 1 }, { z0: z }, { t }, { loss, grad: { w: [dw] }, fd: true });
  });

  it('one-hot and soft targets give what they gave before; the logits gradient is sum(t) softmax(z) - t', () => {
    checkAll(spec, { w: 1 }, { z0: [1, 2, 3] }, { t: [0, 0, 1] }, { loss: reference([1, 2, 3], [0, 0, 1]), fd: true });
    checkAll(spec, { w: 0.7 }, { z0: [0.5, -2, 1] }, { t: [0.2, 0.3, 0.5] }, { loss: reference([0.35, -1.4, 0.7], [0.2, 0.3, 0.5]), fd: true });
    checkAll(spec, { w: 1 }, { z0: [1000, 0, -1000] }, { t: [0, 2, 1] }, { loss: reference([1000, 0, -1000], [0, 2, 1]) });
    const logits: ModelSpec = { name: 'ce_logits', inputs: {}, targets: { t: 3 }, params: { z: [1, 2, 3] }, formulas: 'loss = cross_entropy(z, t)' };
    const p = lsm([1, 2, 3]).map(Math.exp), t = [1, 1, 0.5];
    checkAll(logits, { z: [1, 2, 3] }, {}, { t }, { loss: reference([1, 2, 3], t), grad: { z: p.map((v, i) => 2.5 * v - t[i]) }, fd: true });
  });
});

describe('issue 7 item 7: deep and large graphs compile without overflowing the stack', () => {
  const chain = (layers: number): ModelSpec => {
    const lines = ['h1 = tanh(w * x + b)'];
    for (let i = 2; i <= layers; i++) lines.push(`h${i} = tanh(w * h${i - 1} + b)`);
    lines.push(`loss = (h${layers} - y)^2`);
    return { name: `chain${layers}`, inputs: ['x'], targets: ['y'], params: { w: 0.9, b: 0.1 }, formulas: lines.join('\n') };
  };

  it('a 2000-layer tanh chain compiles in both lowerings, with the interpreter\'s gradient', () => {
    const spec = chain(2000);
    const env = { w: 0.9, b: 0.1, x: 0.3, y: 0.2 };
    const ref = interpreted(spec, env);
    for (const lowering of LOWERINGS) {
      const r = run(spec, lowering, { w: 0.9, b: 0.1 }, { x: 0.3 }, { y: 0.2 });
      expect(close(r.loss, ref.loss, 1e-12)).toBe(true);
      expectGradClose(r.grad, ref.grad, 1e-9, `${lowering}, 2000 layers`);
    }
  }, 240_000);

  it('a 10,000-parameter model (a 100x100 matrix) compiles with the default lowering (loops)', () => {
    const W = Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 0.1);
    const x = Array.from({ length: 100 }, (_, i) => Math.cos(i));
    const spec: ModelSpec = { name: 'wide', inputs: { x: 100 }, targets: { y: 100 }, params: { W: { shape: [100, 100], init: W } }, formulas: 'loss = sum((tanh(W * x) - y) .^ 2)' };
    const mod = compile(defineModel(spec));
    expect(mod.code).toMatch(/\$gradientRows/);
    const r = mod.gradient(mod.initParams(), { x }, { y: x });
    const ref = interpreted(spec, { W, x, y: x });
    expect(close(r.loss, ref.loss, 1e-12)).toBe(true);
    expectGradClose({ W: flat(r.grad.W) }, ref.grad, 1e-9, 'loops, 100x100');
  }, 120_000);

  it('a 3000-parameter chain of scalar parameters (one fused sum) and shared nodes compile with loops', () => {
    const params: Record<string, number> = { w1: 0.01 };
    const lines = ['s1 = w1 * x'];
    for (let i = 2; i <= 3000; i++) { params[`w${i}`] = ((i % 7) - 3) * 0.001; lines.push(`s${i} = s${i - 1} + w${i} * x`); }
    lines.push('loss = (s3000 - y)^2');
    const sum: ModelSpec = { name: 'scalar_chain', inputs: ['x'], targets: ['y'], params, formulas: lines.join('\n') };
    expect(generate(defineModel(sum), { lowering: 'loops' } as EmitOptions).code).toMatch(/\$gradientRows/);

    const shared = ['h1 = tanh(w * x + b)'];
    for (let i = 2; i <= 300; i++) shared.push(`h${i} = tanh(h${i - 1} * h${i - 1} * w + h${i - 1})`);
    shared.push('loss = (h300 - y)^2');
    const spec: ModelSpec = { name: 'shared_chain', inputs: ['x'], targets: ['y'], params: { w: 0.5, b: 0.1 }, formulas: shared.join('\n') };
    const ref = interpreted(spec, { w: 0.5, b: 0.1, x: 0.3, y: 0.1 });
    const r = run(spec, 'loops', { w: 0.5, b: 0.1 }, { x: 0.3 }, { y: 0.1 });
    expect(close(r.loss, ref.loss, 1e-12)).toBe(true);
    expectGradClose(r.grad, ref.grad, 1e-9, 'loops, shared nodes');
  }, 120_000);
});

describe('softmax and logsumexp at logits of 1e15 and more (review finding)', () => {
  it('the gradient of logsumexp is softmax exactly: exp(x - m) / s, not exp(x - logsumexp), in both lowerings and the interpreter', async () => {
    const { compile, defineModel, derive, interpret, buildModel } = await import('../src/index.js');
    for (const b of [1e15, 1e16, 1e300]) {
      const def = defineModel({ name: 'big', inputs: [], targets: [], params: { M: { shape: [4], init: [b, b, -b, 0] }, c: { shape: [4], init: [1, 0, 0, 0] } }, formulas: 'p = softmax(M)\nloss = logsumexp(M) + dot(p, c)' });
      for (const lowering of ['unrolled', 'loops'] as const) {
        const m = compile(def, { lowering });
        const r = m.gradient(m.initParams(), {} as never, {} as never);
        // d logsumexp = p = [0.5, 0.5, 0, 0]; d dot(p, c) = p (c - p.c) = [0.25, -0.25, 0, 0]
        expect(Array.from(r.grad.M as Float64Array), `${lowering} b=${b}`).toEqual([0.75, 0.25, 0, 0]);
      }
      const model = buildModel(def);
      const { grads } = derive(model);
      const values = interpret([...grads], { M: [b, b, -b, 0], c: [1, 0, 0, 0] } as never);
      expect(Array.from(values.get(grads[0]!)!), `interpreter b=${b}`).toEqual([0.75, 0.25, 0, 0]);
    }
  });
});
