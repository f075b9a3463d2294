/**
 * Review of issue 9 (optimizers, fit, saved parameters, data files, gradc train / predict /
 * evaluate) by a hostile user: one test per defect found, each failing before its fix.
 *
 * Library (generated module, both lowerings):
 *   R1  step / stepBatch with a negative learning rate number (gradient ascent) is refused;
 *   R2  a schedule without its required option (step without stepSize, ...) is refused,
 *       not trained as 'diverged' with every step refused;
 *   R3  momentum >= 1 and rmsprop rho = 1 (nothing decays) are refused, naming the option;
 *   R4  saveParams(params, 0.1) is a SampleError, not a SyntaxError (internal error);
 *   R5  loadParams refuses a negative second moment (v) and a step count beyond 2^53;
 *   R6  fit refuses learningRate together with an OptimizerState (it was silently ignored);
 *   R7  an abort seen after an epoch's last batch keeps that completed epoch in the history;
 *   R8  divergence restores the best epoch's parameters, not those of an epoch on the way up.
 * Data files:
 *   R2  also: a cosine schedule with minLearningRate above learningRate;
 *   R9  a cell with bytes that are not UTF-8 says so; a ';'-separated file gets a hint; a
 *       line of spaces is skipped like an empty line (it was a ragged row, or the header); a
 *       row with a trailing comma is told so.
 * Loss curve:
 *   R15 a run of 10^5 epochs or more (--epochs 1e9 stopped by Ctrl-C) plotted: was a stack
 *       overflow (Math.min(...values)), an internal error after --out; 10^4 epochs took 6 s
 *       to draw; now each series is thinned to MAX_POINTS keeping every stretch's extremes.
 * Command line:
 *   R10 --out spelled differently from (or a symlink to) the data or params file is refused
 *       and the file is left as it was (train and predict);
 *   R11 --epochs 0x10 is refused (Number() reads hex); a params path that is a folder says so;
 *   R12 evaluate reports MSE/MAE, not an argmax "accuracy", for a continuous vector target,
 *       and the accuracy of a binary classifier (it had none);
 *   R13 integer regression targets (counts, prices) are scaled; 0/1 labels are not.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { compile, defineModel, GradcError, type GeneratedModule, type Params } from '../src/index.js';
import { parseRows, rowLayout } from '../src/data/index.js';
import { lossCurveSpec, lossCurveSvg, sparkline } from '../src/train/index.js';
import { runCliFromRoot } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');

const lin = () =>
  defineModel({
    name: 'lin',
    inputs: { x: [2] },
    targets: ['y'],
    params: { w: { shape: [2], init: 0.5 }, b: 0 },
    formulas: `
      yhat = dot(w, x) + b
      loss = (yhat - y)^2
    `,
  });
const SAMPLES = Array.from({ length: 20 }, (_, i) => ({ inputs: { x: [i / 10, 1 - i / 20] }, targets: { y: i / 5 } }));

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
function sampleError(f: () => unknown, pattern: RegExp): void {
  const e = thrown(f);
  expect(e.name, e.message).toBe('SampleError');
  expect(e).toBeInstanceOf(GradcError);
  expect(e.message).toMatch(pattern);
}
const values = (p: Params): number[] => Object.values(p).flatMap((v) => (typeof v === 'number' ? [v] : Array.from(v)));

describe.each([{ lowering: 'unrolled' as const }, { lowering: 'loops' as const }])('generated module ($lowering)', (options) => {
  const m: GeneratedModule = compile(lin(), options);
  const packed = m.packSamples(SAMPLES);

  it('R1: a negative learning rate given to step or stepBatch is refused, the parameters unchanged', () => {
    const p = m.initParams();
    sampleError(() => m.step(p, SAMPLES[0]!.inputs, SAMPLES[0]!.targets, -1), /^step: learningRate must be a finite number >= 0, got -1/);
    sampleError(() => m.stepBatch(p, packed.X, packed.Y, 4, -0.5), /^stepBatch: learningRate must be a finite number >= 0, got -0.5/);
    expect(values(p)).toEqual(values(m.initParams()));
    // 0 is a valid rate: a step that changes nothing.
    m.step(p, SAMPLES[3]!.inputs, SAMPLES[3]!.targets, 0);
    expect(values(p)).toEqual(values(m.initParams()));
  });

  it('R2: a schedule without its required option is an error naming it', () => {
    const p = m.initParams();
    const cases: [unknown, RegExp][] = [
      [{ kind: 'step', gamma: 0.5 }, /schedule\.stepSize is required: a positive integer/],
      [{ kind: 'step', stepSize: 3 }, /schedule\.gamma is required: a finite number > 0/],
      [{ kind: 'exponential' }, /schedule\.gamma is required/],
      [{ kind: 'cosine', warmupSteps: 2 }, /schedule\.totalSteps is required: a positive integer/],
    ];
    for (const [schedule, pattern] of cases) {
      sampleError(() => m.initOptimizer(p, { kind: 'sgd', schedule } as never), pattern);
      sampleError(() => m.fit(SAMPLES, { epochs: 2, optimizer: { kind: 'adam', schedule } as never }), pattern);
    }
    // A cosine that would climb from learningRate up to minLearningRate is refused too.
    sampleError(() => m.initOptimizer(p, { kind: 'adam', learningRate: 0.001, schedule: { kind: 'cosine', totalSteps: 10, minLearningRate: 0.01 } }), /options\.schedule\.minLearningRate must be at most learningRate \(0\.001\), got 0\.01/);
    // Optional ones still default.
    const st = m.initOptimizer(p, { kind: 'sgd', learningRate: 0.1, schedule: { kind: 'cosine', totalSteps: 10 } });
    expect(m.fit(SAMPLES, { epochs: 2, optimizer: st }).stopped).toBe('epochs');
  });

  it('R3: momentum >= 1 and rmsprop rho = 1 are refused (nothing would decay)', () => {
    const p = m.initParams();
    for (const momentum of [1, 1.5, 5]) {
      sampleError(() => m.initOptimizer(p, { kind: 'momentum', momentum }), /options\.momentum must be a number in \[0, 1\), got /);
      sampleError(() => m.initOptimizer(p, { kind: 'rmsprop', momentum }), /options\.momentum must be a number in \[0, 1\)/);
    }
    sampleError(() => m.initOptimizer(p, { kind: 'rmsprop', rho: 1 }), /options\.rho must be a number in \[0, 1\), got 1/);
    // The edges that are fine: no momentum, rho 0, momentum just under 1.
    for (const o of [{ kind: 'momentum', momentum: 0 }, { kind: 'momentum', momentum: 0.999 }, { kind: 'rmsprop', rho: 0 }] as const) {
      expect(m.initOptimizer(p, o).options.kind).toBe(o.kind);
    }
  });

  it('R4: saveParams with a learning rate (or anything not a state) as optimizer is a SampleError', () => {
    const p = m.initParams();
    for (const bad of [0.1, 'adam', true]) {
      sampleError(() => m.saveParams(p, bad as never), /^saveParams: optimizer must be an OptimizerState \(from initOptimizer or fit\), got /);
    }
    sampleError(() => m.saveParams(p, { step: 0 } as never), /^saveParams: optimizer must be a learning rate|OptimizerState/);
  });

  it('R5: loadParams refuses a negative second moment and a step count beyond 2^53', () => {
    for (const kind of ['adam', 'adamw', 'rmsprop'] as const) {
      const r = m.fit(SAMPLES, { epochs: 2, optimizer: { kind, learningRate: 0.01 } });
      const text = JSON.stringify(m.saveParams(r.params, r.optimizer));
      expect(m.loadParams(text).optimizer!.step).toBe(r.optimizer.step);
      const doc = JSON.parse(text);
      doc.optimizer.v.w.values[1] = -1e-9;
      sampleError(() => m.loadParams(doc), new RegExp(`^loadParams: optimizer\\.v\\.w\\.values\\[1\\] is -1e-9, but a ${kind} optimizer's v is a mean of squares`));
      const big = JSON.parse(text);
      big.optimizer.step = 2 ** 53;
      sampleError(() => m.loadParams(big), /^loadParams: optimizer\.step must be a non-negative integer \(at most 2\^53 - 1\), got 9007199254740992/);
    }
    // A momentum velocity may be negative: it is a signed running sum.
    const r = m.fit(SAMPLES, { epochs: 2, optimizer: { kind: 'momentum', learningRate: 0.01 } });
    expect(values(r.optimizer.m!).some((v) => v < 0)).toBe(true);
    expect(m.loadParams(JSON.stringify(m.saveParams(r.params, r.optimizer))).optimizer!.options.kind).toBe('momentum');
  });

  it('R6: fit refuses a learningRate beside an OptimizerState instead of ignoring it', () => {
    const st = m.initOptimizer(m.initParams(), { kind: 'adam', learningRate: 0.001 });
    sampleError(() => m.fit(SAMPLES, { epochs: 1, optimizer: st, learningRate: 5 }), /^fit: learningRate cannot be combined with an OptimizerState/);
    expect(st.step).toBe(0);
    // With optimizer options, learningRate still fills in a missing rate.
    const r = m.fit(SAMPLES, { epochs: 1, optimizer: { kind: 'adam' }, learningRate: 0.05 });
    expect(r.optimizer.options.learningRate).toBe(0.05);
  });

  it("R7: an abort seen after an epoch's last batch keeps that epoch in the history", () => {
    for (const batchSize of [1, 4, 3]) {
      const perEpoch = Math.ceil(SAMPLES.length / batchSize);
      for (const epochsDone of [1, 2]) {
        const steps = perEpoch * epochsDone;
        let reads = 0;
        const signal = { get aborted() { reads++; return reads > steps; } }; // read once by the option check, then after each step
        const seen: number[] = [];
        const r = m.fit(SAMPLES, { epochs: 10, batchSize, learningRate: 0.01, signal, onEpoch: (e) => void seen.push(e) });
        expect(r.stopped).toBe('aborted');
        expect(r.optimizer.step).toBe(steps);
        expect(r.epochs).toBe(epochsDone); // was epochsDone - 1: the completed epoch was dropped
        expect(r.history.loss).toHaveLength(epochsDone);
        expect(seen).toEqual(Array.from({ length: epochsDone }, (_, i) => i));
        // The parameters are those after the recorded epoch: the same as a run of that many epochs.
        const plain = m.fit(SAMPLES, { epochs: epochsDone, batchSize, learningRate: 0.01 });
        expect(values(r.params)).toEqual(values(plain.params));
        expect(r.history.loss).toEqual(plain.history.loss);
      }
    }
    // Mid-epoch, the unfinished epoch is still left out.
    let reads = 0;
    const r = m.fit(SAMPLES, { epochs: 10, learningRate: 0.01, signal: { get aborted() { return ++reads > 25; } } });
    expect([r.stopped, r.epochs, r.optimizer.step]).toEqual(['aborted', 1, 25]);
  });

  it('R8: on divergence the best epoch comes back, not an epoch on the way up', () => {
    // lr 0.5, batch 1: the first epoch's mean loss climbs from 2.37 to about 1900 (under the
    // default factor of 1e6, so it "passed"), the second is not finite. The parameters after
    // the first epoch have a loss near 2e5: they were kept before; the start comes back now.
    const start = m.initParams();
    const r = m.fit(SAMPLES, { epochs: 50, learningRate: 0.5, params: m.copyParams(start) });
    expect(r.stopped).toBe('diverged');
    expect(r.losses[0]!).toBeGreaterThan(100 * r.initialLoss);
    expect(values(r.params)).toEqual(values(start));
    expect(r.optimizer.step).toBe(0);
    expect(m.evaluate(r.params, SAMPLES)).toBe(r.initialLoss);
    // Heavy momentum: the loss falls, then climbs for epochs, then overflows; the kept
    // parameters are the best epoch's, whose loss is far below the last epochs'.
    const seen: Params[] = [];
    const h = m.fit(SAMPLES, { epochs: 200, optimizer: { kind: 'momentum', learningRate: 0.3, momentum: 0.99 }, onEpoch: (_e, _l, p) => void seen.push(m.copyParams(p)) });
    expect(h.stopped).toBe('diverged');
    const bestEpoch = h.losses.indexOf(Math.min(...h.losses));
    expect(bestEpoch).toBeLessThan(h.losses.length - 1);
    expect(values(h.params)).toEqual(values(seen[bestEpoch]!));
    expect(m.evaluate(h.params, SAMPLES)).toBeLessThan(m.evaluate(seen[seen.length - 1]!, SAMPLES) / 100);
  });
});

describe('data files (R9)', () => {
  const layout = rowLayout({ inputs: { a: [], v: [3] }, targets: { y: [] } });

  it('a cell holding bytes that are not UTF-8 says so, with its place', async () => {
    const bytes = Buffer.concat([Buffer.from('a,v_1,v_2,v_3,y\n1,2,3,4,5\n'), Buffer.from([0xff, 0xfe, 0x31]), Buffer.from(',2,3,4,5\n')]);
    const e = await parseRows(bytes.toString('utf8'), layout, { format: 'csv', file: 'latin1.csv' }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(GradcError);
    expect((e as Error).message).toMatch(/^latin1\.csv:3:1: column 'a' ".*1" holds bytes that are not UTF-8 text \(save the file as UTF-8\)/);
  });

  it('a line of spaces or tabs is skipped like an empty line (it was a ragged row; first, it was the header)', async () => {
    for (const text of ['a,v_1,v_2,v_3,y\n1,2,3,4,5\n   \n', '  \t\na,v_1,v_2,v_3,y\n1,2,3,4,5\n', 'a,v_1,v_2,v_3,y\r\n1,2,3,4,5\r\n \r\n']) {
      const r = await parseRows(text, layout, { format: 'csv' });
      expect([r.count, ...r.X, ...r.Y]).toEqual([1, 1, 2, 3, 4, 5]);
    }
    // A row of empty cells is still a bad row.
    await expect(parseRows('a,v_1,v_2,v_3,y\n1,2,3,4,5\n,,,,\n', layout, { format: 'csv', file: 'f.csv' })).rejects.toThrow(/^f\.csv:3:1: column 'a' is empty/);
  });

  it('a row with one empty cell more than the header is told it may have a trailing comma', async () => {
    await expect(parseRows('a,v_1,v_2,v_3,y\n1,2,3,4,5,\n', layout, { format: 'csv', file: 't.csv' })).rejects.toThrow(/^t\.csv:2: the row has 6 cells, the header has 5 \(the last one is empty: a trailing comma\?\)/);
    await expect(parseRows('a,v_1,v_2,v_3,y\n1,2,3,4,5,6\n', layout, { format: 'csv', file: 't.csv' })).rejects.toThrow(/^t\.csv:2: the row has 6 cells, the header has 5$/);
  });

  it("a ';'-separated file is told that it is not comma-separated", async () => {
    const e = await parseRows('a;v_1;v_2;v_3;y\n1;2;3;4;5\n', layout, { format: 'csv', file: 'semi.csv' }).catch((x: Error) => x);
    expect((e as Error).message).toMatch(/^semi\.csv:1: no column for input 'a': the header 'a;v_1;v_2;v_3;y' is one column; the file seems to separate cells with ;, not commas/);
  });
});

describe('loss curve of a long run (R15)', () => {
  it('plots 300,000 epochs (two series) from at most 1000 points each, keeping the spikes; the sparkline takes them too', async () => {
    const n = 300_000;
    const loss = Array.from({ length: n }, (_, i) => 1 / (1 + i / 100) + (i === 123_456 ? 50 : 0));
    const valLoss = loss.map((v) => v * 1.1);
    const spec = lossCurveSpec({ loss, valLoss }) as { data: { values: { epoch: number; loss: number; series: string }[] } };
    const train = spec.data.values.filter((v) => v.series === 'training');
    expect(train.length).toBeLessThanOrEqual(1000);
    expect(train.some((v) => v.epoch === 123_457 && v.loss === loss[123_456])).toBe(true); // the spike
    expect(train[0]!.epoch).toBe(1);
    expect(train.at(-1)!.epoch).toBe(n);
    expect(train.map((v) => v.epoch)).toEqual([...train.map((v) => v.epoch)].sort((a, b) => a - b));
    const svg = await lossCurveSvg({ loss, valLoss }); // was a RangeError
    expect(svg).toMatch(/^<svg /);
    expect((svg.match(/<path/g) ?? []).length).toBeLessThan(100); // two lines, axes, legend: not a path per point
    expect([...sparkline(loss)].length).toBe(n);
  }, 60_000);
});

describe('gradc train / predict / evaluate (R10-R13)', () => {
  let dir: string;
  const STUDENT = 'examples/student.model.ts';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gradc-review-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = runCliFromRoot;

  it('R10: --out naming the data or params file by another spelling or a symlink is refused; the file is kept', async () => {
    const data = join(dir, 'students.csv');
    const text = readFileSync(join(ROOT, 'examples/data/students.csv'), 'utf8');
    writeFileSync(data, text);
    mkdirSync(join(dir, 'sub'), { recursive: true });
    symlinkSync(data, join(dir, 'link.csv'));
    for (const out of [`${dir}/sub/../students.csv`, `${dir}/./students.csv`, join(dir, 'link.csv')]) {
      const r = await run('train', STUDENT, '--data', data, '--epochs', '1', '--out', out);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/refusing to write --out .*: it is the same file as .*students\.csv, an input of this run/);
      expect(readFileSync(data, 'utf8')).toBe(text);
    }
    const params = join(dir, 'p.json');
    expect((await run('train', STUDENT, '--data', data, '--epochs', '2', '--out', params)).code).toBe(0);
    const saved = readFileSync(params, 'utf8');
    for (const out of [`${dir}/sub/../p.json`, `${dir}//students.csv`]) {
      const r = await run('predict', STUDENT, '--params', params, '--data', data, '--out', out);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/refusing to write --out .*: it is the same file as .*, an input of this run/);
    }
    expect(readFileSync(params, 'utf8')).toBe(saved);
    expect(readFileSync(data, 'utf8')).toBe(text);
    // --plot onto --out by another spelling.
    const r = await run('train', STUDENT, '--data', data, '--epochs', '1', '--out', join(dir, 'q.json'), '--plot', `${dir}/sub/../q.json`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--out and --plot name the same file/);
  }, 60_000);

  it('R11: --epochs 0x10 and --lr 0x1 are refused; a params path that is a folder says so', async () => {
    const data = 'examples/data/students.csv';
    for (const [flag, v] of [['epochs', '0x10'], ['lr', '0x1'], ['batch', '0b11']] as const) {
      const r = await run('train', STUDENT, '--data', data, `--${flag}`, v);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`option --${flag} must be .*, got '${v}'`));
    }
    expect((await run('train', STUDENT, '--data', data, '--epochs', '1e0')).code).toBe(0); // decimal exponents are fine
    const r = await run('predict', STUDENT, '--params', dir, '--data', data);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read the params file: it is a directory/);
  }, 60_000);

  it('R12: evaluate of a continuous vector target prints MSE and MAE, not an argmax accuracy', async () => {
    const model = join(dir, 'vec.model.ts');
    writeFileSync(model, `import { defineModel } from ${JSON.stringify(join(ROOT, 'src/index.js'))};
export default defineModel('vec', (m) => {
  const x = m.input('x', 2);
  const y = m.target('y', 2);
  const W = m.param('W', { shape: [2, 2], init: 'glorot' });
  const yhat = m.def('yhat', m.matmul(W, x));
  m.output('yhat');
  m.loss(m.call('sum', m.call('square', m.sub(yhat, y))));
}, { seed: 1 });
`);
    const rows = ['x_1,x_2,y_1,y_2'];
    for (let i = 0; i < 30; i++) rows.push(`${i / 7},${1 - i / 11},${(2 * i) / 7 + 0.25},${i / 7 - 1 + i / 11}`);
    writeFileSync(join(dir, 'vec.csv'), rows.join('\n') + '\n');
    const params = join(dir, 'vec.json');
    const t = await run('train', model, '--data', join(dir, 'vec.csv'), '--epochs', '5', '--optimizer', 'adam', '--lr', '0.05', '--out', params);
    expect(t.code, t.err).toBe(0);
    const e = await run('evaluate', model, '--params', params, '--data', join(dir, 'vec.csv'));
    expect(e.code, e.err).toBe(0);
    expect(e.out).not.toMatch(/accuracy/);
    expect(e.out).toMatch(/^mse {7}\d/m);
    expect(e.out).toMatch(/^mae {7}\d/m);
  }, 60_000);

  it('R13: integer regression targets are scaled; 0/1 labels are not', async () => {
    const data = join(dir, 'int.csv');
    // The student table with the package in whole units of 100 (integers from 150 to 600).
    const lines = readFileSync(join(ROOT, 'examples/data/students.csv'), 'utf8').trim().split('\n');
    writeFileSync(data, [lines[0], ...lines.slice(1).map((l) => { const c = l.split(','); return `${c[0]},${c[1]},${Math.round(Number(c[2]) * 100)}`; })].join('\n') + '\n');
    const params = join(dir, 'int.json');
    const r = await run('train', STUDENT, '--data', data, '--epochs', '30', '--optimizer', 'adam', '--lr', '0.05', '--batch', '4', '--out', params);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(readFileSync(params, 'utf8'));
    expect(doc.scaling.targets.map((t: { name: string }) => t.name)).toEqual(['package']);
    expect(r.err).toMatch(/in scaled target units/);
    const ev = await run('evaluate', STUDENT, '--params', params, '--data', data);
    const mae = Number(/^mae +(\S+)/m.exec(ev.out)![1]);
    expect(mae).toBeLessThan(100); // in the file's units (packages of 150 to 600), not diverged
    // 0/1 labels (XOR) stay as they are.
    writeFileSync(join(dir, 'xor.csv'), 'x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n');
    const xp = join(dir, 'xor.json');
    expect((await run('train', 'examples/xor.model.ts', '--data', join(dir, 'xor.csv'), '--epochs', '3', '--out', xp)).code).toBe(0);
    expect(JSON.parse(readFileSync(xp, 'utf8')).scaling.targets).toEqual([]);
    // R12 too: evaluate of a binary classifier (scalar output, 0/1 labels) gives its accuracy.
    const ev2 = await run('evaluate', 'examples/xor.model.ts', '--params', xp, '--data', join(dir, 'xor.csv'));
    expect(ev2.code, ev2.err).toBe(0);
    expect(ev2.out).toMatch(/^accuracy  (0|0\.25|0\.5|0\.75|1) \([0-4]\/4, yhat > 0\.5 against y = 1\)$/m);
    expect(ev2.out).toMatch(/^mse {7}\d/m);
    expect(ev.out).not.toMatch(/accuracy/); // integer regression: no accuracy
  }, 60_000);
});
