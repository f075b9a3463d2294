/**
 * Threads in the benchmark (`npm run bench:threads`; in `npm run bench` with BENCH_THREADS=1):
 * training samples per second of a batch's gradient on 1 thread and on 2 (fitParallel's
 * leader and one helper, parallel.ts), and their ratio.
 *
 * The nets are the benchmark's tanh MLPs (gradc.ts's model, looped lowering, f64) on 2,048
 * rows of random data. The main table is issue 11's: 784-32-10 and 784-256-10 at batch 256
 * (target 1.7x on two cores); BENCH_THREADS_SWEEP=1 adds the break-even sweep behind
 * `BREAK_EVEN_WORK` (team.ts): more nets and batch sizes, with the work of a step (rows
 * x parameters) beside each ratio, and the break-even they give (breakEven: the rule for that
 * constant); BENCH_THREADS_AUTO=1 adds whole fitParallel runs with
 * threads 'auto' against 1 thread (784-32-10, 1,000 steps of 256 rows: with BREAK_EVEN_WORK at
 * 16M, 'auto' stays on one thread there, and the row checks it loses nothing; lower that
 * constant to time its run-time probe).
 *
 * Method: two figures per row. The gradient: the module's own `gradientBatch` on the calling
 * thread against the team's `batchGradient.gradient` (split, wake the helper, compute, wait,
 * add in order), on the same batches. The whole step (what issue 11's 1.7x target is about):
 * fit's epochs over the rows with and without the team, each timed as a 3-epoch run minus a
 * 1-epoch run (fit's start cancels), learning rate 0 so that every epoch does the same work;
 * the update pass and fit's own work stay on the leader, so this ratio is below the
 * gradient's by the serial fraction (bench/threadsModel.ts models it from instruction counts). They are timed in
 * alternating pairs (1 thread, then 2, on the same batch) after a warm-up of both, for
 * `PAIR_MS` of wall time or at least `MIN_PAIRS` pairs; each figure is the median, and the
 * ratio is the median of the per-pair ratios, so load from other processes lands on both
 * sides or is voted out. The two gradients of every pair agree to 1e-12 (checked).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { generate } from '../src/index.js';
import { runModule, transpile } from '../src/load/loader.js';
import { BREAK_EVEN_WORK, fitParallel, lead, startTeam } from '../src/train/parallel.js';
import { gradcModel } from './gradc.js';
import { DATA_SEED, rng, type Net } from './setup.js';

const ROWS = 2048;
const PAIR_MS = Number(process.env.BENCH_THREADS_MS ?? 4000);
const MIN_PAIRS = 9;
const WARMUP_PAIRS = 6;
const log = (s: string) => process.stderr.write(s + '\n');
const median = (xs: readonly number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : `${(n / 1e3).toFixed(1)}k`);
const net = (inputs: number, hidden: number, outputs: number): Net => ({ name: `${inputs}-${hidden}-${outputs}`, inputs, hidden, outputs });

export const MAIN: readonly (readonly [Net, number])[] = [[net(784, 32, 10), 256], [net(784, 256, 10), 256]];
export const SWEEP: readonly (readonly [Net, number])[] = [
  [net(2, 2, 1), 256], [net(16, 32, 4), 32], [net(16, 32, 4), 256],
  [net(64, 64, 10), 8], [net(64, 64, 10), 32], [net(64, 64, 10), 256],
  [net(784, 32, 10), 1], [net(784, 32, 10), 4], [net(784, 32, 10), 8], [net(784, 32, 10), 32],
  [net(784, 32, 10), 64], [net(784, 32, 10), 128], [net(784, 64, 10), 256], [net(784, 128, 10), 256],
];

function data(n: Net): { X: Float64Array; Y: Float64Array } {
  const rand = rng(DATA_SEED);
  const X = new Float64Array(ROWS * n.inputs), Y = new Float64Array(ROWS * n.outputs);
  for (let i = 0; i < X.length; i++) X[i] = 2 * rand() - 1;
  for (let i = 0; i < Y.length; i++) Y[i] = 2 * rand() - 1;
  return { X, Y };
}

export interface ThreadsRow {
  readonly net: string; readonly batch: number; readonly work: number;
  /** A batch's gradient: samples/s on 1 and 2 threads, the median ratio and the pairs timed. */
  readonly one: number; readonly two: number; readonly ratio: number; readonly pairs: number;
  /** Whole training steps (fit: gradient, update, fit's own work): the same. */
  readonly stepOne: number; readonly stepTwo: number; readonly stepRatio: number; readonly stepPairs: number;
}

export function measureThreads(n: Net, batch: number): ThreadsRow {
  const js = transpile(generate(gradcModel(n), { lowering: 'loops' }).code);
  const { X, Y } = data(n);
  const m = runModule(js);
  const p = m.initParams();
  const team = startTeam(js, m, X, Y, ROWS, p, 2, { shuffled: false, held: 0 });
  try {
    const leader = lead(m, team.memory, 2);
    const g1 = m.zeroParams(), g2 = m.zeroParams();
    const ones: number[] = [], twos: number[] = [], ratios: number[] = [];
    const started = performance.now();
    for (let i = 0; i < WARMUP_PAIRS || ones.length < MIN_PAIRS || performance.now() - started < PAIR_MS; i++) {
      const first = (i * batch) % (ROWS - batch + 1);
      for (const g of [g1, g2]) for (const v of Object.values(g)) (v as Float64Array).fill(0);
      const t0 = performance.now();
      m.gradientBatch(leader.params, leader.X, leader.Y, batch, first, g1);
      const t1 = performance.now();
      leader.batchGradient.gradient(leader.params, leader.X, leader.Y, batch, first, g2, 1 / batch);
      const t2 = performance.now();
      for (const [name, v] of Object.entries(g1)) {
        const w = g2[name] as Float64Array;
        (v as Float64Array).forEach((x, k) => { if (!(Math.abs(x - w[k]!) <= 1e-12 * Math.max(1, Math.abs(x)))) throw new Error(`${n.name} batch ${batch}: 1 and 2 threads differ in ${name}[${k}]: ${x} vs ${w[k]}`); });
      }
      if (i < WARMUP_PAIRS) continue;
      ones.push(t1 - t0); twos.push(t2 - t1); ratios.push((t1 - t0) / (t2 - t1));
    }
    // Whole steps: fit's epoch over the rows (gradient, update, fit's own work), 1 thread
    // against the team, as the difference of a 3-epoch and a 1-epoch run (which cancels fit's
    // start: the loss of the starting parameters), learning rate 0 (every epoch the same work).
    const options = { batchSize: batch, learningRate: 0, divergence: Infinity };
    const epoch = (team: boolean): number => {
      const run = (epochs: number) => {
        const t0 = performance.now();
        if (team) m.fitRows(leader.X, leader.Y, ROWS, { ...options, epochs, params: leader.params, batchGradient: leader.batchGradient });
        else m.fitRows(leader.X, leader.Y, ROWS, { ...options, epochs, params: p });
        return performance.now() - t0;
      };
      const one = run(1);
      return (run(3) - one) / 2;
    };
    const stepRatios: number[] = [], stepOnes: number[] = [], stepTwos: number[] = [];
    const stepsPerEpoch = Math.ceil(ROWS / batch);
    const began = performance.now();
    for (let i = 0; i < 2 || stepRatios.length < MIN_PAIRS || performance.now() - began < PAIR_MS; i++) {
      const a = epoch(false), b = epoch(true);
      if (i < 2) continue; // warm-up
      stepOnes.push(a / stepsPerEpoch); stepTwos.push(b / stepsPerEpoch); stepRatios.push(a / b);
    }
    const params = n.hidden * (n.inputs + 1) + n.outputs * (n.hidden + 1);
    const row = {
      net: n.name, batch, work: batch * params, one: batch / (median(ones) / 1000), two: batch / (median(twos) / 1000), ratio: median(ratios), pairs: ratios.length,
      stepOne: batch / (median(stepOnes) / 1000), stepTwo: batch / (median(stepTwos) / 1000), stepRatio: median(stepRatios), stepPairs: stepRatios.length,
    };
    log(`  threads ${n.name} batch ${batch}: gradient 1 thread ${fmt(row.one)}/s, 2 threads ${fmt(row.two)}/s, ${row.ratio.toFixed(2)}x (${row.pairs} pairs); whole step ${fmt(row.stepOne)}/s, ${fmt(row.stepTwo)}/s, ${row.stepRatio.toFixed(2)}x (${row.stepPairs} pairs)`);
    return row;
  } finally {
    team.terminate();
  }
}

/**
 * End to end: samples per second of fitParallel with threads 'auto' (the default) and 1, on
 * `rows` rows for `epochs` epochs (enough work for 'auto' to start threads), alternating, the
 * median of `ROUNDS_E2E` rounds; also the share of steps the team computed.
 */
const ROUNDS_E2E = Number(process.env.BENCH_THREADS_ROUNDS ?? 1);
export interface AutoRow { readonly net: string; readonly batch: number; readonly one: number; readonly auto: number; readonly ratio: number; readonly teamShare: number }
export function measureAuto(n: Net, batch: number, rows: number, epochs: number): AutoRow {
  const js = transpile(generate(gradcModel(n), { lowering: 'loops' }).code);
  const rand = rng(DATA_SEED);
  const X = Float64Array.from({ length: rows * n.inputs }, () => 2 * rand() - 1), Y = Float64Array.from({ length: rows * n.outputs }, () => 2 * rand() - 1);
  const ones: number[] = [], autos: number[] = [], ratios: number[] = [];
  let share = 0;
  for (let round = 0; round < ROUNDS_E2E; round++) {
    const rate = (threads: number | 'auto') => {
      const t0 = performance.now();
      const r = fitParallel({ js }, X, Y, rows, { epochs, batchSize: batch, learningRate: 0.01, divergence: Infinity, threads });
      if (threads === 'auto') share = r.steps.team / Math.max(1, r.steps.team + r.steps.alone);
      return (rows * epochs) / ((performance.now() - t0) / 1000);
    };
    const a = rate(1), b = rate('auto');
    ones.push(a); autos.push(b); ratios.push(b / a);
  }
  const row = { net: n.name, batch, one: median(ones), auto: median(autos), ratio: median(ratios), teamShare: share };
  log(`  fitParallel ${n.name} batch ${batch}: 1 thread ${fmt(row.one)}/s, auto ${fmt(row.auto)}/s, ${row.ratio.toFixed(2)}x (team steps ${(100 * share).toFixed(0)}%)`);
  return row;
}

/** The markdown table of `rows`, with the machine and its load. */
export function threadsTable(rows: readonly ThreadsRow[]): string {
  const lines = [
    `Threads: a batch's gradient, and whole training steps (fit's epochs: gradient, update and fit's own work), on 1 and on 2 threads (f64, looped lowering, SIMD as 'auto' chooses; median of alternating pairs; ${os.availableParallelism()} cores; load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}):`,
    '',
    '| net | batch | rows x params per step | gradient: 1 thread | 2 threads | ratio | whole step: 1 thread | 2 threads | ratio | pairs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.net} | ${r.batch} | ${fmt(r.work)} | ${fmt(r.one)}/s | ${fmt(r.two)}/s | ${r.ratio.toFixed(2)}x | ${fmt(r.stepOne)}/s | ${fmt(r.stepTwo)}/s | ${r.stepRatio.toFixed(2)}x | ${r.pairs}, ${r.stepPairs} |`),
  ];
  return lines.join('\n');
}

/**
 * 'auto''s break-even from a sweep: the least work per step (rows x parameter values) from
 * which every row of the sweep gains on its whole step by at least 1 / MARGIN (the leader's
 * run-time probe keeps the team only when its step takes under MARGIN = 0.85 of one
 * thread's: LEADER_SOURCE), or undefined when the largest does not. The rule behind
 * BREAK_EVEN_WORK (team.ts): set it to this figure, measured on a quiet machine.
 */
export function breakEven(rows: readonly ThreadsRow[], margin = 0.85): number | undefined {
  const sorted = [...rows].sort((a, b) => a.work - b.work);
  let from: number | undefined;
  for (const r of sorted) {
    if (r.stepRatio >= 1 / margin) from ??= r.work;
    else from = undefined;
  }
  return from;
}

/** The table of `npm run bench` (BENCH_THREADS=1) and `npm run bench:threads`. */
export function threadsBench(): string {
  const load = os.loadavg();
  const cases = process.env.BENCH_THREADS_SWEEP === '1' ? [...SWEEP, ...MAIN] : MAIN;
  // 2,048 rows for 125 epochs: 1,000 steps of 256 rows, the least 'auto' starts threads for (MIN_STEPS).
  // (784-256-10 is left out: at this machine's load, 1,000 of its steps take minutes per run.)
  const auto = process.env.BENCH_THREADS_AUTO === '1' ? [measureAuto(net(784, 32, 10), 256, 2048, 125)] : [];
  const measured = cases.map(([n, b]) => measureThreads(n, b));
  const even = breakEven(measured);
  const rule = process.env.BENCH_THREADS_SWEEP !== '1' ? '' : `\n\n'auto''s break-even from this sweep (the least rows x params per step from which every whole step gains at least 1/0.85 = 1.18x): ${even === undefined ? 'none (no size gains enough)' : fmt(even)}; BREAK_EVEN_WORK (src/train/team.ts) is ${fmt(BREAK_EVEN_WORK)}: on a quiet machine, set it to this figure.`;
  const text = `${threadsTable(measured)}${rule}${auto.length === 0 ? '' : `

End to end, fitParallel with threads 'auto' (the default) against 1 thread (whole training runs, including starting the helpers; median of ${ROUNDS_E2E} alternating rounds):

| net | batch | 1 thread | auto | auto / 1 thread | steps on the team |
|---|---:|---:|---:|---:|---:|
${auto.map((r) => `| ${r.net} | ${r.batch} | ${fmt(r.one)}/s | ${fmt(r.auto)}/s | ${r.ratio.toFixed(2)}x | ${(100 * r.teamShare).toFixed(0)}% |`).join('\n')}`}`;
  return text.replace(/load average before: [^)]*/, `load average before: ${load.map((l) => l.toFixed(2)).join(' ')}, after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(threadsBench());
