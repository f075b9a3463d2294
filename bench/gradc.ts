/**
 * gradc in the benchmark: the model definition, the training adapter, and the
 * measurement of one net, run in a child process (see `runGradc`).
 *
 * Why a child process: compiling a large net fully unrolled can take a minute or
 * more, and a synchronous compile cannot be interrupted in process. The parent gives
 * the child `limitMs` to report that compilation finished, and kills it otherwise, so
 * the benchmark reports "compile > limit" instead of hanging. Training is timed in the
 * child with the same `measure` as every other implementation (the parent is idle
 * while it runs).
 *
 * JIT warm-up: V8 can take seconds to optimize very large generated functions (on the
 * unrolled 16-32-4 net each 1,000-statement chunk took 1-3 s in TurboFan), and until
 * then the code runs 50-100x slower. So before the measurement the child trains for
 * `SETTLE_MS` per batch size, recording throughput in 250 ms windows, and reports how
 * long it took to reach half the measured speed (half, not all: on a shared machine
 * single windows are noisy, and the jump being detected is 10-100x): a cost a short
 * training run pays.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compile, defineModel, type Floats, type GeneratedModule, type Params } from '../src/index.js';
import { LoopMlp } from './baseline.js';
import { BATCHES, LEARNING_RATE, initWeights, makeData, measure, type Net, type Stepper, type Weights } from './setup.js';

export type CompileOptions = NonNullable<Parameters<typeof compile>[1]>;

/**
 * One gradc column of the tables: a label and the compile options it is measured with
 * (each in its own child process, through the same adapter). This list is the hook for
 * more configurations: when the SIMD kernels land, `{ label: 'f64 simd', options: {
 * simd: 'auto' } }` (and f32); a configuration that is not a compile option (threads in
 * `fit`) needs `gradcStepper` to take it as well. The tables show each configuration
 * and compare the best of them with the peers.
 */
export interface GradcConfig {
  readonly label: string;
  readonly options: CompileOptions;
}
export const GRADC_CONFIGS: readonly GradcConfig[] = [
  { label: 'f64', options: {} },
  { label: 'f32', options: { precision: 'f32' } },
];

/** The loss check's tolerance (relative, first step against the hand loop) for a configuration. */
export const lossTolerance = (options: CompileOptions) => (options.precision === 'f32' ? 1e-5 : 1e-9);

export const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 2000);
const SETTLE_WINDOW_MS = 250;

/** The benchmark net as a gradc model: tanh hidden layer, linear output, mean squared error. */
export function gradcModel(net: Net) {
  return defineModel('mlp', (m) => {
    const x = m.input('x', net.inputs);
    const y = m.target('y', net.outputs);
    const out = m.mlp(x, [net.hidden, net.outputs], 'tanh', 'linear');
    m.loss(m.mean(m.call('square', m.sub(out, y))));
  });
}

/** gradc's parameters set to the shared initial weights (names as `mlp` gives them; rounded for an f32 module). */
export function gradcParams<F extends Floats>(mod: GeneratedModule<F>, w: Weights): Params<F> {
  const p = mod.initParams();
  (p.layer1_W as F).set(w.W1);
  (p.layer1_b as F).set(w.b1);
  (p.layer2_W as F).set(w.W2);
  (p.layer2_b as F).set(w.b2);
  return p;
}

/**
 * The adapter: step `i` is one SGD step on the i-th batch of rows (cycling through the
 * data). This is the only place the benchmark calls gradc's training API.
 */
export function gradcStepper<F extends Floats>(mod: GeneratedModule<F>, params: Params<F>, X: F, Y: F, rows: number, batch: number): Stepper {
  const batches = rows / batch;
  return (i) => { mod.stepBatch(params, X, Y, batch, LEARNING_RATE, (i % batches) * batch); };
}

export interface GradcCompiled {
  readonly kind: 'compiled';
  readonly compileMs: number;
  readonly bytes: number;
  readonly lines: number;
  /** |gradc - hand loop| / |hand loop| for the loss of the first batch-32 step. */
  readonly lossCheck: number;
}
export interface GradcResult {
  readonly kind: 'result';
  readonly batch: number;
  readonly samplesPerSecond: number;
  /** Training time until a 250 ms window reached half of `samplesPerSecond`; undefined if not within SETTLE_MS. */
  readonly warmupMs: number | undefined;
}
type Message = { readonly kind: 'compiling' } | GradcCompiled | GradcResult;

export interface GradcOutcome {
  readonly compiled?: GradcCompiled;
  readonly results: Map<number, GradcResult>;
  readonly note?: string;
}

/** Child side: compile `net`, report, then measure each batch size. */
async function child(net: Net, options: CompileOptions, batches: readonly number[]): Promise<void> {
  const send = (m: Message) => process.send!(m);
  // Warm the compiler itself (module loading: mathjs, the phases) on a trivial model, so
  // that compile times compare nets rather than process start-up.
  compile(gradcModel({ name: 'warm', inputs: 1, hidden: 1, outputs: 1 }));
  send({ kind: 'compiling' });
  const t0 = performance.now();
  const mod = compile(gradcModel(net), options);
  const compileMs = performance.now() - t0;
  // The options are not a literal here, so `compile`'s type says Float64Array; with
  // `precision: 'f32'` the module's arrays are Float32Array, and its rows must be too
  // (converted once, before timing).
  const data = makeData(net);
  if (options.precision === 'f32') await trainChild(net, mod as unknown as GeneratedModule<Float32Array>, Float32Array.from(data.X), Float32Array.from(data.Y), mod.code, compileMs, batches);
  else await trainChild(net, mod, data.X, data.Y, mod.code, compileMs, batches);
  process.exit(0);
}

/** The child's training part, at the module's precision: the loss check, then each batch size settled and timed. */
async function trainChild<F extends Floats>(net: Net, mod: GeneratedModule<F>, X: F, Y: F, code: string, compileMs: number, batches: readonly number[]): Promise<void> {
  const send = (m: Message) => process.send!(m);
  const { X: X64, Y: Y64, rows } = makeData(net);
  const w = initWeights(net);
  // Same math as the baseline: one step from the shared weights gives the same loss.
  const loss = mod.stepBatch(gradcParams(mod, w), X, Y, 32, LEARNING_RATE, 0);
  const ref = new LoopMlp(net, w).stepBatch(X64, Y64, 0, 32, LEARNING_RATE);
  send({ kind: 'compiled', compileMs, bytes: Buffer.byteLength(code), lines: code.split('\n').length, lossCheck: Math.abs(loss - ref) / Math.abs(ref) });
  for (const batch of batches) {
    const step = gradcStepper(mod, gradcParams(mod, w), X, Y, rows, batch);
    const timeline: number[] = [];
    for (let t = 0; t < SETTLE_MS; t += SETTLE_WINDOW_MS) timeline.push(await measure(step, batch, { warmupMs: 0, windowMs: SETTLE_WINDOW_MS, windows: 1 }));
    const samplesPerSecond = await measure(step, batch);
    const reached = timeline.findIndex((r) => r >= 0.5 * samplesPerSecond);
    send({ kind: 'result', batch, samplesPerSecond, warmupMs: reached < 0 ? undefined : (reached + 1) * SETTLE_WINDOW_MS });
  }
  process.exit(0);
}

/** Parent side: measure `net` in a child process; gives up if compiling takes longer than `limitMs`. */
export function runGradc(net: Net, limitMs: number, options: CompileOptions = {}, batches: readonly number[] = BATCHES): Promise<GradcOutcome> {
  return new Promise((resolve) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(net), JSON.stringify(options), JSON.stringify(batches)], { execArgv: process.execArgv });
    let compiled: GradcCompiled | undefined;
    const results = new Map<number, GradcResult>();
    let note: string | undefined;
    const giveUp = (why: string) => () => {
      note = why;
      proc.kill('SIGKILL');
    };
    // Start-up (tsx, loading the compiler, the warm-up compile) gets its own allowance.
    let timer = setTimeout(giveUp('child did not start within 60 s'), 60_000);
    proc.on('message', (m: Message) => {
      if (m.kind === 'compiling') {
        clearTimeout(timer);
        timer = setTimeout(giveUp(`compile did not finish in ${(limitMs / 1000).toFixed(0)} s: skipped`), limitMs);
      } else if (m.kind === 'compiled') {
        compiled = m;
        clearTimeout(timer);
      } else results.set(m.batch, m);
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!note && code !== 0) note = `child failed (${signal ?? `exit ${code}`})`;
      resolve({ compiled, results, note });
    });
  });
}

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]!) as Net, JSON.parse(process.argv[4] ?? '{}') as CompileOptions, JSON.parse(process.argv[5] ?? JSON.stringify(BATCHES)) as number[]);
