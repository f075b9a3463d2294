/**
 * Issue 7, outside review round two: hostile inputs around the cases the issue named.
 * Each test is one defect the review found (a lost file, a crash, a misleading error),
 * held after its fix. Fast: generate() and the interpreter where possible, the CLI in
 * process (main()).
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { buildModel, compile, defineModel, generate, GradcError } from '../src/index.js';
import type { ModelDefinition } from '../src/2-build/define.js';
import { runCli } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const run = runCli;

/** A folder with package.json (ES modules) and model files importing gradc by absolute path. */
function modelDir(models: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-review-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  for (const [file, body] of Object.entries(models)) writeFileSync(join(dir, file), body.replace('GRADC', join(ROOT, 'src/index.js')));
  return dir;
}

const LINREG = `import { defineModel } from 'GRADC';\nimport { W0 } from './init.js';\nexport default defineModel({ name: 'lin', inputs: ['x'], targets: ['y'], params: { w: W0 }, formulas: 'loss = (w * x - y)^2' });\n`;

/** Error thrown by `f`, which must be a GradcError. */
function gradcError(f: () => unknown): GradcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GradcError);
    return e as GradcError;
  }
  throw new Error('expected a GradcError, got none');
}

describe('review round two: files', () => {
  it('graph -o and report -o refuse to write over the model file or a file it imports (by any path)', async () => {
    const dir = modelDir({ 'lin.model.ts': LINREG, 'init.ts': 'export const W0 = 1;\n' });
    const model = join(dir, 'lin.model.ts');
    symlinkSync(model, join(dir, 'link.svg'));
    const before = readFileSync(model, 'utf8');
    const cases = [
      ['graph', model, '-o', model],
      ['graph', model, '--format', 'dot', '-o', join(dir, 'sub', '..', 'init.ts')],
      ['graph', model, '-o', join(dir, 'link.svg')],
      ['report', model, '-o', model],
      ['report', model, '-o', join(dir, 'init.ts')],
    ];
    for (const argv of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err).toMatch(/refusing to write -o .*(the model file|imports)/);
    }
    expect(readFileSync(model, 'utf8')).toBe(before);
    expect(readFileSync(join(dir, 'init.ts'), 'utf8')).toBe('export const W0 = 1;\n');
    // Other files are still written.
    const ok = await run('graph', model, '--format', 'dot', '-o', join(dir, 'g.dot'));
    expect(ok.code).toBe(0);
    expect(readFileSync(join(dir, 'g.dot'), 'utf8')).toMatch(/digraph/);
  });
});

describe('review round two: crashes', () => {
  it("a foreign definition whose build() returns something that is not a model is a GradcError (CLI exit 1)", async () => {
    for (const built of [{ params: 5 }, null, 42, { params: [], inputs: [], targets: [] }]) {
      const fake = { kind: 'gradc-model', name: 'fake', build: () => built } as unknown as ModelDefinition;
      expect(gradcError(() => buildModel(fake)).message).toMatch(/expected a model built by defineModel/);
      expect(gradcError(() => generate(fake)).message).toMatch(/not a gradc model|got null|got number/);
    }
    const dir = modelDir({ 'fake.model.ts': `export default { kind: 'gradc-model', name: 'fake', build() { return { params: 5 }; } };\n` });
    const r = await run('grad', join(dir, 'fake.model.ts'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/expected a model built by defineModel/);
  });
});

describe('review round two: names', () => {
  it('words formulas read as constants or operators (NaN, Infinity, true, null, undefined, not) are refused as names, saying why', () => {
    for (const n of ['NaN', 'Infinity', 'true', 'false', 'null', 'undefined', 'not']) {
      for (const spec of [
        { params: { [n]: 1 }, inputs: ['x'], formulas: `loss = (${n} * x - y)^2` },
        { params: { w: 1 }, inputs: [n], formulas: `loss = (w * ${n} - y)^2` },
      ]) {
        const e = gradcError(() => generate(defineModel({ name: 'm', targets: ['y'], ...spec })));
        expect(e.message, n).toContain(`'${n}' cannot be used as a name: formulas read '${n}' as`);
        expect(e.where.symbol).toBe(n);
      }
    }
  });

  it("'NaN' or 'Infinity' in a formula is reported at its own column, not at the next number", () => {
    const line = 'loss = (NaN * w - y)^2';
    const e = gradcError(() => generate(defineModel({ name: 'm', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: line })));
    expect(e.message).toMatch(/'NaN' is not allowed in a formula/);
    expect(e.where.column).toBe(line.indexOf('NaN') + 1);
    const line2 = 'loss = 2 * w + Infinity';
    const e2 = gradcError(() => generate(defineModel({ name: 'm', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: line2 })));
    expect(e2.message).toMatch(/'Infinity' is not allowed/);
    expect(e2.where.column).toBe(line2.indexOf('Infinity') + 1);
  });

  it('names that collide with JavaScript globals, reserved words and generated names still compile and agree in both lowerings', () => {
    const names = ['Math', 'Float64Array', 'arguments', 'eval', 'this', 'let', 'yield', 'await', 'globalThis', 'd_w', 'p', 'grad', 'e', 'pi', 'i', 'end', 'mod', 'to', 'in', 'Inf', 'sum', 'exp'];
    const params = Object.fromEntries(names.map((n, k) => [n, 0.1 * (k + 1)]));
    const formulas = `h = ${names.join(' + ')}\nloss = (h * x - y)^2`;
    const grads = (['unrolled', 'loops'] as const).map((lowering) => {
      const m = compile(defineModel({ name: 'm', inputs: ['x'], targets: ['y'], params, formulas }), { lowering });
      return m.gradient(m.initParams(), { x: 2 }, { y: 1 });
    });
    const h = names.reduce((s, _, k) => s + 0.1 * (k + 1), 0);
    for (const g of grads) {
      expect(g.loss).toBeCloseTo((h * 2 - 1) ** 2, 10);
      for (const n of names) expect((g.grad as Record<string, number>)[n]).toBeCloseTo(2 * (h * 2 - 1) * 2, 10);
    }
  });
});

describe('review round two: the builder', () => {
  it('shape mismatches in m.add / m.sub / m.mul / m.div / m.pow / m.times / m.matmul / m.dot / m.call are GradcErrors naming the op and the shapes', async () => {
    const cases: [string, (m: any) => unknown][] = [
      ['m.add(...)', (m) => m.add(m.param('a', { shape: [3], init: 1 }), m.param('b', { shape: [2], init: 1 }))],
      ['m.sub(...)', (m) => m.sub(m.param('a', { shape: [3], init: 1 }), m.param('b', { shape: [2, 3], init: 1 }))],
      ['m.mul(...)', (m) => m.mul(m.param('a', { shape: [3], init: 1 }), m.param('b', { shape: [2], init: 1 }))],
      ['m.div(...)', (m) => m.div(m.param('a', { shape: [3], init: 1 }), m.param('b', { shape: [2], init: 1 }))],
      ['m.pow(...)', (m) => m.pow(m.param('a', { shape: [3], init: 1 }), m.param('b', { shape: [2], init: 1 }))],
      ['m.times(...)', (m) => m.times(m.param('a', { shape: [3], init: 1 }), m.param('B', { shape: [2, 2], init: 1 }))],
      ['m.matmul(...)', (m) => m.matmul(m.param('A', { shape: [3, 2], init: 1 }), m.param('b', { shape: [3], init: 1 }))],
      ['m.dot(...)', (m) => m.dot(m.param('a', { shape: [3], init: 1 }), 'a[1]')],
      ["m.call('dot', ...)", (m) => m.call('dot', m.param('a', { shape: [3], init: 1 }), 2)],
      ["m.call('softmax', ...)", (m) => m.call('softmax', m.param('a', 1))],
    ];
    for (const [what, body] of cases) {
      const e = gradcError(() => generate(defineModel('b', (m) => { m.loss(m.sum(body(m) as never)); })));
      expect(e.message, what).toContain(`shape mismatch in ${what}: `);
      expect(e.message, what).toMatch(/shapes? .*(\[\d|scalar)/);
    }
    const dir = modelDir({ 'b.model.ts': `import { defineModel } from 'GRADC';\nexport default defineModel('b', (m) => {\n  const a = m.param('a', { shape: [3], init: 1 });\n  m.loss(m.sum(m.add(a, m.input('x', 2))));\n});\n` });
    const r = await run('grad', join(dir, 'b.model.ts'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/b\.model\.ts:4:\d+: shape mismatch in m\.add\(\.\.\.\): add: .*\[3\], \[2\]/);
  });

  it('an object that only looks like an expression is refused, not compiled into a module', () => {
    for (const fake of [{ op: 'const', shape: [], args: [], attrs: { value: 1 } }, { op: 'bogus', shape: [] }, { op: 'param', shape: [], args: [], attrs: { name: 'a' } }]) {
      const e = gradcError(() => generate(defineModel('b', (m) => { const a = m.param('a', 1); m.loss(m.add(a, fake as never)); })));
      expect(e.message).toMatch(/looks like an expression but was not made by gradc/);
    }
  });
});

describe('review round two: sizes', () => {
  it('gradient formulas of 1000 parameters sharing one gradient are printed once, not once per parameter (was 5.6 s)', async () => {
    const { gradientFormulas } = await import('../src/inspect/formulas.js');
    const params = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`p${i}`, 0.001]));
    const def = defineModel({ name: 'm', inputs: ['x'], targets: ['y'], params, formulas: `loss = (${Object.keys(params).join(' + ')} - y)^2` });
    const model = buildModel(def);
    const t0 = performance.now();
    const f = gradientFormulas(model);
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(f.gradients).toHaveLength(1000);
    expect(new Set(f.gradients.map((g) => g.expanded)).size).toBe(1);
    expect(f.gradients[999].expanded).toBe(f.gradients[0].expanded);
  });
});

describe('review round two: message quality', () => {
  it("m.dense / m.mlp with a width that is not a positive integer name the width, not the generated parameter's shape", () => {
    for (const units of ['abc', 0, -2, 1.5, NaN, null]) {
      const e = gradcError(() => generate(defineModel('b', (m) => { const x = m.input('x', 3); m.loss(m.sum(m.mlp(x, [2, units as never], 'tanh'))); })));
      expect(e.message).toMatch(/dense\(x, units\): units must be a positive integer .*got/);
    }
  });
});

describe('build: flags given twice and names that differ only in case', () => {
  it('--out a --out b is an error naming both values; two models named ok and OK are refused', async () => {
    const { main } = await import('../src/cli/main.js');
    const { mkdtempSync, writeFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'gradc-case-'));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    const model = (name: string) => `import { defineModel } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)};\nexport default defineModel({ name: '${name}', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: 'loss = (w * x - y)^2' });\n`;
    writeFileSync(join(dir, 'a.model.ts'), model('ok'));
    writeFileSync(join(dir, 'b.model.ts'), model('OK'));
    const err: string[] = [];
    expect(await main(['build', join(dir, 'a.model.ts'), '--out', join(dir, 'x'), '--out', join(dir, 'y')], () => {}, (l) => err.push(l))).toBe(1);
    expect(err.join('\n')).toMatch(/option --out is given 2 times \('.*x', '.*y'\); give it once/);
    err.length = 0;
    expect(await main(['build', join(dir, 'a.model.ts'), join(dir, 'b.model.ts'), '--out', join(dir, 'gen')], () => {}, (l) => err.push(l))).toBe(1);
    expect(err.join('\n')).toMatch(/define models 'ok' and 'OK', whose files .*ok\.ts and .*OK\.ts differ only in case/);
    expect(existsSync(join(dir, 'gen', 'ok.ts'))).toBe(false);
  });
});

describe('a folder or a device given as the model file', () => {
  it('says what it is, not that it is CommonJS', async () => {
    const { main } = await import('../src/cli/main.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'gradc-notfile-'));
    for (const [path, want] of [[dir, /is a folder, not a model file/], ['/dev/null', /is not a regular file/]] as const) {
      const err: string[] = [];
      expect(await main(['grad', path], () => {}, (l) => err.push(l))).toBe(1);
      expect(err.join('\n')).toMatch(want);
    }
  });
});
