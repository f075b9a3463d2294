/**
 * Threads in the benchmark (`npm run bench:threads`; in `npm run bench` with BENCH_THREADS=1):
 * training samples per second of `fitParallel` with 1 and with 2 threads, and their ratio.
 *
 * The nets are the benchmark's tanh MLPs (gradc.ts's model: mean squared error, SGD), on
 * 2,048 rows of the benchmark's data (setup.ts's generator), without shuffling. The main
 * table is issue 11's: 784-32-10 and 784-256-10 at batch 256 (target 1.7x on two cores);
 * BENCH_THREADS_SWEEP=1 adds the break-even sweep behind `BREAK_EVEN_WORK` (parallel.ts):
 * more nets and batch sizes, with the work of a step (rows x parameters) beside each ratio.
 *
 * Method: one fitParallel run per contender and round (1 thread, then 2, alternately),
 * each of `EPOCHS` epochs; its rate is the best epoch after the first two (the first ones
 * pay for the JIT warming up in every thread), from the epochs' `elapsedMs`; the figure is
 * the median over `ROUNDS` rounds and so is the ratio (median of per-round ratios), so a
 * burst of load from elsewhere lands on both sides or is voted out. The two runs of a
 * round train to the same bytes up to rounding (checked: losses within 1e-9).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { generate } from '../src/index.js';
import { transpile } from '../src/load/loader.js';
import { fitParallel } from '../src/train/parallel.js';
import { gradcModel } from './gradc.js';
import { DATA_SEED, LEARNING_RATE, rng, type Net } from './setup.js';

const ROWS = 2048;
const EPOCHS = Number(process.env.BENCH_THREADS_EPOCHS ?? 6);
const ROUNDS = Number(process.env.BENCH_THREADS_ROUNDS ?? 3);
const log = (s: string) => process.stderr.write(s + '\n');
const median = (xs: readonly number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : `${(n / 1e3).toFixed(1)}k`);
const net = (inputs: number, hidden: number, outputs: number): Net => ({ name: `${inputs}-${hidden}-${outputs}`, inputs, hidden, outputs });

export const MAIN: readonly (readonly [Net, number])[] = [[net(784, 32, 10), 256], [net(784, 256, 10), 256]];
export const SWEEP: readonly (readonly [Net, number])[] = [
  [net(64, 64, 10), 32], [net(64, 64, 10), 256],
  [net(784, 32, 10), 8], [net(784, 32, 10), 32], [net(784, 32, 10), 64],
  [net(784, 256, 10), 32],
];

function data(n: Net): { X: Float64Array; Y: Float64Array } {
  const rand = rng(DATA_SEED);
  const X = new Float64Array(ROWS * n.inputs), Y = new Float64Array(ROWS * n.outputs);
  for (let i = 0; i < X.length; i++) X[i] = 2 * rand() - 1;
  for (let i = 0; i < Y.length; i++) Y[i] = 2 * rand() - 1;
  return { X, Y };
}

/** Samples per second of one run (the best epoch after the first two) and its losses. */
function run(js: string, X: Float64Array, Y: Float64Array, batchSize: number, threads: number): { rate: number; losses: number[] } {
  let last = 0;
  const times: number[] = [];
  const r = fitParallel({ js }, X, Y, ROWS, {
    epochs: EPOCHS, batchSize, learningRate: LEARNING_RATE, threads, divergence: Infinity,
    onEpoch: (_e, _l, _p, record) => { times.push(record.elapsedMs - last); last = record.elapsedMs; },
  });
  const settled = times.slice(2);
  return { rate: ROWS / (Math.min(...settled) / 1000), losses: r.losses };
}

export interface ThreadsRow { readonly net: string; readonly batch: number; readonly work: number; readonly one: number; readonly two: number; readonly ratio: number }

export function measureThreads(n: Net, batch: number): ThreadsRow {
  const js = transpile(generate(gradcModel(n), { lowering: 'loops' }).code);
  const { X, Y } = data(n);
  const ones: number[] = [], twos: number[] = [], ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const a = run(js, X, Y, batch, 1), b = run(js, X, Y, batch, 2);
    a.losses.forEach((l, i) => { if (Math.abs(l - b.losses[i]!) > 1e-9 * Math.abs(l)) throw new Error(`${n.name} batch ${batch}: 1 and 2 threads differ at epoch ${i}: ${l} vs ${b.losses[i]}`); });
    ones.push(a.rate); twos.push(b.rate); ratios.push(b.rate / a.rate);
  }
  const params = n.hidden * (n.inputs + 1) + n.outputs * (n.hidden + 1);
  const row = { net: n.name, batch, work: batch * params, one: median(ones), two: median(twos), ratio: median(ratios) };
  log(`  threads ${n.name} batch ${batch}: 1 thread ${fmt(row.one)}/s, 2 threads ${fmt(row.two)}/s, ${row.ratio.toFixed(2)}x`);
  return row;
}

/** The markdown table of `rows`, with the machine and its load. */
export function threadsTable(rows: readonly ThreadsRow[]): string {
  const lines = [
    `Threads (fitParallel, f64, SGD, ${ROWS} rows, no shuffle; median of ${ROUNDS} alternating rounds; ${os.availableParallelism()} cores; load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}):`,
    '',
    '| net | batch | rows x params per step | 1 thread | 2 threads | ratio |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.net} | ${r.batch} | ${fmt(r.work)} | ${fmt(r.one)}/s | ${fmt(r.two)}/s | ${r.ratio.toFixed(2)}x |`),
  ];
  return lines.join('\n');
}

/** The table of `npm run bench` (BENCH_THREADS=1) and `npm run bench:threads`. */
export function threadsBench(): string {
  const load = os.loadavg();
  const cases = process.env.BENCH_THREADS_SWEEP === '1' ? [...SWEEP, ...MAIN] : MAIN;
  const text = threadsTable(cases.map(([n, b]) => measureThreads(n, b)));
  return text.replace(/load average before: [^)]*/, `load average before: ${load.map((l) => l.toFixed(2)).join(' ')}, after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(threadsBench());
