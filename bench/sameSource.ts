/**
 * What SEPARATE_LOADS (src/load/loader.ts) avoids: V8 sharing type feedback between loads of
 * the same module text (`npm run bench:same-source`; not part of `npm run bench`).
 *
 * At 2-2-1 batch 1: three loads of the module are trained first (SGD and Adam steps, as a
 * benchmark or an app with several loads would), then two more loads are timed alternately,
 * one with SGD and one with Adam (median of 5 rounds). "shared": every load runs the same text
 * (`runModule(js, false)`), so V8's compilation cache hands them one set of feedback; "separate":
 * as `loadModule` and `compile` load (each text its own).
 */
import { fileURLToPath } from 'node:url';
import { generateJavaScript } from '../src/pipeline.js';
import { runModule } from '../src/load/loader.js';
import { gradcModel, gradcParams } from './gradc.js';
import { LEARNING_RATE, NETS, initWeights, makeData, ownMeasure, type Timing } from './setup.js';

const ROUND: Timing = { warmupMs: 100, windowMs: 100, windows: 3 };
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;

async function measure(separate: boolean): Promise<{ sgd: number; adam: number }> {
  const net = NETS.find((n) => n.name === '2-2-1')!;
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  const js = generateJavaScript(gradcModel(net));
  const load = () => runModule(js, separate);
  for (let k = 0; k < 3; k++) {
    const m = load(), p = gradcParams(m, w), st = m.initOptimizer(p, { kind: 'adam' });
    for (let i = 0; i < 20000; i++) { m.stepBatch(p, X, Y, 1, LEARNING_RATE, i % rows); m.stepBatch(p, X, Y, 1, st, i % rows); }
  }
  const sgd = load(), ps = gradcParams(sgd, w);
  const adam = load(), pa = gradcParams(adam, w), st = adam.initOptimizer(pa, { kind: 'adam', learningRate: 0.001 });
  const ma = ownMeasure(), mb = ownMeasure();
  const a = (i: number) => { sgd.stepBatch(ps, X, Y, 1, LEARNING_RATE, i % rows); };
  const b = (i: number) => { adam.stepBatch(pa, X, Y, 1, st, i % rows); };
  await ma(a, 1, ROUND); await mb(b, 1, ROUND);
  const ra: number[] = [], rb: number[] = [];
  for (let r = 0; r < 5; r++) { ra.push(await ma(a, 1, ROUND)); rb.push(await mb(b, 1, ROUND)); }
  return { sgd: median(ra), adam: median(rb) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const which = process.argv[2];
  if (which === 'shared' || which === 'separate') process.stdout.write(`${JSON.stringify(await measure(which === 'separate'))}\n`);
  else {
    // Each case in a process of its own: the cache is per process.
    const { execFileSync } = await import('node:child_process');
    const run = (c: string) => JSON.parse(execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), c], { encoding: 'utf8' })) as { sgd: number; adam: number };
    const shared = run('shared'), separate = run('separate');
    const f = (n: number) => `${(n / 1e6).toFixed(2)}M`;
    process.stdout.write(['2-2-1 batch 1, samples/s after three other loads of the same module trained (bench/sameSource.ts):', '', '| loads | SGD | Adam |', '|---|---:|---:|',
      `| shared text | ${f(shared.sgd)} | ${f(shared.adam)} |`, `| separate (loadModule, compile) | ${f(separate.sgd)} | ${f(separate.adam)} |`, ''].join('\n'));
  }
}
