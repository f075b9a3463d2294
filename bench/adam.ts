/**
 * The Adam rows of `npm run bench` (also alone: `npm run bench:adam`).
 *
 * What is measured, samples/second, same data, weights and timing loop as the main table
 * (setup.ts): gradc's `stepBatch` with plain SGD (a learning rate) and with Adam (an
 * OptimizerState from `initOptimizer`), compiled in process with the default lowering
 * (unrolled up to 300 parameters, loops above); TF.js cpu and wasm with `tf.train.adam`
 * (the fastest of its three ways to write the net, as in the main table); brain.js 1.6.1
 * with `praxis: 'adam'` (batch 1 only: it has no minibatches). The cost ratio is gradc
 * SGD rate / gradc Adam rate (targets from issue 9: at most 1.25x at 784-32-10 batch 32,
 * at most 1.5x at 2-2-1 batch 1); after a JIT warm-up of SETTLE_MS each (as the main
 * table's), SGD and Adam (each its own load of the module and its own timing loop) are timed
 * alternately, best of three rounds each. Quick by default (BENCH_ADAM_NETS picks nets; the
 * timing of setup.ts applies).
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { compile, type OptimizerState } from '../src/index.js';
import { measureBrain } from './brain.js';
import { SETTLE_MS, gradcModel, gradcParams } from './gradc.js';
import { BATCHES, LEARNING_RATE, NETS, initWeights, makeData, measure, ownMeasure, type Net } from './setup.js';
import { VARIANTS, tfTrainer, useBackend, type Backend } from './tfjs.js';

const ADAM_LR = 0.001;
const log = (s: string) => process.stderr.write(s + '\n');
const fmt = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

interface AdamRow {
  readonly net: Net;
  readonly batch: number;
  readonly sgd: number;
  readonly adam: number;
  readonly tf: ReadonlyMap<Backend, number>;
  readonly brain: number | undefined;
}

async function benchNet(net: Net, backends: readonly Backend[]): Promise<AdamRow[]> {
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  log(`[${net.name}] Adam: gradc compile`);
  // One load of the module per optimizer, as an app training with one optimizer has: one
  // module's stepBatch called with a rate and with a state is polymorphic in V8, and its
  // feedback for one would shape the other's speed (bench/small.ts measured 2x at 2-2-1).
  const sgdMod = compile(gradcModel(net)), adamMod = compile(gradcModel(net));
  const out: AdamRow[] = [];
  for (const batch of BATCHES) {
    const batches = rows / batch;
    const sgdParams = gradcParams(sgdMod, w);
    const adamParams = gradcParams(adamMod, w);
    const state: OptimizerState = adamMod.initOptimizer(adamParams, { kind: 'adam', learningRate: ADAM_LR });
    // Each contender its own timing loop (ownMeasure, setup.ts), alternated (SGD, Adam, SGD, Adam, ...),
    // best of each: the ratio is what matters, and on a shared machine a burst of load should
    // not land on one of the two only. JIT warm-up first, as in the main table (SETTLE_MS,
    // bench/gradc.ts): V8 takes a while to optimize large generated functions.
    const sgdMeasure = ownMeasure(), adamMeasure = ownMeasure();
    const sgdStep = (i: number) => { sgdMod.stepBatch(sgdParams, X, Y, batch, LEARNING_RATE, (i % batches) * batch); };
    const adamStep = (i: number) => { adamMod.stepBatch(adamParams, X, Y, batch, state, (i % batches) * batch); };
    const settle = { warmupMs: SETTLE_MS, windowMs: 0, windows: 0 };
    await sgdMeasure(sgdStep, batch, settle);
    await adamMeasure(adamStep, batch, settle);
    let sgd = 0, adam = 0;
    for (let round = 0; round < 3; round++) {
      sgd = Math.max(sgd, await sgdMeasure(sgdStep, batch));
      adam = Math.max(adam, await adamMeasure(adamStep, batch));
    }
    const tfRates = new Map<Backend, number>();
    for (const backend of backends) {
      await useBackend(backend);
      let best = 0;
      for (const variant of VARIANTS) {
        log(`[${net.name}] Adam: TF.js ${backend} batch ${batch} ${variant}`);
        const t = tfTrainer(net, w, X, Y, rows, batch, variant, () => tf.train.adam(ADAM_LR));
        best = Math.max(best, await measure(t.step, batch));
        t.dispose();
      }
      tfRates.set(backend, best);
    }
    const brain = batch === 1 ? measureBrain(net, X, Y, rows, undefined, { praxis: 'adam', learningRate: ADAM_LR }) : undefined;
    out.push({ net, batch, sgd, adam, tf: tfRates, brain });
  }
  return out;
}

/** The Adam table as markdown. */
export async function adamTable(nets: readonly Net[] = NETS, backends: readonly Backend[] = ['cpu', 'wasm']): Promise<string> {
  const rows: AdamRow[] = [];
  for (const net of nets) rows.push(...(await benchNet(net, backends)));
  const out = [
    `Adam (lr ${ADAM_LR}), samples/second; "Adam cost" = gradc SGD rate / gradc Adam rate (issue 9 targets: <= 1.25x at 784-32-10 batch 32, <= 1.5x at 2-2-1 batch 1).`,
    '',
    `| net | batch | gradc SGD | gradc Adam | Adam cost | ${backends.map((b) => `TF.js ${b} Adam`).join(' | ')} | brain.js Adam | ${backends.map((b) => `gradc / TF.js ${b}`).join(' | ')} | gradc / brain.js | gradc / best peer |`,
    `|---|---:|---:|---:|---:|${backends.map(() => '---:|').join('')}---:|${backends.map(() => '---:|').join('')}---:|---:|`,
  ];
  const ratio = (a: number, b: number | undefined) => (b === undefined || !(b > 0) ? 'n/a' : `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}x`);
  for (const r of rows) {
    const best = Math.max(...r.tf.values(), r.brain ?? 0);
    out.push(`| ${r.net.name} | ${r.batch} | ${fmt(r.sgd)} | ${fmt(r.adam)} | ${(r.sgd / r.adam).toFixed(2)}x | ${backends.map((b) => fmt(r.tf.get(b))).join(' | ')} | ${r.brain === undefined ? 'n/a' : fmt(r.brain)} | ${backends.map((b) => ratio(r.adam, r.tf.get(b))).join(' | ')} | ${ratio(r.adam, r.brain)} | ${ratio(r.adam, best)} |`);
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.env.BENCH_ADAM_NETS?.split(',');
  const backends = (process.env.BENCH_ADAM_BACKENDS?.split(',') ?? ['cpu', 'wasm']) as Backend[];
  process.stdout.write(`${await adamTable(only ? NETS.filter((n) => only.includes(n.name)) : NETS, backends)}\n`);
}
