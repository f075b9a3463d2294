/**
 * Review, round 2 (fused optimizer steps, `gradc train` in a worker, loaded module types)
 * by a hostile user: one test per defect found, each failing before its fix.
 *
 *   D1  `gradc train` whose loss diverges in the first epoch exited 0 and wrote the
 *       starting parameters as if trained: now exit 1, a clear message, nothing written.
 *   D2  fit / step / stepBatch with a frozen params object holding a scalar parameter threw
 *       a TypeError (an internal error) mid-update: now a SampleError naming the parameter,
 *       before anything changes.
 *   D3  step / stepBatch / fit with a frozen OptimizerState threw a TypeError; a state whose
 *       step count is 2^53 was taken and never advanced (step + 1 === step): both are now a
 *       SampleError, and the parameters are unchanged.
 *   D4  `gradc train --resume p.json --optimizer momentum` on an adam file said "resumed at
 *       step N" while it trained with a fresh momentum state from step 0: it now says so.
 *   D5  `gradc train --val-data` whose validation loss is NaN every epoch (data outside the
 *       model's domain) without --patience said "no improvement for undefined epochs
 *       (--patience)": now "all epochs done" and a warning naming the non-finite validation loss.
 *   D6  `gradc train --epochs 1e300` was taken (printed "epoch 1/1e+300", a counter that stops
 *       advancing past 2^53): --epochs, --batch and --patience now stop at 2^53 - 1.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { compile, defineModel, type Params } from '../src/index.js';
import { runCliFromRoot } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'gradc-review2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCliFromRoot;

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

const mixed = () =>
  defineModel({
    name: 'mixed',
    inputs: ['x'],
    targets: ['y'],
    params: { w: 1, v: { shape: [2], init: 0.5 } },
    formulas: `
      yhat = w * x + sum(v)
      loss = (yhat - y)^2
    `,
  });
const S = [{ inputs: { x: 1 }, targets: { y: 2 } }, { inputs: { x: 2 }, targets: { y: 3 } }];

describe('gradc train', () => {
  it('D1: a loss that diverges in the first epoch is exit 1 with a clear message, and --out is not written', async () => {
    const data = join(dir, 'big.csv');
    writeFileSync(data, `x,y\n${Array.from({ length: 20 }, (_, i) => `${i * 100},${i * 300}`).join('\n')}\n`);
    const out = join(dir, 'p.json');
    const r = await run('train', 'examples/linreg.model.ts', '--data', data, '--scale', 'none', '--lr', '1000', '--epochs', '5', '--out', out);
    expect(r.err).toMatch(/the loss diverged in the first epoch .*nothing was trained.*not written; try a smaller --lr/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  });

  it('D4: --resume with another --optimizer says the optimizer state is fresh, not "resumed at step N"', async () => {
    const data = join(dir, 'd.csv');
    writeFileSync(data, 'x,y\n1,2\n2,4\n3,6\n');
    const a = join(dir, 'a.json');
    expect((await run('train', 'examples/linreg.model.ts', '--data', data, '--optimizer', 'adam', '--epochs', '3', '--out', a)).code).toBe(0);
    const other = await run('train', 'examples/linreg.model.ts', '--data', data, '--optimizer', 'momentum', '--resume', a, '--epochs', '1');
    expect(other.code).toBe(0);
    expect(other.err).toMatch(/momentum, resumed from .*a\.json with a fresh momentum state \(the file's is adam\)/);
    expect(other.err).not.toMatch(/resumed at step/);
    const same = await run('train', 'examples/linreg.model.ts', '--data', data, '--resume', a, '--epochs', '1');
    expect(same.err).toMatch(/adam, resumed at step 9/);
  });

  it('D5: a validation loss that is NaN every epoch, without --patience, is a warning, not "no improvement for undefined epochs"', async () => {
    const model = join(dir, 'root.model.mts');
    writeFileSync(model, `import { defineModel } from ${JSON.stringify(join(ROOT, 'src/index.js'))};\nexport default defineModel({ name: 'root', inputs: ['x'], targets: ['y'], params: { w: 1 }, formulas: 'loss = (w*x - y)^2 + sqrt(x)' });\n`);
    const data = join(dir, 'pos.csv'), val = join(dir, 'neg.csv');
    writeFileSync(data, 'x,y\n1,2\n2,4\n3,6\n');
    writeFileSync(val, 'x,y\n-1,0\n-2,0\n');
    const r = await run('train', model, '--data', data, '--val-data', val, '--scale', 'none', '--epochs', '3');
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/undefined/);
    expect(r.err).toMatch(/\(all epochs done\)/);
    expect(r.err).toMatch(/warning: the validation loss was NaN after every epoch/);
  });

  it('D6: --epochs, --batch, --patience beyond 2^53 - 1 are refused', async () => {
    for (const flag of ['--epochs', '--batch', '--patience']) {
      const r = await run('train', 'examples/linreg.model.ts', '--data', 'examples/data/students.csv', flag, '1e300');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`option ${flag} must be a positive integer \\(at most 2\\^53 - 1\\), got '1e300'`));
    }
  });
});

describe.each(['unrolled', 'loops'] as const)('frozen params (%s)', (lowering) => {
  const m = compile(mixed(), { lowering });
  it('D2: fit, step and stepBatch with a frozen params object are a SampleError naming the scalar, nothing changed', () => {
    const p = Object.freeze({ ...m.initParams() }) as Params;
    for (const f of [
      () => m.fit(S, { params: p, epochs: 1 }),
      () => m.step(p, S[0]!.inputs, S[0]!.targets, 0.1),
      () => m.step(p, S[0]!.inputs, S[0]!.targets, m.initOptimizer(p, { kind: 'adam' })),
      () => m.stepBatch(p, new Float64Array([1, 2]), new Float64Array([2, 3]), 2, 0.1),
    ]) {
      const e = thrown(f);
      expect(e.name).toBe('SampleError');
      expect(e.message).toMatch(/params\.w is read-only/);
    }
    expect(p.w).toBe(1);
    expect([...(p.v as Float64Array)]).toEqual([0.5, 0.5]);
    // An optimizer state whose moments are frozen: the same.
    const q = m.initParams();
    const st = m.initOptimizer(q, { kind: 'adam' });
    const frozen = { ...st, m: Object.freeze({ ...st.m! }) };
    expect(thrown(() => m.step(q, S[0]!.inputs, S[0]!.targets, frozen)).message).toMatch(/optimizer\.m\.w is read-only/);
    expect(q.w).toBe(1);
  });

  it('D3: a frozen OptimizerState, or one at step 2^53, is a SampleError; nothing changes', () => {
    const p = m.initParams();
    const st = Object.freeze(m.initOptimizer(p, { kind: 'adam' }));
    for (const f of [
      () => m.step(p, S[0]!.inputs, S[0]!.targets, st),
      () => m.stepBatch(p, new Float64Array([1, 2]), new Float64Array([2, 3]), 2, st),
      () => m.fit(S, { params: p, optimizer: st, epochs: 1 }),
    ]) {
      const e = thrown(f);
      expect(e.name).toBe('SampleError');
      expect(e.message).toMatch(/optimizer\.step is read-only/);
    }
    const late = { ...m.initOptimizer(p, { kind: 'adam' }), step: 2 ** 53 };
    expect(thrown(() => m.step(p, S[0]!.inputs, S[0]!.targets, late)).message).toMatch(/optimizer\.step must be a non-negative integer \(at most 2\^53 - 1\), got 9007199254740992/);
    expect(p.w).toBe(1);
    expect(st.step).toBe(0);
  });
});
