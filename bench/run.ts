/**
 * `npm run bench`: training throughput of gradc (each configuration of GRADC_CONFIGS:
 * f64, f32) against TF.js (cpu, wasm), jax-js (wasm, f32 and f64), brain.js, synaptic
 * and a hand-written loop, for the nets and batch sizes in setup.ts; then the scaling
 * table (bench/scaling.ts). Prints the tables and writes them to bench/results.md.
 * Method: bench/README.md.
 *
 * Environment: BENCH_COMPILE_LIMIT_S (default 60) bounds each gradc compile;
 * BENCH_WARMUP_MS / BENCH_WINDOW_MS / BENCH_WINDOWS (default 300 / 200 / 5) set the timing;
 * BENCH_NETS=2-2-1,4-8-3 picks nets (results.md is written only by a full run);
 * BENCH_LOWERING=1 adds a table of gradc with each lowering forced (unrolled, loops);
 * BENCH_SETTLE_MS (default 2000) is gradc's JIT warm-up allowance (bench/gradc.ts);
 * BENCH_ADAM=0 leaves out the Adam table (bench/adam.ts); BENCH_SMALL=0 the small-net tables
 * (bench/small.ts: stepBatch against a hand-written step, and gradc's Adam/SGD step cost);
 * BENCH_SEQUENCE=0 the sequence table (bench/sequence.ts: recurrent nets, BENCH_SEQ_SECONDS per cell);
 * BENCH_SCALING=0 the scaling table (bench/scaling.ts, BENCH_SCALING_WIDTHS picks widths).
 * BENCH_THREADS=1 adds the threads table (bench/threads.ts: 1 against 2 threads, gradient and whole step).
 * BENCH_COMPILE=1 adds the compile-time table (bench/compile.ts: generate and load of long
 * formula chains, a fresh process per row; BENCH_COMPILE_LINES picks the chain lengths).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { LoopMlp } from './baseline.js';
import { adamTable } from './adam.js';
import { adamCostTable, handwrittenTable } from './small.js';
import { threadsBench } from './threads.js';
import { compileTimeTable } from './compile.js';
import { ceilingTable } from './ceiling.js';
import { sequenceTable } from './sequence.js';
import { measureBrain } from './brain.js';
import { GRADC_CONFIGS, SETTLE_MS, lossTolerance, runGradc, type GradcOutcome } from './gradc.js';
import { JAX_DTYPES, initJax, jaxTrainer, type JaxDtype } from './jax.js';
import { scalingTable } from './scaling.js';
import { BATCHES, LEARNING_RATE, NETS, TIMING, initWeights, makeData, measure, type Net } from './setup.js';
import { synapticTrainer } from './synaptic.js';
import { VARIANTS, backendInfo, tfTrainer, useBackend, type Backend, type Variant } from './tfjs.js';

const BACKENDS: readonly Backend[] = ['cpu', 'wasm'];
const MARK: Record<Variant, string> = { ops: '', fused: ' ᶠ', layers: ' ˡ' };
const COMPILE_LIMIT_MS = Number(process.env.BENCH_COMPILE_LIMIT_S ?? 60) * 1000;

interface Row {
  readonly net: Net;
  /** By configuration label (GRADC_CONFIGS). */
  readonly gradc: Map<string, GradcOutcome>;
  readonly loop: Map<number, number>;
  readonly tf: Map<Backend, Map<number, { rate: number; variant: Variant }>>;
  readonly jax: Map<JaxDtype, Map<number, number>>;
  /** Per-sample peers: batch 1 only. */
  readonly brain: number;
  readonly synaptic: number;
  readonly warnings: string[];
}

/** First-step loss tolerance of jax-js against the hand loop (its f64 tanh and exp are approximations: bench/jax.ts). */
const JAX_LOSS_TOLERANCE: Record<JaxDtype, number> = { f32: 1e-4, f64: 1e-6 };

const log = (s: string) => process.stderr.write(s + '\n');

async function benchNet(net: Net): Promise<Row> {
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  const warnings: string[] = [];
  const reference = (batch: number) => new LoopMlp(net, w).stepBatch(X, Y, 0, batch, LEARNING_RATE);

  const gradc = new Map<string, GradcOutcome>();
  for (const config of GRADC_CONFIGS) {
    log(`[${net.name}] gradc ${config.label} (child process, compile limit ${COMPILE_LIMIT_MS / 1000} s)`);
    const outcome = await runGradc(net, COMPILE_LIMIT_MS, config.options);
    const check = outcome.compiled?.lossCheck;
    if (check !== undefined && !(check <= lossTolerance(config.options))) warnings.push(`gradc ${config.label} first-step loss differs from the hand loop by ${check.toExponential(1)} (relative)`);
    if (outcome.note) warnings.push(`gradc ${config.label}: ${outcome.note}`);
    gradc.set(config.label, outcome);
  }

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

  const jax = new Map<JaxDtype, Map<number, number>>();
  for (const dtype of JAX_DTYPES) {
    const rates = new Map<number, number>();
    for (const batch of BATCHES) {
      log(`[${net.name}] jax-js ${dtype} batch ${batch}`);
      const t = jaxTrainer(net, w, X, Y, rows, batch, dtype);
      const ref = reference(batch);
      const err = Math.abs(t.firstLoss - ref) / Math.abs(ref);
      if (!(err <= JAX_LOSS_TOLERANCE[dtype])) warnings.push(`jax-js ${dtype} batch ${batch}: first-step loss differs from the hand loop by ${err.toExponential(1)}`);
      rates.set(batch, await measure(t.step, batch));
      t.dispose();
    }
    jax.set(dtype, rates);
  }

  log(`[${net.name}] brain.js`);
  const brain = measureBrain(net, X, Y, rows);

  log(`[${net.name}] synaptic`);
  const syn = synapticTrainer(net, w, X, Y, rows);
  const synErr = Math.abs(syn.firstLoss - reference(1)) / Math.abs(reference(1));
  if (!(synErr <= 1e-9)) warnings.push(`synaptic: first-sample loss differs from the hand loop by ${synErr.toExponential(1)}`);
  const synaptic = await measure(syn.step, 1);
  return { net, gradc, loop, tf, jax, brain, synaptic, warnings };
}

/**
 * TF.js's engine code (kernel dispatch, tape, tidy) is shared by every net and takes
 * longer than one warm-up window to reach full speed the first time it runs; so each
 * variant on each backend first trains a small net for a moment.
 */
async function warmTfjs(): Promise<void> {
  const net = NETS[1]!;
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

/** The same for jax-js: its dispatch and tracing code is shared by every net. */
async function warmJax(): Promise<void> {
  await initJax();
  const net = NETS[1]!;
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  log('warming jax-js');
  for (const dtype of JAX_DTYPES) {
    for (const batch of BATCHES) {
      const t = jaxTrainer(net, w, X, Y, rows, batch, dtype);
      await measure(t.step, batch, { warmupMs: 250, windowMs: 0, windows: 0 });
      t.dispose();
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

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !(b > 0) ? '—' : `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}x`);
const params = (n: Net) => n.hidden * (n.inputs + 1) + n.outputs * (n.hidden + 1);

const warm = (ms: number | undefined) => (ms === undefined ? `> ${(SETTLE_MS / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);

function compileTable(rows: readonly { net: Net; gradc: GradcOutcome; label: string }[]): string {
  const out: string[] = [];
  out.push(`| net | gradc | parameters | compile (s) | code (bytes) | code (lines) | JIT warm-up (batch ${BATCHES.join(' / ')}) | note |`);
  out.push('|---|---|---:|---:|---:|---:|---:|---|');
  for (const { net, gradc, label } of rows) {
    const c = gradc.compiled;
    const w = BATCHES.map((b) => (gradc.results.has(b) ? warm(gradc.results.get(b)!.warmupMs) : '—')).join(' / ');
    out.push(`| ${net.name} | ${label} | ${params(net)} | ${c ? (c.compileMs / 1000).toFixed(2) : '—'} | ${c ? c.bytes.toLocaleString('en-US') : '—'} | ${c ? c.lines.toLocaleString('en-US') : '—'} | ${w} | ${gradc.note ?? ''} |`);
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
  const out = ['gradc (f64) with each lowering forced (`compile(model, { lowering })`), samples/second:', ''];
  out.push(`| net | lowering | ${BATCHES.map((b) => `batch ${b}`).join(' | ')} |`, `|---|---|${BATCHES.map(() => '---:|').join('')}`);
  for (const r of rows) out.push(`| ${r.net.name} | ${r.label} | ${BATCHES.map((b) => fmt(r.gradc.results.get(b)?.samplesPerSecond)).join(' | ')} |`);
  out.push('', compileTable(rows));
  return out.join('\n');
}

/** Every peer's rate at `batch` (per-sample peers at batch 1 only), by column name. */
function peersAt(r: Row, batch: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const [backend, rates] of r.tf) { const v = rates.get(batch); if (v) m.set(`TF.js ${backend}`, v.rate); }
  for (const [dtype, rates] of r.jax) { const v = rates.get(batch); if (v !== undefined) m.set(`jax-js ${dtype}`, v); }
  if (batch === 1) {
    m.set('brain.js', r.brain);
    m.set('synaptic', r.synaptic);
  }
  return m;
}

/** gradc's best configuration at `batch`: [label, rate]. */
function gradcBest(r: Row, batch: number): [string, number] | undefined {
  let best: [string, number] | undefined;
  for (const [label, o] of r.gradc) {
    const v = o.results.get(batch)?.samplesPerSecond;
    if (v !== undefined && (!best || v > best[1])) best = [label, v];
  }
  return best;
}

const argmax = (m: ReadonlyMap<string, number>): [string, number] | undefined => {
  let best: [string, number] | undefined;
  for (const [k, v] of m) if (!best || v > best[1]) best = [k, v];
  return best;
};

function tables(rows: readonly Row[]): string {
  const out: string[] = [];
  const labels = GRADC_CONFIGS.map((c) => c.label);
  out.push('Training throughput, samples/second (higher is better). "gradc" = the best of its configurations at that batch; "best peer, this batch" = the fastest of TF.js cpu, TF.js wasm, jax-js f32 and f64 at the same batch size (and brain.js, synaptic at batch 1); "best peer, any batch" = the fastest peer at its best batch size.', '');
  out.push(`| net | batch | ${labels.map((l) => `gradc ${l}`).join(' | ')} | hand loop | TF.js cpu | TF.js wasm | jax-js f32 | jax-js f64 | brain.js | synaptic | gradc / best peer, this batch | gradc / best peer, any batch | gradc / hand loop |`);
  out.push(`|---|---:|${labels.map(() => '---:|').join('')}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const r of rows) {
    const anyBatch = Math.max(...BATCHES.flatMap((b) => [...peersAt(r, b).values()]));
    for (const batch of BATCHES) {
      const peers = peersAt(r, batch);
      const best = argmax(peers);
      const g = gradcBest(r, batch);
      const tfCell = (b: Backend) => {
        const v = r.tf.get(b)?.get(batch);
        return v ? `${fmt(v.rate)}${MARK[v.variant]}` : '—';
      };
      const gradcCells = labels.map((l) => fmt(r.gradc.get(l)?.results.get(batch)?.samplesPerSecond));
      const perSample = (v: number) => (batch === 1 ? fmt(v) : 'n/a');
      const vsBest = best && g ? `${ratio(g[1], best[1])} (${best[0]})` : '—';
      out.push(`| ${r.net.name} | ${batch} | ${gradcCells.join(' | ')} | ${fmt(r.loop.get(batch))} | ${tfCell('cpu')} | ${tfCell('wasm')} | ${fmt(r.jax.get('f32')?.get(batch))} | ${fmt(r.jax.get('f64')?.get(batch))} | ${perSample(r.brain)} | ${perSample(r.synaptic)} | ${vsBest} | ${ratio(g?.[1], anyBatch)} | ${ratio(g?.[1], r.loop.get(batch))} |`);
    }
  }
  out.push('', 'TF.js: the fastest of three ways to write the net: plain ops with `optimizer.minimize` (no mark), ᶠ the same with `tf.fused.matMul`, ˡ `tf.layers` with `model.trainOnBatch`. jax-js: `jit` of `valueAndGrad` plus the SGD update, wasm device, one thread. brain.js and synaptic train one sample at a time only (n/a at larger batches).', '');
  out.push('gradc compile time (`compile()`: build, differentiate, simplify, lower, emit, load; after a warm-up compile of a 1-1-1 net), generated module size, and JIT warm-up (training time until V8 runs the generated code at half the measured speed or more, per batch size):', '');
  out.push(compileTable(rows.flatMap((r) => [...r.gradc].map(([label, gradc]) => ({ net: r.net, gradc, label })))));
  const warnings = rows.flatMap((r) => r.warnings.map((w) => `- ${r.net.name}: ${w}`));
  if (warnings.length) out.push('', 'Warnings:', ...warnings);
  return out.join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg()[0]!;
  const only = process.env.BENCH_NETS?.split(',');
  const nets = only ? NETS.filter((n) => only.includes(n.name)) : NETS;
  await warmTfjs();
  await warmJax();
  const rows: Row[] = [];
  for (const net of nets) rows.push(await benchNet(net));
  const lowering = process.env.BENCH_LOWERING === '1' ? `\n${await loweringTable(nets)}\n` : '';
  const scaling = process.env.BENCH_SCALING === '0' ? '' : `\n${await scalingTable(COMPILE_LIMIT_MS)}\n`;
  const adam = process.env.BENCH_ADAM === '0' ? '' : `\n${await adamTable(nets)}\n`;
  const small = process.env.BENCH_SMALL === '0' ? '' : `\n${await handwrittenTable()}\n\n${await adamCostTable()}\n`;
  const threads = process.env.BENCH_THREADS === '1' ? `\n${threadsBench()}\n` : ''; // bench/threads.ts: 1 vs 2 threads
  const sequences = process.env.BENCH_SEQUENCE === '0' ? '' : `\n${await sequenceTable()}\n`;
  const compileTimes = process.env.BENCH_COMPILE === '1' ? `\n${compileTimeTable()}\n` : '';
  await useBackend('wasm');
  const header = [
    `Date: ${new Date().toISOString().slice(0, 10)}`,
    `Machine: ${os.cpus()[0]!.model} (${os.cpus().length} cores), ${os.platform()} ${os.release()}`,
    `Node ${process.version}; ${backendInfo()}; @jax-js/jax 0.1.25 (wasm device, one thread); brain.js 1.6.1; synaptic 1.1.4`,
    `Load average (1 min) at start / end: ${loadBefore.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} (other processes on the machine share its cores)`,
    `Method: SGD on ${makeData(nets[0]!).rows} random rows (seeded), lr ${LEARNING_RATE}, tanh hidden layer, linear output, MSE; warm-up, then the best of ${TIMING.windows} windows of ${TIMING.windowMs} ms per figure (bench/README.md).`,
  ].join('  \n');
  const text = `${header}\n\n${tables(rows)}\n${scaling}${lowering}${adam}${small}${threads}${sequences}${compileTimes}\n${await ceilingTable()}\n`;
  const wall = `Benchmark wall time: ${((performance.now() - started) / 1000).toFixed(0)} s`;
  process.stdout.write(`\n${text}\n${wall}\n`);
  if (!only) writeFileSync(fileURLToPath(new URL('./results.md', import.meta.url)), `# gradc benchmark results\n\n${text}\n${wall}\n`);
}

await main();
