/**
 * `gradc train`'s worker thread (src/cli/fitWorker.ts): fitRows run there gives the same
 * result as in process (same parameters, bit for bit); progress within an epoch arrives
 * (epoch, samples done < the epoch's count, running loss) before each epoch's record;
 * abort() stops after the current batch; bad data comes back as a GradcError.
 */
import { describe, expect, it } from 'vitest';
import { fitInWorker } from '../src/cli/fitWorker.js';
import { GradcError } from '../src/errors.js';
import { defineModel, generate } from '../src/index.js';
import { runModule, transpile } from '../src/load/loader.js';

const def = defineModel('net', (m) => {
  const x = m.input('x', 3);
  const y = m.target('y', 2);
  const out = m.mlp(x, [16, 2], 'tanh', 'linear');
  m.loss(m.mean(m.call('square', m.sub(out, y))));
});
const js = transpile(generate(def).code);
const N = 400;
const X = Float64Array.from({ length: N * 3 }, (_, i) => Math.sin(i * 0.37));
const Y = Float64Array.from({ length: N * 2 }, (_, i) => Math.cos(i * 0.21) * 0.5);

describe('fitInWorker', () => {
  it('trains as fitRows does in process, reporting batches within each epoch and each epoch', async () => {
    const options = { epochs: 3, batchSize: 8, shuffleSeed: 4, optimizer: { kind: 'adam', learningRate: 0.01 } as const, validation: { X: X.slice(0, 60), Y: Y.slice(0, 40), count: 20 }, earlyStopping: { patience: 3 } };
    const events: string[] = [];
    const batches: [number, number, number][] = [];
    const run = fitInWorker(js, X, Y, N, options, {
      progressMs: 0,
      batch: (e, n, loss) => { batches.push([e, n, loss]); events.push(`b${e}`); },
      epoch: (r) => events.push(`e${r.epoch}`),
      start: () => events.push('start'),
    });
    const r = await run.result;
    const local = runModule(js).fitRows(X, Y, N, options);
    expect(r.params).toEqual(local.params);
    expect(r.history).toEqual(local.history);
    expect(r.stopped).toBe('epochs');
    expect(r.lastStep).toEqual({ epoch: 2, samples: N });
    expect(events[0]).toBe('start');
    // every epoch's batches come before its record
    for (const e of [0, 1, 2]) expect(events.lastIndexOf(`b${e}`)).toBeLessThan(events.indexOf(`e${e}`));
    expect(batches.filter(([e]) => e === 1).map(([, n]) => n)).toEqual(Array.from({ length: N / 8 }, (_, k) => 8 * (k + 1)));
    expect(batches.every(([, , loss]) => Number.isFinite(loss))).toBe(true);
  });

  it('move: the rows go to the worker without a copy (the caller\'s arrays are emptied); same result', async () => {
    const options = { epochs: 2, batchSize: 16, shuffleSeed: 1, validation: { X: X.slice(0, 30), Y: Y.slice(0, 20), count: 10 } };
    const local = runModule(js).fitRows(X, Y, N, options);
    const [X2, Y2] = [X.slice(), Y.slice()];
    const r = await fitInWorker(js, X2, Y2, N, options, { move: true }).result;
    expect(X2.length).toBe(0);
    expect(Y2.length).toBe(0);
    expect(options.validation.X.length).toBe(0);
    expect(r.params).toEqual(local.params);
    expect(r.history).toEqual(local.history);
  });

  it('abort() stops after the current batch', async () => {
    let run: ReturnType<typeof fitInWorker> | undefined;
    run = fitInWorker(js, X, Y, N, { epochs: 1000, batchSize: 1 }, { progressMs: 0, batch: (e, n) => { if (e === 2 && n >= 100) run!.abort(); } });
    const r = await run.result;
    // The abort is asked for from this thread when the worker reports epoch 2, sample 100; the
    // worker keeps training until the shared flag is set, so under load it may land later (even
    // in a later epoch). What must hold: it stops, and the steps taken are exactly the completed
    // epochs plus the samples of the unfinished one (no step after the flag was seen is lost or added).
    expect(r.stopped).toBe('aborted');
    expect(r.epochs).toBeGreaterThanOrEqual(2);
    expect(r.epochs).toBeLessThan(1000);
    const partial = r.lastStep!.samples < N ? r.lastStep!.samples : 0;
    if (partial > 0) expect(r.lastStep!.epoch).toBe(r.epochs);
    expect(r.optimizer.step).toBe(r.epochs * N + partial);
  });

  it('bad data is a GradcError with the module\'s message', async () => {
    const bad = X.slice();
    bad[7] = NaN;
    await expect(fitInWorker(js, bad, Y, N, { epochs: 1 }).result).rejects.toThrow(GradcError);
    await expect(fitInWorker(js, bad, Y, N, { epochs: 1 }).result).rejects.toThrow(/X\[7\] \(row 2, input value 1\) is NaN/);
  });
});
