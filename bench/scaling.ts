/**
 * The scaling table of `npm run bench` (also alone: `npm run bench:scaling`): how the
 * cost of one training step grows with the hidden width, on 784-N-10 at batch 256, for
 * gradc (each configuration of GRADC_CONFIGS, in a child process as in the main table),
 * jax-js (wasm, f32) and TF.js wasm (the fastest of its three ways to write the net).
 *
 * Reported: milliseconds per step (one SGD step on 256 rows: forward, gradients,
 * update), from the same `measure` as every other figure (samples/second -> 256 / rate);
 * gradc's GFLOP/s counting the FLOPs of the matrix products a step needs, per sample
 * 4·in·h + 6·h·out (forward 2·(in·h + h·out), weight gradients 2·(in·h + h·out), the
 * hidden layer's gradient 2·h·out; the input gradient is not needed; the elementwise
 * work is not counted);
 * and the ratios peer time / gradc time (above 1: gradc faster). Every implementation's
 * first-step loss is checked against the hand loop, as in the main table.
 *
 * BENCH_SCALING_WIDTHS=64,256 picks widths (default 64,128,256,512,1024).
 */
import { fileURLToPath } from 'node:url';
import { LoopMlp } from './baseline.js';
import { GRADC_CONFIGS, lossTolerance, runGradc } from './gradc.js';
import { initJax, jaxTrainer } from './jax.js';
import { initWeights, makeData, measure, type Net } from './setup.js';
import { VARIANTS, tfTrainer, useBackend } from './tfjs.js';

export const SCALING_WIDTHS: readonly number[] = (process.env.BENCH_SCALING_WIDTHS ?? '64,128,256,512,1024').split(',').map(Number);
const BATCH = 256;
const log = (s: string) => process.stderr.write(s + '\n');

interface ScalingRow {
  readonly net: Net;
  /** Samples/second by gradc configuration label. */
  readonly gradc: Map<string, number>;
  readonly jax: number;
  readonly tfWasm: number;
  readonly warnings: string[];
}

/** Multiply-adds x 2 (FLOPs) of the matrix products one sample needs in a training step. */
export const flopsPerSample = (n: Net) => 4 * n.inputs * n.hidden + 6 * n.hidden * n.outputs;

async function benchWidth(hidden: number, compileLimitMs: number): Promise<ScalingRow> {
  const net: Net = { name: `784-${hidden}-10`, inputs: 784, hidden, outputs: 10 };
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  const ref = new LoopMlp(net, w).stepBatch(X, Y, 0, BATCH, 0.01);
  const rel = (v: number) => Math.abs(v - ref) / Math.abs(ref);
  const warnings: string[] = [];
  const gradc = new Map<string, number>();
  for (const config of GRADC_CONFIGS) {
    log(`[scaling ${net.name}] gradc ${config.label}`);
    const o = await runGradc(net, compileLimitMs, config.options, [BATCH]);
    const check = o.compiled?.lossCheck;
    if (check !== undefined && !(check <= lossTolerance(config.options))) warnings.push(`gradc ${config.label}: first-step loss off by ${check.toExponential(1)}`);
    if (o.note) warnings.push(`gradc ${config.label}: ${o.note}`);
    const r = o.results.get(BATCH)?.samplesPerSecond;
    if (r !== undefined) gradc.set(config.label, r);
  }
  log(`[scaling ${net.name}] jax-js f32`);
  await initJax();
  const j = jaxTrainer(net, w, X, Y, rows, BATCH, 'f32');
  if (!(rel(j.firstLoss) <= 1e-4)) warnings.push(`jax-js f32: first-step loss off by ${rel(j.firstLoss).toExponential(1)}`);
  const jax = await measure(j.step, BATCH);
  j.dispose();
  await useBackend('wasm');
  let tfWasm = 0;
  for (const variant of VARIANTS) {
    log(`[scaling ${net.name}] TF.js wasm ${variant}`);
    const t = tfTrainer(net, w, X, Y, rows, BATCH, variant);
    if (!(rel(t.firstLoss) <= 1e-4)) warnings.push(`TF.js wasm ${variant}: first-step loss off by ${rel(t.firstLoss).toExponential(1)}`);
    tfWasm = Math.max(tfWasm, await measure(t.step, BATCH));
    t.dispose();
  }
  return { net, gradc, jax, tfWasm, warnings };
}

const ms = (rate: number | undefined) => (rate === undefined || !(rate > 0) ? '—' : (1000 * BATCH / rate).toFixed(rate > BATCH * 100 ? 2 : 1));
const times = (gradcRate: number, peerRate: number) => (peerRate > 0 ? `${(gradcRate / peerRate).toFixed(2)}x` : '—');

/** The scaling table as markdown. */
export async function scalingTable(compileLimitMs = 60_000, widths: readonly number[] = SCALING_WIDTHS): Promise<string> {
  const rows: ScalingRow[] = [];
  for (const h of widths) rows.push(await benchWidth(h, compileLimitMs));
  const labels = GRADC_CONFIGS.map((c) => c.label);
  const out = [
    `Scaling: 784-N-10 at batch ${BATCH}, milliseconds per training step (lower is better); "peer / gradc" = the peer's step time over gradc's best configuration's (above 1x: gradc is faster); gradc GFLOP/s counts the matrix products a step needs (4·784·N + 6·N·10 FLOPs per sample).`,
    '',
    `| N | parameters | ${labels.map((l) => `gradc ${l} (ms)`).join(' | ')} | jax-js f32 (ms) | TF.js wasm (ms) | gradc GFLOP/s | jax-js / gradc | TF.js wasm / gradc |`,
    `|---:|---:|${labels.map(() => '---:|').join('')}---:|---:|---:|---:|---:|`,
  ];
  for (const r of rows) {
    const best = Math.max(0, ...r.gradc.values());
    const params = r.net.hidden * (r.net.inputs + 1) + r.net.outputs * (r.net.hidden + 1);
    out.push(`| ${r.net.hidden} | ${params.toLocaleString('en-US')} | ${labels.map((l) => ms(r.gradc.get(l))).join(' | ')} | ${ms(r.jax)} | ${ms(r.tfWasm)} | ${best > 0 ? ((best * flopsPerSample(r.net)) / 1e9).toFixed(1) : '—'} | ${times(best, r.jax)} | ${times(best, r.tfWasm)} |`);
  }
  const warnings = rows.flatMap((r) => r.warnings.map((w) => `- ${r.net.name}: ${w}`));
  if (warnings.length) out.push('', 'Warnings:', ...warnings);
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${await scalingTable()}\n`);
