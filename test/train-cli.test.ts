// `gradc train`, `gradc predict`, `gradc evaluate`, run in process on the student example:
// train -> params file -> predict equals the library; --plot; one progress line per epoch
// off a terminal; errors leave files alone; --resume continues.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { compile } from '../src/index.js';
import { checkScaling, readRows, rowLayout, scaleRows, unscaleValue } from '../src/data/index.js';
import student from '../examples/student.model.js';
import { runCliFromRoot } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const MODEL = 'examples/student.model.ts';
const DATA = 'examples/data/students.csv';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gradc-train-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCliFromRoot;

const TRAIN = (out: string, ...more: string[]) =>
  run('train', MODEL, '--data', DATA, '--scale', 'standard', '--optimizer', 'adam', '--lr', '0.05', '--batch', '4', '--seed', '3', '--out', out, ...more);

describe('gradc train / predict / evaluate', () => {
  let params: string;
  let trained: { code: number; out: string; err: string };
  beforeAll(async () => {
    params = join(dir, 'params.json');
    trained = await TRAIN(params, '--epochs', '12', '--plot', join(dir, 'loss.svg'));
  }, 30_000);

  it('train writes a params file with the scaling, a summary and a sparkline', () => {
    expect(trained.code, trained.err).toBe(0);
    const doc = JSON.parse(readFileSync(params, 'utf8'));
    expect(doc.format).toBe('gradc-params');
    expect(doc.model).toBe('student');
    expect(doc.scaling.method).toBe('standard');
    expect(doc.scaling.targets.map((t: { name: string }) => t.name)).toEqual(['package']);
    expect(doc.optimizer.options.kind).toBe('adam');
    expect(trained.err).toMatch(/trained 12 epochs/);
    expect(trained.err).toMatch(/^loss [▁▂▃▄▅▆▇█]{12}$/m);
  });

  it('progress off a terminal is one plain line per epoch', () => {
    const lines = trained.err.split('\n').filter((l) => /^epoch \d+\/12 /.test(l));
    expect(lines.map((l) => Number(l.match(/^epoch (\d+)/)![1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(trained.err).not.toMatch(/\x1b\[/); // no control characters
  });

  it('--plot writes an SVG with the loss curve', () => {
    const svg = readFileSync(join(dir, 'loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/<path /);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  it('predict gives the predictions of the library (compile + loadParams + predict, same scaling), in raw units', async () => {
    const r = await run('predict', MODEL, '--params', params, '--data', DATA);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('yhat');
    const got = lines.slice(1).map(Number);

    const m = compile(student);
    const layout = rowLayout(m.shapes, m);
    const { scaling, ...doc } = JSON.parse(readFileSync(params, 'utf8'));
    const s = checkScaling(scaling, layout);
    const { params: p } = m.loadParams(doc);
    const rows = await readRows(DATA, layout);
    const raw = Float64Array.from(rows.Y);
    scaleRows(s, layout, 'inputs', rows.X, rows.count);
    const want = m.predict(p, Array.from({ length: rows.count }, (_, i) => ({ cgpa: rows.X[2 * i], iq: rows.X[2 * i + 1] })))
      .map((o) => unscaleValue(s, 'package', o.yhat as number));
    expect(got).toEqual(want);
    // trained: close to the targets in the file's units
    const mae = want.reduce((a, y, i) => a + Math.abs(y - raw[i]), 0) / want.length;
    expect(mae).toBeLessThan(0.5);

    const out = join(dir, 'pred.csv');
    const w = await run('predict', MODEL, '--params', params, '--data', DATA, '--out', out);
    expect(w.code, w.err).toBe(0);
    expect(readFileSync(out, 'utf8').trimEnd()).toBe(r.out);
  });

  it('evaluate prints the loss and, for a regression, MSE and MAE in raw units', async () => {
    const r = await run('evaluate', MODEL, '--params', params, '--data', DATA);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^samples +24$/m);
    expect(r.out).toMatch(/^loss +\d/m);
    const mse = Number(r.out.match(/^mse +(\S+)/m)![1]);
    const mae = Number(r.out.match(/^mae +(\S+)/m)![1]);
    expect(mse).toBeGreaterThan(0);
    expect(mae).toBeLessThan(0.5);
  });

  it('--resume continues from the saved parameters and optimizer state: the loss does not go up', async () => {
    const m = compile(student);
    const layout = rowLayout(m.shapes, m);
    const lossOf = async (file: string): Promise<number> => {
      const { scaling, ...doc } = JSON.parse(readFileSync(file, 'utf8'));
      const s = checkScaling(scaling, layout);
      const rows = await readRows(DATA, layout);
      scaleRows(s, layout, 'inputs', rows.X, rows.count);
      scaleRows(s, layout, 'targets', rows.Y, rows.count);
      return m.gradientBatch(m.loadParams(doc).params, rows.X, rows.Y, rows.count).loss;
    };
    const first = join(dir, 'first.json'), second = join(dir, 'second.json');
    const a = await run('train', MODEL, '--data', DATA, '--optimizer', 'adam', '--lr', '0.01', '--batch', '24', '--epochs', '5', '--out', first);
    expect(a.code, a.err).toBe(0);
    const b = await run('train', MODEL, '--data', DATA, '--resume', first, '--batch', '24', '--epochs', '5', '--out', second);
    expect(b.code, b.err).toBe(0);
    const before = await lossOf(first), after = await lossOf(second);
    expect(after).toBeLessThan(before);
    expect(JSON.parse(readFileSync(second, 'utf8')).optimizer.step).toBe(10); // 5 + 5 full-batch steps
  });

  it('Ctrl-C (SIGINT) stops in the middle of an epoch, after the current batch, and still writes the parameters', async () => {
    // 20,000 samples at batch 1 through a 2-128-128-1 net: one epoch takes seconds, so the
    // signal, 5 s after training starts, lands inside an epoch of a run of a million epochs.
    const ROWS = 20_000;
    const data = join(dir, 'wide.csv');
    writeFileSync(data, ['x_1,x_2,y_1', ...Array.from({ length: ROWS }, (_, i) => `${Math.sin(i)},${Math.cos(1.3 * i)},${Math.sin(i) * Math.cos(1.3 * i)}`)].join('\n'));
    const out = join(dir, 'interrupted.json');
    const child = spawn(process.execPath, ['bin/gradc.js', 'train', 'test/fixtures/wide.model.ts', '--data', data, '--optimizer', 'adam', '--batch', '1', '--epochs', '1000000', '--out', out], { cwd: ROOT });
    let stderr = '';
    let sentAt = 0;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sentAt && /^training wide on 20000 samples/m.test(stderr)) {
        sentAt = -1;
        setTimeout(() => { sentAt = performance.now(); child.kill('SIGINT'); }, 5000);
      }
    });
    const status = await new Promise<number | null>((done) => child.on('close', done));
    const afterSignal = performance.now() - sentAt;
    expect(status, stderr).toBe(0);
    const m = stderr.match(/\(interrupted \(Ctrl-C\) in epoch (\d+) after (\d+) of 20000 samples; the (best epoch's|last) parameters are kept\)/);
    expect(m, stderr).not.toBeNull();
    const epoch = Number(m![1]), samples = Number(m![2]);
    expect(samples).toBeGreaterThan(0);
    expect(samples).toBeLessThan(ROWS); // stopped inside the epoch
    expect(stderr).toMatch(new RegExp(`^trained ${epoch - 1} epochs? in`, 'm'));
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.model).toBe('wide');
    expect(doc.optimizer.step).toBe((epoch - 1) * ROWS + samples); // batch 1: no step taken after the one under way
    console.log(`train-cli: SIGINT in epoch ${epoch} after ${samples} of ${ROWS} samples; exit ${Math.round(afterSignal)} ms after the signal`);
  }, 60_000);

  it('a classifier (iris, JSON Lines, --val-data): integer targets are not scaled; evaluate prints the accuracy', async () => {
    // Three well separated clusters, one-hot targets; deterministic.
    const lines = (n: number, shift: number): string =>
      Array.from({ length: n }, (_, i) => {
        const c = i % 3;
        const x = [0, 1, 2, 3].map((k) => 5 * c + ((i * 7 + k * 3 + shift) % 10) / 10 + k);
        return JSON.stringify({ x, y: [0, 1, 2].map((j) => (j === c ? 1 : 0)) });
      }).join('\n');
    const trainFile = join(dir, 'iris-train.jsonl'), valFile = join(dir, 'iris-val.jsonl'), out = join(dir, 'iris.json');
    writeFileSync(trainFile, lines(45, 0));
    writeFileSync(valFile, lines(15, 5));
    const t = await run('train', 'examples/iris.model.ts', '--data', trainFile, '--val-data', valFile, '--optimizer', 'adam', '--lr', '0.05', '--batch', '5', '--epochs', '15', '--out', out);
    expect(t.code, t.err).toBe(0);
    expect(t.err).toMatch(/^epoch 15\/15 +loss \S+ +val_loss \S+/m);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.scaling.inputs.map((f: { name: string }) => f.name)).toEqual(['x']);
    expect(doc.scaling.targets).toEqual([]);
    const e = await run('evaluate', 'examples/iris.model.ts', '--params', out, '--data', valFile);
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/^accuracy +1 \(15\/15, argmax of logits against y\)/m);
    const p = await run('predict', 'examples/iris.model.ts', '--params', out, '--data', valFile);
    expect(p.out.split('\n')[0]).toBe('logits_1,logits_2,logits_3');
    expect(p.out.split('\n')).toHaveLength(16);
  }, 30_000);

  describe('errors: a clear message, exit 1, nothing overwritten', () => {
    const untouched = async (argv: string[], message: RegExp): Promise<void> => {
      const before = readFileSync(params, 'utf8');
      const mtime = statSync(params).mtimeMs;
      const r = await run(...argv);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/internal error/);
      expect(readFileSync(params, 'utf8')).toBe(before);
      expect(statSync(params).mtimeMs).toBe(mtime);
    };

    it('a params file for another model', async () => {
      await untouched(['predict', 'examples/xor.model.ts', '--params', params, '--data', DATA], /params file is for the model 'student', not 'xor'/);
      await untouched(['train', 'examples/xor.model.ts', '--data', DATA, '--resume', params, '--out', params], /params file is for the model 'student', not 'xor'/);
    });

    it('a data file missing a column of the model (the message lists the header)', async () => {
      const bad = join(dir, 'bad.csv');
      writeFileSync(bad, 'cgpa,IQ,package\n7,100,3\n8,110,4\n');
      await untouched(['train', MODEL, '--data', bad, '--out', params], /no column for input 'iq'.*the header has cgpa, IQ, package/);
    });

    it('an unknown optimizer', async () => {
      await untouched(['train', MODEL, '--data', DATA, '--optimizer', 'adamm', '--out', params], /unknown optimizer 'adamm'.*sgd, momentum, adam, adamw, rmsprop/);
    });
  });
});
