// gradc as a build step (issue 10): compile flags and a model file's own options reaching
// the generated code, the config file (found upward, no-arg build, overrides, located
// errors), --emit js (imported by plain Node, its .d.ts type-checked), --check, --clean,
// --stamp, and --watch on a real CLI process. Model files live in temporary folders and
// import gradc by absolute path; the CLI runs in process except for plain Node and watch.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type TS from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { GENERATED_HEADER } from '../src/cli/commands/build.js';
import { main } from '../src/cli/main.js';

const ROOT = join(import.meta.dirname, '..');
const GRADC = join(ROOT, 'src/index.ts');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A temporary "type": "module" project holding `files`. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-buildstep-'));
  temps.push(dir);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A linear model file; `extra` goes into the spec (`compile: {...}`). */
const linear = (name: string, extra = '', formula = 'yhat = w * x + b') => `import { defineModel } from ${JSON.stringify(GRADC)};
export default defineModel({
  name: '${name}',
  inputs: ['x'],
  targets: ['y'],
  params: { w: 0.5, b: 0 },
  formulas: \`
    ${formula}
    loss = (yhat - y)^2
  \`,${extra}
});
`;

/** Runs the CLI in process, in `cwd`. */
async function run(cwd: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const before = process.cwd();
  process.chdir(cwd);
  try {
    const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.chdir(before);
  }
}

const read = (...p: string[]) => readFileSync(join(...p), 'utf8');
const looped = (code: string) => /const \$MAX_ROWS = (\d+);/.exec(code)?.[1];

describe('compile options reach the generated code', () => {
  it('flags: --lowering unrolled on a model above --unroll-limit, --max-batch, --precision f32', async () => {
    const dir = project({ 'lin.model.ts': linear('lin') });
    let r = await run(dir, 'build', 'lin.model.ts', '--out', 'a', '--unroll-limit', '1', '--max-batch', '8');
    expect(r.code, r.err).toBe(0);
    expect(looped(read(dir, 'a/lin.ts'))).toBe('8'); // 2 parameters > 1: looped, 8 rows per call
    r = await run(dir, 'build', 'lin.model.ts', '--out', 'b', '--unroll-limit', '1', '--lowering', 'unrolled', '--precision', 'f32');
    expect(r.code, r.err).toBe(0);
    const code = read(dir, 'b/lin.ts');
    expect(looped(code)).toBeUndefined();
    expect(code).toContain('export type Floats = Float32Array;');
    r = await run(dir, 'build', 'lin.model.ts', '--out', 'c', '--lowering', 'fast');
    expect(r.code).toBe(1);
    expect(r.err).toContain("option --lowering must be one of 'auto', 'unrolled', 'loops', got 'fast'");
  });

  it("a model file's compile options apply, and a flag wins over them", async () => {
    const dir = project({
      'lin.model.ts': linear('lin', "\n  compile: { precision: 'f32', lowering: 'loops', maxBatch: 4 },"),
      'typo.model.ts': linear('typo', "\n  compile: { precission: 'f32' },"),
    });
    let r = await run(dir, 'build', 'lin.model.ts', '--out', 'a');
    expect(r.code, r.err).toBe(0);
    expect(read(dir, 'a/lin.ts')).toContain('= Float32Array;');
    expect(looped(read(dir, 'a/lin.ts'))).toBe('4');
    r = await run(dir, 'build', 'lin.model.ts', '--out', 'b', '--precision', 'f64', '--max-batch', '16');
    expect(r.code, r.err).toBe(0);
    expect(read(dir, 'b/lin.ts')).toContain('= Float64Array;');
    expect(looped(read(dir, 'b/lin.ts'))).toBe('16');
    r = await run(dir, 'build', 'typo.model.ts', '--out', 'c');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^gradc build: error: typo\.model\.ts:11:14: defineModel\(\.\.\.\) compile: unknown compile option 'precission' \(did you mean 'precision'\?\)/);
  });
});

describe('the config file', () => {
  const config = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;

  it('is found upward from the working directory; gradc build with no arguments builds what it lists', async () => {
    const dir = project({
      'gradc.config.json': config({ models: ['models/*.model.ts'], out: 'src/generated' }),
      'models/a.model.ts': linear('a'),
      'models/b.model.ts': linear('b'),
      'src/app/deep/.keep': '',
    });
    const r = await run(join(dir, 'src/app/deep'), 'build');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('wrote ../../generated/a.ts');
    // The header names the model file relative to the config file, wherever gradc runs.
    expect(read(dir, 'src/generated/b.ts')).toContain("// Source: models/b.model.ts (model 'b').");
    const again = await run(dir, 'build', '--check');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe('2 generated file(s) up to date in src/generated');
    const none = await run(project({}), 'build');
    expect(none.code).toBe(1);
    expect(none.err).toContain('no model files given and no config file (gradc.config.ts, gradc.config.mts, gradc.config.json)');
  });

  it('precedence: flag > matching override (last first) > options > model file', async () => {
    const dir = project({
      'gradc.config.json': config({
        models: 'm/*.model.ts',
        out: 'gen',
        options: { lowering: 'loops', maxBatch: 32 },
        overrides: [{ files: 'm/b*.model.ts', options: { maxBatch: 8 } }, { files: ['m/b.model.ts'], options: { maxBatch: 2 } }],
      }),
      'm/a.model.ts': linear('a', "\n  compile: { precision: 'f32', maxBatch: 4 },"),
      'm/b.model.ts': linear('b'),
      'm/bb.model.ts': linear('bb'),
    });
    let r = await run(dir, 'build');
    expect(r.code, r.err).toBe(0);
    expect(looped(read(dir, 'gen/a.ts'))).toBe('32'); // config options over the model file's maxBatch
    expect(read(dir, 'gen/a.ts')).toContain('= Float32Array;'); // the model file's precision, not overridden
    expect(looped(read(dir, 'gen/bb.ts'))).toBe('8');
    expect(looped(read(dir, 'gen/b.ts'))).toBe('2');
    r = await run(dir, 'build', '--max-batch', '5', '--precision', 'f64');
    expect(r.code, r.err).toBe(0);
    expect(['a', 'b', 'bb'].map((m) => looped(read(dir, `gen/${m}.ts`)))).toEqual(['5', '5', '5']);
    expect(read(dir, 'gen/a.ts')).toContain('= Float64Array;');
  });

  it('unknown keys and wrong types are errors naming the key, located in a JSON file', async () => {
    const bad = async (o: unknown, name = 'gradc.config.json', text?: string) => {
      const dir = project({ [name]: text ?? config(o), 'a.model.ts': linear('a') });
      const r = await run(dir, 'build');
      expect(r.code).toBe(1);
      return r.err;
    };
    expect(await bad({ model: ['a.model.ts'] })).toMatch(/^gradc build: error: gradc\.config\.json:2:3: unknown key 'model' \(did you mean 'models'\?\); the keys are models, out, options, overrides, emit, clean, stamp\n  2 \|   "model": \[/);
    expect(await bad({ models: 'a.model.ts', overrides: [{ files: 'a.model.ts', options: { maxBatch: 0 } }] }))
      .toMatch(/gradc\.config\.json:7:21: overrides\[0\]\.options: 'maxBatch' must be a positive integer, got 0/);
    expect(await bad({ models: 'a.model.ts', options: { lowerin: 'loops' } })).toMatch(/gradc\.config\.json:4:5: options: unknown compile option 'lowerin' \(did you mean 'lowering'\?\)/);
    expect(await bad({ models: 'a.model.ts', clean: 'yes' })).toMatch(/gradc\.config\.json:3:12: clean: must be true or false, got string/);
    expect(await bad(null, 'gradc.config.json', '{\n  "models": ["a.model.ts"],,\n}\n')).toMatch(/gradc\.config\.json:2:28: the config file is not valid JSON: Property assignment expected/);
    const ts = `import type { GradcConfig } from ${JSON.stringify(GRADC)};\nexport default {\n  models: ['a.model.ts'],\n  outt: 'gen',\n} as GradcConfig;\n`;
    expect(await bad(null, 'gradc.config.ts', ts)).toMatch(/^gradc build: error: gradc\.config\.ts:4:3: unknown key 'outt' \(did you mean 'out'\?\)/);
  });
});

describe('--emit js, --check, --clean, --stamp', () => {
  it('--emit js writes .js and .d.ts: plain Node imports the .js and trains, the .d.ts type-checks under --strict', async () => {
    const dir = project({ 'lin.model.ts': linear('lin') });
    const r = await run(dir, 'build', 'lin.model.ts', '--out', 'gen', '--emit', 'js');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('wrote gen/lin.js and gen/lin.d.ts (' + read(dir, 'gen/lin.js').split('\n').length + ' lines) from lin.model.ts');
    for (const f of ['gen/lin.js', 'gen/lin.d.ts']) expect(read(dir, f).startsWith(`${GENERATED_HEADER}\n`)).toBe(true);
    expect(existsSync(join(dir, 'gen/lin.ts'))).toBe(false);

    // Plain Node, no TypeScript loader: import the .js and train y = 3x - 1.
    const script = `const m = await import(process.argv[1]);
const samples = [0, 1, 2, 3].map((x) => ({ inputs: { x }, targets: { y: 3 * x - 1 } }));
const r = m.fit(samples, { epochs: 3000, learningRate: 0.05 });
console.log(JSON.stringify({ w: r.params.w, b: r.params.b }));`;
    const trained = await new Promise<string>((done, fail) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, join(dir, 'gen/lin.js')], { cwd: dir });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('close', (code) => (code === 0 ? done(text) : fail(new Error(text))));
    });
    const { w, b } = JSON.parse(trained) as { w: number; b: number };
    expect(w).toBeCloseTo(3, 3);
    expect(b).toBeCloseTo(-1, 3);

    // The declarations, used from a strict TypeScript file.
    writeFileSync(join(dir, 'use.ts'), `import { initParams, loss, type Params } from './gen/lin.js';
const p: Params = initParams(1);
const l: number = loss(p, { x: 1 }, { y: 2 });
export const w: number = p.w + l;
`);
    const ts = createRequire(import.meta.url)('typescript') as typeof TS;
    const program = ts.createProgram([join(dir, 'use.ts')], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: [], lib: ['lib.es2022.d.ts'],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
    expect(problems).toEqual([]);
    expect(program.getSourceFiles().some((s) => s.fileName.endsWith('gen/lin.d.ts'))).toBe(true);
  });

  it('--check works for --emit js: up to date after a build, names an edited .d.ts', async () => {
    const dir = project({ 'lin.model.ts': linear('lin') });
    expect((await run(dir, 'build', 'lin.model.ts', '--out', 'gen', '--emit', 'js')).code).toBe(0);
    let r = await run(dir, 'build', 'lin.model.ts', '--out', 'gen', '--emit', 'js', '--check');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('2 generated file(s) up to date in gen');
    writeFileSync(join(dir, 'gen/lin.d.ts'), `${read(dir, 'gen/lin.d.ts')}// edited\n`);
    r = await run(dir, 'build', 'lin.model.ts', '--out', 'gen', '--emit', 'js', '--check');
    expect(r.code).toBe(1);
    expect(r.err).toContain('1 of 2 generated file(s) out of date');
    expect(r.err).toContain('gen/lin.d.ts (stale, from lin.model.ts)');
    // Byte-deterministic: building again gives the same bytes as the first build.
    const js = read(dir, 'gen/lin.js');
    expect((await run(dir, 'build', 'lin.model.ts', '--out', 'gen', '--emit', 'js')).code).toBe(0);
    expect(read(dir, 'gen/lin.js')).toBe(js);
  });

  it('--clean removes only generated files whose model no longer exists, and lists them', async () => {
    const dir = project({ 'a.model.ts': linear('a'), 'b.model.ts': linear('b'), 'c.model.ts': linear('c') });
    expect((await run(dir, 'build', 'a.model.ts', 'b.model.ts', 'c.model.ts', '--out', 'gen')).code).toBe(0);
    rmSync(join(dir, 'b.model.ts')); // b's model is gone; c's still exists but is not built below
    writeFileSync(join(dir, 'gen/old.js'), `${GENERATED_HEADER}\nexport {};\n`); // an earlier --emit js
    writeFileSync(join(dir, 'gen/hand.ts'), 'export const mine = 1;\n');
    writeFileSync(join(dir, 'gen/notes.txt'), `${GENERATED_HEADER}\n`);
    mkdirSync(join(dir, 'gen/sub'));
    writeFileSync(join(dir, 'gen/sub/x.ts'), `${GENERATED_HEADER}\n`);
    writeFileSync(join(dir, 'elsewhere.ts'), `${GENERATED_HEADER}\n`);
    symlinkSync(join(dir, 'elsewhere.ts'), join(dir, 'gen/link.ts'));

    let r = await run(dir, 'build', 'a.model.ts', '--out', 'gen', '--clean', '--check');
    expect(r.code).toBe(1);
    expect(r.err).toContain('gen/b.ts (generated, but its model no longer exists; --clean would remove it)');
    expect(r.err).not.toContain('gen/c.ts');
    expect(existsSync(join(dir, 'gen/b.ts'))).toBe(true);

    r = await run(dir, 'build', 'a.model.ts', '--out', 'gen', '--clean');
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n').filter((l) => l.startsWith('removed'))).toEqual([
      'removed gen/b.ts (generated by gradc; its model no longer exists)',
      'removed gen/old.js (generated by gradc; its model no longer exists)',
    ]);
    for (const kept of ['gen/a.ts', 'gen/c.ts', 'gen/hand.ts', 'gen/notes.txt', 'gen/sub/x.ts', 'gen/link.ts', 'elsewhere.ts']) expect(existsSync(join(dir, kept)), kept).toBe(true);
  });

  it('--stamp adds the version line after the header; without it the output does not name a version', async () => {
    const dir = project({ 'lin.model.ts': linear('lin') });
    expect((await run(dir, 'build', 'lin.model.ts', '--out', 'plain')).code).toBe(0);
    expect((await run(dir, 'build', 'lin.model.ts', '--out', 'stamped', '--stamp')).code).toBe(0);
    const plain = read(dir, 'plain/lin.ts');
    const lines = read(dir, 'stamped/lin.ts').split('\n');
    expect(lines.slice(0, 2)).toEqual([GENERATED_HEADER, `// Generated by gradc ${VERSION}`]);
    expect([lines[0], ...lines.slice(2)].join('\n')).toBe(plain);
    expect(plain).not.toContain(VERSION);
  });
});

describe('gradc build --watch (a real CLI process)', () => {
  /** Lines the child printed, and a way to wait for one. */
  function follow(child: ChildProcess) {
    const lines = { out: '', err: '' };
    const waiters: (() => void)[] = [];
    const poke = () => waiters.splice(0).forEach((w) => w());
    child.stdout!.on('data', (d) => { lines.out += d; poke(); });
    child.stderr!.on('data', (d) => { lines.err += d; poke(); });
    const until = async (what: string, test: () => boolean, ms = 60_000) => {
      const end = Date.now() + ms;
      while (!test()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nstdout:\n${lines.out}\nstderr:\n${lines.err}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    };
    return { lines, until };
  }
  const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

  it('rebuilds on a change to the model or a file it imports, keeps the old output while broken, recovers, exits 0 on SIGINT', async () => {
    // The formulas interpolate SCALE from ./scale.ts while it is used (then the block is not verbatim in the file).
    const model = (formula: string) => linear('lin', '', formula).replace('import {', "import { SCALE } from './scale.ts';\nimport {");
    const dir = project({ 'lin.model.ts': model('yhat = w * x * ${SCALE} + b'), 'scale.ts': 'export const SCALE = 2;\n' });
    const child = spawn(process.execPath, [join(ROOT, 'bin/gradc.js'), 'build', '--watch', 'lin.model.ts', '--out', 'gen'], { cwd: dir });
    const { lines, until } = follow(child);
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const built = (n: number) => until(`build ${n}`, () => count(lines.out, /built gen\/lin\.ts from lin\.model\.ts in \d+ ms/g) >= n);
    try {
      await built(1);
      await until('the watch to start', () => lines.out.includes('watching 1 model file(s)'));
      expect(read(dir, 'gen/lin.ts')).not.toMatch(/\b7 \*|\* 7\b/);

      writeFileSync(join(dir, 'scale.ts'), 'export const SCALE = 7;\n'); // an imported file
      await built(2);
      expect(read(dir, 'gen/lin.ts')).toMatch(/\b7 \*|\* 7\b/);

      writeFileSync(join(dir, 'lin.model.ts'), model('yhat = w * x * ${SCALE} + b + 1')); // the model itself
      await built(3);
      const good = read(dir, 'gen/lin.ts');
      const mtime = statSync(join(dir, 'gen/lin.ts')).mtimeMs;

      writeFileSync(join(dir, 'lin.model.ts'), model('yhat = w * q + b'));
      await until('the error', () => lines.err.includes("unknown symbol 'q'"));
      expect(lines.err).toMatch(/lin\.model\.ts: not rebuilt, its old output is kept\ngradc build: error: lin\.model\.ts:\d+:\d+: unknown symbol 'q'/);
      expect(read(dir, 'gen/lin.ts')).toBe(good);
      expect(statSync(join(dir, 'gen/lin.ts')).mtimeMs).toBe(mtime);

      writeFileSync(join(dir, 'lin.model.ts'), model('yhat = w * x - b'));
      await built(4);
      expect(read(dir, 'gen/lin.ts')).not.toBe(good);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(lines.out).toContain('stopped watching');
  }, 240_000); // the first build imports all of gradc fresh: slow on a loaded machine
});

describe('per-model compile options in the library (compile / generate)', () => {
  it("apply a model's own compile options under the options given to generate", async () => {
    const { defineModel, generate } = await import('../src/index.js');
    const m = defineModel({ name: 'own', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: 'loss = (w * x - y)^2', compile: { precision: 'f32' } });
    expect(generate(m).code).toContain('const Floats = Float32Array;');
    expect(generate(m, { precision: 'f64' }).code).toContain('const Floats = Float64Array;');
    expect(generate(m, { precision: undefined }).code).toContain('const Floats = Float32Array;');
    const bad = defineModel({ name: 'bad', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: 'loss = (w * x - y)^2', compile: { lowering: 'fast' as never } });
    expect(() => generate(bad)).toThrow(/'lowering' must be one of 'auto', 'unrolled', 'loops', got "fast"/);
  });
});
