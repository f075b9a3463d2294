// Issue 7, hostile model input (items 5, 6, 7 (parse half), 9, 19, 20, 21): every case is a
// located GradcError or compiles correctly; never a crash, a hang, or user text run as code.
import { describe, expect, it } from 'vitest';
import { buildModel, compile, defineModel, generate, GradcError, ModelBuilder, type ModelDefinition, type ModelSpec } from '../src/index.js';
import { MAX_NESTING, QUOTE_LIMIT } from '../src/1-parse/formula.js';
import { DEFAULT_MAX_ELEMENTS } from '../src/options.js';
import { numberText } from '../src/6-emit/module.js';
import { excerpt } from '../src/cli/modelFile.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The GradcError that `f` throws (fails the test when it throws nothing or something else). */
function gradcError(f: () => unknown): GradcError {
  try {
    f();
  } catch (e) {
    if (!(e instanceof GradcError)) throw new Error(`expected a GradcError, got ${(e as Error)?.stack ?? String(e)}`);
    return e;
  }
  throw new Error('expected a GradcError, but nothing was thrown');
}

const spec = (formulas: string, more: Partial<ModelSpec> = {}): ModelDefinition =>
  defineModel({ name: 'm', inputs: { x: 'scalar', v: 3 }, targets: ['y'], params: { w: 0.5 }, formulas, ...more });
const formulasError = (formulas: string, more: Partial<ModelSpec> = {}) => gradcError(() => buildModel(spec(formulas, more)));

describe('item 5: names inherited from Object.prototype are unknown functions, not crashes', () => {
  const inherited = ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

  it.each(inherited)('%s(...) in a formula is a located unknown-function error', (fn) => {
    const line = `loss = ${fn}(w*x)`;
    const e = formulasError(line);
    expect(e.problem).toMatch(new RegExp(`^unknown function '${fn}'`));
    expect(e.where).toMatchObject({ line: 1, column: 8, symbol: fn });
  });

  it.each(inherited)("m.call('%s', ...) is an unknown-function error", (fn) => {
    const e = gradcError(() => buildModel(defineModel('c', (m) => { m.loss(m.call(fn, m.param('w', 1))); })));
    expect(e.problem).toMatch(new RegExp(`^unknown function '${fn}'`));
  });

  it("an unknown activation in m.mlp / m.dense / m.activate lists the activations", () => {
    for (const use of [
      (m: ModelBuilder) => m.mlp(m.input('x', 2), [2], 'swish' as never),
      (m: ModelBuilder) => m.mlp(m.input('x', 2), [2], 'tanh', 'toString' as never),
      (m: ModelBuilder) => m.dense(m.input('x', 2), 2, 'constructor' as never),
      (m: ModelBuilder) => m.activate(m.param('w', 1), '__proto__' as never),
    ]) {
      const e = gradcError(() => buildModel(defineModel('c', (m) => { m.loss(m.sum(use(m))); })));
      expect(e.problem).toMatch(/^unknown activation '.*' \(supported: linear, sigmoid, tanh, relu, softplus, exp\)$/);
    }
  });
});

describe('item 6: names that would break the generated objects', () => {
  it("'__proto__' and other Object.prototype names are refused as parameter, input, target or definition names", () => {
    const cases: (() => unknown)[] = [
      () => buildModel(defineModel({ name: 'm', inputs: ['__proto__'], targets: [], params: { w: 1 }, formulas: 'loss = w^2' })),
      () => buildModel(defineModel({ name: 'm', inputs: [], targets: ['constructor'], params: { w: 1 }, formulas: 'loss = w^2' })),
      () => buildModel(defineModel({ name: 'm', inputs: [], targets: [], params: JSON.parse('{"__proto__": 1, "w": 1}'), formulas: 'loss = w^2' })),
      () => buildModel(defineModel({ name: 'm', inputs: [], targets: [], params: { w: 1 }, formulas: 'toString = w^2\nloss = toString' })),
      () => buildModel(defineModel('m', (m) => { m.loss(m.param('valueOf', 1)); })),
    ];
    for (const c of cases) {
      const e = gradcError(c);
      expect(e.problem).toMatch(/^'(__proto__|constructor|toString|valueOf)' cannot be used as a name: every JavaScript object already has a property/);
    }
  });

  it("'__proto__' written in an object literal (which sets the prototype) is an error, not a vanished name", () => {
    const e = gradcError(() => buildModel(defineModel({ name: 'm', inputs: [], targets: [], params: { __proto__: [1, 2], w: 1 } as never, formulas: 'loss = w^2' })));
    expect(e.problem).toMatch(/'params' is not a plain object; was '__proto__' used as a name\?/);
    // A number for __proto__ is dropped by JavaScript itself; reading the name then says why.
    const f = gradcError(() => buildModel(defineModel({ name: 'm', inputs: [], targets: [], params: { __proto__: 1, w: 1 } as never, formulas: 'loss = w^2 + __proto__' })));
    expect(f.problem).toMatch(/^unknown symbol '__proto__': '__proto__' cannot name a value .*sets the prototype/);
    expect(f.where).toMatchObject({ line: 1, column: 14 });
  });

  it('JavaScript reserved words and names of generated identifiers compile and round-trip in both lowerings', () => {
    const names = ['class', 'delete', 'new', 'prototype', 'Floats', 'INPUT_SIZE', 'Math', 'SampleError', 'forward', 'params', 't0', 'd_w', 'rand', 'seed', 'src', 'at', 'lr'];
    const params = Object.fromEntries(names.map((n) => [n, { shape: 2, init: [1, 2] }]));
    const formulas = `out = ${names.map((n) => `dot(${n}, x)`).join(' + ')}\nloss = (out - y)^2`;
    for (const lowering of ['unrolled', 'loops'] as const) {
      const m = compile(defineModel({ name: 'm', inputs: { x: 2 }, targets: ['y'], params, formulas }), { lowering });
      const p = m.initParams() as Record<string, Float64Array>;
      expect(Object.keys(p)).toEqual(names);
      for (const n of names) expect([...p[n]]).toEqual([1, 2]);
      const g = m.gradient(p, { x: [1, 1] }, { y: 0 });
      expect(g.loss).toBe((3 * names.length) ** 2);
      for (const n of names) expect([...(g.grad as Record<string, Float64Array>)[n]]).toEqual([6 * names.length, 6 * names.length]);
    }
    // ... and as input and output names.
    const m = compile(defineModel({ name: 'm', inputs: ['class'], targets: ['delete'], params: { w: 2 }, formulas: 'new = w * class\nloss = (new - delete)^2', outputs: ['new'] }));
    expect(m.forward(m.initParams(), { class: 3 })).toEqual({ new: 6 });
  });

  it('a model name that would end a comment in the generated header is refused', () => {
    for (const name of ['a\nglobalThis.PWNED = 1', 'x */ globalThis.PWNED = 1 /*', '']) {
      gradcError(() => generate(defineModel({ name, inputs: [], targets: [], params: { w: 1 }, formulas: 'loss = w^2' })));
    }
    expect((globalThis as { PWNED?: unknown }).PWNED).toBeUndefined();
  });
});

describe('item 7 (parse): long and deep formulas', () => {
  it('a formula line with 5000 terms builds, and one with 3000 terms compiles and is right', () => {
    const terms = (n: number) => `loss = ${Array(n).fill('w*x').join(' + ')}`;
    const model = buildModel(spec(terms(5000)));
    expect(model.params.map((p) => p.name)).toEqual(['w']);
    const m = compile(spec(terms(3000)));
    expect(m.loss({ w: 0.5 }, { x: 2, v: [0, 0, 0] }, { y: 0 })).toBeCloseTo(3000, 6);
    expect(m.gradient({ w: 0.5 }, { x: 2, v: [0, 0, 0] }, { y: 0 }).grad.w).toBeCloseTo(6000, 6);
  }, 120_000);

  it('a sum of 3000 distinct symbols builds and reads all of them', () => {
    const names = Array.from({ length: 3000 }, (_, i) => `a${i + 1}`);
    const model = buildModel(defineModel({ name: 'm', inputs: names, targets: [], params: { w: 1 }, formulas: `loss = w * (${names.join(' + ')})` }));
    expect(model.inputs).toHaveLength(3000);
  }, 60_000);

  it('nesting deeper than the parser allows is a located error that does not echo the formula', () => {
    const depth = 5000;
    const line = `loss = ${'('.repeat(depth)}w*x${')'.repeat(depth)}`;
    expect(line.length).toBeGreaterThan(10_000);
    const e = formulasError(line);
    expect(e.problem).toMatch(new RegExp(`^formula nests too deeply: more than ${MAX_NESTING} levels`));
    expect(e.where).toMatchObject({ line: 1, column: 8 + MAX_NESTING });
    expect(e.message.length).toBeLessThan(400);
    expect(e.message).toContain('...');
    // Builder door, and function calls nest too.
    const f = gradcError(() => buildModel(defineModel('c', (m) => { m.loss(m.expr(`${'exp('.repeat(300)}${m.param('w', 1) && 'w'}${')'.repeat(300)}`)); })));
    expect(f.problem).toMatch(/^formula nests too deeply/);
    // Just under the limit is fine.
    expect(buildModel(spec(`loss = ${'('.repeat(MAX_NESTING - 5)}w*x${')'.repeat(MAX_NESTING - 5)}`)).params).toHaveLength(1);
  });

  it("the CLI's source excerpt of a 20 KB line is a window around the caret", () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gradc-input-')), 'long.model.ts');
    const line = `  yhat = ${'('.repeat(10_000)}w${')'.repeat(10_000)}`;
    writeFileSync(file, `// model\n${line}\n`);
    const shown = excerpt({ file, line: 2, column: 5009 })!;
    expect(shown.length).toBeLessThan(400);
    const [text, caret] = shown.split('\n');
    expect(text).toMatch(/^ {2}2 \| \.\.\.\(+\.\.\.$/);
    expect(caret.indexOf('^')).toBeGreaterThan(0);
    expect(caret.indexOf('^')).toBeLessThan(text.length);
    // Short lines are shown whole, caret under the column.
    writeFileSync(file, 'loss = w * q\n');
    expect(excerpt({ file, line: 1, column: 12 })).toBe('  1 | loss = w * q\n    |            ^');
  });

  it('a long chain the parser recurses on (unary minus, powers) builds or is a GradcError, never a stack overflow', () => {
    for (const [line, column] of [[`loss = ${'-'.repeat(20_000)}w*x`, 8], [`loss = w${'^w'.repeat(20_000)}`, 9], [`loss = w*x + ${'+'.repeat(20_000)}w`, 12]] as const) {
      try {
        buildModel(spec(line));
      } catch (e) {
        expect(e).toBeInstanceOf(GradcError);
        expect((e as GradcError).problem).toMatch(/^formula nests too deeply for the parser/);
        expect((e as GradcError).where).toMatchObject({ line: 1, column });
        expect((e as GradcError).message.length).toBeLessThan(400);
      }
    }
  }, 60_000);

  it('error messages quote at most QUOTE_LIMIT characters of a long formula', () => {
    const long = `loss = ${Array(2000).fill('w*x').join(' + ')} * * x`;
    const e = formulasError(long);
    expect(e.problem).toMatch(/^formula does not parse/);
    expect(e.problem.length).toBeLessThan(QUOTE_LIMIT + 200);
    const shape = formulasError(`loss = sum((${Array(2000).fill('w*x').join(' + ')}) * v + concat(w, w))`);
    expect(shape.problem).toMatch(/^shape mismatch in '/);
    expect(shape.problem.length).toBeLessThan(QUOTE_LIMIT + 200);
  });
});

describe('item 9: compile/generate options are validated', () => {
  const model = () => spec('loss = (w*x - y)^2');
  it.each([
    [{ maxBatch: 0 }, /'maxBatch' must be a positive integer, got 0/],
    [{ maxBatch: 2.5 }, /'maxBatch' must be a positive integer, got 2.5/],
    [{ maxBatch: -3 }, /'maxBatch' must be a positive integer/],
    [{ maxBatch: NaN }, /'maxBatch' must be a positive integer, got NaN/],
    [{ chunkSize: 0 }, /'chunkSize' must be a positive integer, got 0/],
    [{ chunkSize: -1 }, /'chunkSize' must be a positive integer, got -1/],
    [{ chunkSize: '10' }, /'chunkSize' must be a positive integer, got "10"/],
    [{ lowering: 'fast' }, /'lowering' must be one of 'auto', 'unrolled', 'loops', got "fast"/],
    [{ precision: 'f16' }, /'precision' must be one of 'f64', 'f32', got "f16"/],
    [{ unrollLimit: -1 }, /'unrollLimit' must be a non-negative integer \(or Infinity\), got -1/],
    [{ unrollLimit: 1.5 }, /'unrollLimit' must be a non-negative integer/],
    [{ maxElements: 0 }, /'maxElements' must be a positive integer/],
    [{ maxBach: 8 }, /unknown option 'maxBach' \(did you mean 'maxBatch'\?\)/],
  ])('%o is a GradcError', (options, message) => {
    for (const f of [() => compile(model(), options as never), () => generate(model(), options as never)]) {
      expect(gradcError(f).message).toMatch(message);
    }
  });

  it('valid options still compile (unrollLimit Infinity, undefined values)', () => {
    for (const options of [{ unrollLimit: Infinity }, { maxBatch: 1, lowering: 'loops' }, { chunkSize: 1, precision: 'f32' }, { maxBatch: undefined, chunkSize: undefined }] as const) {
      const m = compile(model(), options);
      expect(m.loss({ w: 2 }, { x: 3, v: [0, 0, 0] }, { y: 1 })).toBe(25);
    }
    gradcError(() => compile(model(), null as never));
  });
});

describe('item 19: initializers are validated and never pasted in as code', () => {
  const withParam = (p: unknown, formulas = 'loss = sum(w) * x') => () => compile(defineModel({ name: 'm', inputs: ['x'], targets: [], params: { w: p } as never, formulas }));

  it('init values that are not finite numbers are errors naming the parameter; nothing is executed', () => {
    const cases: [unknown, RegExp][] = [
      [{ shape: 2, init: ['(globalThis.PWNED = 7)', 2] }, /parameter 'w' has bad initial values: value 0 is "\(globalThis.PWNED = 7\)"/],
      [['(globalThis.PWNED = 7)', 2], /parameter 'w' has bad initial values: value 0 is "\(globalThis.PWNED = 7\)"/],
      [{ shape: 2, init: { kind: 'constant', value: '1); globalThis.PWNED = 7; (1' } }, /initializer 'constant' needs 'value' as a finite number/],
      [{ shape: 2, init: { kind: 'uniform', low: '0), globalThis.PWNED = 7, (0', high: 1 } }, /initializer 'uniform' needs 'low' as a finite number/],
      [{ shape: 2, init: { kind: 'normal', std: { toString: () => 'globalThis.PWNED = 7' } } }, /initializer 'normal' needs 'std' as a finite number, got an object/],
      [{ shape: 2, init: { kind: 'values', values: [1, '2'] } }, /value 1 is "2"/],
      [null, /parameter 'w' is given as null; expected an initial value/],
      ['abc', /parameter 'w' is given as "abc"/],
      [{ init: 'abc' }, /parameter 'w' has initializer "abc"; expected a finite number, an array of values, 'zeros', 'glorot', 'he', or \{ kind: /],
      [{ init: null }, /parameter 'w' has initializer null/],
      [NaN, /parameter 'w' has initial value NaN; it must be a finite number/],
      [Infinity, /parameter 'w' has initial value Infinity/],
      [[1, NaN], /value 1 is NaN/],
      [{ shape: 2, init: { kind: 'xavier' } }, /initializer of unknown kind "xavier"/],
      [{ shape: 2, init: { kind: 'toString' } }, /initializer of unknown kind "toString"/],
      [{ shape: 2, init: { kind: 'uniform', low: 1, high: 0 } }, /needs low <= high, got low 1, high 0/],
      [{ shape: 2, init: { kind: 'uniform', low: -Infinity, high: 0 } }, /needs 'low' as a finite number, got -Infinity/],
      [{ shape: 2, init: { kind: 'normal', std: -1 } }, /needs std >= 0/],
      [{ shape: 3, init: [1, 2] }, /2 values \(shape \[3\]: 3 finite numbers\)/],
      [{ shape: [2, 2], init: [[1, 2], [3]] }, /rows of lengths \[2, 1\]/],
      [{ shape: 2, init: [[1], [2]] }, /nested arrays for a vector/],
      [{ kind: 'normal', std: 1 }, /unknown field 'kind' \(expected \{ shape, init \}; an initializer goes in \{ init: \{ kind: \.\.\. \} \}\)/],
    ];
    for (const [p, message] of cases) {
      const e = gradcError(withParam(p));
      expect(e.message).toMatch(message);
      expect(e.where.symbol).toBe('w');
    }
    expect((globalThis as { PWNED?: unknown }).PWNED).toBeUndefined();
  });

  it('valid initializers keep working: rows for a matrix, -0, extreme finite values round-trip exactly', () => {
    const m = compile(defineModel({ name: 'm', inputs: ['x'], targets: [], params: { W: [[1, 2], [3, 4]], v: { shape: [2, 2], init: { kind: 'values', values: [[5, 6], [7, 8]] } as never }, z: -0, t: [Number.MIN_VALUE, Number.MAX_VALUE, 0.1 + 0.2] }, formulas: 'loss = (sum(W) + sum(v) + z + sum(t) * 0) * x' }));
    const p = m.initParams() as Record<string, number | Float64Array>;
    expect([...(p.W as Float64Array)]).toEqual([1, 2, 3, 4]);
    expect([...(p.v as Float64Array)]).toEqual([5, 6, 7, 8]);
    expect(Object.is(p.z, -0)).toBe(true);
    expect([...(p.t as Float64Array)]).toEqual([Number.MIN_VALUE, Number.MAX_VALUE, 0.1 + 0.2]);
  });

  it('numberText is the only way numbers reach generated code: finite only, exact round-trip', () => {
    for (const v of [0, -0, 1, -1.5, 0.1 + 0.2, 1e-320, Number.MAX_VALUE, -Number.MIN_VALUE, 2 ** 53 + 2]) {
      expect(Object.is(Number(numberText(v)), v)).toBe(true);
    }
    for (const bad of [NaN, Infinity, -Infinity, '1', '(globalThis.PWNED = 7)', null, undefined, {}]) expect(() => numberText(bad)).toThrow();
  });

  it('the seed must be an integer', () => {
    for (const seed of [1.5, NaN, '1; globalThis.PWNED = 7' as never]) {
      expect(gradcError(() => generate(spec('loss = w*x', { seed }))).problem).toMatch(/^the seed must be an integer/);
      expect(gradcError(() => generate(defineModel('c', (m) => { m.setSeed(seed); m.loss(m.param('w', 1)); }))).problem).toMatch(/^the seed must be an integer/);
    }
  });

  it('non-finite numbers given to builder operations are errors', () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      expect(gradcError(() => buildModel(defineModel('c', (m) => { m.loss(m.mul(m.param('w', 1), v)); }))).problem).toMatch(/is not a finite number/);
    }
  });
});

describe('item 20: non-finite literals in formulas are located errors', () => {
  it.each([
    ['NaN', /^'NaN' is not allowed in a formula: constants must be finite numbers$/, 'NaN'],
    ['Infinity', /^'Infinity' is not allowed in a formula/, 'Infinity'],
    ['-Infinity', /^'Infinity' is not allowed in a formula/, 'Infinity'],
    ['1e400', /^the literal 1e400 is too large: it overflows to Infinity/, '1e400'],
    ['2.5E+309', /^the literal 2.5E\+309 is too large/, '2.5E+309'],
    ['1e-400', /^the literal 1e-400 is too small: it underflows to 0/, '1e-400'],
    ['0.5e-330', /^the literal 0.5e-330 is too small/, '0.5e-330'],
  ])('%s', (literal, message, pointed) => {
    const line = `yhat = w*x\nloss = (yhat - y)^2 / ${literal}`;
    const e = formulasError(line);
    expect(e.problem).toMatch(message);
    expect(e.where.line).toBe(2);
    expect(line.split('\n')[1].slice(e.where.column! - 1)).toMatch(new RegExp(`^${pointed.replace(/[.+]/g, '\\$&')}`));
  });

  it('zero written any way, tiny but representable numbers and -0 are fine', () => {
    for (const literal of ['0', '0.0', '0e5', '-0', '5e-324', '1e308']) {
      expect(() => buildModel(spec(`loss = (w*x - y)^2 + ${literal}`))).not.toThrow();
    }
  });
});

describe('item 21: absurd shapes', () => {
  it('a tensor past maxElements is an error stating the bound and how to raise it', () => {
    const e = gradcError(() => generate(defineModel({ name: 'm', inputs: [], targets: [], params: { w: { shape: [1e6, 1e6] } }, formulas: 'loss = sum(w)' })));
    expect(e.problem).toBe(`'w' has 1000000000000 elements (shape [1000000x1000000]), more than the limit of ${DEFAULT_MAX_ELEMENTS} elements per tensor; if that is intended, raise the limit with the option { maxElements: 1000000000000 } (compile/generate options, or defineModel)`);
    expect(e.where.symbol).toBe('w');
    for (const f of [
      () => buildModel(defineModel({ name: 'm', inputs: { x: [1e4, 1e4] }, targets: [], params: { w: 1 }, formulas: 'loss = w * sum(x)' })),
      () => buildModel(defineModel({ name: 'm', inputs: { v: 1e4 }, targets: [], params: { w: 1 }, formulas: 'o = outer(v, v)\nloss = w * sum(o)' })), // an intermediate
      () => buildModel(defineModel({ name: 'm', inputs: { v: 1e4 }, targets: [], params: { w: 1 }, formulas: 'o = outer(v, v)\nloss = w^2', outputs: ['o'] })), // an output only
      () => buildModel(defineModel('c', (m) => { m.loss(m.sum(m.dense(m.input('x', 1e4), 1e4))); })),
      () => buildModel(defineModel({ name: 'm', inputs: [], targets: [], params: { a: { shape: 6e6 }, b: { shape: 6e6 } }, formulas: 'loss = sum(a) + sum(b)' })), // all parameters together
    ]) {
      expect(gradcError(f).problem).toMatch(/more than the limit of 10000000.*raise the limit with the option \{ maxElements: \d+ \}/);
    }
  });

  it('maxElements raises or lowers the bound (compile option, or in the definition)', () => {
    const def = (more: Partial<ModelSpec> = {}) => defineModel({ name: 'm', inputs: [], targets: [], params: { w: { shape: [20, 20], init: 'zeros' } }, formulas: 'loss = sum(w .* w)', ...more });
    expect(gradcError(() => generate(def(), { maxElements: 100 })).problem).toMatch(/'w' has 400 elements .* limit of 100/);
    expect(gradcError(() => generate(def({ maxElements: 100 }))).problem).toMatch(/limit of 100/);
    expect(generate(def({ maxElements: 100 }), { maxElements: 400 }).code).toContain('export function initParams');
    expect(buildModel(defineModel({ name: 'm', inputs: { x: [1e4, 1e4] }, targets: [], params: { w: 1 }, formulas: 'loss = w * sum(x)', maxElements: 1e8 })).inputs).toHaveLength(1);
  });

  it('zero, negative, fractional, non-numeric and non-finite dimensions are errors naming the value', () => {
    for (const shape of [0, -2, 2.5, [3, 0], [2, -1], [1.5, 2], NaN, Infinity, [1e300, 1e300], ['3'], [2, 2, 2], 'matrix', null, {}]) {
      const e = gradcError(() => buildModel(defineModel({ name: 'm', inputs: { x: shape } as never, targets: [], params: { w: 1 }, formulas: 'loss = w' })));
      expect(e.where.symbol).toBe('x');
      expect(e.problem).toMatch(/^'x' has (a bad shape|\S+ elements)/);
    }
    expect(gradcError(() => buildModel(defineModel('c', (m) => { m.loss(m.sum(m.mlp(m.input('x', 2), [3, 0], 'tanh'))); }))).problem).toMatch(/units must be a positive integer .*got 0/);
  });
});

describe('names that formulas read as constants (fuzz finding)', () => {
  it.each(['Infinity', 'NaN', 'true', 'false', 'null', 'undefined'])("a parameter named '%s' is refused where it is declared", (name) => {
    let err: unknown;
    try {
      buildModel(defineModel({ name: 'm', inputs: ['x'], targets: [], params: { w: 1, [name]: 0.5 }, formulas: 'loss = w * x' }));
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(GradcError);
    expect((err as GradcError).message).toContain(`'${name}' cannot be used as a name: formulas read '${name}' as a constant`);
    expect((err as GradcError).where.symbol).toBe(name);
  });
});

describe('builder operations on shapes that do not fit (fuzz finding)', () => {
  it('m.times, m.dot, m.add and m.call raise a GradcError naming both shapes, never a raw ShapeError', () => {
    const cases: [string, (m: ModelBuilder) => unknown][] = [
      ['times', (m) => m.times(m.input('x', 5), m.param('W', { shape: [4, 2], init: 0 }))],
      ['dot', (m) => m.dot(m.param('a', { shape: [3], init: 0 }), m.input('b', 2))],
      ['add', (m) => m.add(m.param('a', { shape: [3], init: 0 }), m.input('b', 2))],
      ['call', (m) => m.call('matmul', m.param('A', { shape: [4, 4], init: 0 }), m.input('v', 5))],
    ];
    for (const [what, f] of cases) {
      let err: unknown;
      try {
        buildModel(defineModel(`bad_${what}`, (m) => { m.loss(m.sum(f(m) as never)); }));
      } catch (e) { err = e; }
      expect(err, what).toBeInstanceOf(GradcError);
      expect((err as GradcError).message, what).toMatch(/shape mismatch in m\..*\[/);
    }
  });
});
