// Issue 7, part A (files) and item 8 (large graphs, non-Error throws): nothing a user has
// is lost or left half-written. Build refuses to write over its inputs or over files it
// did not generate; every write is a transaction of temporaries then renames; unchanged
// files are not touched; bad -o targets are clear errors; a process killed at random
// moments leaves every output whole (old or new), checked with real SIGKILLs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GENERATED_HEADER } from '../src/cli/commands/build.js';
import { ensureDirectory, isTemporary, writeFiles, type FileSystemOps } from '../src/cli/files.js';
import { describeInternal, main } from '../src/cli/main.js';
import { displayPath } from '../src/cli/modelFile.js';
import { GradcError } from '../src/errors.js';
import { computationalGraph, describeThrown, MAX_SVG_NODES, toSvg } from '../src/inspect/graph.js';
import { version } from './helpers/write-loop.js';

const ROOT = join(import.meta.dirname, '..');
const STACK_LINE = /^\s+at .*[:(]/m;
const temps: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gradc-files-'));
  temps.push(d);
  return d;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A folder with package.json (ES modules) and model files importing gradc by absolute path. */
function modelDir(models: Record<string, string>): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  for (const [file, body] of Object.entries(models)) writeFileSync(join(dir, file), body.replace('GRADC', join(ROOT, 'src/index.js')));
  return dir;
}
const scalarModel = (name: string, w: number) =>
  `import { defineModel } from 'GRADC';\nexport default defineModel({ name: '${name}', inputs: ['x'], targets: ['y'], params: { w: ${w} }, formulas: 'loss = (w * x - y)^2' });\n`;

const listing = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

describe('1. build never writes over its inputs or over files it did not generate', () => {
  it('refuses a model whose output would be the model file itself, naming both paths, and leaves it intact', async () => {
    const dir = modelDir({ 'self.model.ts': scalarModel('self.model', 1) });
    const file = join(dir, 'self.model.ts');
    const before = readFileSync(file, 'utf8');
    const r = await run('build', file, '--out', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`refusing to write ${file}`);
    expect(r.err).toContain('an input of this build');
    expect(r.err).toContain(`model 'self.model' from`);
    expect(r.err).not.toMatch(STACK_LINE);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses to overwrite a file the model file imports (through a symlinked out dir too)', async () => {
    const dir = modelDir({
      'helper.ts': 'export const W = 2;\n',
      'uses.model.ts': `import { defineModel } from 'GRADC';\nimport { W } from './helper.js';\nexport default defineModel({ name: 'helper', inputs: ['x'], targets: ['y'], params: { w: W }, formulas: 'loss = (w * x - y)^2' });\n`,
    });
    const helper = readFileSync(join(dir, 'helper.ts'), 'utf8');
    const r = await run('build', join(dir, 'uses.model.ts'), '--out', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`refusing to write ${join(dir, 'helper.ts')}`);
    expect(r.err).toContain('an input of this build');
    expect(readFileSync(join(dir, 'helper.ts'), 'utf8')).toBe(helper);
    const link = join(tempDir(), 'link');
    symlinkSync(dir, link);
    const viaLink = await run('build', join(dir, 'uses.model.ts'), '--out', link);
    expect(viaLink.code).toBe(1);
    expect(viaLink.err).toContain(`refusing to write ${join(link, 'helper.ts')}: it is the same file as ${displayPath(join(dir, 'helper.ts'))}, an input of this build`);
    expect(readFileSync(join(dir, 'helper.ts'), 'utf8')).toBe(helper);
  });

  it('refuses to overwrite a hand-written file in the out dir (no generated header), and writes nothing else', async () => {
    const models = modelDir({ 'a.model.ts': scalarModel('a', 1), 'b.model.ts': scalarModel('b', 2) });
    const out = tempDir();
    writeFileSync(join(out, 'b.ts'), 'export const mine = 1; // written by hand\n');
    const r = await run('build', join(models, 'a.model.ts'), join(models, 'b.model.ts'), '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`refusing to overwrite ${join(out, 'b.ts')}: it was not generated by gradc (its first line is not '${GENERATED_HEADER}')`);
    expect(listing(out)).toEqual({ 'b.ts': 'export const mine = 1; // written by hand\n' });
    // A file gradc generated is replaced as before.
    rmSync(join(out, 'b.ts'));
    expect((await run('build', join(models, 'a.model.ts'), join(models, 'b.model.ts'), '--out', out)).code).toBe(0);
    expect(readFileSync(join(out, 'b.ts'), 'utf8').startsWith(GENERATED_HEADER)).toBe(true);
  });
});

describe('2. every write is atomic: temporaries in the same folder, then renames; all or none', () => {
  const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const failingWrite = (failOn: number): FileSystemOps => {
    let calls = 0;
    return {
      write(fd, data) {
        if (++calls === failOn) {
          writeFileSync(fd, data.subarray(0, 10)); // a partial write, then the disk is full
          throw enospc();
        }
        writeFileSync(fd, data);
      },
      rename: renameSync,
    };
  };

  it('a full disk (ENOSPC) while writing the second of three files changes none of them and leaves no temporary', () => {
    const dir = tempDir();
    const files = ['x.ts', 'y.ts', 'z.ts'].map((f) => join(dir, f));
    files.forEach((f, i) => writeFileSync(f, `old ${i}\n`));
    const before = listing(dir);
    let error: unknown;
    try {
      writeFiles(files.map((path, i) => ({ path, content: `new ${i}\n`.repeat(1000) })), failingWrite(2));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GradcError);
    expect((error as Error).message).toBe(`cannot write ${files[1]}: no space left on the device (ENOSPC); the file was left as it was`);
    expect(listing(dir)).toEqual(before);
  });

  it('a failing rename puts back the files already replaced (old bytes, or no file)', () => {
    const dir = tempDir();
    const [a, b, c] = ['a.ts', 'b.ts', 'c.ts'].map((f) => join(dir, f));
    writeFileSync(a, 'old a\n');
    writeFileSync(c, 'old c\n');
    const before = listing(dir);
    let renames = 0;
    const ops: FileSystemOps = {
      write: (fd, data) => writeFileSync(fd, data),
      rename(from, to) {
        if (++renames === 3) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        renameSync(from, to);
      },
    };
    expect(() => writeFiles([{ path: a, content: 'new a\n' }, { path: b, content: 'new b\n' }, { path: c, content: 'new c\n' }], ops)).toThrow(
      `cannot write ${c}: EIO; the files already replaced were put back`,
    );
    expect(listing(dir)).toEqual(before);
  });

  it('temporaries are hidden and never end in .ts; a killed writer\'s leftovers are removed by the next write', () => {
    const dir = tempDir();
    const target = join(dir, 'm.ts');
    // A leftover of a process that is gone (pid 2^22 + 1 is above Linux's pid_max default range) and one of a live process (ours).
    const dead = join(dir, `.m.ts.${4194305}-abcd1234.gradc-tmp`);
    const live = join(dir, `.m.ts.${process.pid}-abcd1234.gradc-tmp`);
    writeFileSync(dead, 'partial');
    writeFileSync(live, 'partial');
    expect(isTemporary('.m.ts.123-ab.gradc-tmp')).toBe(true);
    writeFileSync(target, 'old\n', { mode: 0o600 });
    expect(writeFiles([{ path: target, content: 'hello\n' }])).toEqual(['written']);
    expect(statSync(target).mode & 0o777).toBe(0o600); // a replaced file keeps its permissions
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ts'))).toEqual(['m.ts']);
  });

  it('a build of several models with one unwritable target writes none of them', async () => {
    const models = modelDir({ 'a.model.ts': scalarModel('a', 1), 'b.model.ts': scalarModel('b', 2) });
    const out = tempDir();
    mkdirSync(join(out, 'b.ts')); // a folder where b.ts would go
    const r = await run('build', join(models, 'a.model.ts'), join(models, 'b.model.ts'), '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^gradc build: error: (refusing to overwrite|cannot write)/);
    expect(r.err).not.toMatch(STACK_LINE);
    expect(readdirSync(out)).toEqual(['b.ts']);
  });
});

describe('3. only changed files are written', () => {
  it('a second build keeps the mtimes of unchanged modules and says which were unchanged', async () => {
    const models = modelDir({ 'a.model.ts': scalarModel('a', 1), 'b.model.ts': scalarModel('b', 2) });
    const out = tempDir();
    const argv = ['build', join(models, 'a.model.ts'), join(models, 'b.model.ts'), '--out', out];
    expect((await run(...argv)).code).toBe(0);
    const past = new Date('2020-01-01T00:00:00Z');
    for (const f of ['a.ts', 'b.ts']) utimesSync(join(out, f), past, past);
    writeFileSync(join(out, 'b.ts'), readFileSync(join(out, 'b.ts'), 'utf8') + '// stale\n');
    utimesSync(join(out, 'b.ts'), past, past);
    const r = await run(...argv);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      `unchanged ${join(out, 'a.ts')} (already up to date) from ${displayPath(join(models, 'a.model.ts'))}`,
      `wrote ${join(out, 'b.ts')} (${readFileSync(join(out, 'b.ts'), 'utf8').split('\n').length} lines) from ${displayPath(join(models, 'b.model.ts'))}`,
    ]);
    expect(statSync(join(out, 'a.ts')).mtime.getTime()).toBe(past.getTime());
    expect(statSync(join(out, 'b.ts')).mtime.getTime()).toBeGreaterThan(past.getTime());
    expect(readFileSync(join(out, 'b.ts'), 'utf8')).not.toContain('// stale');
  });

  it('graph -o says unchanged when the file already holds the drawing', async () => {
    const out = join(tempDir(), 'g.dot');
    expect((await run('graph', 'test/fixtures/ok-b.model.ts', '-o', out)).out).toMatch(/^wrote /);
    expect((await run('graph', 'test/fixtures/ok-b.model.ts', '-o', out)).out).toBe(`unchanged ${out} (dot, ${readFileSync(out, 'utf8').match(/\[label=/g)!.length} nodes)`);
  });
});

describe('4. graph -o / report -o / build --out onto bad targets: a clear error, no stack, no hang', () => {
  const bad = async (argv: string[], message: string) => {
    const r = await run(...argv);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
    expect(r.err).not.toMatch(STACK_LINE);
  };
  it('a missing folder', async () => {
    const missing = join(tempDir(), 'no', 'such');
    await bad(['graph', 'test/fixtures/ok-b.model.ts', '-o', join(missing, 'g.svg')], `cannot write ${join(missing, 'g.svg')}: the folder ${missing} does not exist`);
    await bad(['report', 'test/fixtures/ok-b.model.ts', '-o', join(missing, 'r.html')], `cannot write ${join(missing, 'r.html')}: the folder ${missing} does not exist`);
  });
  it('a folder where the file should go', async () => {
    const dir = tempDir();
    await bad(['graph', 'test/fixtures/ok-b.model.ts', '--format', 'dot', '-o', dir], `-o ${dir} is a directory; give a file name`);
    await bad(['report', 'test/fixtures/ok-b.model.ts', '-o', dir], `-o ${dir} is a directory; give a file name`);
  });
  it('/proc/self/x: an error at once, not a hang (Node\'s recursive mkdir loops forever there)', async () => {
    const t = Date.now();
    await bad(['graph', 'test/fixtures/ok-b.model.ts', '--format', 'dot', '-o', '/proc/self/x'], 'cannot write /proc/self/x');
    await bad(['build', 'test/fixtures/ok-b.model.ts', '--out', '/proc/self/x/y'], 'cannot create the output directory /proc/self/x/y');
    expect(() => ensureDirectory('/proc/self/x/y/z')).toThrow(GradcError);
    expect(Date.now() - t).toBeLessThan(20_000);
  });
  it('a path through a file', async () => {
    const file = join(tempDir(), 'plain');
    writeFileSync(file, '');
    await bad(['graph', 'test/fixtures/ok-b.model.ts', '--format', 'dot', '-o', join(file, 'g.dot')], `cannot write ${join(file, 'g.dot')}: ${file} is not a folder`);
  });
});

describe('8. large graphs and values thrown by Graphviz', () => {
  it('a thrown non-Error (a Graphviz wasm object) is shown with its fields, never "[object Object]"', () => {
    const text = describeInternal({ name: 'Error', message: 'out of memory when trying to allocate 184 bytes', status: 1 });
    expect(text).toContain('out of memory when trying to allocate 184 bytes');
    expect(text).toContain('status: 1');
    expect(text).not.toContain('[object Object]');
    expect(describeInternal(Object.create(null))).not.toContain('[object Object]');
    expect(describeInternal(42)).toContain('42');
    expect(describeThrown({ message: 'syntax error in line 1' })).toBe('syntax error in line 1');
    expect(describeThrown({ status: 3 })).toBe('{"status":3}');
  });

  it(`a graph over the node limit (default ${MAX_SVG_NODES}) is refused before Graphviz runs, saying how to raise it`, async () => {
    const g = computationalGraph((await import('./fixtures/ok-b.model.js')).default, { grad: true });
    await expect(toSvg(g, { maxNodes: 3 })).rejects.toThrow(GradcError);
    await expect(toSvg(g, { maxNodes: 3 })).rejects.toThrow(`the graph has ${g.nodes.length} nodes and ${g.edges.length} edges, more than the 3 nodes`);
    const r = await run('graph', 'test/fixtures/ok-b.model.ts', '--grad', '--max-nodes', '3');
    expect(r.code).toBe(1);
    expect(r.err).toContain('raise the limit with --max-nodes N, or write DOT text (--format dot)');
    expect((await run('graph', 'test/fixtures/ok-b.model.ts', '--max-nodes', '0')).err).toContain("--max-nodes must be a positive integer, got '0'");
    // DOT text has no limit: nothing is laid out.
    expect((await run('graph', 'test/fixtures/ok-b.model.ts', '--grad', '--max-nodes', '3', '--format', 'dot')).code).toBe(0);
  });

  it('report leaves out a graph over the limit, and the page and the output say so', async () => {
    const out = join(tempDir(), 'r.html');
    const r = await run('report', 'test/fixtures/ok-b.model.ts', '--no-fonts', '--max-nodes', '3', '-o', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/graph not drawn: the graph has \d+ nodes/);
    const page = readFileSync(out, 'utf8');
    expect(page).toContain('Not drawn: the graph has');
    expect(page).not.toContain('<svg');
  });
});

describe('F. kill -9 at random moments never leaves a partial file', () => {
  /** Starts `node <args>`; kills it with SIGKILL after `delay` ms, if given, or when told. */
  const start = (args: string[], delay?: number) => {
    const child = spawn(process.execPath, args, { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = delay === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), delay);
    const done = new Promise<{ killed: boolean; stderr: string }>((resolve) =>
      child.on('close', (_code, signal) => {
        clearTimeout(timer);
        resolve({ killed: signal === 'SIGKILL', stderr });
      }));
    return { kill: () => child.kill('SIGKILL'), done };
  };
  /** Starts `node <args>`, kills it with SIGKILL after `delay` ms (from when it prints `ready`, if `waitReady`). */
  const killAfter = (args: string[], delay: number, waitReady = false) =>
    new Promise<{ killed: boolean; code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, args, { cwd: ROOT });
      let stderr = '';
      let timer: NodeJS.Timeout | undefined;
      const arm = () => (timer ??= setTimeout(() => child.kill('SIGKILL'), delay));
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.on('data', (d) => waitReady && String(d).includes('ready') && arm());
      if (!waitReady) arm();
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        done({ killed: signal === 'SIGKILL', code, stderr });
      });
    });

  it('the transaction writer, killed mid-loop: every file is one complete version, leftovers are hidden temporaries', async () => {
    const count = 4;
    const size = 200_000;
    const kills = 4;
    const dirs = Array.from({ length: kills }, () => tempDir());
    const results = await Promise.all(dirs.map((dir, k) => killAfter(['--import', 'tsx', 'test/helpers/write-loop.ts', dir, String(count), String(size)], 100 + Math.floor(Math.random() * 400) + k * 37, true)));
    for (const [k, dir] of dirs.entries()) {
      expect(results[k].killed, results[k].stderr).toBe(true);
      for (const f of readdirSync(dir)) {
        if (isTemporary(f)) {
          expect(f.endsWith('.ts')).toBe(false);
          continue;
        }
        const i = Number(/^m(\d+)\.ts$/.exec(f)![1]);
        const text = readFileSync(join(dir, f), 'utf8');
        expect([version(0, i, size), version(1, i, size)].includes(text), `${f} after kill ${k} is partial (${text.length} bytes)`).toBe(true);
      }
      // The next write into the folder clears the killed writer's temporaries.
      writeFiles(Array.from({ length: count }, (_, i) => ({ path: join(dir, `m${i}.ts`), content: version(1, i, size) })));
      expect(readdirSync(dir).filter(isTemporary)).toEqual([]);
    }
  });

  it('the real CLI (gradc build on several models), killed at random delays: each module is absent, the old one or the new one', async () => {
    const names = ['p', 'q', 'r'];
    const oldModels = modelDir(Object.fromEntries(names.map((n, i) => [`${n}.model.ts`, scalarModel(n, i + 1)])));
    const newModels = modelDir(Object.fromEntries(names.map((n, i) => [`${n}.model.ts`, scalarModel(n, i + 10)])));
    const newFiles = names.map((n) => join(newModels, `${n}.model.ts`));
    const reference = tempDir();
    expect((await run('build', ...newFiles, '--out', reference)).code).toBe(0);
    const good = tempDir();
    expect((await run('build', ...names.map((n) => join(oldModels, `${n}.model.ts`)), '--out', good)).code).toBe(0);
    const oldBytes = listing(good);
    const newBytes = listing(reference);

    // Four builds start together: one runs to the end; one is killed at a random moment
    // from the start, two at random moments just after the uninterrupted one finishes
    // (they have the same work, so they are then near their own writes).
    const cli = (out: string) => ['bin/gradc.js', 'build', ...newFiles, '--out', out];
    const outs = Array.from({ length: 3 }, () => {
      const d = tempDir();
      for (const [f, text] of Object.entries(oldBytes)) writeFileSync(join(d, f), text);
      return d;
    });
    const runs = outs.map((d, k) => start(cli(d), k < 1 ? 500 + Math.floor(Math.random() * 4000) : undefined));
    const full = await start(cli(tempDir())).done;
    expect(full.killed, full.stderr).toBe(false);
    for (const r of runs.slice(1)) setTimeout(() => r.kill(), Math.floor(Math.random() * 150));
    await Promise.all(runs.map((r) => r.done));
    for (const d of outs) {
      for (const f of readdirSync(d)) {
        if (isTemporary(f)) {
          expect(f.endsWith('.ts')).toBe(false);
          continue;
        }
        const text = readFileSync(join(d, f), 'utf8');
        expect(text === oldBytes[f] || text === newBytes[f], `${f} in ${d} is neither the old nor the new module`).toBe(true);
      }
      // Finishing the build afterwards gives the new modules and no leftovers.
      expect((await run('build', ...newFiles, '--out', d)).code).toBe(0);
      expect(listing(d)).toEqual(newBytes);
    }
  });
});
