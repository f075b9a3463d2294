/**
 * The small-net and optimizer-cost tables of `npm run bench` (also alone: `npm run bench:small`).
 *
 * 1. `stepBatch` at batch 1 on the 2-2-1 net against the hand-written fused step of
 *    handwritten.ts (issue 11: within 10%), with SGD and with Adam, in the same process.
 *    The hand-written step's parameters are checked against gradc's after 100 steps
 *    (relative 1e-12) before anything is timed: the two do the same work.
 * 2. gradc's Adam/SGD step cost (SGD rate / Adam rate) at 2-2-1 batch 1, 8-8-4 batch 32
 *    and 784-32-10 batch 32 (issue 9: at most 1.5x at 2-2-1, 1.25x at 784-32-10).
 *
 * Each contender gets its own load of the generated module (as an app training with one
 * optimizer has), so V8's feedback and inlining for one does not shape the other's.
 *
 * Method: the contenders of one row are timed alternately (A, B, A, B, ...), `ROUNDS`
 * rounds of a short `measure` each (setup.ts; best window of each round), and the figure
 * is the median over rounds, as is the ratio (the median of the per-round ratios): on a
 * shared machine a burst of load then lands on both sides, or is voted out. BENCH_SMALL_ROUNDS
 * sets the rounds (default 7); BENCH_SMALL=0 leaves both tables out of `npm run bench`.
 */
import { fileURLToPath } from 'node:url';
import { generate, loadModule, type GeneratedModule, type OptimizerState } from '../src/index.js';
import { gradcModel, gradcParams } from './gradc.js';
import { adamState, adamStep, sgdStep, type Net221 } from './handwritten.js';
import { LEARNING_RATE, NETS, initWeights, makeData, ownMeasure, type Net, type Stepper, type Timing } from './setup.js';

const ROUNDS = Number(process.env.BENCH_SMALL_ROUNDS ?? 7);
const ROUND: Timing = { warmupMs: 100, windowMs: 100, windows: 3 };
const ADAM_LR = 0.001;
const log = (s: string) => process.stderr.write(s + '\n');
const median = (xs: readonly number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : `${(n / 1e3).toFixed(1)}k`);

/** Median rate of each stepper and median of the per-round ratios a / b, timed alternately. */
async function alternate(a: Stepper, b: Stepper, batch: number): Promise<{ a: number; b: number; ratio: number }> {
  const ra: number[] = [], rb: number[] = [], q: number[] = [];
  const ma = ownMeasure(), mb = ownMeasure();
  await ma(a, batch, ROUND); // JIT warm-up of both before the first round counts
  await mb(b, batch, ROUND);
  for (let r = 0; r < ROUNDS; r++) {
    const x = await ma(a, batch, ROUND), y = await mb(b, batch, ROUND);
    ra.push(x); rb.push(y); q.push(x / y);
  }
  return { a: median(ra), b: median(rb), ratio: median(q) };
}

type Params = ReturnType<GeneratedModule['initParams']>;
const asNet = (p: Params): Net221 => ({ W1: p.layer1_W as Float64Array, b1: p.layer1_b as Float64Array, W2: p.layer2_W as Float64Array, b2: p.layer2_b as Float64Array });

function sameParams(a: Net221, b: Net221, what: string): void {
  for (const k of ['W1', 'b1', 'W2', 'b2'] as const) {
    a[k].forEach((x, i) => {
      const y = b[k][i]!;
      if (!(Math.abs(x - y) <= 1e-12 * Math.max(1, Math.abs(y)))) throw new Error(`bench/small: ${what}: ${k}[${i}] is ${x} by hand, ${y} by gradc`);
    });
  }
}

/** Table 1: stepBatch against the hand-written step at 2-2-1, batch 1. */
export async function handwrittenTable(): Promise<string> {
  const net = NETS.find((n) => n.name === '2-2-1')!;
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  const { code } = generate(gradcModel(net));
  const mod = loadModule(code);
  const fresh = (): Net221 => ({ W1: w.W1.slice(), b1: w.b1.slice(), W2: w.W2.slice(), b2: w.b2.slice() });

  // Same work: 100 steps of each from the same start give the same parameters.
  const gs = gradcParams(mod, w), hs = fresh();
  for (let i = 0; i < 100; i++) { mod.stepBatch(gs, X, Y, 1, LEARNING_RATE, i % rows); sgdStep(hs, X, Y, i % rows, LEARNING_RATE); }
  sameParams(hs, asNet(gs), 'SGD after 100 steps');
  const ga = gradcParams(mod, w), ha = fresh(), gst = mod.initOptimizer(ga, { kind: 'adam', learningRate: ADAM_LR }), hst = adamState();
  for (let i = 0; i < 100; i++) { mod.stepBatch(ga, X, Y, 1, gst, i % rows); adamStep(ha, hst, X, Y, i % rows, ADAM_LR); }
  sameParams(ha, asNet(ga), 'Adam after 100 steps');

  log('[2-2-1] stepBatch vs hand-written, SGD');
  const sgdMod = loadModule(code), adamMod = loadModule(code);
  const p1 = gradcParams(sgdMod, w), h1 = fresh();
  const sgd = await alternate((i) => { sgdMod.stepBatch(p1, X, Y, 1, LEARNING_RATE, i % rows); }, (i) => { sgdStep(h1, X, Y, i % rows, LEARNING_RATE); }, 1);
  log('[2-2-1] stepBatch vs hand-written, Adam');
  const p2 = gradcParams(adamMod, w), h2 = fresh(), st: OptimizerState = adamMod.initOptimizer(p2, { kind: 'adam', learningRate: ADAM_LR }), hs2 = adamState();
  const adam = await alternate((i) => { adamMod.stepBatch(p2, X, Y, 1, st, i % rows); }, (i) => { adamStep(h2, hs2, X, Y, i % rows, ADAM_LR); }, 1);
  return [
    `2-2-1, batch 1: gradc \`stepBatch\` against a hand-written fused step with the same math (bench/handwritten.ts), samples/second, median of ${ROUNDS} alternating rounds (issue 11 target: gradc within 10%, i.e. ratio >= 0.90).`,
    '',
    '| optimizer | gradc stepBatch | hand-written | gradc / hand-written |',
    '|---|---:|---:|---:|',
    `| SGD | ${fmt(sgd.a)} | ${fmt(sgd.b)} | ${sgd.ratio.toFixed(2)} |`,
    `| Adam | ${fmt(adam.a)} | ${fmt(adam.b)} | ${adam.ratio.toFixed(2)} |`,
  ].join('\n');
}

/** The nets and batches of table 2. */
const RATIO_CASES: readonly { net: Net; batch: number }[] = [
  { net: NETS.find((n) => n.name === '2-2-1')!, batch: 1 },
  { net: { name: '8-8-4', inputs: 8, hidden: 8, outputs: 4 }, batch: 32 },
  { net: NETS.find((n) => n.name === '784-32-10')!, batch: 32 },
];

/** Table 2: gradc's Adam/SGD step cost. */
export async function adamCostTable(cases = RATIO_CASES): Promise<string> {
  const out = [
    `gradc's Adam step cost: SGD rate / Adam rate, \`stepBatch\` with the default lowering, median of ${ROUNDS} alternating rounds (issue 9 targets: <= 1.5x at 2-2-1 batch 1, <= 1.25x at 784-32-10 batch 32).`,
    '',
    '| net | batch | lowering | SGD | Adam | Adam cost |',
    '|---|---:|---|---:|---:|---:|',
  ];
  for (const { net, batch } of cases) {
    log(`[${net.name}] Adam/SGD cost, batch ${batch}`);
    const { X, Y, rows } = makeData(net);
    const w = initWeights(net);
    const { code, program } = generate(gradcModel(net));
    const sgdMod = loadModule(code), adamMod = loadModule(code);
    const batches = rows / batch;
    const ps = gradcParams(sgdMod, w), pa = gradcParams(adamMod, w);
    const st = adamMod.initOptimizer(pa, { kind: 'adam', learningRate: ADAM_LR });
    const r = await alternate(
      (i) => { sgdMod.stepBatch(ps, X, Y, batch, LEARNING_RATE, (i % batches) * batch); },
      (i) => { adamMod.stepBatch(pa, X, Y, batch, st, (i % batches) * batch); },
      batch,
    );
    const lowering = program.lowering;
    out.push(`| ${net.name} | ${batch} | ${lowering} | ${fmt(r.a)} | ${fmt(r.b)} | ${r.ratio.toFixed(2)}x |`);
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const which = process.env.BENCH_SMALL_TABLES ?? 'all'; // 'hand' or 'cost' for one table
  if (which !== 'cost') process.stdout.write(`${await handwrittenTable()}\n\n`);
  if (which !== 'hand') process.stdout.write(`${await adamCostTable()}\n`);
}
