/**
 * Property tests (fast-check, fixed seeds so runs are reproducible).
 *
 * 1. Random scalar formulas over a, b, c: the gradient gradc derives (`derive`: the
 *    forward graph simplified, differentiated, the gradients simplified; evaluated by
 *    the reference interpreter) equals mathjs's symbolic `derivative` of the same
 *    function to 1e-6 relative (with a floor of 1, so values near 0 compare absolutely),
 *    and equals central differences. gradc-only functions (sigmoid, relu, softplus,
 *    square, max, min) are written for mathjs with exact identities over mathjs-known
 *    functions (test/helpers/formulas.ts), so every formula is compared with mathjs.
 * 2. The simplifier (src/4-simplify/simplify.ts): every rule of REWRITES, applied to
 *    random instances of its pattern, and `simplify` of random formulas, keep the value
 *    at random points; the stability rules stay finite where the original overflows.
 */
import fc from 'fast-check';
import { type EvalFunction, derivative, parse } from 'mathjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelBuilder } from '../src/2-build/builder.js';
import { GradcError } from '../src/errors.js';
import { constant, input, make, param } from '../src/ir/build.js';
import type { Node } from '../src/ir/node.js';
import { printIr } from '../src/ir/print.js';
import { SCALAR, shape } from '../src/ir/shape.js';
import { derive } from '../src/pipeline.js';
import { REWRITES, simplify } from '../src/4-simplify/simplify.js';
import { type Env, evaluate, evaluateScalar } from '../src/interp/evaluate.js';
import { arbFormula, gradcText, kinkDistance, mathjsText, type Tree } from './helpers/formulas.js';
import { ErrorLog, centralDifference, relativeError } from './helpers/numeric.js';

const VARS = ['a', 'b', 'c'] as const;
const coordinate = fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true });
const arbPoint = fc.record({ a: coordinate, b: coordinate, c: coordinate });
const errors = new ErrorLog();
afterAll(() => console.log(errors.report('property.test: worst relative errors (floor 1)')));

describe('gradc gradients of random formulas = mathjs derivative = central differences', () => {
  it('holds at random points', () => {
    const stats = { formulas: 0, constant: 0, points: 0, overflow: 0, kink: 0, mathjsNotFinite: 0, compared: 0 };
    fc.assert(
      fc.property(arbFormula(VARS), fc.array(arbPoint, { minLength: 3, maxLength: 3 }), (tree: Tree, points) => {
        stats.formulas++;
        const text = gradcText(tree);
        const m = new ModelBuilder('property');
        for (const v of VARS) m.param(v);
        m.loss(text);
        let model;
        try {
          model = m.build();
        } catch (e) {
          // The construction-time rules can cancel every parameter (a - a, 0 * b).
          if (e instanceof GradcError && /does not depend on any parameter/.test(e.message)) { stats.constant++; return; }
          throw e;
        }
        const derived = derive(model);
        const mathjsTree = parse(mathjsText(tree));
        const mathjs: EvalFunction[] = VARS.map((v) => derivative(mathjsTree, v, { simplify: false }).compile());
        for (const p of points) {
          stats.points++;
          const env: Env = p;
          const f = evaluateScalar(model.loss, env);
          if (!Number.isFinite(f) || Math.abs(f) > 1e6) { stats.overflow++; continue; }
          if (kinkDistance(model.loss, env) < 1e-3) { stats.kink++; continue; }
          const values = evaluate([derived.model.loss, ...derived.grads], env);
          expect(relativeError(values.get(derived.model.loss)![0], f), `simplified loss of ${text} at ${JSON.stringify(p)}`).toBeLessThan(1e-9);
          VARS.forEach((v, i) => {
            const g = values.get(derived.grads[i])![0];
            const want = Number(mathjs[i].evaluate({ ...p }));
            if (!Number.isFinite(want)) { stats.mathjsNotFinite++; return; }
            const where = `d/d${v} of ${text} at ${JSON.stringify(p)}: gradc ${g}`;
            expect(errors.note('gradc vs mathjs derivative', relativeError(g, want), where), `${where}, mathjs ${want}`).toBeLessThan(1e-6);
            const fd = centralDifference((t) => evaluateScalar(model.loss, { ...env, [v]: t }), p[v], 1e-5 * Math.max(1, Math.abs(p[v])));
            expect(errors.note('gradc vs central differences', relativeError(g, fd), where), `${where}, central difference ${fd}`).toBeLessThan(1e-5);
            stats.compared++;
          });
        }
      }),
      { numRuns: 300, seed: 1234 },
    );
    console.log(`property.test: formulas vs mathjs: ${JSON.stringify(stats)}`);
    // Not vacuous: most points are compared.
    expect(stats.compared).toBeGreaterThan(0.6 * VARS.length * (stats.points - stats.overflow));
    expect(stats.compared).toBeGreaterThan(1000);
  });
});

describe('simplifier rules keep the value (property)', () => {
  const builder = new ModelBuilder('simplify');
  for (const v of VARS) builder.param(v);
  const vec = param('vp', shape(4));
  const arbVector = fc.array(fc.double({ min: -3, max: 3, noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 });
  const leafOf = (name: string) => builder.expr(name);

  /**
   * A random scalar subterm that is never a constant, a negation or a product (those
   * would be rewritten at construction and hide the pattern): formula + variable.
   */
  const arbSubterm = fc.tuple(arbFormula(VARS, 3), fc.constantFrom(...VARS)).map(([t, v]) => make('add', [builder.expr(gradcText(t)), leafOf(v)]));

  interface Parts { readonly A: Node; readonly B: Node; readonly c: number; readonly wide: boolean }
  const neg = (x: Node) => make('neg', [x]);
  const call = (op: Node['op'], ...args: Node[]) => make(op, args);
  const V = (p: Parts) => make('mul', [p.A, vec]); // a vector subterm
  // One pattern per rule of REWRITES, keyed by its law.
  const PATTERNS: Record<string, (p: Parts) => Node> = {
    'a + (-b) = a - b': ({ A, B }) => call('add', A, neg(B)),
    '(-a) + b = b - a': ({ A, B }) => call('add', neg(A), B),
    'a - (-b) = a + b': ({ A, B }) => call('sub', A, neg(B)),
    '(-a) - b = -(a + b)': ({ A, B }) => call('sub', neg(A), B),
    '(-a) * b = -(a * b)': ({ A, B }) => call('mul', neg(A), B),
    'a * (-b) = -(a * b)': ({ A, B }) => call('mul', A, neg(B)),
    '(-a) / b = -(a / b)': ({ A, B }) => call('div', neg(A), B),
    'x + x = 2 * x': ({ A }) => call('add', A, A),
    'x * x = square(x)': ({ A }) => call('mul', A, A),
    // With a tensor constant c, the scalar x must be broadcast back to c's shape.
    'c * (x / c) = x (c constant, non-zero)': ({ A, c, wide }) => call('mul', constant(c, wide ? shape(3) : SCALAR), call('div', A, constant(c, wide ? shape(3) : SCALAR))),
    'log(exp(x)) = x': ({ A }) => call('log', call('exp', A)),
    'sqrt(square(x)) = abs(x)': ({ A }) => call('sqrt', call('square', A)),
    'log(sigmoid(x)) = -softplus(-x)': ({ A }) => call('log', call('sigmoid', A)),
    'log(1 - sigmoid(x)) = -softplus(x)': ({ A }) => call('log', call('sub', constant(1), call('sigmoid', A))),
    'log(1 + exp(x)) = softplus(x)': ({ A }) => call('log', call('add', constant(1), call('exp', A))),
    'log(softmax(v)) = log_softmax(v)': (p) => call('log', call('softmax', V(p))),
    'log(sum(exp(v))) = logsumexp(v)': (p) => call('log', call('sum', call('exp', V(p)))),
    'exp(v) / sum(exp(v)) = softmax(v) (v a vector)': (p) => call('div', call('exp', V(p)), call('sum', call('exp', V(p)))),
    'exp(x) / sum(exp(x)) = exp(x - logsumexp(x)) (x a scalar or a matrix)': (p) => {
      const x = p.wide ? call('outer', V(p), V(p)) : p.A; // a matrix or a scalar
      return call('div', call('exp', x), call('sum', call('exp', x)));
    },
  };

  const compare = (law: string, original: Node, rewritten: Node, env: Env): number => {
    const values = evaluate([original, rewritten], env);
    const a = values.get(original)!, b = values.get(rewritten)!;
    expect(b.length).toBe(a.length);
    let n = 0;
    a.forEach((want, i) => {
      if (!Number.isFinite(want)) return; // the rules promise equality where the original is finite
      const err = errors.note(`rewrite: ${law}`, relativeError(b[i], want));
      if (!(err < 1e-9)) throw new Error(`${law}: ${printIr([original])}\n= ${want} at ${JSON.stringify(env)}, rewritten:\n${printIr([rewritten])}\n= ${b[i]}`);
      n++;
    });
    return n;
  };

  it('every rule has a pattern here', () => {
    expect(Object.keys(PATTERNS).sort()).toEqual(REWRITES.map((r) => r.law).sort());
  });

  for (const rule of REWRITES) {
    it(rule.law, () => {
      const pattern = PATTERNS[rule.law];
      expect(pattern, `rule '${rule.law}' has no pattern in test/property.test.ts`).toBeDefined();
      let compared = 0;
      fc.assert(
        fc.property(arbSubterm, arbSubterm, fc.constantFrom(2, -3, 0.1, 7.5), fc.boolean(), arbPoint, arbVector, (A, B, c, wide, p, vp) => {
          const n = pattern({ A, B, c, wide });
          const r = rule.apply(n);
          expect(r, `the pattern of '${rule.law}' was rewritten at construction:\n${printIr([n])}`).not.toBeNull();
          const whole = simplify([n]).roots[0];
          expect(r!.shape, `'${rule.law}' changed the shape of\n${printIr([n])}`).toEqual(n.shape);
          expect(whole.shape).toEqual(n.shape);
          const env = { ...p, vp };
          compared += compare(rule.law, n, r!, env);
          compared += compare(`${rule.law} (whole simplify)`, n, whole, env);
        }),
        { numRuns: 60, seed: 99 },
      );
      expect(compared).toBeGreaterThan(30);
    });
  }

  it('simplify keeps the value of random formulas', () => {
    let compared = 0, changed = 0;
    fc.assert(
      fc.property(arbFormula(VARS, 5), arbPoint, (t, p) => {
        const n = builder.expr(gradcText(t));
        const s = simplify([n]);
        if (s.roots[0] !== n) changed++;
        compared += compare('simplify', n, s.roots[0], p);
        // The map sends every old node to an equivalent new one.
        for (const [old, now] of s.map) if (old.shape.length === 0) compare('simplify map', old, now, p);
      }),
      { numRuns: 400, seed: 7 },
    );
    expect(compared).toBeGreaterThan(300);
    expect(changed).toBeGreaterThan(5); // few random formulas match a rule; the per-rule tests above cover each one
  });

  describe('stability rules stay finite where the original overflows', () => {
    const x = input('sx');
    const v = input('sv', shape(2));
    const cases: [string, Node, Env, number[]][] = [
      ['log(sigmoid(-800)) = -800', make('log', [make('sigmoid', [x])]), { sx: -800 }, [-800]],
      ['log(1 - sigmoid(800)) = -800', make('log', [make('sub', [constant(1), make('sigmoid', [x])])]), { sx: 800 }, [-800]],
      ['log(1 + exp(800)) = 800', make('log', [make('add', [make('exp', [x]), constant(1)])]), { sx: 800 }, [800]],
      ['log(softmax([0, 1000])) = [-1000, 0]', make('log', [make('softmax', [v])]), { sv: [0, 1000] }, [-1000, 0]],
      ['log(sum(exp([1000, 1000]))) = 1000 + log 2', make('log', [make('sum', [make('exp', [v])])]), { sv: [1000, 1000] }, [1000 + Math.LN2]],
      ['exp(v) / sum(exp(v)) at [1000, 999]', make('div', [make('exp', [v]), make('sum', [make('exp', [v])])]), { sv: [1000, 999] }, [1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(1))]],
    ];
    for (const [what, n, env, want] of cases) {
      it(what, () => {
        const original = Array.from(evaluate([n], env).get(n)!);
        expect(original.some((o) => !Number.isFinite(o)), 'the unsimplified form overflows here').toBe(true);
        const s = simplify([n]).roots[0];
        const got = Array.from(evaluate([s], env).get(s)!);
        got.forEach((g, i) => expect(relativeError(g, want[i])).toBeLessThan(1e-12));
      });
    }
  });
});
