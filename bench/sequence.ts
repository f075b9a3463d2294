/**
 * The sequence table: training throughput of recurrent nets, gradc against TF.js (cpu and
 * wasm, layers API) and brain.js's time-step nets.
 *
 *   npx tsx bench/sequence.ts          (BENCH_SEQ_SECONDS: time per cell, default 2)
 *
 * Nets: an Elman cell and an LSTM, T = 50 steps of 16 inputs, 32 hidden units, one
 * output from the last state (dense, linear), mean squared error, plain SGD; batch 1 and
 * 32. gradc: `m.rnn` / `m.lstm` (a time loop, BPTT as a loop), `stepBatch`. TF.js:
 * `tf.sequential([simpleRNN | lstm, dense(1)])`, `trainOnBatch` with `tf.train.sgd`.
 * brain.js 1.6.1: `brain.recurrent.RNNTimeStep` / `LSTMTimeStep` trained one sequence at
 * a time to predict each next step (the only way its time-step nets train on vectors:
 * bench/sequencePeers.ts says why and what it costs). Each cell runs for a fixed time
 * after a warm-up; samples/second.
 */
import * as tf from '@tensorflow/tfjs';
import { compile, defineModel } from '../src/index.js';
import { useBackend, type Backend } from './tfjs.js';
import { rng } from './setup.js';
import { measureBrainSequence, sequenceData } from './sequencePeers.js';

const T = 50, V = 16, H = 32, ROWS = 64, LR = 0.01;
const SECONDS = Number(process.env.BENCH_SEQ_SECONDS ?? 2);
type Cell = 'rnn' | 'lstm';

function data(): { X: Float64Array; Y: Float64Array } {
  const rand = rng(4242);
  const X = Float64Array.from({ length: ROWS * T * V }, () => 2 * rand() - 1);
  const Y = Float64Array.from({ length: ROWS }, () => 2 * rand() - 1);
  return { X, Y };
}

/** Runs `step(i)` (i: the batch index) for SECONDS after a warm-up; samples per second. */
async function rate(batch: number, step: (i: number) => unknown): Promise<number> {
  const batches = ROWS / batch;
  for (let i = 0; i < Math.min(3, batches); i++) await step(i);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) { await step(n % batches); n++; }
  return (n * batch) / ((performance.now() - t0) / 1000);
}

async function gradcRate(cell: Cell, batch: number, X: Float64Array, Y: Float64Array): Promise<number> {
  const m = compile(defineModel(`seq_${cell}`, (b) => {
    b.input('x', [T, V]);
    b.target('y');
    const r = cell === 'rnn' ? b.rnn('x', H, 'tanh') : b.lstm('x', H);
    const out = b.dense(r.last.h, 1);
    b.loss(b.mean(b.call('square', b.sub(out, 'y'))));
  }));
  const p = m.initParams(1);
  return rate(batch, (i) => m.stepBatch(p, X, Y, batch, LR, i * batch));
}

async function tfRate(cell: Cell, batch: number, backend: Backend, X: Float64Array, Y: Float64Array): Promise<number> {
  await useBackend(backend);
  const model = tf.sequential();
  model.add(cell === 'rnn' ? tf.layers.simpleRNN({ units: H, inputShape: [T, V] }) : tf.layers.lstm({ units: H, inputShape: [T, V], recurrentActivation: 'sigmoid' }));
  model.add(tf.layers.dense({ units: 1 }));
  model.compile({ optimizer: tf.train.sgd(LR), loss: 'meanSquaredError' });
  const xs: tf.Tensor[] = [], ys: tf.Tensor[] = [];
  for (let i = 0; i < ROWS / batch; i++) {
    xs.push(tf.tensor3d(Float32Array.from(X.subarray(i * batch * T * V, (i + 1) * batch * T * V)), [batch, T, V]));
    ys.push(tf.tensor2d(Float32Array.from(Y.subarray(i * batch, (i + 1) * batch)), [batch, 1]));
  }
  const r = await rate(batch, (i) => model.trainOnBatch(xs[i], ys[i]));
  tf.dispose([...xs, ...ys]);
  model.dispose();
  return r;
}

export async function sequenceTable(): Promise<string> {
  const { X, Y } = data();
  const out = [
    `Recurrent nets, T = ${T}, ${V} inputs, ${H} hidden units, 1 output: training samples/second (higher is better); best peer = the fastest of TF.js cpu, TF.js wasm and brain.js.`,
    '',
    '| net | batch | gradc | TF.js cpu | TF.js wasm | brain.js | gradc / best peer |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const cell of ['rnn', 'lstm'] as const) {
    const brainJs = measureBrainSequence(cell, sequenceData(), { warmupMs: 300, windowMs: SECONDS * 250, windows: 4 });
    for (const batch of [1, 32]) {
      const g = await gradcRate(cell, batch, X, Y);
      const cpu = await tfRate(cell, batch, 'cpu', X, Y);
      const wasm = await tfRate(cell, batch, 'wasm', X, Y);
      const peers = [cpu, wasm, ...(batch === 1 ? [brainJs] : [])].filter(Number.isFinite);
      const best = Math.max(...peers);
      const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
      out.push(`| ${cell === 'rnn' ? 'Elman' : 'LSTM'} | ${batch} | ${f(g)} | ${f(cpu)} | ${f(wasm)} | ${batch === 1 ? f(brainJs) : 'n/a'} | ${(g / best).toFixed(2)}x |`);
      console.error(out[out.length - 1]);
    }
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await sequenceTable());
