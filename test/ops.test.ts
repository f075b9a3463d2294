/**
 * One spec table of ops: every op of `OPS` (src/ir/ops.ts) has an entry in the table of
 * test/helpers/opspec.ts, and each
 * entry's gradient, derived by `differentiate` (src/3-diff/grad.ts) and evaluated by the
 * reference interpreter, is checked against central differences over a grid that
 * includes 0 and the edges of the op's domain. The loss multiplies the op's result by a
 * weight other than 1, so a rule that ignores its incoming adjoint fails.
 *
 * The test iterates over `Object.keys(OPS)`: an op added without an entry here fails.
 * The conventions at kinks (ops.ts header) are checked exactly: relu'(0) = 0,
 * abs'(0) = 0, max/min ties send the whole gradient to the first argument,
 * sqrt'(0) = +Infinity, and gt/ge/sign have zero gradient everywhere.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { constant, input, make, mul, param } from '../src/ir/build.js';
import { OPS, type Op } from '../src/ir/ops.js';
import { shape } from '../src/ir/shape.js';
import { differentiate } from '../src/3-diff/grad.js';
import { RULES } from '../src/3-diff/rules.js';
import { evaluateScalar } from '../src/interp/evaluate.js';
import { runCheck } from './helpers/gradcheck.js';
import { ErrorLog } from './helpers/numeric.js';
import { SPEC, type Spec } from './helpers/opspec.js';

const errors = new ErrorLog();
afterAll(() => console.log(errors.report('ops.test: worst relative error of gradc vs central differences, per op')));

describe('every op has a derivative rule checked against central differences', () => {
  it('the spec table, the op table and the rule table list the same ops', () => {
    expect(Object.keys(RULES).sort()).toEqual(Object.keys(OPS).sort());
  });

  for (const op of Object.keys(OPS) as Op[]) {
    it(op, () => {
      const spec = (SPEC as Partial<Record<string, Spec>>)[op];
      expect(spec, `op '${op}' has no entry in the spec table of test/helpers/opspec.ts`).toBeDefined();
      if (spec!.kind === 'leaf') {
        expect(OPS[op].kind).toBe('leaf');
        expect(RULES[op](constant(1), constant(1))).toEqual([]);
        return;
      }
      expect(OPS[op].kind, `'${op}' is a leaf in OPS but has checks`).not.toBe('leaf');
      let compared = 0;
      for (const c of spec!.checks()) {
        const r = runCheck(c);
        errors.note(op, r.maxError, c.label);
        compared += r.compared;
      }
      expect(compared).toBeGreaterThan(0);
    });
  }
});

describe('leaves', () => {
  it('a leaf differentiated with respect to itself has gradient 1, other leaves 0', () => {
    for (const mk of [param, input]) {
      const x = mk('x_leaf');
      const w = param('w_leaf');
      const g = differentiate(mul(w, x), [x, w]);
      expect(evaluateScalar(g.grads[0], { x_leaf: 2, w_leaf: 3 })).toBe(3);
      expect(evaluateScalar(g.grads[1], { x_leaf: 2, w_leaf: 3 })).toBe(2);
      expect(evaluateScalar(differentiate(x, [x]).grads[0], {})).toBe(1);
    }
    const w = param('w_leaf');
    const y = make('target', [], { name: 'y_leaf' });
    const loss = make('square', [make('sub', [w, y])]);
    const [dw, dy] = differentiate(loss, [w, y]).grads;
    expect(evaluateScalar(dw, { w_leaf: 5, y_leaf: 2 })).toBe(6);
    expect(evaluateScalar(dy, { w_leaf: 5, y_leaf: 2 })).toBe(-6);
    expect(evaluateScalar(differentiate(mul(w, constant(3.5)), [w]).grads[0], {})).toBe(3.5);
  });

  it('a leaf the loss does not read gets a zero gradient of its shape', () => {
    const w = param('w_leaf');
    const unused = param('unused_leaf', shape(2, 3));
    const g = differentiate(mul(w, w), [unused]).grads[0];
    expect(g.op).toBe('const');
    expect(g.attrs.value).toBe(0);
    expect(g.shape).toEqual([2, 3]);
  });
});

describe('emitted JavaScript of each elementwise op computes its scalar definition', () => {
  const grid = [-800, -3, -1, -0.5, -0, 0, 1e-8, 0.5, 1, 2, 40, 800, Infinity, -Infinity];
  for (const op of Object.keys(OPS) as Op[]) {
    const info = OPS[op];
    if (info.kind !== 'elementwise') continue;
    it(op, () => {
      const names = ['a', 'b', 'c'].slice(0, info.arity as number);
      const fn = new Function(...names, `return ${info.js!(...names)};`) as (...xs: number[]) => number;
      let n = 0;
      const tuples: number[][] = names.length === 1 ? grid.map((x) => [x]) : grid.flatMap((x) => grid.map((y) => [x, y, 1.5].slice(0, names.length)));
      for (const xs of tuples) {
        const want = info.scalar!(...xs);
        const got = fn(...xs);
        if (!(Object.is(got, want) || (got === want) || Math.abs(got - want) <= 1e-15 * Math.abs(want))) {
          throw new Error(`${op}(${xs.join(', ')}): emitted ${info.js!(...names)} gives ${got}, the op table says ${want}`);
        }
        n++;
      }
      expect(n).toBe(tuples.length);
    });
  }
});
