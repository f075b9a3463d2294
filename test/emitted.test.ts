/**
 * Emitted code = reference interpreter = central differences, end to end.
 *
 * For every example (examples/*.model.ts), a corpus of small models (test/helpers/
 * models.ts) and random small models (random formulas over several parameters), the
 * module `compile()` loads gives the same loss, outputs and gradients as the reference
 * interpreter on the derived IR, and its gradients match central differences of its own
 * loss. Points include the initial parameters (biases exactly 0) and all-zero inputs
 * (relu/abs/max/min kinks of the `kinks` model, where only the interpreter comparison
 * and the documented conventions apply: central differences are one-sided there).
 * Also: `step()` = p - lr * grad; `gradientBatch` = mean of per-sample gradients;
 * `stepBatch` = p - lr * mean gradient; chunked emission (`chunkSize`) gives identical
 * numbers to unchunked; the looped lowering agrees with the interpreter too. And every
 * op of the spec table (test/helpers/opspec.ts), through both lowerings, agrees with the
 * interpreter at every point of its checks.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, compile, defineModel } from '../src/index.js';
import type { ModelDefinition } from '../src/2-build/define.js';
import { derive } from '../src/pipeline.js';
import type { Derived } from '../src/model.js';
import { DEFAULT_UNROLL_LIMIT } from '../src/5-lower/schedule.js';
import type { EmitOptions } from '../src/6-emit/module.js';
import type { GeneratedModule, Params } from '../src/load/loader.js';
import { add } from '../src/ir/build.js';
import { topoOrder } from '../src/ir/walk.js';
import type { Node } from '../src/ir/node.js';
import { OPS, type Op } from '../src/ir/ops.js';
import { arbFormula, gradcText, kinkDistance } from './helpers/formulas.js';
import { SPEC } from './helpers/opspec.js';
import { CORPUS, type NamedModel, envOf, exampleModels, interpret, paramElements, randomValues } from './helpers/models.js';
import { ErrorLog, centralDifference, defaultStep, relativeError, seeded } from './helpers/numeric.js';

type Module = GeneratedModule & { readonly code: string };
type Values = Record<string, number | Float64Array>;

const errors = new ErrorLog();
afterAll(() => console.log(errors.report('emitted.test: worst relative errors (floor 1)')));

const TOL_INTERPRETER = 1e-10; // emitted vs interpreter: the same arithmetic, maybe summed in another order
const TOL_FD = 1e-6; // vs central differences (Richardson-extrapolated)
const MAX_FD_ELEMENTS = 40; // parameter elements checked by central differences per point

const get = (p: Params, name: string, k: number | null): number => (k === null ? (p[name] as number) : (p[name] as Float64Array)[k]);
function set(p: Params, name: string, k: number | null, v: number): void {
  if (k === null) p[name] = v;
  else (p[name] as Float64Array)[k] = v;
}
const flat = (v: number | ArrayLike<number>): number[] => (typeof v === 'number' ? [v] : Array.from(v));

/** Every element of `got` against `want`, by name; returns the worst relative error. */
function compareValues(category: string, got: Readonly<Record<string, number | ArrayLike<number>>>, want: Readonly<Record<string, number | ArrayLike<number>>>, tol: number, where: string): number {
  expect(Object.keys(got).sort(), `${where}: names`).toEqual(Object.keys(want).sort());
  let worst = 0;
  for (const k of Object.keys(want)) {
    const g = flat(got[k]), w = flat(want[k]);
    expect(g.length, `${where}: size of ${k}`).toBe(w.length);
    g.forEach((x, i) => {
      const err = relativeError(x, w[i]);
      if (!(err <= tol)) throw new Error(`${where}: ${category}: ${k}[${i}] = ${x}, expected ${w[i]} (relative error ${err.toExponential(2)})`);
      worst = Math.max(worst, err);
    });
  }
  return errors.note(category, worst, where);
}

interface Point { readonly label: string; readonly params: Params; readonly inputs: Values; readonly targets: Values }

function pointsFor(mod: Module, seed: number): Point[] {
  const rand = seeded(seed);
  const init = mod.initParams();
  const perturbed = mod.copyParams(init);
  for (const [k, v] of Object.entries(perturbed)) {
    if (typeof v === 'number') perturbed[k] = v + 0.5 * (rand() - 0.5);
    else for (let i = 0; i < v.length; i++) v[i] += 0.5 * (rand() - 0.5);
  }
  // All-zero inputs; a length input (which is at least 1) its whole sequence.
  const zeros = Object.fromEntries(Object.entries(mod.shapes.inputs).map(([k, s]) => [k, s.length === 0 ? (mod.shapes.lengths?.[k] ?? 0) : new Float64Array(s.reduce((a, b) => a * b, 1))]));
  return [
    { label: 'initial parameters (biases exactly 0), random inputs', params: init, inputs: randomValues(rand, mod.shapes.inputs, -1, 1, mod.shapes.ids, mod.shapes.lengths), targets: randomValues(rand, mod.shapes.targets) },
    { label: 'perturbed parameters, random inputs', params: perturbed, inputs: randomValues(rand, mod.shapes.inputs, -2, 2, mod.shapes.ids, mod.shapes.lengths), targets: randomValues(rand, mod.shapes.targets) },
    { label: 'initial parameters, all-zero inputs', params: mod.initParams(), inputs: zeros, targets: randomValues(rand, mod.shapes.targets) },
  ];
}

/** Central differences of the module's loss, for up to MAX_FD_ELEMENTS parameter elements. */
function checkAgainstDifferences(mod: Module, derived: Derived, pt: Point, grad: Params, where: string): number {
  const all = paramElements(derived.model);
  const stride = Math.max(1, Math.ceil(all.length / MAX_FD_ELEMENTS));
  const p = mod.copyParams(pt.params);
  let n = 0;
  for (let e = 0; e < all.length; e += stride) {
    const [name, k] = all[e];
    const x0 = get(p, name, k);
    const fd = centralDifference((t) => {
      set(p, name, k, t);
      return mod.loss(p, pt.inputs, pt.targets);
    }, x0, defaultStep(x0));
    set(p, name, k, x0);
    const g = get(grad, name, k);
    const err = errors.note('emitted gradient vs central differences', relativeError(g, fd), where);
    if (!(err <= TOL_FD)) throw new Error(`${where}: d loss/d ${name}${k === null ? '' : `[${k}]`} = ${g}, central difference ${fd} (relative error ${err.toExponential(2)})`);
    n++;
  }
  return n;
}

/** Loss, outputs and gradient of `mod` at every point against the interpreter and central differences. */
function checkModule(mod: Module, derived: Derived, points: readonly Point[], name: string): { fd: number; skippedAtKinks: number } {
  let fd = 0, skippedAtKinks = 0;
  for (const pt of points) {
    const where = `${name} at ${pt.label}`;
    const env = envOf(pt.params, pt.inputs, pt.targets);
    const ref = interpret(derived, env);
    const loss = mod.loss(pt.params, pt.inputs, pt.targets);
    compareValues('emitted loss vs interpreter', { loss }, { loss: ref.loss }, TOL_INTERPRETER, where);
    const { loss: gl, grad } = mod.gradient(pt.params, pt.inputs, pt.targets);
    expect(gl, `${where}: gradient().loss = loss()`).toBe(loss);
    compareValues('emitted gradient vs interpreter', grad, ref.grad, TOL_INTERPRETER, where);
    if (Object.keys(ref.outputs).length) compareValues('emitted forward vs interpreter', mod.forward(pt.params, pt.inputs), ref.outputs, TOL_INTERPRETER, where);
    if (kinkDistance(derived.model.loss, env) < 1e-4) skippedAtKinks++;
    else fd += checkAgainstDifferences(mod, derived, pt, grad, where);
  }
  return { fd, skippedAtKinks };
}

function checkStep(mod: Module, pt: Point, where: string): void {
  const lr = 0.05;
  const { grad } = mod.gradient(pt.params, pt.inputs, pt.targets);
  const p = mod.copyParams(pt.params);
  const loss = mod.step(p, pt.inputs, pt.targets, lr);
  expect(loss).toBe(mod.loss(pt.params, pt.inputs, pt.targets));
  const want: Values = {};
  for (const [k, v] of Object.entries(pt.params)) {
    const g = grad[k];
    want[k] = typeof v === 'number' ? v - lr * (g as number) : Float64Array.from(v, (x, i) => x - lr * (g as Float64Array)[i]);
  }
  compareValues('step() vs p - lr * grad', p, want, 1e-15, where);
}

function checkBatch(mod: Module, rand: () => number, params: Params, where: string): void {
  const count = 5;
  const samples = Array.from({ length: count }, () => ({ inputs: randomValues(rand, mod.shapes.inputs, -1, 1, mod.shapes.ids, mod.shapes.lengths), targets: randomValues(rand, mod.shapes.targets) }));
  const { X, Y } = mod.packSamples(samples);
  const mean = (from: number, n: number) => {
    const grads = samples.slice(from, from + n).map((s) => mod.gradient(params, s.inputs, s.targets));
    const g = mod.zeroParams();
    for (const k of Object.keys(g)) {
      const v = g[k];
      if (typeof v === 'number') g[k] = grads.reduce((s, x) => s + (x.grad[k] as number), 0) / n;
      else for (let i = 0; i < v.length; i++) v[i] = grads.reduce((s, x) => s + (x.grad[k] as Float64Array)[i], 0) / n;
    }
    return { loss: grads.reduce((s, x) => s + x.loss, 0) / n, grad: g };
  };
  const all = mod.gradientBatch(params, X, Y, count);
  const want = mean(0, count);
  compareValues('gradientBatch vs mean of gradients', { loss: all.loss, ...all.grad }, { loss: want.loss, ...want.grad }, 1e-12, where);
  const tail = mod.gradientBatch(params, X, Y, 2, 3);
  const wantTail = mean(3, 2);
  compareValues('gradientBatch vs mean of gradients', { loss: tail.loss, ...tail.grad }, { loss: wantTail.loss, ...wantTail.grad }, 1e-12, `${where} (rows 3..4)`);
  const lr = 0.1;
  const p = mod.copyParams(params);
  const stepLoss = mod.stepBatch(p, X, Y, count, lr);
  expect(relativeError(stepLoss, want.loss)).toBeLessThan(1e-12);
  const stepped: Values = {};
  for (const [k, v] of Object.entries(params)) {
    const g = want.grad[k];
    stepped[k] = typeof v === 'number' ? v - lr * (g as number) : Float64Array.from(v, (x, i) => x - lr * (g as Float64Array)[i]);
  }
  compareValues('stepBatch vs p - lr * mean gradient', p, stepped, 1e-12, where);
}

/** Bit-identical results of two modules at a point. */
function checkIdentical(a: Module, b: Module, pt: Point, where: string): void {
  expect(b.loss(pt.params, pt.inputs, pt.targets), `${where}: loss`).toBe(a.loss(pt.params, pt.inputs, pt.targets));
  expect(b.gradient(pt.params, pt.inputs, pt.targets), `${where}: gradient`).toEqual(a.gradient(pt.params, pt.inputs, pt.targets));
  expect(b.forward(pt.params, pt.inputs), `${where}: forward`).toEqual(a.forward(pt.params, pt.inputs));
  const pa = a.copyParams(pt.params), pb = b.copyParams(pt.params);
  expect(b.step(pb, pt.inputs, pt.targets, 0.1)).toBe(a.step(pa, pt.inputs, pt.targets, 0.1));
  expect(pb, `${where}: step`).toEqual(pa);
}

function describeModel({ name, def }: NamedModel, seed: number): void {
  describe(name, () => {
    let mod: Module;
    let derived: Derived;
    let points: Point[];
    const model = buildModel(def);
    // What lowering 'auto' chooses (a recurrence is always a time loop: 5-lower/schedule.ts).
    const recurrent = topoOrder([model.loss]).some((n) => n.op === 'scan');
    const unrolled = paramElements(model).length <= DEFAULT_UNROLL_LIMIT && !recurrent;
    beforeAll(() => {
      mod = compile(def);
      derived = derive(model);
      points = pointsFor(mod, seed);
    });

    it('loss, outputs and gradients = interpreter = central differences', () => {
      const { fd } = checkModule(mod, derived, points, name);
      expect(fd).toBeGreaterThan(0);
    });

    it('step() = p - lr * grad', () => {
      for (const pt of points) checkStep(mod, pt, `${name} at ${pt.label}`);
    });

    it('gradientBatch = mean of per-sample gradients; stepBatch = p - lr * mean', () => {
      checkBatch(mod, seeded(seed + 1), points[1].params, name);
    });

    // The looped lowering (chosen for large models) has no straight-line kernels to split.
    it.skipIf(!unrolled)('chunked emission gives identical results', () => {
      if (/function \$gradient_1\(/.test(mod.code)) {
        // Kernels longer than the default chunk (the co2 RNN's have ~5,000 statements) are
        // already split, and the first test checked that module against the interpreter.
        expect(mod.code).toMatch(/function \$loss_1\(/);
        return;
      }
      const chunked = compile(def, { chunkSize: 3 });
      // Split, `loss` and `gradient` share the forward pass: `$gradient` calls `$loss`, then its own parts.
      expect(chunked.code).toMatch(/function \$loss_1\(/);
      expect(chunked.code).toMatch(/function \$gradient_0\(/);
      for (const pt of points) checkIdentical(mod, chunked, pt, `${name} chunked by 3`);
    });

    // When 'auto' chose loops, the first test already checked them.
    it.skipIf(!unrolled)('the looped lowering agrees with the interpreter too', () => {
      const looped = compile(def, { lowering: 'loops' } as EmitOptions);
      const { fd } = checkModule(looped, derived, points, `${name} (looped)`);
      expect(fd).toBeGreaterThan(0);
      checkStep(looped, points[1], `${name} (looped)`);
      checkBatch(looped, seeded(seed + 1), points[1].params, `${name} (looped)`);
    });
  });
}

const examples = await exampleModels();

describe('examples', () => {
  it('examples/*.model.ts are found', () => {
    expect(examples.map((e) => e.name)).toEqual(expect.arrayContaining(['linreg', 'student', 'xor']));
  });
  examples.forEach((m, i) => describeModel(m, 100 + i));
});

describe('corpus', () => {
  CORPUS.forEach((m, i) => describeModel(m, 200 + i));

  it('kinks: the conventions hold in emitted code at x = 0 with biases exactly 0', () => {
    const def = CORPUS.find((m) => m.name === 'kinks')!.def;
    for (const mod of [compile(def), compile(def, { lowering: 'loops' } as EmitOptions)]) {
      const p = mod.initParams();
      expect(p).toEqual({ w: 0.5, b: 0, v: -1.5, c: 0 });
      // yhat = relu(0) + abs(0) + max(0, 0) - min(0, 0) + b = 0; dloss/dyhat = -2y.
      // relu'(0) = abs'(0) = 0; max/min ties go to the first argument (w*x, r), which
      // are 0 * x and relu(.) with relu'(0) = 0: only the direct b term remains.
      const { loss, grad } = mod.gradient(p, { x: 0 }, { y: 1.5 });
      expect(loss).toBe(2.25);
      expect(grad).toEqual({ w: 0, b: -3, v: 0, c: 0 });
    }
  });
});

describe('random small models', () => {
  it('emitted = interpreter = central differences; chunked and looped agree', () => {
    const VARS = ['a', 'b', 'c', 'x1', 'x2'];
    let compared = 0;
    fc.assert(
      fc.property(arbFormula(VARS, 3), fc.integer({ min: 1, max: 1e6 }), (tree, seed) => {
        const text = gradcText(tree);
        const def: ModelDefinition = defineModel({
          name: 'random',
          inputs: ['x1', 'x2'],
          targets: ['y'],
          params: { a: 0.5, b: -0.25, c: 0 },
          formulas: `
            f = ${text}
            loss = 0.5 * (f - y)^2 + 0.01 * (a^2 + b^2 + c^2)
          `,
        });
        const mod = compile(def);
        const derived = derive(buildModel(def));
        const rand = seeded(seed);
        const pts: Point[] = [
          { label: 'initial parameters (c = 0)', params: mod.initParams(), inputs: randomValues(rand, mod.shapes.inputs, -1, 1, mod.shapes.ids, mod.shapes.lengths), targets: randomValues(rand, mod.shapes.targets) },
          { label: 'random parameters', params: randomValues(rand, mod.shapes.params, -1.5, 1.5), inputs: randomValues(rand, mod.shapes.inputs, -2, 2, mod.shapes.ids, mod.shapes.lengths), targets: randomValues(rand, mod.shapes.targets) },
        ].filter((pt) => Number.isFinite(interpret(derived, envOf(pt.params, pt.inputs, pt.targets)).loss) && Math.abs(mod.loss(pt.params, pt.inputs, pt.targets)) < 1e8);
        const where = `random model f = ${text}`;
        compared += checkModule(mod, derived, pts, where).fd;
        for (const pt of pts) checkStep(mod, pt, where);
        const chunked = compile(def, { chunkSize: 3 });
        const looped = compile(def, { lowering: 'loops' } as EmitOptions);
        for (const pt of pts) checkIdentical(mod, chunked, pt, `${where} chunked by 3`);
        checkModule(looped, derived, pts, `${where} (looped)`);
      }),
      { numRuns: 15, seed: 2024 },
    );
    expect(compared).toBeGreaterThan(40);
  });
});

describe('every op through the emitted code = interpreter', () => {
  /** All checks of one op summed into one model (leaves renamed c<i>_<name>), with their points. */
  function opModel(op: Op): { def: ModelDefinition; points: Point[] } | null {
    const spec = SPEC[op];
    if (spec.kind === 'leaf') return null;
    const checks = spec.checks();
    const def = defineModel(`op_${op}`, (m) => {
      const terms: Node[] = checks.map((c, i) => {
        const leaves: Record<string, Node> = {};
        for (const [n, s] of Object.entries(c.params)) leaves[n] = m.param(`c${i}_${n}`, { shape: [...s] });
        for (const [n, s] of Object.entries(c.inputs ?? {})) leaves[n] = m.input(`c${i}_${n}`, [...s]);
        return c.f(leaves);
      });
      m.loss(terms.reduce((a, b) => add(a, b)));
    });
    // Point k of the model: point k of every check (its last point when it has fewer).
    const all = checks.map((c) => [...c.points, ...(c.exact ?? []).map((e) => e.at)]);
    const count = Math.max(...all.map((ps) => ps.length));
    const points: Point[] = [];
    for (let k = 0; k < count; k++) {
      const params: Params = {}, inputs: Values = {};
      checks.forEach((c, i) => {
        const pt = all[i][Math.min(k, all[i].length - 1)];
        for (const n of Object.keys(c.params)) params[`c${i}_${n}`] = c.params[n].length ? Float64Array.from(pt[n]) : pt[n][0];
        for (const n of Object.keys(c.inputs ?? {})) inputs[`c${i}_${n}`] = c.inputs![n].length ? Float64Array.from(pt[n]) : pt[n][0];
      });
      points.push({ label: `point ${k}`, params, inputs, targets: {} });
    }
    return { def, points };
  }

  /** Gradients of `mod` = interpreter; NaN = NaN and equal infinities count as equal here. */
  function agree(mod: Module, derived: Derived, points: readonly Point[], where: string): number {
    let n = 0;
    for (const pt of points) {
      const ref = interpret(derived, envOf(pt.params, pt.inputs));
      const { grad } = mod.gradient(pt.params, pt.inputs, pt.targets);
      for (const k of Object.keys(ref.grad)) {
        const g = flat(grad[k]), w = Array.from(ref.grad[k]);
        w.forEach((want, i) => {
          const ok = Object.is(g[i], want) || g[i] === want || (Number.isNaN(g[i]) && Number.isNaN(want)) || relativeError(g[i], want) <= TOL_INTERPRETER;
          if (!ok) throw new Error(`${where} at ${pt.label}: d/d${k}[${i}] emitted ${g[i]}, interpreter ${want}`);
          if (Number.isFinite(want)) errors.note('every op: emitted gradient vs interpreter', relativeError(g[i], want), where);
          n++;
        });
      }
    }
    return n;
  }

  for (const op of Object.keys(OPS) as Op[]) {
    if (SPEC[op].kind === 'leaf') continue;
    // A recurrence is always a time loop: the unrolled lowering refuses it (5-lower/schedule.ts).
    for (const lowering of op === 'scan' || op === 'tsum' ? (['loops'] as const) : (['unrolled', 'loops'] as const)) {
      it(`${op} (${lowering})`, () => {
        const { def, points } = opModel(op)!;
        const mod = compile(def, { lowering } as EmitOptions);
        expect(agree(mod, derive(buildModel(def)), points, `${op} (${lowering})`)).toBeGreaterThan(0);
      });
    }
  }
});

describe('regressions: lowering bugs this suite found (fixed in 0195523)', () => {
  const run = (formulas: string, options: EmitOptions, params: Record<string, number | { shape: number[]; init: number[] }>) => {
    const def = defineModel({ name: 'repro', inputs: ['x'], targets: ['y'], params, formulas });
    const mod = compile(def, options);
    const p = mod.initParams();
    const pt: Point = { label: 'x = 0.5, y = 0.25', params: p, inputs: { x: 0.5 }, targets: { y: 0.25 } };
    expect(checkModule(mod, derive(buildModel(def)), [pt], formulas.trim()).fd).toBeGreaterThan(0);
  };

  it('unrolled: sum() of a scalar', () => {
    run('loss = (sum(w) * x - y)^2', {}, { w: 1.5 });
  });

  it('unrolled: logsumexp() of a scalar (also what log(sum(exp(w))) simplifies to)', () => {
    run('loss = (log(sum(exp(w))) * x - y)^2', {}, { w: 1.5 });
  });

  it('looped: logsumexp of an unlabelled vector', () => {
    run('loss = logsumexp(concat(w, x)) - y', { lowering: 'loops' } as EmitOptions, { w: 1.5 });
  });

  it('looped: logsumexp of a matrix', () => {
    run('loss = (logsumexp(M) * x - y)^2', { lowering: 'loops' } as EmitOptions, { M: { shape: [2, 2], init: [1, 2, 3, 4] } });
  });
});
