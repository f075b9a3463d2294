/**
 * The IR (src/ir): hash-consing, construction-time simplification, shape errors,
 * iterative walks on deep graphs, and second derivatives (a gradient is ordinary IR
 * and can be differentiated again).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, constant, div, input, make, mul, neg, param, select, sub } from '../src/ir/build.js';
import { type Node, intern, internedCount } from '../src/ir/node.js';

const pow = (a: Node, b: Node): Node => make('pow', [a, b]);
import { type Op, ShapeError } from '../src/ir/ops.js';
import { printIr } from '../src/ir/print.js';
import { type Shape, SCALAR, shape } from '../src/ir/shape.js';
import { consumers, dependsOn, topoOrder } from '../src/ir/walk.js';
import { differentiate } from '../src/3-diff/grad.js';
import { evaluate, evaluateScalar } from '../src/interp/evaluate.js';
import { ModelBuilder } from '../src/2-build/builder.js';
import { centralDifference, relativeError } from './helpers/numeric.js';

const x = param('x');
const y = param('y');
const u = param('u', shape(3));
const v = param('v', shape(3));
const M = param('M', shape(2, 3));
const ENV = { x: 0.7, y: -1.3, u: [0.5, -2, 1.5], v: [-0.25, 3, 0.125], M: [1, -1, 2, 0.5, -3, 0.25] };
const value = (n: Node) => Array.from(evaluate([n], ENV).get(n)!);

describe('hash-consing', () => {
  it('the same op on the same arguments is the same object', () => {
    expect(make('add', [x, y])).toBe(make('add', [x, y]));
    expect(intern('sin', [x])).toBe(intern('sin', [x]));
    expect(param('x')).toBe(x);
    expect(constant(2.5)).toBe(constant(2.5));
    expect(make('index', [u], { start: 1 })).toBe(make('index', [u], { start: 1 }));
  });

  it('equal subexpressions built separately are one node, and building them again makes no node', () => {
    const build = () => add(mul(make('sin', [add(x, y)]), make('exp', [x])), make('sin', [add(x, y)]));
    const a = build();
    const count = internedCount();
    const b = build();
    expect(b).toBe(a);
    expect(internedCount()).toBe(count);
    // The two sin(x + y) inside are one node.
    const sins = topoOrder([a]).filter((n) => n.op === 'sin');
    expect(sins).toHaveLength(1);
  });

  it('formulas share nodes with each other and with builder calls', () => {
    const m = new ModelBuilder('hc');
    m.param('a');
    m.param('b');
    const f = m.expr('sin(a) * b + sin(a)');
    const g = m.expr('sin(a)');
    expect(f.args.some((n) => n === g)).toBe(true);
    expect(m.expr('a * b')).toBe(make('mul', [param('a'), param('b')]));
  });

  it('different attributes or shapes are different nodes', () => {
    expect(constant(1)).not.toBe(constant(1, shape(3)));
    expect(constant(0)).not.toBe(constant(-0)); // -0 is kept: 1 / -0 = -Infinity
    expect(param('x')).not.toBe(input('x'));
    expect(param('x')).not.toBe(param('x', shape(3)));
    expect(make('index', [u], { start: 0 })).not.toBe(make('index', [u], { start: 1 }));
    expect(make('slice', [u], { start: 0 }, shape(2))).not.toBe(make('slice', [u], { start: 1 }, shape(2)));
  });

  it('nodes are immutable', () => {
    const n = make('add', [x, y]);
    expect(Object.isFrozen(n)).toBe(true);
    expect(Object.isFrozen(n.args)).toBe(true);
    expect(Object.isFrozen(n.attrs)).toBe(true);
  });

  it('gradients are hash-consed with the forward graph', () => {
    const e = make('exp', [x]);
    expect(differentiate(e, [x]).grads[0]).toBe(e); // d exp(x) = exp(x): the forward node itself
    const c = make('cos', [x]);
    expect(differentiate(make('sin', [x]), [x]).grads[0]).toBe(c);
  });
});

describe('construction-time simplification', () => {
  const zero = constant(0);
  const one = constant(1);
  const two = constant(2);
  const three = constant(3);
  const s = make('sin', [x]);
  // [rule, built, expected node]
  const cases: [string, () => Node, Node][] = [
    ['constant folding', () => add(two, three), constant(5)],
    ['constant folding of functions', () => make('exp', [zero]), one],
    ['constant folding of a tensor constant keeps the shape', () => mul(two, constant(3, shape(3))), constant(6, shape(3))],
    ['x + 0', () => add(s, zero), s],
    ['0 + x', () => add(zero, s), s],
    ['c + x = x + c', () => add(two, s), add(s, two)],
    ['x - 0', () => sub(s, zero), s],
    ['0 - x', () => sub(zero, s), neg(s)],
    ['x - x', () => sub(s, s), zero],
    ['x * 1', () => mul(s, one), s],
    ['1 * x', () => mul(one, s), s],
    ['x / 1', () => div(s, one), s],
    ['x * 0', () => mul(s, zero), zero],
    ['0 * x', () => mul(zero, s), zero],
    ['0 / x', () => div(zero, s), zero],
    ['x * -1', () => mul(s, constant(-1)), neg(s)],
    ['x * c = c * x', () => mul(s, three), mul(three, s)],
    ['c1 * (c2 * x)', () => mul(two, mul(three, s)), mul(constant(6), s)],
    ['-(-x)', () => neg(neg(s)), s],
    ['-(c * x)', () => neg(mul(three, s)), mul(constant(-3), s)],
    ['x ^ 1', () => pow(s, one), s],
    ['x ^ 0', () => pow(s, zero), one],
    ['x ^ 2', () => pow(s, two), make('square', [s])],
    ['(-x)^2', () => make('square', [neg(s)]), make('square', [s])],
    ['select(c, x, x)', () => select(y, s, s), s],
    ['select(true, a, b)', () => select(two, s, y), s],
    ['select(false, a, b)', () => select(zero, s, y), y],
    ['transpose(transpose(M))', () => make('transpose', [make('transpose', [M])]), M],
    ['transpose of a vector', () => make('transpose', [u]), u],
    ['sum(const)', () => make('sum', [constant(2, shape(2, 3))]), constant(12)],
    ['sum(broadcast(x))', () => make('sum', [make('broadcast', [s], {}, shape(4))]), mul(constant(4), s)],
    ['broadcast(const)', () => make('broadcast', [two], {}, shape(3)), constant(2, shape(3))],
    ['dot(0, v)', () => make('dot', [constant(0, shape(3)), v]), zero],
  ];
  for (const [rule, build, expected] of cases) {
    it(rule, () => {
      const n = build();
      expect(n).toBe(expected);
    });
  }

  it('shapes never change by simplification', () => {
    // Each result is smaller than the op's result and is broadcast back.
    expect(add(u, constant(0)).shape).toEqual([3]);
    expect(add(x, constant(0, shape(3))).shape).toEqual([3]);
    expect(add(x, constant(0, shape(3)))).toBe(make('broadcast', [x], {}, shape(3)));
    expect(mul(x, constant(0, shape(2, 3)))).toBe(constant(0, shape(2, 3)));
    expect(mul(constant(1, shape(3)), x).shape).toEqual([3]);
    expect(sub(x, x).shape).toEqual(SCALAR);
    expect(sub(u, u)).toBe(constant(0, shape(3)));
    expect(pow(u, constant(0)).shape).toEqual([3]);
    expect(select(constant(1, shape(3)), x, y).shape).toEqual([3]);
    expect(mul(constant(2), mul(constant(3), u))).toBe(mul(constant(6), u));
  });

  // Oracle: `intern` builds the op exactly as written (no rewrites); `make` rewrites.
  // Both are evaluated by the interpreter; the values must agree wherever the
  // unrewritten value is finite (the rewrites assume finite operands), and so must shapes.
  const pool: Node[] = [x, y, u, v, M, constant(0), constant(-0), constant(1), constant(-1), constant(2), constant(0.5), constant(0, shape(3)), constant(1, shape(3)), constant(2, shape(3)), neg(x), mul(constant(2), x), mul(constant(3), u), make('square', [y]), make('transpose', [M])];
  type Tree = { leaf: number } | { op: Op; args: Tree[] };
  const UNARY: Op[] = ['neg', 'exp', 'log', 'sqrt', 'abs', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'softplus', 'square', 'sign', 'transpose', 'sum', 'broadcast'];
  const BINARY: Op[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'gt', 'ge', 'dot', 'matmul'];
  const tree = fc.letrec<{ t: Tree }>((tie) => ({
    t: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.integer({ min: 0, max: pool.length - 1 }).map((leaf): Tree => ({ leaf })),
      fc.tuple(fc.constantFrom(...UNARY), tie('t')).map(([op, a]): Tree => ({ op, args: [a] })),
      fc.tuple(fc.constantFrom(...BINARY), tie('t'), tie('t')).map(([op, a, b]): Tree => ({ op, args: [a, b] })),
      fc.tuple(tie('t'), tie('t'), tie('t')).map(([c, a, b]): Tree => ({ op: 'select', args: [c, a, b] })),
    ),
  })).t;

  function build(t: Tree, construct: (op: Op, args: Node[], out?: Shape) => Node): Node {
    if ('leaf' in t) return pool[t.leaf];
    const args = t.args.map((a) => build(a, construct));
    return construct(t.op, args, t.op === 'broadcast' ? shape(3) : undefined);
  }

  it('every rewrite keeps the value and the shape (property, against unrewritten IR)', () => {
    let compared = 0;
    let rewritten = 0;
    fc.assert(
      fc.property(tree, (t) => {
        let raw: Node;
        try {
          raw = build(t, (op, args, out) => intern(op, args, {}, out));
        } catch (e) {
          if (!(e instanceof ShapeError)) throw e;
          expect(() => build(t, (op, args, out) => make(op, args, {}, out))).toThrow(ShapeError);
          return;
        }
        const simplified = build(t, (op, args, out) => make(op, args, {}, out));
        expect(simplified.shape).toEqual(raw.shape);
        if (simplified !== raw) rewritten++;
        const a = value(raw);
        const b = value(simplified);
        a.forEach((want, i) => {
          if (!Number.isFinite(want)) return;
          compared++;
          if (!(b[i] === want || Math.abs(b[i] - want) <= 1e-13 * Math.abs(want))) {
            throw new Error(`element ${i}: ${printIr([raw])}\n= ${want}, rewritten to\n${printIr([simplified])}\n= ${b[i]}`);
          }
        });
      }),
      { numRuns: 2000, seed: 42 },
    );
    expect(rewritten).toBeGreaterThan(200);
    expect(compared).toBeGreaterThan(2000);
  });
});

describe('shape errors name the op and both shapes', () => {
  const cases: [string, () => Node, string[]][] = [
    ['add of vectors of different lengths', () => add(u, param('w4', shape(4))), ['add', '[3]', '[4]']],
    ['mul of a vector and a matrix', () => mul(u, M), ['mul', '[3]', '[2x3]']],
    ['matmul with mismatched inner dimensions', () => make('matmul', [M, param('w2', shape(2))]), ['matmul', '[2x3]', '[2]']],
    ['matmul of two matrices that do not chain', () => make('matmul', [M, M]), ['matmul', '[2x3]', '[2x3]']],
    ['dot of vectors of different lengths', () => make('dot', [u, param('w4', shape(4))]), ['dot', '[3]', '[4]']],
    ['select with mismatched branches', () => select(x, u, param('w4', shape(4))), ['select', '[3]', '[4]']],
  ];
  for (const [what, build, parts] of cases) {
    it(what, () => {
      let message = '';
      try {
        build();
      } catch (e) {
        expect(e).toBeInstanceOf(ShapeError);
        message = (e as Error).message;
      }
      for (const p of parts) expect(message).toContain(p);
    });
  }

  it('a formula with mismatched shapes reports both shapes', () => {
    const m = new ModelBuilder('shapes');
    m.param('p', { shape: 3 });
    m.param('q', { shape: 4 });
    expect(() => m.expr('p + q')).toThrow(/\[3\].*\[4\]/);
  });
});

describe('iterative walks on a 100,000-node chain', () => {
  const N = 100_000;
  // h_{k+1} = sin(h_k), h_0 = x: 100,001 nodes deep; a recursive walk would overflow the
  // stack. (simplify() on a chain this deep runs in test/structure.test.ts, through generate().)
  it('topoOrder lists every node once, each after its arguments; differentiate, evaluate and printIr go through it', () => {
    let h: Node = x;
    for (let k = 0; k < N; k++) h = make('sin', [h]);
    const order = topoOrder([h]);
    expect(order).toHaveLength(N + 1);
    expect(order[0]).toBe(x);
    expect(order[N]).toBe(h);
    const position = new Map(order.map((n, i) => [n, i]));
    let misplaced = 0;
    for (const n of order) for (const a of n.args) if (!(position.get(a)! < position.get(n)!)) misplaced++;
    expect(misplaced).toBe(0);
    expect(consumers(order).get(x)).toHaveLength(1);
    expect(dependsOn(order, (n) => n === x).size).toBe(N + 1);
    expect(printIr([h]).split('\n')).toHaveLength(N + 2);

    const g = differentiate(h, [x]).grads[0];
    // d/dx sin^N(x) = prod_k cos(h_k), by a forward-mode loop.
    let hk = 0.7, d = 1;
    for (let k = 0; k < N; k++) { d *= Math.cos(hk); hk = Math.sin(hk); }
    const values = evaluate([h, g], { x: 0.7 });
    expect(values.get(h)![0]).toBe(hk);
    expect(relativeError(values.get(g)![0], d, 1e-300)).toBeLessThan(1e-9);
  });
});

describe('second derivatives: a gradient differentiated again', () => {
  // Each function of (x, y), in formula syntax; second derivatives are checked against
  // central differences of the (interpreted) first derivatives.
  const functions: [string, number, number][] = [
    ['sin(x) * exp(y)', 0.3, -0.4],
    ['sigmoid(x * y)', 0.8, -1.1],
    ['tanh(x)^2 + x^3 * y', 0.5, 1.7],
    ['log(x^2 + 1) / (y^2 + 1)', -1.2, 0.6],
    ['softplus(x - y) + cos(x) * y', 0.4, 2.2],
    ['sqrt(x^2 + y^2 + 1)', 1.5, -0.5],
    ['x^y', 1.7, 0.8],
    ['relu(x) * y^2 + max(x, y) * x', 0.9, -0.3],
    ['abs(x - y) * square(y)', 2, 0.5],
    ['exp(x) / (1 + exp(y))', -0.7, 0.2],
    ['logsumexp(concat(x, y, x * y))', 0.1, 0.9],
  ];
  const m = new ModelBuilder('second');
  const px = m.param('sx');
  const py = m.param('sy');
  const vars = [px, py];

  for (const [f, x0, y0] of functions) {
    it(f, () => {
      const node = m.expr(f.replace(/\bx\b/g, 'sx').replace(/\by\b/g, 'sy'));
      const grads = differentiate(node, vars).grads;
      const hessian = grads.map((g) => differentiate(g, vars).grads);
      const at = { sx: x0, sy: y0 };
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          const name = j === 0 ? 'sx' : 'sy';
          const fd = centralDifference((t) => evaluateScalar(grads[i], { ...at, [name]: t }), at[name]);
          const h = evaluateScalar(hessian[i][j], at);
          expect(relativeError(h, fd), `d2/d${i === 0 ? 'x' : 'y'}d${j === 0 ? 'x' : 'y'} ${f}: ${h} vs ${fd}`).toBeLessThan(1e-6);
        }
      }
      expect(relativeError(evaluateScalar(hessian[0][1], at), evaluateScalar(hessian[1][0], at))).toBeLessThan(1e-12);
    });
  }

  it('a third derivative: d3/dx3 sin(x) = -cos(x)', () => {
    let d = make('sin', [px]);
    for (let k = 0; k < 3; k++) d = differentiate(d, [px]).grads[0];
    expect(evaluateScalar(d, { sx: 0.3 })).toBeCloseTo(-Math.cos(0.3), 14);
  });
});

describe('reverse mode', () => {
  it('only nodes on a path from a requested leaf to the loss get adjoints', () => {
    const a = param('ra');
    const c = input('rc');
    const side = make('sin', [make('exp', [c])]);
    const loss = add(mul(a, c), side);
    const g = differentiate(loss, [a]);
    expect(g.adjoints.has(side)).toBe(false);
    expect(g.adjoints.has(make('exp', [c]))).toBe(false);
    expect(g.adjoints.has(mul(a, c))).toBe(true);
    // Every node the backward pass created names a forward node of the loss graph.
    const forward = new Set(topoOrder([loss]));
    for (const f of g.origin.values()) expect(forward.has(f)).toBe(true);
  });

  it('the adjoints of a node used several times are summed', () => {
    const a = param('ra');
    const e = make('exp', [a]);
    const loss = add(mul(e, e), make('sin', [e])); // d/da = (2 e + cos e) e
    const val = evaluateScalar(differentiate(loss, [a]).grads[0], { ra: 0.4 });
    const ea = Math.exp(0.4);
    expect(val).toBeCloseTo((2 * ea + Math.cos(ea)) * ea, 13);
  });

  it('a non-scalar loss is rejected', () => {
    expect(() => differentiate(u, [u])).toThrow(/scalar/);
  });
});
