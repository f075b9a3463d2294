/**
 * `npm run bench`: training throughput of gradc against TF.js (cpu, wasm), brain.js
 * and a hand-written loop, for the nets and batch sizes in setup.ts. Prints the tables
 * and writes them to bench/results.md. Method: bench/README.md.
 *
 * Environment: BENCH_COMPILE_LIMIT_S (default 60) bounds each gradc compile;
 * BENCH_WARMUP_MS / BENCH_WINDOW_MS (default 300 / 700) set the timing window;
 * BENCH_NETS=2-2-1,4-8-3 picks nets (results.md is written only by a full run);
 * BENCH_LOWERING=1 adds a table of gradc with each lowering forced (unrolled, loops);
 * BENCH_SETTLE_MS (default 2000) is gradc's JIT warm-up allowance (bench/gradc.ts);
 * BENCH_ADAM=0 leaves out the Adam table (bench/adam.ts); BENCH_SMALL=0 the small-net tables
 * (bench/small.ts: stepBatch against a hand-written step, and gradc's Adam/SGD step cost).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { LoopMlp } from './baseline.js';
import { adamTable } from './adam.js';
import { adamCostTable, handwrittenTable } from './small.js';
import { ceilingTable } from './ceiling.js';
import { measureBrain } from './brain.js';
import { SETTLE_MS, runGradc, type GradcOutcome } from './gradc.js';
import { BATCHES, LEARNING_RATE, NETS, TIMING, initWeights, makeData, measure, type Net } from './setup.js';
import { VARIANTS, backendInfo, tfTrainer, useBackend, type Backend, type Variant } from './tfjs.js';

const BACKENDS: readonly Backend[] = ['cpu', 'wasm'];
const MARK: Record<Variant, string> = { ops: '', fused: ' ᶠ', layers: ' ˡ' };
const COMPILE_LIMIT_MS = Number(process.env.BENCH_COMPILE_LIMIT_S ?? 60) * 1000;

interface Row {
  readonly net: Net;
  readonly gradc: GradcOutcome;
  readonly loop: Map<number, number>;
  readonly tf: Map<Backend, Map<number, { rate: number; variant: Variant }>>;
  readonly brain: number;
  readonly warnings: string[];
}

const log = (s: string) => process.stderr.write(s + '\n');

async function benchNet(net: Net): Promise<Row> {
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  const warnings: string[] = [];
  const reference = (batch: number) => new LoopMlp(net, w).stepBatch(X, Y, 0, batch, LEARNING_RATE);

  log(`[${net.name}] gradc (child process, compile limit ${COMPILE_LIMIT_MS / 1000} s)`);
  const gradc = await runGradc(net, COMPILE_LIMIT_MS);
  if (gradc.compiled && gradc.compiled.lossCheck > 1e-9) warnings.push(`gradc first-step loss differs from the hand loop by ${gradc.compiled.lossCheck.toExponential(1)} (relative)`);
  if (gradc.note) warnings.push(`gradc: ${gradc.note}`);

  log(`[${net.name}] hand-written loop`);
  const loop = new Map<number, number>();
  for (const batch of BATCHES) {
    const mlp = new LoopMlp(net, w);
    loop.set(batch, await measure((i) => { mlp.stepBatch(X, Y, (i % (rows / batch)) * batch, batch, LEARNING_RATE); }, batch));
  }

  const tf = new Map<Backend, Map<number, { rate: number; variant: Variant }>>();
  for (const backend of BACKENDS) {
    await useBackend(backend);
    const best = new Map<number, { rate: number; variant: Variant }>();
    for (const batch of BATCHES) {
      for (const variant of VARIANTS) {
        log(`[${net.name}] TF.js ${backend} batch ${batch} ${variant}`);
        const t = tfTrainer(net, w, X, Y, rows, batch, variant);
        const ref = reference(batch);
        const err = Math.abs(t.firstLoss - ref) / Math.abs(ref);
        if (err > 1e-4) warnings.push(`TF.js ${backend} ${variant} batch ${batch}: first-step loss differs from the hand loop by ${err.toExponential(1)}`);
        const rate = await measure(t.step, batch);
        t.dispose();
        if (rate > (best.get(batch)?.rate ?? 0)) best.set(batch, { rate, variant });
      }
    }
    tf.set(backend, best);
  }

  log(`[${net.name}] brain.js`);
  const brain = measureBrain(net, X, Y, rows);
  return { net, gradc, loop, tf, brain, warnings };
}

/**
 * TF.js's engine code (kernel dispatch, tape, tidy) is shared by every net and takes
 * longer than one warm-up window to reach full speed the first time it runs; so each
 * variant on each backend first trains a small net for a moment.
 */
async function warmTfjs(): Promise<void> {
  const net = NETS[1];
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  for (const backend of BACKENDS) {
    await useBackend(backend);
    log(`warming TF.js ${backend}`);
    for (const variant of VARIANTS) {
      for (const batch of BATCHES) {
        const t = tfTrainer(net, w, X, Y, rows, batch, variant);
        await measure(t.step, batch, { warmupMs: 250, windowMs: 0, windows: 0 });
        t.dispose();
      }
    }
  }
}

function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

const ratio = (a: number | undefined, b: number) => (a === undefined ? '—' : `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}x`);
const params = (n: Net) => n.hidden * (n.inputs + 1) + n.outputs * (n.hidden + 1);

const warm = (ms: number | undefined) => (ms === undefined ? `> ${(SETTLE_MS / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);

function compileTable(rows: readonly { net: Net; gradc: GradcOutcome; label?: string }[]): string {
  const out: string[] = [];
  out.push('| net | parameters | compile (s) | code (bytes) | code (lines) | JIT warm-up | note |');
  out.push('|---|---:|---:|---:|---:|---:|---|');
  for (const { net, gradc, label } of rows) {
    const c = gradc.compiled;
    const w = BATCHES.map((b) => (gradc.results.has(b) ? warm(gradc.results.get(b)!.warmupMs) : '—')).join(' / ');
    out.push(`| ${net.name}${label ? ` ${label}` : ''} | ${params(net)} | ${c ? (c.compileMs / 1000).toFixed(2) : '—'} | ${c ? c.bytes.toLocaleString('en-US') : '—'} | ${c ? c.lines.toLocaleString('en-US') : '—'} | ${w} | ${gradc.note ?? ''} |`);
  }
  return out.join('\n');
}

/** BENCH_LOWERING=1: gradc with each lowering forced, to place the unroll threshold. */
async function loweringTable(nets: readonly Net[]): Promise<string> {
  const rows: { net: Net; gradc: GradcOutcome; label: string }[] = [];
  for (const net of nets) {
    for (const lowering of ['unrolled', 'loops'] as const) {
      log(`[${net.name}] gradc, lowering '${lowering}'`);
      rows.push({ net, gradc: await runGradc(net, COMPILE_LIMIT_MS, { lowering }), label: lowering });
    }
  }
  const out = ['gradc with each lowering forced (`compile(model, { lowering })`), samples/second:', ''];
  out.push('| net | lowering | batch 1 | batch 32 |', '|---|---|---:|---:|');
  for (const r of rows) out.push(`| ${r.net.name} | ${r.label} | ${BATCHES.map((b) => fmt(r.gradc.results.get(b)?.samplesPerSecond)).join(' | ')} |`);
  out.push('', compileTable(rows));
  return out.join('\n');
}

function tables(rows: readonly Row[]): string {
  const out: string[] = [];
  out.push('Training throughput, samples/second (higher is better). "best peer" = the fastest of TF.js cpu, TF.js wasm and brain.js, each at its best batch size.', '');
  out.push('| net | batch | gradc | hand loop | TF.js cpu | TF.js wasm | brain.js | gradc / best peer | gradc / hand loop |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const peers = [r.brain, ...[...r.tf.values()].flatMap((m) => [...m.values()].map((v) => v.rate))];
    const bestPeer = Math.max(...peers);
    for (const batch of BATCHES) {
      const g = r.gradc.results.get(batch)?.samplesPerSecond;
      const tfCell = (b: Backend) => {
        const v = r.tf.get(b)?.get(batch);
        return v ? `${fmt(v.rate)}${MARK[v.variant]}` : '—';
      };
      out.push(`| ${r.net.name} | ${batch} | ${fmt(g)} | ${fmt(r.loop.get(batch))} | ${tfCell('cpu')} | ${tfCell('wasm')} | ${batch === 1 ? fmt(r.brain) : 'n/a'} | ${ratio(g, bestPeer)} | ${ratio(g, r.loop.get(batch)!)} |`);
    }
  }
  out.push('', 'TF.js: the fastest of three ways to write the net: plain ops with `optimizer.minimize` (no mark), ᶠ the same with `tf.fused.matMul`, ˡ `tf.layers` with `model.trainOnBatch`. brain.js trains one sample at a time only (n/a at batch 32).', '');
  out.push('gradc compile time (`compile()`: build, differentiate, simplify, lower, emit, load; after a warm-up compile of a 1-1-1 net), generated module size, and JIT warm-up (training time until V8 runs the generated code at half the measured speed or more, batch 1 / batch 32):', '');
  out.push(compileTable(rows.map((r) => ({ net: r.net, gradc: r.gradc }))));
  const warnings = rows.flatMap((r) => r.warnings.map((w) => `- ${r.net.name}: ${w}`));
  if (warnings.length) out.push('', 'Warnings:', ...warnings);
  return out.join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg()[0];
  const only = process.env.BENCH_NETS?.split(',');
  const nets = only ? NETS.filter((n) => only.includes(n.name)) : NETS;
  await warmTfjs();
  const rows: Row[] = [];
  for (const net of nets) rows.push(await benchNet(net));
  const lowering = process.env.BENCH_LOWERING === '1' ? `\n${await loweringTable(nets)}\n` : '';
  const adam = process.env.BENCH_ADAM === '0' ? '' : `\n${await adamTable(nets)}\n`;
  const small = process.env.BENCH_SMALL === '0' ? '' : `\n${await handwrittenTable()}\n\n${await adamCostTable()}\n`;
  await useBackend('wasm');
  const header = [
    `Date: ${new Date().toISOString().slice(0, 10)}`,
    `Machine: ${os.cpus()[0].model} (${os.cpus().length} cores), ${os.platform()} ${os.release()}`,
    `Node ${process.version}; ${backendInfo()}; brain.js 1.6.1`,
    `Load average (1 min) at start / end: ${loadBefore.toFixed(2)} / ${os.loadavg()[0].toFixed(2)} (other processes on the machine share its cores)`,
    `Method: SGD on ${makeData(nets[0]).rows} random rows (seeded), lr ${LEARNING_RATE}, tanh hidden layer, linear output, MSE; warm-up, then the best of ${TIMING.windows} windows of ${TIMING.windowMs} ms per figure (bench/README.md).`,
  ].join('  \n');
  const text = `${header}\n\n${tables(rows)}\n${lowering}${adam}${small}\n${await ceilingTable()}\n`;
  process.stdout.write(`\n${text}\nBenchmark wall time: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  if (!only) writeFileSync(fileURLToPath(new URL('./results.md', import.meta.url)), `# gradc benchmark results\n\n${text}`);
}

await main();
