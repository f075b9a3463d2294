// Bad input, library level: every mistake is a GradcError whose message names the problem
// and whose `where` says the line, the column and the symbol. Columns are 1-based and
// checked by the character they point at, so a test fails if a column drifts by one.
import { describe, expect, it } from 'vitest';
import { buildModel, compile, defineModel, GradcError, type ModelDefinition, type ModelSpec } from '../src/index.js';
import { columnOf, tokenColumns } from '../src/1-parse/formula.js';
import { FUNCTION_NAMES } from '../src/2-build/functions.js';
import { asGradcError, didYouMean, formatMessage, GRADC_ERROR, type SourceLocation } from '../src/errors.js';
import { parse, type MathNode } from 'mathjs';

/** The GradcError that `f` throws (fails the test when it throws nothing or something else). */
function gradcError(f: () => unknown): GradcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GradcError);
    return e as GradcError;
  }
  throw new Error('expected a GradcError, but nothing was thrown');
}

const spec = (formulas: string, more: Partial<ModelSpec> = {}): ModelDefinition =>
  defineModel({ name: 'm', inputs: { x: 'scalar', v: 3, u: 2, M: [2, 2] }, targets: ['y'], params: { w: 1 }, formulas, ...more });

/** The error of building a formulas-only model. */
const formulasError = (formulas: string, more: Partial<ModelSpec> = {}) => gradcError(() => buildModel(spec(formulas, more)));

/** The text `where` points at: line `where.line` of `text`, from column `where.column`. */
function pointedAt(text: string, where: SourceLocation): string {
  expect(where.line).toBeDefined();
  expect(where.column).toBeDefined();
  return text.split('\n')[where.line! - 1].slice(where.column! - 1);
}

describe('formula errors (defineModel({ formulas }))', () => {
  it('a formula that does not parse: the column is where mathjs stopped', () => {
    const text = 'yhat = w * x\nyhat2 = w * * x\nloss = (yhat - y)^2';
    const e = formulasError(text);
    expect(e.where).toMatchObject({ file: "<inline model 'm'>", line: 2, column: 13, snippet: 'yhat2 = w * * x' });
    expect(pointedAt(text, e.where)).toBe('* x'); // the second '*'
    expect(e.message).toBe(`<inline model 'm'>:2:13: formula does not parse: expected a value here (a number, a name, a function call or '('), in 'yhat2 = w * * x'`);
  });

  it('an unclosed parenthesis says what is missing', () => {
    const e = formulasError('loss = (w * x - y^2');
    expect(e.problem).toContain("missing ')'");
    expect(e.where.line).toBe(1);
    expect(e.where.column).toBe('loss = (w * x - y^2'.length + 1); // just past the end
  });

  it('other mathjs syntax errors are reworded, not passed through', () => {
    expect(formulasError('loss = w @ x').problem).toBe("formula does not parse: unexpected '@ x', in 'loss = w @ x'");
    expect(formulasError('loss = w +').problem).toBe("formula does not parse: the formula ends where more was expected, in 'loss = w +'");
    expect(formulasError('loss = [w, x').problem).toBe("formula does not parse: missing ']', in 'loss = [w, x'");
  });

  it('a line that is not an assignment, and a left side that is not a plain name', () => {
    const e1 = formulasError('  w * x\nloss = w');
    expect(e1.problem).toBe("expected an assignment 'name = formula', got 'w * x'");
    expect(e1.where).toMatchObject({ line: 1, column: 3 });
    const e2 = formulasError('v[1] = w\nloss = w');
    expect(e2.problem).toContain("the left side of '=' must be a plain name, or h[0] and h[t] for a recurrence, got 'v[1]'");
  });

  it('an unknown symbol: line, column of the symbol (not of the same letters elsewhere), the known names', () => {
    const text = '\n  yq = w * x # yq\n  loss = (yq - q)^2   # q';
    const e = formulasError(text);
    expect(e.where).toMatchObject({ line: 3, symbol: 'q' });
    expect(pointedAt(text, e.where)).toMatch(/^q\)\^2/);
    expect(e.problem).toBe("unknown symbol 'q' (known: x, v, u, M, y, w, yq)");
  });

  it('an unknown symbol close to a known one suggests it', () => {
    expect(formulasError('loss = (W * x - y)^2').problem).toContain("(did you mean 'w'?)");
    expect(formulasError('loss = (w * xx - y)^2').problem).not.toContain('did you mean');
  });

  it('an unknown function lists every supported function', () => {
    const text = 'yhat = sigmoidd(w * x)\nloss = (yhat - y)^2';
    const e = formulasError(text);
    expect(e.where).toMatchObject({ line: 1, symbol: 'sigmoidd' });
    expect(pointedAt(text, e.where)).toMatch(/^sigmoidd\(/);
    expect(e.problem).toContain("unknown function 'sigmoidd' (did you mean 'sigmoid'?)");
    expect(e.problem).toContain(`(supported: ${FUNCTION_NAMES.join(', ')})`);
    expect(FUNCTION_NAMES).toContain('tanh');
  });

  it('a function with the wrong number of arguments', () => {
    const e = formulasError('loss = (max(w) - y)^2');
    expect(e.problem).toBe("function 'max' takes 2 argument(s), got 1");
    expect(e.where).toMatchObject({ line: 1, column: 9, symbol: 'max' });
  });

  it('a name defined twice: the second definition, pointing back at the first', () => {
    const text = 'yhat = w * x\nz = yhat\nyhat = w * x\nloss = (yhat - y)^2';
    const e = formulasError(text);
    expect(e.where).toMatchObject({ line: 3, column: 1, symbol: 'yhat' });
    expect(e.problem).toBe("'yhat' is defined twice (the first definition is 2 lines above: 'yhat = w * x')");
  });

  it('a formula that redefines an input', () => {
    const e = formulasError('loss = (w - y)^2\n  x = 2 * w');
    expect(e.problem).toBe("'x' is defined twice (already an input)");
    expect(e.where).toMatchObject({ line: 2, column: 3, symbol: 'x' });
  });

  it('a cycle prints its path', () => {
    const text = 'loss = (a - y)^2\na = b + w\nb = c * x\nc = a';
    const e = formulasError(text);
    expect(e.problem).toBe('formulas form a cycle: a -> b -> c -> a');
    expect(e.where).toMatchObject({ line: 2, column: 1, symbol: 'a' });
  });

  it('a formula that reads itself is a cycle of one', () => {
    const e = formulasError('h = h + w\nloss = (h - y)^2');
    expect(e.problem).toBe('formulas form a cycle: h -> h');
    expect(e.where).toMatchObject({ line: 1, symbol: 'h' });
  });

  it('a parameter assigned by a formula', () => {
    const e = formulasError('yhat = w * x\n   w = 2\nloss = (yhat - y)^2');
    expect(e.problem).toBe("'w' is a parameter and cannot be assigned by a formula");
    expect(e.where).toMatchObject({ line: 2, column: 4, symbol: 'w' });
  });

  it('no loss', () => {
    const e = formulasError('yhat = w * x\nerr = (yhat - y)^2');
    expect(e.problem).toBe("no 'loss' is defined (define 'loss = ...', a scalar)");
    expect(e.where).toMatchObject({ file: "<inline model 'm'>", symbol: 'loss' });
  });

  it('a loss that is not a scalar names its shape and its line', () => {
    const e = formulasError('z = w * v\n  loss = z .* v');
    expect(e.problem).toBe('the loss must be a scalar, but it has shape [3]');
    expect(e.where).toMatchObject({ line: 2, column: 3, symbol: 'loss' });
  });

  it('a loss that reads no parameter', () => {
    const e = formulasError('loss = (x - y)^2');
    expect(e.problem).toBe('the loss does not depend on any parameter (parameters: w)');
    expect(e.where).toMatchObject({ line: 1, symbol: 'loss' });
  });

  it('a shape mismatch names both shapes and points at the operator that fails', () => {
    const text = 'z = w + v + u\nloss = sum(z) * w';
    const e = formulasError(text);
    expect(e.problem).toBe("shape mismatch in 'w + v + u': shapes do not match and neither is a scalar (shapes [3], [2])");
    expect(e.where.line).toBe(1);
    expect(e.where.column).toBe(11); // the second '+': w + v is fine
    expect(pointedAt(text, e.where)).toBe('+ u');
  });

  it('a matrix product with inner dimensions that differ names both shapes', () => {
    const e = formulasError('z = M * v\nloss = sum(z) * w');
    expect(e.problem).toMatch(/^shape mismatch in 'M \* v': .*\[2x2\], \[3\]/);
    expect(e.where).toMatchObject({ line: 1, column: 7, symbol: '*' });
  });

  it("'^' on a vector asks for '.^'", () => {
    const e = formulasError('loss = sum(v ^ 2) * w');
    expect(e.problem).toContain("use '.^' for elementwise powers");
    expect(e.where.column).toBe(14);
  });

  it('columns are found for operators after constants with exponents and for elementwise operators', () => {
    const text = 'z = 1e-3 - w .* x * v + u\nloss = sum(z)';
    const e = formulasError(text);
    expect(pointedAt(text, e.where)).toBe('+ u');
  });

  it('a bad shape in the spec names the symbol', () => {
    const e = formulasError('loss = w', { inputs: { x: 0 } });
    expect(e.problem).toContain("'x' has a bad shape");
    expect(e.where.symbol).toBe('x');
  });

  it('spec fields of the wrong type (a model file is not type-checked when loaded)', () => {
    const bad = defineModel({ name: 'm', inputs: [], targets: [], params: { w: 1 } } as unknown as ModelSpec);
    expect(gradcError(() => buildModel(bad)).problem).toBe("defineModel({ ... }): 'formulas' must be a string of lines 'name = formula', got undefined");
  });
});

describe('builder errors (defineModel(name, m => ...))', () => {
  const build = (body: Parameters<typeof defineModel>[1]) => gradcError(() => buildModel(defineModel('b', body as never)));

  it('an unknown symbol in a formula string: column within the string, the string as snippet', () => {
    const e = build((m) => {
      m.input('x');
      m.param('w');
      m.def('h', 'w * x + q');
    });
    expect(e.where).toMatchObject({ file: "<inline model 'b'>", column: 9, symbol: 'q', snippet: 'w * x + q' });
    expect(e.where.line).toBeUndefined();
  });

  it('a formula string that does not parse', () => {
    const e = build((m) => {
      m.param('w');
      m.loss('w +');
    });
    expect(e.problem).toContain('formula does not parse');
    expect(e.where).toMatchObject({ snippet: 'w +', column: 4 });
  });

  it('call() with an unknown function, or the wrong number of arguments', () => {
    const e1 = build((m) => {
      m.param('w');
      m.loss(m.call('sigmod', 'w'));
    });
    expect(e1.problem).toMatch(/^unknown function 'sigmod' \(did you mean 'sigmoid'\?\) \(supported: abs, /);
    const e2 = build((m) => {
      m.param('w');
      m.loss(m.call('max', 'w'));
    });
    expect(e2.problem).toBe("function 'max' takes 2 argument(s), got 1");
  });

  it('a name defined twice', () => {
    const e = build((m) => {
      m.param('w');
      m.input('w');
    });
    expect(e.problem).toBe("'w' is defined twice (already a parameter)");
    expect(e.where.symbol).toBe('w');
  });

  it('a loss that is not a scalar keeps the formula it was written as', () => {
    const e = build((m) => {
      m.input('x', 2);
      m.param('w');
      m.loss('w * x');
    });
    expect(e.problem).toBe('the loss must be a scalar, but it has shape [2]');
    expect(e.where).toMatchObject({ symbol: 'loss', snippet: 'w * x' });
  });

  it('a returned node becomes the loss, unless a loss was defined', () => {
    const m1 = buildModel(defineModel('r', (m) => {
      m.param('w');
      return m.expr('w * w');
    }));
    expect(m1.defs.map((d) => d.name)).toEqual(['loss']);
    const m2 = buildModel(defineModel('r', (m) => {
      m.param('w');
      m.loss('w * w * w');
      return m.expr('w');
    }));
    expect(m2.defs.map((d) => d.formula)).toEqual(['w * w * w']);
  });
});

describe('models from another copy of gradc (a model file importing gradc from elsewhere)', () => {
  const spec: ModelSpec = { name: 'lin', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: 'loss = (w * x - y)^2' };

  it("a definition made elsewhere is rebuilt from its recipe with this copy's builder", () => {
    const foreign: ModelDefinition = {
      kind: 'gradc-model',
      name: 'lin',
      recipe: { spec },
      build: () => {
        throw new Error('the foreign build must not be used');
      },
    };
    const model = buildModel(foreign);
    expect(model.params[0].node).toBe(buildModel(defineModel(spec)).params[0].node); // interned here
  });

  it('a built model whose nodes were interned elsewhere is refused', () => {
    const model = buildModel(defineModel(spec));
    const alien = Object.freeze({ ...model.params[0].node, id: -1 });
    const e = gradcError(() => buildModel({ ...model, params: [{ ...model.params[0], node: alien }] }));
    expect(e.problem).toMatch(/^model 'lin' was built by another copy of gradc than the one compiling it \(its 'w' is not this copy's node\)/);
  });
});

describe('a sample missing an input (raised by the generated module)', () => {
  const mod = compile(defineModel({ name: 'two', inputs: ['x', 'x2'], targets: ['y'], params: { w: 1 }, formulas: 'loss = (w * x + x2 - y)^2' }));
  const good = { inputs: { x: 1, x2: 2 }, targets: { y: 3 } };
  const thrown = (f: () => unknown): Error => {
    try {
      f();
    } catch (e) {
      return e as Error;
    }
    throw new Error('nothing was thrown');
  };

  it('fit names the sample index and the input', () => {
    const e = thrown(() => mod.fit([good, good, { inputs: { x: 1 }, targets: { y: 2 } }], { epochs: 1 }));
    expect(e.message).toBe("sample 2 is missing input 'x2' (a number)");
  });

  it('packSamples and evaluate name the sample index and the target', () => {
    expect(thrown(() => mod.packSamples([{ inputs: { x: 1, x2: 1 }, targets: {} }])).message).toBe("sample 0 is missing target 'y' (a number)");
    expect(thrown(() => mod.evaluate(mod.initParams(), [good, { inputs: { x2: 1 }, targets: { y: 1 } }])).message).toBe("sample 1 is missing input 'x' (a number)");
  });

  it('forward and predict name the input', () => {
    expect(thrown(() => mod.forward(mod.initParams(), { x: 1 })).message).toContain("missing input 'x2'");
    expect(thrown(() => mod.predict(mod.initParams(), [{ x: 1, x2: 1 }, { x2: 1 }])).message).toBe("inputs 1 is missing input 'x' (a number)");
  });

  // The generated module's errors are GradcErrors to gradc's tools, so the CLI and
  // callers can tell bad samples from gradc bugs: the emitter brands its errors
  // (Symbol.for('gradc.GradcError'), see src/errors.ts).
  it('is a GradcError', () => {
    expect(thrown(() => mod.fit([{ inputs: { x: 1 }, targets: { y: 2 } }], { epochs: 1 }))).toBeInstanceOf(GradcError);
  });
});

describe('GradcError itself', () => {
  it('formats file:line:col, line-only and location-free messages', () => {
    expect(formatMessage('p', { file: 'a.ts', line: 3, column: 4 })).toBe('a.ts:3:4: p');
    expect(formatMessage('p', { file: 'a.ts', line: 3 })).toBe('a.ts:3: p');
    expect(formatMessage('p', { line: 3 })).toBe('line 3: p');
    expect(formatMessage('p', { file: 'a.ts' })).toBe('a.ts: p');
    expect(formatMessage('p', {})).toBe('p');
  });

  it('relocate keeps the problem and merges the location', () => {
    const e = new GradcError('bad', { file: 'x', line: 1, symbol: 's' }).relocate({ file: 'y.ts', line: 9, column: 2 });
    expect(e.message).toBe('y.ts:9:2: bad');
    expect(e.where.symbol).toBe('s');
  });

  it('instanceof holds for a branded error from another copy of the module, and not for other errors', () => {
    const foreign = Object.assign(new Error('f.ts:1:2: oops'), { [GRADC_ERROR]: true, problem: 'oops', where: { file: 'f.ts', line: 1, column: 2 } });
    expect(foreign).toBeInstanceOf(GradcError);
    expect(new Error('x')).not.toBeInstanceOf(GradcError);
    expect(Object.assign(new Error('x'), { name: 'GradcError' })).not.toBeInstanceOf(GradcError);
    const own = asGradcError(foreign as unknown as GradcError);
    expect(Object.getPrototypeOf(own)).toBe(GradcError.prototype);
    expect(own.relocate({ line: 5 }).message).toBe('f.ts:5:2: oops');
  });

  it('didYouMean suggests close names only', () => {
    expect(didYouMean('sigmod', FUNCTION_NAMES)).toBe('sigmoid');
    expect(didYouMean('W', ['w', 'x'])).toBe('w');
    expect(didYouMean('q', ['w', 'x'])).toBeUndefined();
    expect(didYouMean('banana', FUNCTION_NAMES)).toBeUndefined();
  });
});

describe('token columns (phase 1)', () => {
  const at = (text: string): string[] => {
    const tree = parse(text) as MathNode & { value: MathNode };
    const cols = tokenColumns(tree.value, text, text.indexOf('=') + 1);
    return [...cols.entries()].sort((a, b) => a[1] - b[1]).map(([n, c]) => `${c}:${n.type === 'OperatorNode' ? (n as unknown as { op: string }).op : n.toString()}`);
  };

  it('finds each symbol, constant and operator in source order', () => {
    expect(at('z = 1e-3 - w .* x * v')).toEqual(['5:0.001', '10:-', '12:w', '14:.*', '17:x', '19:*', '21:v']);
    expect(at('z = -x^2 + sin(x)')).toEqual(['5:-', '6:x', '7:^', '8:2', '10:+', '12:sin(x)', '16:x']);
    expect(at('xx = x * xx2 + 2x')).toEqual(['6:x', '8:*', '10:xx2', '14:+', '16:2', '17:x']);
  });

  it('columnOf matches whole words only', () => {
    expect(columnOf('w2 = w * w2', 'w')).toBe(6);
    expect(columnOf('a$ = $a', '$a')).toBe(6);
    expect(columnOf('ab', 'a')).toBeUndefined();
  });
});
