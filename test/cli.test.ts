// The command line: `main(argv, out, err)` in process for speed, and `node bin/gradc.js` as
// a real subprocess to prove exit codes and that no stack trace is printed. Bad model
// files live in test/fixtures/; each error must print `file:line:col` pointing at the
// offending token of the fixture, checked by reading the fixture at that position.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { isEsModuleFile, locateInFile } from '../src/cli/modelFile.js';
import { GradcError } from '../src/errors.js';
import { runCliFromRoot } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = 'test/fixtures';
const fixture = (name: string) => `${FIXTURES}/${name}.model.ts`;
/** The small examples (the others take seconds to build; test/golden.test.ts covers them all). */
const EXAMPLES = ['examples/linreg.model.ts', 'examples/student.model.ts', 'examples/xor.model.ts'];

const temps: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gradc-cli-'));
  temps.push(d);
  return d;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs the CLI in process (from the repo root, as the paths in messages assume). */
const run = runCliFromRoot;

const STACK_LINE = /^\s+at .*[:(]/m;

/** `file:line:col` from `gradc build: error: file:line:col: ...`, and the fixture text there. */
function located(err: string): { file: string; line: number; column: number; there: string } {
  const m = err.match(/^gradc build: error: ([^:\s]+):(\d+):(\d+): /);
  expect(m, `no file:line:col in ${JSON.stringify(err)}`).not.toBeNull();
  const [, file, line, column] = m!;
  const text = readFileSync(join(ROOT, file), 'utf8').split(/\r?\n/)[Number(line) - 1];
  return { file, line: Number(line), column: Number(column), there: text.slice(Number(column) - 1) };
}

describe('bad model files: message, file:line:col in the model file, exit 1, no stack', () => {
  // [fixture, line, column, what the fixture has there, what the message says]
  const cases: [string, number, number, string, string][] = [
    ['parse-error', 9, 25, '* x', 'formula does not parse: expected a value here'],
    ['unknown-symbol', 12, 16, 'q      # q is not defined', "unknown symbol 'q' (known: x, y, w)"],
    ['defined-twice', 11, 5, 'yhat = w * x', "'yhat' is defined twice (the first definition is 1 line above: 'yhat = w * x')"],
    ['cycle', 10, 5, 'a = b + w', 'formulas form a cycle: a -> b -> a'],
    ['param-assigned', 10, 7, 'w = 2 * x', "'w' is a parameter and cannot be assigned by a formula"],
    ['loss-not-scalar', 10, 5, 'loss = ', 'the loss must be a scalar, but it has shape [3]'],
    ['shape-mismatch', 10, 15, '+ u', "shape mismatch in 'w + x + u': shapes do not match and neither is a scalar (shapes [3], [2])"],
    // The builder form: the formula string is found on the line of the `m.def` call.
    ['unknown-function', 11, 21, "sigmoidd(z) + b1'", "unknown function 'sigmoidd' (did you mean 'sigmoid'?) (supported: abs, "],
    ['builder-unknown-symbol', 11, 10, "v + 1'", "unknown symbol 'v' (known: x, y, w, z)"],
    ['builder-loss-not-scalar', 8, 11, "(w * x - y) .^ 2'", 'the loss must be a scalar, but it has shape [2]'],
    // A formula made by a template string is not in the file: the call is, and the message quotes the formula.
    ['builder-template', 10, 7, 'def(`h${j}`', "unknown symbol 'q' (known: x, w1, h1, w2) (in 'sigmoid(w2 * x + q)')"],
  ];
  it.each(cases)('%s', async (name, line, column, there, message) => {
    const { code, out, err } = await run('build', fixture(name), '--out', tempDir());
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).not.toMatch(STACK_LINE);
    expect(err).toContain(message);
    expect(located(err)).toEqual({ file: fixture(name), line, column, there: expect.stringMatching(new RegExp(`^${there.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)) });
    // Then the source line with a caret under the column.
    const [, src, caret] = err.split('\n');
    expect(src).toBe(`  ${line} | ${readFileSync(join(ROOT, fixture(name)), 'utf8').split('\n')[line - 1]}`);
    expect(caret.indexOf('^') - caret.indexOf('|') - 2).toBe(column - 1);
  });

  it('no loss: the file and the problem', async () => {
    const { code, err } = await run('build', fixture('no-loss'), '--out', tempDir());
    expect(code).toBe(1);
    expect(err).toBe(`gradc build: error: ${fixture('no-loss')}: no 'loss' is defined (define 'loss = ...', a scalar)`);
  });

  it("the model's own code throwing is bad input at its line, not a gradc bug", async () => {
    const { code, err } = await run('build', fixture('throws'), '--out', tempDir());
    expect(code).toBe(1);
    expect(err).not.toMatch(STACK_LINE);
    expect(err).toContain("the model file's code threw TypeError: Cannot read properties of undefined (reading 'length')");
    expect(located(err).line).toBe(7);
  });

  it('a file with no model, a missing file, a file that does not compile', async () => {
    expect((await run('build', fixture('no-default'))).err).toBe(
      `gradc build: error: ${fixture('no-default')}: the file does not default-export a model (export default defineModel(...))`,
    );
    expect((await run('build', 'test/fixtures/nope.model.ts'))).toMatchObject({ code: 1, err: 'gradc build: error: test/fixtures/nope.model.ts: model file not found' });
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(join(dir, 'syntax.model.ts'), "export default {\n  name: 'x',,\n};\n");
    const r = await run('build', join(dir, 'syntax.model.ts'), '--out', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/syntax\.model\.ts:2:13: the model file does not compile: /);
  });

  it('a model file that Node would load as CommonJS is refused with the fix', async () => {
    const dir = tempDir(); // no package.json between it and /
    expect(isEsModuleFile(join(dir, 'a.model.ts')).esm).toBe(false);
    expect(isEsModuleFile(join(dir, 'a.model.mts')).esm).toBe(true);
    expect(isEsModuleFile(join(ROOT, 'examples/xor.model.ts')).esm).toBe(true);
    writeFileSync(join(dir, 'cjs.model.ts'), `import { defineModel } from '${join(ROOT, 'src/index.js')}';\nexport default defineModel('c', () => {});\n`);
    const { code, err } = await run('build', join(dir, 'cjs.model.ts'), '--out', dir);
    expect(code).toBe(1);
    expect(err).toContain('the model file must be an ES module, but Node would load it as CommonJS');
    expect(err).toContain('name it *.model.mts or add "type": "module"');
  });
});

describe('locateInFile: formula positions into model-file positions', () => {
  const file = join(ROOT, fixture('unknown-symbol'));

  it('counts lines from the formulas block, not from the first line with the same text', () => {
    // The same text `yhat = w * q` is in a comment on line 3; the formula is on line 12.
    const block = readFileSync(file, 'utf8').split('formulas: `')[1].split('`')[0];
    const e = new GradcError('p', { file: 'x', line: 2, column: 16, snippet: '    yhat = w * q      # q is not defined', block });
    expect(locateInFile(e, file).where).toMatchObject({ file: fixture('unknown-symbol'), line: 12, column: 16, block: undefined });
  });

  it('without the block it finds the snippet on a code line, skipping comments', () => {
    const e = new GradcError('p', { line: 2, column: 16, snippet: '    yhat = w * q      # q is not defined' });
    expect(locateInFile(e, file).where).toMatchObject({ line: 12, column: 16 });
  });

  it('a formula it cannot find keeps only the file and says which formula line', () => {
    const e = new GradcError('unknown symbol', { line: 4, column: 2, snippet: 'zz = 1 + qq', block: 'not in the file' });
    const m = locateInFile(e, file);
    expect(m.where.line).toBeUndefined();
    expect(m.message).toBe(`${fixture('unknown-symbol')}: unknown symbol (at formulas line 4, column 2: 'zz = 1 + qq')`);
  });
});

describe('usage, unknown commands and options', () => {
  it('--help and help print every command, exit 0; no arguments prints usage to stderr, exit 1', async () => {
    for (const h of ['--help', '-h', 'help']) {
      const r = await run(h);
      expect(r.code).toBe(0);
      expect(r.out).toContain('usage: gradc <command> [options]');
      expect(r.out).toContain('gradc build [model.ts...] [--out dir] [--check] [--watch] [--emit ts|js]');
    }
    const none = await run();
    expect(none).toMatchObject({ code: 1, out: '' });
    expect(none.err).toContain('usage: gradc <command>');
  });

  it('<command> --help prints that command, exit 0, and does not run it', async () => {
    const r = await run('build', 'test/fixtures/nope.model.ts', '--help');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^usage: gradc build /);
    expect((await run('help', 'build')).out).toMatch(/^usage: gradc build /);
  });

  it('--version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(await run('--version')).toMatchObject({ code: 0, out: `gradc ${version}` });
  });

  it('an unknown command suggests the closest, and an option before the command says so', async () => {
    const r = await run('biuld', 'x');
    expect(r.code).toBe(1);
    expect(r.err.split('\n')[0]).toBe("gradc: unknown command 'biuld'; did you mean 'build'?");
    expect((await run('--out', 'x')).err.split('\n')[0]).toBe("gradc: unknown option '--out' (options go after the command)");
  });

  it('an unknown option, an option without its value, a value on a flag', async () => {
    const m = fixture('ok-b');
    expect((await run('build', m, '--outt', 'x')).err).toBe(
      'gradc build: error: unknown option --outt (did you mean --out?); gradc build takes --out, --check, --watch, --emit, --clean, --stamp, --config, ' +
        '--lowering, --precision, --simd, --unroll-limit, --max-batch, --unroll-elements, --scalar-cell, --chunk-size',
    );
    expect((await run('build', m, '--out'))).toMatchObject({ code: 1, err: 'gradc build: error: option --out needs a directory (gradc build)' });
    expect((await run('build', m, '--out', '--check'))).toMatchObject({ code: 1, err: 'gradc build: error: option --out needs a directory (gradc build)' });
    expect((await run('build', m, '--check=yes'))).toMatchObject({ code: 1, err: "gradc build: error: option --check takes no value (got '--check=yes')" });
    expect((await run('build', m, '--chunk-size', '0'))).toMatchObject({ code: 1, err: "gradc build: error: option --chunk-size must be a positive integer, got '0' (gradc build)" });
    expect((await run('build', '--out', tempDir()))).toMatchObject({ code: 1, err: expect.stringContaining('no model files given') });
  });

});

describe('gradc build', () => {
  const models = [...EXAMPLES, fixture('ok-a'), fixture('ok-b')];
  const names = ['linreg', 'student', 'xor', 'ok_a', 'ok_b'];
  const read = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

  it('writes one module per model, named after the model, and --check then passes', async () => {
    const dir = tempDir();
    const r = await run('build', ...models, '--out', dir);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(names.map((n) => `${n}.ts`).sort());
    expect(r.out.split('\n')).toHaveLength(models.length);
    expect(r.out).toContain(`wrote ${join(dir, 'ok_a.ts')} (`);
    expect(readFileSync(join(dir, 'ok_b.ts'), 'utf8')).toMatch(/^\/\/ Code generated by gradc\. DO NOT EDIT\.\n\/\/ Source: test\/fixtures\/ok-b\.model\.ts/);
    expect(await run('build', ...models, '--out', dir, '--check')).toMatchObject({ code: 0, out: `${models.length} generated file(s) up to date in ${dir}` });
  });

  it('--check writes nothing and names each stale or missing file', async () => {
    const dir = tempDir();
    await run('build', fixture('ok-a'), fixture('ok-b'), '--out', dir);
    writeFileSync(join(dir, 'ok_a.ts'), readFileSync(join(dir, 'ok_a.ts'), 'utf8') + '\n// edited\n');
    rmSync(join(dir, 'ok_b.ts'));
    const before = read(dir);
    const r = await run('build', fixture('ok-a'), fixture('ok-b'), '--out', dir, '--check');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'gradc build: error: 2 of 2 generated file(s) out of date; run gradc build without --check:\n' +
        `  ${join(dir, 'ok_a.ts')} (stale, from ${fixture('ok-a')})\n` +
        `  ${join(dir, 'ok_b.ts')} (missing, from ${fixture('ok-b')})`,
    );
    expect(read(dir)).toEqual(before);
    const fresh = join(tempDir(), 'never-made');
    expect((await run('build', fixture('ok-a'), '--out', fresh, '--check')).code).toBe(1);
    expect(existsSync(fresh)).toBe(false);
  });

  it('a bad model among good ones writes nothing', async () => {
    const dir = join(tempDir(), 'out');
    expect((await run('build', fixture('ok-a'), fixture('cycle'), '--out', dir)).code).toBe(1);
    expect(existsSync(dir)).toBe(false);
  });

  it('two files defining the same model name are refused; the same file twice is fine', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    const copy = join(dir, 'copy.model.ts');
    writeFileSync(copy, readFileSync(join(ROOT, fixture('ok-b')), 'utf8').replace("'../../src/index.js'", `'${join(ROOT, 'src/index.js')}'`));
    const r = await run('build', fixture('ok-b'), copy, '--out', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`both define model 'ok_b', so both would write ${join(dir, 'ok_b.ts')}`);
    expect((await run('build', fixture('ok-b'), fixture('ok-b'), '--out', dir)).code).toBe(0);
  });

  it('an output path that cannot be written is bad input, not a crash', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const r = await run('build', fixture('ok-b'), '--out', join(file, 'sub'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot create the output directory');
  });

  it('is deterministic: the same bytes twice in one process, in any order', async () => {
    const d1 = tempDir();
    const d2 = tempDir();
    expect((await run('build', ...models, '--out', d1)).code).toBe(0);
    expect((await run('build', ...models.slice().reverse(), '--out', d2)).code).toBe(0);
    expect(read(d2)).toEqual(read(d1));
  });
});

describe('as a subprocess (node bin/gradc.js)', () => {
  // Started when the file is collected, so they run while the in-process tests above do:
  // each run spends seconds loading TypeScript and mathjs.
  const gradc = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, ['bin/gradc.js', ...args], { cwd: ROOT });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => done({ status, stdout, stderr }));
    });
  const okDir = tempDir();
  const bad = gradc('build', fixture('unknown-symbol'), '--out', tempDir());
  const ok = gradc('build', fixture('ok-b'), '--out', okDir);

  it('bad input: exit 1, file:line:col on stderr, no stack trace, nothing on stdout', async () => {
    const r = await bad;
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^gradc build: error: test\/fixtures\/unknown-symbol\.model\.ts:12:16: unknown symbol 'q'/);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toContain('node:internal');
  });

  it('success: exit 0, and model B alone in a fresh process gives the bytes B gets after other models', async () => {
    const r = await ok;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`wrote ${join(okDir, 'ok_b.ts')} (${readFileSync(join(okDir, 'ok_b.ts'), 'utf8').split('\n').length} lines) from ${fixture('ok-b')}\n`);
    const after = tempDir(); // in this process, after everything the tests above built
    expect((await run('build', ...EXAMPLES, fixture('ok-a'), fixture('ok-b'), '--out', after)).code).toBe(0);
    expect(readFileSync(join(okDir, 'ok_b.ts'), 'utf8')).toBe(readFileSync(join(after, 'ok_b.ts'), 'utf8'));
  });
});

// Last, because it swaps the module registry (a fresh copy of the CLI with a fake command).
describe('internal errors', () => {
  it('a failure that is not a GradcError is a gradc bug: stack trace, exit 2', async () => {
    vi.resetModules();
    vi.doMock('../src/cli/commands/index.js', () => ({
      COMMANDS: [{ name: 'boom', usage: 'gradc boom', summary: 'fails', run: async () => { throw new TypeError('kaboom'); } }],
    }));
    try {
      const fresh = await import('../src/cli/main.js');
      const err: string[] = [];
      expect(await fresh.main(['boom'], () => {}, (l) => err.push(l))).toBe(2);
      expect(err.join('\n')).toMatch(/^gradc boom: internal error \(a bug in gradc\):\nTypeError: kaboom\n\s+at /);
    } finally {
      vi.doUnmock('../src/cli/commands/index.js');
      vi.resetModules();
    }
  });
});
