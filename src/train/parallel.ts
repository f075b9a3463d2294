/**
 * Data-parallel training over threads: `fitParallel` is a generated module's `fitRows`
 * with each minibatch's gradient spread over worker threads.
 *
 * How: the calling thread (the leader) runs the module's own `fitRows`, so every option
 * means what it means there (optimizers, schedules, clipping, validation, early stopping,
 * the divergence guard, callbacks, abort); only `batchGradient` is set (see FitOptions):
 * for a batch of more than one row, the leader splits the rows into one contiguous slice
 * per thread, wakes the helpers (worker threads, each running the same module), computes
 * slice 0 itself, waits, and adds the slices' gradients and losses in thread order; the
 * module then applies one optimizer update. Everything the threads share lives in
 * SharedArrayBuffers made once before training (the team's memory): the rows (copied once;
 * the shuffled and split copies fit makes are carved from the same arena, so a step copies
 * nothing of the batch), the parameters (the leader's Params are views on it: helpers read
 * the values the last update wrote), one gradient buffer per thread, and a small control
 * block (Atomics.wait/notify, no messages while training).
 *
 * Guarantees:
 * - deterministic: the slices depend only on the batch and the thread count, and the sum is
 *   taken in thread order, so two runs with the same options give the same bytes whatever
 *   the timing; with 1 thread it is the module's own fitRows (the same bytes as without
 *   fitParallel). Different thread counts differ by rounding only (the same sum in another
 *   order: about 1e-15 relative per step).
 * - an error in a helper (a SampleError, anything thrown) stops training and is thrown by
 *   fitParallel naming the thread: a GradcError for a SampleError, an Error otherwise;
 *   whatever ends training (the end, an error, an abort), the helpers are told to stop and
 *   terminated before fitParallel returns, and never keep the process alive.
 * - the helpers' code is plain JavaScript strings (eval workers), so it runs the same from
 *   src/ (tsx, vitest) and dist/; the leader's part (LEADER_SOURCE) is a string too, so that
 *   `gradc train --threads` can lead from its own training worker (cli/fitWorker.ts).
 * Node's worker_threads only (Node 20 has no global Worker); the leader blocks in
 * Atomics.wait, which a browser allows in a Web Worker but not on the page's main thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { GradcError } from '../errors.js';
import { runModule, transpile, type FitOptions, type FitResult, type Floats, type GeneratedModule, type Params } from '../load/loader.js';

/** Options of fitParallel: fitRows's (without batchGradient, which it sets) and the thread count. */
export type ParallelFitOptions<F extends Floats = Float64Array> = Omit<FitOptions<F>, 'batchGradient'> & {
  /**
   * Threads computing each batch's gradient, the calling thread included: a positive
   * integer, or 'auto' (default): as many as the machine has cores when a step is large
   * enough to gain (see `chooseThreads`), else 1.
   */
  readonly threads?: number | 'auto' | undefined;
};

/**
 * What fitParallel returns: fitRows's result, the threads used, and how many batch gradients
 * the team computed and how many the calling thread alone (with 'auto', when the team was
 * not faster; 1 thread: both 0).
 */
export type ParallelFitResult<F extends Floats = Float64Array> = FitResult<F> & { readonly threads: number; readonly steps: { readonly team: number; readonly alone: number } };

/**
 * The work of one step (rows times parameter values) below which 'auto' stays on one
 * thread. A team step costs a hand-off (wake the helpers, wait for the last, one pass over
 * each thread's gradient) on top of half the work: on an idle 2-core machine some 50-100 us,
 * so 2 threads would gain from about 2 x 100 us / (1 ns per row and parameter) = 200k. But
 * the only machine measured (2 cores shared by 7 sessions, load average 13-20: bench/threads.ts)
 * made every hand-off wait milliseconds for the scheduler: a batch's gradient on 2 threads
 * against 1 ranged 0.9x-1.5x at 6.5M (784-32-10, batch 256) and 0.9x-1.6x at 52M (784-256-10,
 * batch 256), and whole 'auto' runs at 6.5M were 0.5x-0.97x of 1 thread. So 'auto' starts
 * threads only from 16M (784-128-10 at batch 256 and up); a count forces them anywhere.
 */
export const BREAK_EVEN_WORK = 16_000_000;
/** Starting the helpers costs about 50-150 ms; below this much work in all (rows times parameters times epochs) 'auto' stays on one thread. */
export const MIN_TOTAL_WORK = 2e9;
/**
 * Batch steps in all below which 'auto' stays on one thread: the first probe (WARM + PROBE / 2
 * team steps, in LEADER_SOURCE) can cost several steps each on a busy machine (measured: a
 * 320-step run lost 20% to it), so it must be spread over enough steps.
 */
export const MIN_STEPS = 1000;

/**
 * The threads for `threads` ('auto' or a count) on a model with `paramCount` parameter
 * values training `count` rows for `epochs` epochs in batches of `batchSize`: 'auto' gives
 * the cores of the machine when a step is at least BREAK_EVEN_WORK and the training at
 * least MIN_TOTAL_WORK and MIN_STEPS, else 1. A count is taken as given (checked: a positive integer).
 */
export function chooseThreads(threads: number | 'auto' | undefined, paramCount: number, batchSize: number, count: number, epochs: number, sparse: readonly string[] = []): number {
  if (threads !== undefined && threads !== 'auto') {
    if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new GradcError(`fitParallel: threads must be 'auto' or an integer from 1 to 256, got ${typeof threads === 'number' ? threads : JSON.stringify(threads)}`);
    }
    if (threads > 1 && sparse.length > 0) {
      throw new GradcError(`fitParallel: ${threads} threads cannot train this model: parameter${sparse.length === 1 ? '' : 's'} ${sparse.join(', ')} ${sparse.length === 1 ? 'has a sparse gradient' : 'have sparse gradients'} (an embedding lookup), whose rows only the thread that computed them notes; train it on 1 thread (threads: 1 or 'auto', gradc train --threads 1 or auto)`);
    }
    return threads;
  }
  if (sparse.length > 0) return 1; // see above: threads would lose the rows the helpers touched
  const rows = Math.min(batchSize, count);
  const steps = epochs * Math.ceil(count / Math.max(1, rows));
  if (rows * paramCount < BREAK_EVEN_WORK || count * paramCount * epochs < MIN_TOTAL_WORK || steps < MIN_STEPS) return 1;
  return Math.max(1, availableParallelism());
}

/**
 * The parameters of a generated module (its JavaScript) whose gradients are sparse (embedding
 * tables: the update visits only the rows the gradient kernels noted, in the thread that ran them).
 */
export function sparseParams(js: string): string[] {
  return [...js.matchAll(/\bconst \$rows_([A-Za-z_$][\w$]*) = \$rowSet\(/g)].map((x) => x[1]!);
}

/** The control block: Int32 slots (CONTROL) and Float64 slots (NUMBERS), shared by LEADER_SOURCE and HELPER_SOURCE. */
const LAYOUT = `
const GEN = 0, CMD = 1, READY = 2, ERROR = 3, FAILED = 4, LENGTH = 5, DONE = 8; // Int32 slots; DONE + k: the step helper k finished (-1: it failed)
const STEP = 1, STOP = 2; // commands
const X_AT = 0, X_LENGTH = 1, Y_AT = 2, Y_LENGTH = 3, SLICES = 4; // Float64 slots; SLICES + 3k: first row, rows, mean loss of thread k
// Wait until I[slot] is no longer \`now\`: first spinning for up to SPIN_MS (a thread put to
// sleep waits for the scheduler to wake it, which on a busy machine takes milliseconds, longer
// than a small step), then in Atomics.wait for up to \`ms\`. True when it changed.
const SPIN_MS = 0.05;
const waitChange = (I, slot, now, ms) => {
  const until = performance.now() + SPIN_MS;
  for (let i = 1; ; i++) {
    if (Atomics.load(I, slot) !== now) return true;
    if ((i & 1023) === 0 && performance.now() > until) break;
  }
  return Atomics.wait(I, slot, now, ms) !== 'timed-out';
};
const viewsOf = (F, buffer, layout, at) => {
  const p = {};
  for (const [name, offset, size, scalar] of layout) p[name] = scalar ? 0 : new F(buffer, (at + offset) * F.BYTES_PER_ELEMENT, size);
  return p;
};
`;

/**
 * A helper thread (CommonJS eval worker). workerData: { js, index, memory }. Loads the
 * module, then for each step: the scalar parameters from the shared block, its slice's
 * gradient into its gradient buffer, its mean loss, and DONE + index set to the step.
 */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
${LAYOUT}
const { js, index, memory } = workerData;
const { arena, params, grads, control, numbers, message, layout, paramSize, f32 } = memory;
const F = f32 ? Float32Array : Float64Array;
const I = new Int32Array(control), N = new Float64Array(numbers);
const fail = (e) => {
  const sample = typeof e === 'object' && e !== null && e[Symbol.for('gradc.GradcError')] === true;
  const text = e instanceof Error ? (sample ? e.message : String(e.stack || e.message)) : String(e);
  const written = new TextEncoder().encodeInto(text, new Uint8Array(message)).written;
  if (Atomics.compareExchange(I, ERROR, 0, sample ? 1 : 2) === 0) { Atomics.store(I, FAILED, index); Atomics.store(I, LENGTH, written); }
  Atomics.store(I, DONE + index, -1);
  Atomics.notify(I, DONE + index);
  Atomics.notify(I, READY);
};
try {
  const module = { exports: {} };
  new Function('exports', 'module', js)(module.exports, module);
  const m = module.exports;
  const A = new F(arena), P = new F(params), G = new F(grads, index * paramSize * F.BYTES_PER_ELEMENT, paramSize);
  const p = viewsOf(F, params, layout, 0), g = viewsOf(F, grads, layout, index * paramSize);
  const scalars = layout.filter((s) => s[3]);
  const arrays = layout.filter((s) => !s[3]);
  // Warm the JIT before joining (a cold module computes its first slices 10x slower or worse),
  // on parameters and a gradient of its own: nothing shared is touched.
  const warmRows = Math.min(memory.count, 64), wp = m.initParams(), wg = m.zeroParams();
  try {
    for (let i = 0; i < 8; i++) m.gradientBatch(wp, A.subarray(0, memory.dataX), A.subarray(memory.dataX, memory.dataX + memory.dataY), warmRows, 0, wg);
  } catch {} // only a warm-up: the real slices report their own errors
  Atomics.add(I, READY, 1);
  Atomics.notify(I, READY);
  let seen = 0;
  for (;;) {
    waitChange(I, GEN, seen, Infinity);
    seen = Atomics.load(I, GEN);
    if (Atomics.load(I, CMD) === STOP) break;
    const first = N[SLICES + 3 * index], rows = N[SLICES + 3 * index + 1];
    let loss = 0;
    if (rows > 0) {
      for (const [name, offset] of scalars) { p[name] = P[offset]; g[name] = 0; }
      for (const [name] of arrays) g[name].fill(0);
      const X = A.subarray(N[X_AT], N[X_AT] + N[X_LENGTH]), Y = A.subarray(N[Y_AT], N[Y_AT] + N[Y_LENGTH]);
      loss = m.gradientBatch(p, X, Y, rows, first, g).loss;
      for (const [name, offset] of scalars) G[offset] = g[name];
    }
    N[SLICES + 3 * index + 2] = loss;
    Atomics.store(I, DONE + index, seen);
    Atomics.notify(I, DONE + index);
  }
} catch (e) {
  fail(e);
}
`;

/**
 * The leader's part, the body of a function of (m, memory, threads, adaptive): `m` the
 * leader's module, `memory` the team's, `adaptive` whether to check that the team is faster
 * than the leader alone (below). Returns { X, Y, count, params, batchGradient, stop, stats }:
 * the rows and parameters as views on the shared memory, the FitOptions.batchGradient that
 * spreads each batch over the threads, stop() that tells the helpers to end, and the steps
 * taken by the team and by the leader alone.
 * An error of a helper is thrown as an Error with `failedThread` and `sampleError` set.
 */
export const LEADER_SOURCE = `
${LAYOUT}
const { arena, params, grads, control, numbers, message, layout, paramSize, f32, dataX, dataY, count, capacity } = memory;
const F = f32 ? Float32Array : Float64Array;
const I = new Int32Array(control), N = new Float64Array(numbers);
const A = new F(arena), P = new F(params);
const p = viewsOf(F, params, layout, 0);
for (const [name, offset, , scalar] of layout) if (scalar) p[name] = P[offset];
const G = [], g = [];
for (let k = 0; k < threads; k++) { G.push(new F(grads, k * paramSize * F.BYTES_PER_ELEMENT, paramSize)); g.push(viewsOf(F, grads, layout, k * paramSize)); }
const scalars = layout.filter((s) => s[3]), arrays = layout.filter((s) => !s[3]);
let free = dataX + dataY; // the arena: the rows X, Y, then what rows(length) hands out
const failure = () => {
  const bytes = new Uint8Array(Atomics.load(I, LENGTH));
  bytes.set(new Uint8Array(message, 0, bytes.length));
  const k = Atomics.load(I, FAILED), sample = Atomics.load(I, ERROR) === 1;
  const e = Object.assign(new Error('thread ' + (k + 1) + ' of ' + threads + ' failed: ' + new TextDecoder().decode(bytes)), { failedThread: k, sampleError: sample });
  if (sample) e[Symbol.for('gradc.GradcError')] = true; // bad data: reported as such wherever the leader runs
  return e;
};
const waitFor = (slot, value) => {
  for (;;) {
    const now = Atomics.load(I, slot);
    if (now === value || (slot === READY && now >= value)) return;
    if (Atomics.load(I, ERROR) !== 0) throw failure();
    waitChange(I, slot, now, 1000);
  }
};
let ready = false;
const offsetIn = (a) => {
  if (a.buffer !== arena) throw new Error('fitParallel: rows outside the shared arena (an internal error)');
  return a.byteOffset / F.BYTES_PER_ELEMENT;
};
/** Slice k's gradient on this thread: into G[k], its mean loss into its slot. */
function slice(k, params, X, Y) {
  const rows = N[SLICES + 3 * k + 1];
  if (rows === 0) return;
  for (const [name] of scalars) g[k][name] = 0;
  for (const [name] of arrays) g[k][name].fill(0);
  N[SLICES + 3 * k + 2] = m.gradientBatch(params, X, Y, rows, N[SLICES + 3 * k], g[k]).loss;
  for (const [name, offset] of scalars) G[k][offset] = g[k][name];
}
// With \`adaptive\` (threads: 'auto'), the leader checks that the team is faster than itself
// alone: after WARM steps on the team (the helpers' JIT warms up), PROBE steps alternate between
// the team and the leader computing every slice itself (the same slices, the same sum: the same
// bytes), and the team is kept until the next probe only when its median time from one step's
// gradient to the next (the whole step: the update and fit's own work too) is under MARGIN
// times the leader's alone, else the leader works alone until then; the next probe is PROBE_EVERY steps
// later when the team won, twice the last gap (up to MAX_GAP) when it lost, so that on a busy
// machine, where every hand-off can wait milliseconds for the scheduler, probing costs little.
const WARM = 2, PROBE = 10, PROBE_EVERY = 400, MAX_GAP = 25600, MARGIN = 0.85;
let steps = 0, useTeam = true, probeAt = WARM, gap = PROBE_EVERY / 2;
let timing = null, since = 0; // the probe step under way ('team' or 'alone') and when it started
const timed = { team: [], alone: [] };
const stats = { team: 0, alone: 0 };
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[s.length >> 1]; };
/** After a probe: keep the faster way, and set the next probe. */
function decide() {
  useTeam = median(timed.team) < MARGIN * median(timed.alone); // a clear win only: timings on a busy machine are noisy
  gap = useTeam ? PROBE_EVERY : Math.min(2 * gap, MAX_GAP);
  probeAt = steps + gap;
  timed.team.length = 0; timed.alone.length = 0;
}
function gradient(params, X, Y, rows, first, grad, scale) {
  if (!ready && !adaptive) { waitFor(READY, threads - 1); ready = true; }
  if (!ready) { // adaptive: the leader works alone until every helper has loaded and warmed up
    if (Atomics.load(I, ERROR) !== 0) throw failure();
    ready = Atomics.load(I, READY) >= threads - 1;
  }
  for (const [name, offset] of scalars) P[offset] = params[name];
  N[X_AT] = offsetIn(X); N[X_LENGTH] = X.length; N[Y_AT] = offsetIn(Y); N[Y_LENGTH] = Y.length;
  for (let k = 0; k < threads; k++) {
    const from = Math.floor((rows * k) / threads), to = Math.floor((rows * (k + 1)) / threads);
    N[SLICES + 3 * k] = first + from; N[SLICES + 3 * k + 1] = to - from; N[SLICES + 3 * k + 2] = 0;
  }
  if (timing !== null) { timed[timing].push(performance.now() - since); timing = null; }
  if (adaptive && steps - probeAt === PROBE) decide();
  const phase = steps - probeAt;
  const probing = adaptive && phase >= 0 && phase < PROBE;
  const team = ready && (!adaptive || (steps < WARM) || (probing ? phase % 2 === 0 : useTeam));
  if (probing) { timing = team ? 'team' : 'alone'; since = performance.now(); }
  if (team) {
    Atomics.store(I, CMD, STEP);
    const step = Atomics.add(I, GEN, 1) + 1;
    Atomics.notify(I, GEN);
    slice(0, params, X, Y);
    for (let k = 1; k < threads; k++) waitFor(DONE + k, step);
  } else {
    for (let k = 0; k < threads; k++) slice(k, params, X, Y);
  }
  // The sum in slice order: the same bytes whatever the timing, and whichever thread computed each slice.
  let loss = 0;
  for (let k = 0; k < threads; k++) {
    const n = N[SLICES + 3 * k + 1];
    if (n === 0) continue;
    loss += n * N[SLICES + 3 * k + 2];
    const c = scale * n, gk = G[k];
    for (const [name, offset, size, scalar] of layout) {
      if (scalar) grad[name] += c * gk[offset];
      else { const d = grad[name]; for (let i = 0; i < size; i++) d[i] += c * gk[offset + i]; }
    }
  }
  stats[team ? 'team' : 'alone']++;
  if (ready) steps++; // the warm-up and probes count from the helpers' arrival
  return loss;
}
function rowsOf(length) {
  if (free + length > capacity) throw new Error('fitParallel: the shared arena is full (an internal error)');
  const a = new F(arena, free * F.BYTES_PER_ELEMENT, length);
  free += length;
  return a;
}
function stop() {
  Atomics.store(I, CMD, STOP);
  Atomics.add(I, GEN, 1);
  Atomics.notify(I, GEN);
}
return { X: new F(arena, 0, dataX), Y: new F(arena, dataX * F.BYTES_PER_ELEMENT, dataY), count, params: p, batchGradient: { gradient, rows: rowsOf }, stop, stats };
`;

/** The team's shared memory (plain data and SharedArrayBuffers: it crosses to workers as is). */
export interface TeamMemory {
  readonly arena: SharedArrayBuffer;
  readonly params: SharedArrayBuffer;
  readonly grads: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly numbers: SharedArrayBuffer;
  readonly message: SharedArrayBuffer;
  /** Each parameter as [name, offset, size, scalar] in the packed parameter block. */
  readonly layout: readonly (readonly [string, number, number, boolean])[];
  readonly paramSize: number;
  readonly f32: boolean;
  /** Values of X and of Y at the start of the arena, and the rows. */
  readonly dataX: number;
  readonly dataY: number;
  readonly count: number;
  /** Values the arena holds in all. */
  readonly capacity: number;
}

let live = 0;
/** Helper threads started and not yet exited, in this thread (for tests: none is left running). */
export const liveHelpers = (): number => live;

/** The helpers of a team and its memory. */
export interface Team {
  readonly memory: TeamMemory;
  readonly threads: number;
  /** Terminates every helper (safe to call more than once). */
  terminate(): void;
}

/**
 * Values of the arena: the rows, plus what fit carves from it (see rows(length) in
 * runtime.ts): the shuffled copy of the training rows, and with a validation fraction both
 * split parts; `held` of the rows are held out.
 */
function arenaRows(count: number, shuffled: boolean, held: number): number {
  const train = count - held;
  return count + (held > 0 ? count : 0) + (shuffled ? train : 0);
}

/**
 * Makes the team's memory (the rows copied in once, the parameters `start` copied into the
 * shared block) and starts `threads - 1` helpers running module `js`. They load in the
 * background; the leader waits for them at its first step.
 */
export function startTeam<F extends Floats>(js: string, m: GeneratedModule<F>, X: F, Y: F, count: number, start: Params<F>, threads: number, options: { readonly shuffled: boolean; readonly held: number }): Team {
  const f32 = m.packSamples([]).X instanceof Float32Array;
  const bytes = f32 ? 4 : 8;
  const layout: [string, number, number, boolean][] = [];
  let paramSize = 0;
  for (const [name, value] of Object.entries(m.zeroParams())) {
    const size = typeof value === 'number' ? 1 : value.length;
    layout.push([name, paramSize, size, typeof value === 'number']);
    paramSize += size;
  }
  const dataX = count * m.INPUT_SIZE, dataY = count * m.TARGET_SIZE;
  const capacity = arenaRows(count, options.shuffled, options.held) * (m.INPUT_SIZE + m.TARGET_SIZE);
  const memory: TeamMemory = {
    arena: new SharedArrayBuffer(Math.max(1, capacity) * bytes),
    params: new SharedArrayBuffer(Math.max(1, paramSize) * bytes),
    grads: new SharedArrayBuffer(Math.max(1, paramSize * threads) * bytes),
    control: new SharedArrayBuffer((8 + threads) * 4),
    numbers: new SharedArrayBuffer((4 + 3 * threads) * 8),
    message: new SharedArrayBuffer(4096),
    layout, paramSize, f32, dataX, dataY, count, capacity,
  };
  const view = (buffer: SharedArrayBuffer, at: number, length: number): Floats => (f32 ? new Float32Array(buffer, at * 4, length) : new Float64Array(buffer, at * 8, length));
  view(memory.arena, 0, dataX).set(X.subarray(0, dataX));
  view(memory.arena, dataX, dataY).set(Y.subarray(0, dataY));
  const P = view(memory.params, 0, Math.max(1, paramSize));
  for (const [name, offset, , scalar] of layout) {
    const v = start[name];
    if (scalar) P[offset] = v as number;
    else P.set(v as F, offset);
  }
  const workers: Worker[] = [];
  for (let index = 1; index < threads; index++) {
    const w = new Worker(HELPER_SOURCE, { eval: true, workerData: { js, index, memory } });
    w.unref(); // never keeps the process alive
    w.on('error', () => {}); // reported through the shared memory
    live++;
    w.once('exit', () => live--);
    workers.push(w);
  }
  let done = false;
  return {
    memory,
    threads,
    terminate() {
      if (done) return;
      done = true;
      const I = new Int32Array(memory.control);
      Atomics.store(I, 1, 2); // CMD = STOP
      Atomics.add(I, 0, 1);
      Atomics.notify(I, 0);
      for (const w of workers) void w.terminate();
    },
  };
}

/** The leader's side of a team (LEADER_SOURCE), run on the calling thread. */
export interface Leader<F extends Floats> {
  readonly X: F;
  readonly Y: F;
  readonly count: number;
  readonly params: Params<F>;
  readonly batchGradient: NonNullable<FitOptions<F>['batchGradient']>;
  stop(): void;
  /** Batch gradients computed by the team and by the leader alone (adaptive: the team was slower). */
  readonly stats: { readonly team: number; readonly alone: number };
}

/** Joins `memory` as the leader with module `m`; `adaptive`: see LEADER_SOURCE. */
export function lead<F extends Floats>(m: GeneratedModule<F>, memory: TeamMemory, threads: number, adaptive = false): Leader<F> {
  return new Function('m', 'memory', 'threads', 'adaptive', LEADER_SOURCE)(m, memory, threads, adaptive) as Leader<F>;
}

/** A helper's failure as gradc reports it: a GradcError for bad data (a SampleError), the Error otherwise. */
export function teamError(e: unknown): unknown {
  if (e instanceof Error && 'sampleError' in e && e.sampleError === true) return new GradcError(e.message);
  return e;
}

/** How many values the parameters of `m` hold (scalars count 1). */
export function paramCount(m: { zeroParams(): Params<Floats> }): number {
  let n = 0;
  for (const v of Object.values(m.zeroParams())) n += typeof v === 'number' ? 1 : v.length;
  return n;
}

/**
 * The held-out rows of a validation fraction, as fit rounds them (0 without one), for
 * sizing the arena; fit itself checks the fraction.
 */
function heldRows(validation: unknown, count: number): number {
  if (typeof validation !== 'object' || validation === null || !('fraction' in validation)) return 0;
  const f = (validation as { fraction: unknown }).fraction;
  return typeof f === 'number' && f > 0 && f < 1 ? Math.round(count * f) : 0;
}

/**
 * `fitRows(X, Y, count, options)` of the generated module `code` (its TypeScript, as
 * `compile()` or `gradc build` gives it, or `{ js }`, its JavaScript) with each batch's
 * gradient computed by `options.threads` threads (see the header). Synchronous, like
 * fitRows; the parameters (`options.params`, else the module's initParams()) are updated in
 * place and returned, with the threads used.
 */
export function fitParallel<F extends Floats = Float64Array>(code: string | { readonly code: string } | { readonly js: string }, X: F, Y: F, count: number, options: ParallelFitOptions<F> = {}): ParallelFitResult<F> {
  const js = typeof code === 'string' ? transpile(code) : 'js' in code ? code.js : transpile(code.code);
  const m = runModule<F>(js);
  if (typeof options !== 'object' || options === null) throw new GradcError('fitParallel: options must be an object');
  const { threads: asked, ...rest } = options;
  if ('batchGradient' in rest) throw new GradcError('fitParallel: batchGradient is set by fitParallel itself');
  const epochs = rest.epochs ?? 100;
  const batchSize = rest.batchSize ?? 1;
  const threads = chooseThreads(asked, paramCount(m), batchSize, Number.isInteger(count) ? count : 0, epochs, sparseParams(js));
  const none = { team: 0, alone: 0 };
  if (threads === 1) return { ...m.fitRows(X, Y, count, rest), threads, steps: none };
  // Checked by fitRows first (the same errors as without threads), before any thread starts.
  if (!Number.isInteger(count) || count < 1 || !(X instanceof Float64Array || X instanceof Float32Array) || !(Y instanceof Float64Array || Y instanceof Float32Array) || X.length < count * m.INPUT_SIZE || Y.length < count * m.TARGET_SIZE) {
    return { ...m.fitRows(X, Y, count, { ...rest, epochs: 0 }), threads, steps: none };
  }
  const given = rest.params;
  // Given parameters are written back at the end: the module's own checks (a frozen object,
  // a read-only scalar: a SampleError naming it) run now, with no epoch, before any thread starts.
  if (given !== undefined) m.fitRows(X, Y, count, { ...rest, epochs: 0 });
  const start = given ?? m.initParams();
  const team = startTeam(js, m, X, Y, count, start, threads, { shuffled: rest.shuffleSeed !== undefined, held: heldRows(rest.validation, count) });
  try {
    const leader = lead(m, team.memory, threads, asked === undefined || asked === 'auto');
    let r: FitResult<F>;
    try {
      r = m.fitRows(leader.X, leader.Y, count, { ...rest, params: leader.params, batchGradient: leader.batchGradient });
    } catch (e) {
      throw teamError(e);
    }
    // The parameters leave the shared memory: into the caller's object, or a fresh copy.
    const params = given ?? m.copyParams(r.params);
    if (given) for (const [name, v] of Object.entries(r.params)) {
      if (typeof v === 'number') given[name] = v;
      else (given[name] as F).set(v);
    }
    return { ...r, params, threads, steps: { ...leader.stats } };
  } finally {
    team.terminate();
  }
}
