/**
 * The team of data-parallel training, whatever runs its threads: the code each thread runs
 * (HELPER_SOURCE, LEADER_SOURCE: plain JavaScript text, so that it runs the same in a Node
 * worker, a Web Worker and from src/ or dist/), the shared memory they work in (teamMemory),
 * and the rule of 'auto' (chooseThreads). Node's worker_threads start it in parallel.ts, Web
 * Workers in browser.ts; nothing here imports a platform module.
 *
 * How a step goes: for a batch of more than one row, the leader splits the rows into one
 * contiguous slice per thread, wakes the helpers (each running the same module), computes
 * slice 0 itself, waits, and adds the slices' gradients and losses in thread order; the
 * module then applies one optimizer update. Everything the threads share lives in
 * SharedArrayBuffers made once before training: the rows (copied once; the shuffled and split
 * copies fit makes are carved from the same arena, so a step copies nothing of the batch),
 * the parameters (the values the last update wrote: the leader's Params are views on it, or,
 * for a module that keeps its parameters in its WebAssembly kernels' memory, live there and
 * are copied in once per step), one gradient buffer per thread, and a small control block
 * (Atomics.wait and notify, no messages while training). Each thread's module keeps its own
 * parameters and gradient in its own kernels' memory where it can (not shared: a Wasm memory
 * is per module), so that its kernels read and add in place and the update pass runs in Wasm.
 *
 * The interface with the module is narrow: the leader uses only the module's public API
 * (\`fitRows\` with the FitOptions.batchGradient hook, \`gradientBatch\` into a Params whose
 * arrays are views on shared memory, \`zeroParams\`, \`initParams\`, \`copyParams\`,
 * \`packSamples([])\`, INPUT_SIZE, TARGET_SIZE and \`shapes.sparse\`); where the module keeps its
 * parameters, optimizer state and accumulator between calls is its own business.
 *
 * Guarantees: deterministic (the slices depend only on the batch and the thread count, the
 * sum is taken in slice order: two runs give the same bytes whatever the timing); the leader
 * blocks in Atomics.wait, so it runs on a thread that may block (a Node thread, a Web Worker,
 * never a page's main thread).
 */
import { GradcError } from '../errors.js';
import type { Floats, GeneratedModule, Params } from '../load/loader.js';

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
 * The rule for this figure: the least work per step from which every row of the sweep
 * (`BENCH_THREADS_SWEEP=1 npm run bench:threads`) gains at least 1 / MARGIN = 1.18x on its
 * whole step (bench/threads.ts's breakEven prints it beside this constant). On the quiet
 * machine (2026-12-02) two threads gained from about 1M (1.38x-1.63x) but the rule gave none:
 * 784-256-10's whole step measured 1.14x in one run and 1.53x in another (9 pairs each), and
 * 784-32-10 at batch 64 (1.6M) 1.08x; so 16M stays, where every measured whole step gained. The run-time probe
 * (LEADER_SOURCE) covers a wrong guess either way above it: the team is kept only while it wins.
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
 * least MIN_TOTAL_WORK and MIN_STEPS, else 1 (`cores`: the machine's, which parallel.ts and
 * browser.ts ask their platform for). A count is taken as given (checked: a positive integer);
 * above 1 on a model with `sparse` parameters (see sparseParams) it is a GradcError.
 */
export function chooseThreads(threads: number | 'auto' | undefined, paramCount: number, batchSize: number, count: number, epochs: number, sparse: readonly string[] = [], cores = 1): number {
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
  return Math.max(1, cores);
}

/**
 * The parameters of a generated module whose gradients are sparse (embedding tables: the
 * update visits only the rows the gradient kernels noted, in the thread that ran them), as
 * the module says in \`shapes.sparse\` (absent when it has none).
 */
export function sparseParams(m: { readonly shapes: { readonly sparse?: readonly string[] } }): string[] {
  return [...(m.shapes.sparse ?? [])];
}

/** The control block: Int32 slots (CONTROL) and Float64 slots (NUMBERS), shared by LEADER_SOURCE and HELPER_SOURCE. */
const LAYOUT = `
const GEN = 0, CMD = 1, READY = 2, ERROR = 3, FAILED = 4, LENGTH = 5, DONE = 8; // Int32 slots; DONE + k: the step helper k finished (-1: it failed)
const STEP = 1, STOP = 2; // commands
const X_AT = 0, X_LENGTH = 1, Y_AT = 2, Y_LENGTH = 3, SLICES = 4; // Float64 slots; SLICES + 3k: first row, rows, mean loss of thread k
// Wait until I[slot] is no longer \`now\`: first spinning for up to SPIN_MS, then in
// Atomics.wait for up to \`ms\`. True when it changed. A thread put to sleep waits for the
// scheduler to wake it (tens of microseconds on an idle machine, milliseconds on a busy one),
// and every step has two such hand-offs on its critical path (leader -> helpers at the start,
// the last helper -> leader at the end). SPIN_MS is set to outlast the leader's serial part
// between two steps (the sum of the slices, the update, fit's own work: 0.1-0.3 ms at
// 784-32-10 batch 256), so that on free cores a helper is still spinning when the next step
// starts; a longer gap (validation and metrics between epochs) ends in Atomics.wait.
const SPIN_MS = 1;
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
// Parameters of module m in its WebAssembly kernels' memory: q when it is (a fresh
// initParams() of a module with SIMD kernels is placed there: simd.ts), else null (the module
// keeps its parameters in plain arrays). There its kernels read the parameters and add a
// gradient in place (no copy per block of rows) and its update pass runs in WebAssembly. A
// plain array's buffer is its own; a placed one is a view on the memory, which is larger.
const inMemory = (q, layout) => {
  let buffer = null;
  for (const [name, , size, scalar] of layout) {
    const a = q[name];
    if (scalar || typeof a !== 'object' || a === null) return null;
    if (buffer === null) buffer = a.buffer;
    if (a.buffer !== buffer || a.length !== size || buffer.byteLength <= a.byteLength || (typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer)) return null;
  }
  return buffer === null ? null : q;
};
const placedParams = (m, layout) => inMemory(m.initParams(), layout);
`;

/**
 * A helper's step, the text of a function of (m, memory, index) returning
 * \`step(first, rows)\`: slice \`rows\` rows from \`first\` of the batch that the control block
 * points at, its gradient (scale 1 / rows) into the helper's gradient buffer and its mean loss
 * returned. The parameters are read from the shared block. With a module that keeps its
 * parameters in its kernels' memory, the helper keeps there a copy of the parameters (filled
 * from the shared block once per step) and its own gradient (added into in place by the
 * kernels, copied out once per step), so a step copies each of them once instead of once or
 * twice per block of rows (bench/threadsModel.ts); otherwise it works on views of the shared
 * memory. Warms the JIT up first, on its own arrays (nothing shared is written).
 * bench/threadsPart.mjs runs this very text single-threaded to count its instructions.
 */
export const HELPER_STEP = `(m, memory, index) => {
${LAYOUT}
const { arena, params, grads, numbers, layout, paramSize, f32 } = memory;
const F = f32 ? Float32Array : Float64Array;
const N = new Float64Array(numbers);
const A = new F(arena), P = new F(params), G = new F(grads, index * paramSize * F.BYTES_PER_ELEMENT, paramSize);
const scalars = layout.filter((s) => s[3]), arrays = layout.filter((s) => !s[3]);
const own = placedParams(m, layout), ownGrad = own && placedParams(m, layout);
const p = own ?? viewsOf(F, params, layout, 0), g = ownGrad ?? viewsOf(F, grads, layout, index * paramSize);
// Warm the JIT before joining (a cold module computes its first slices 10x slower or worse),
// through the same arrays as the steps when they are the helper's own.
const warmRows = Math.min(memory.count, 64), wp = own ?? m.initParams(), wg = ownGrad ?? m.zeroParams();
try {
  for (let i = 0; i < 8; i++) m.gradientBatch(wp, A.subarray(0, memory.dataX), A.subarray(memory.dataX, memory.dataX + memory.dataY), warmRows, 0, wg);
} catch {} // only a warm-up: the real slices report their own errors
return (first, rows) => {
  for (const [name, offset] of scalars) { p[name] = P[offset]; g[name] = 0; }
  if (own) for (const [name, offset, size] of arrays) own[name].set(P.subarray(offset, offset + size));
  for (const [name] of arrays) g[name].fill(0);
  const X = A.subarray(N[X_AT], N[X_AT] + N[X_LENGTH]), Y = A.subarray(N[Y_AT], N[Y_AT] + N[Y_LENGTH]);
  const loss = m.gradientBatch(p, X, Y, rows, first, g).loss;
  for (const [name, offset] of scalars) G[offset] = g[name];
  if (ownGrad) for (const [name, offset] of arrays) G.set(g[name], offset);
  return loss;
};
}`;

/**
 * A helper thread: the text of a function of its workerData { js, index, memory } (js: the
 * module as a script, see moduleScript), which a Node worker (parallel.ts) or a Web Worker
 * (browser.ts) calls. Loads the module and makes its step (HELPER_STEP), then for each step:
 * its slice's gradient into its gradient buffer, its mean loss, and DONE + index set to the
 * step. Returns when told to stop or when it fails (reported in \`memory\`).
 */
export const HELPER_SOURCE = `(workerData) => {
${LAYOUT}
const { js, index, memory } = workerData;
const { control, numbers, message } = memory;
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
  const step = (${HELPER_STEP})(module.exports, memory, index);
  Atomics.add(I, READY, 1);
  Atomics.notify(I, READY);
  let seen = 0;
  for (;;) {
    waitChange(I, GEN, seen, Infinity);
    seen = Atomics.load(I, GEN);
    if (Atomics.load(I, CMD) === STOP) break;
    const first = N[SLICES + 3 * index], rows = N[SLICES + 3 * index + 1];
    N[SLICES + 3 * index + 2] = rows > 0 ? step(first, rows) : 0;
    Atomics.store(I, DONE + index, seen);
    Atomics.notify(I, DONE + index);
  }
} catch (e) {
  fail(e);
}
}`;

/**
 * The leader's part, the body of a function of (m, memory, threads, adaptive[, start]): `m`
 * the leader's module, `memory` the team's, `adaptive` whether to check that the team is
 * faster than the leader alone (below), `start` (optional) the starting parameters as an
 * initParams() of `m` when they are (reused instead of taking another slot of its kernels'
 * memory). Returns { X, Y, count, params, batchGradient, stop, stats }: the rows as views on
 * the shared memory; the parameters fit is to train, in the module's kernels' memory when it
 * keeps them there (then its kernels read them in place and its update pass runs in
 * WebAssembly; each step copies them into the shared block for the helpers), else views on
 * the shared block; the FitOptions.batchGradient that spreads each batch over the threads,
 * stop() that tells the helpers to end, and the steps taken by the team and by the leader alone.
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
// fit's parameters: in the kernels' memory when the module keeps them there (see the header).
const given = typeof start === 'object' && start !== null ? inMemory(start, layout) : null;
const own = given ?? placedParams(m, layout);
if (own) for (const [name, offset, size] of layout) own[name].set(P.subarray(offset, offset + size));
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
// The leader's slice is LEADER_SHARE times a helper's (a fixed rule: the slices still depend
// only on the batch and the thread count). The leader computes its slice straight into fit's
// accumulator; a helper also zeroes its buffer and copies it into and out of its kernels'
// memory for every block of rows, about 7% of its slice at 784-32-10 batch 256
// (bench/threadsModel.ts, callgrind), so equal slices would leave the leader waiting.
const LEADER_SHARE = 1.08;
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
/** Whether every value of the parameters or gradients \`q\` is 0 (+0 or -0: 0 * c0 gives the same sum). */
function isZero(q) {
  for (const [name, , size, scalar] of layout) {
    const v = q[name];
    if (scalar) { if (v !== 0) return false; }
    else for (let i = 0; i < size; i++) if (v[i] !== 0) return false;
  }
  return true;
}
function gradient(params, X, Y, rows, first, grad, scale) {
  if (!ready && !adaptive) { waitFor(READY, threads - 1); ready = true; }
  if (!ready) { // adaptive: the leader works alone until every helper has loaded and warmed up
    if (Atomics.load(I, ERROR) !== 0) throw failure();
    ready = Atomics.load(I, READY) >= threads - 1;
  }
  N[X_AT] = offsetIn(X); N[X_LENGTH] = X.length; N[Y_AT] = offsetIn(Y); N[Y_LENGTH] = Y.length;
  for (let k = 0; k < threads; k++) {
    const from = k === 0 ? 0 : Math.floor((rows * (LEADER_SHARE + k - 1)) / (LEADER_SHARE + threads - 1)), to = Math.floor((rows * (LEADER_SHARE + k)) / (LEADER_SHARE + threads - 1));
    N[SLICES + 3 * k] = first + from; N[SLICES + 3 * k + 1] = to - from; N[SLICES + 3 * k + 2] = 0;
  }
  if (timing !== null) { timed[timing].push(performance.now() - since); timing = null; }
  if (adaptive && steps - probeAt === PROBE) decide();
  const phase = steps - probeAt;
  const probing = adaptive && phase >= 0 && phase < PROBE;
  const team = ready && (!adaptive || (steps < WARM) || (probing ? phase % 2 === 0 : useTeam));
  if (probing) { timing = team ? 'team' : 'alone'; since = performance.now(); }
  // Slice 0 straight into grad when grad is zero (as fit's accumulator is): the module's own
  // gradient pass, without the copies into and out of a gradient buffer of the team; the sum
  // below then starts from c0 * grad, which is 0 + c0 * G[0] exactly: the same bytes.
  // (Alone, the leader takes the same path for slice 0, then computes the others as a helper would.)
  let step = 0;
  if (team) {
    // The helpers read the parameters from the shared block: the scalars are copied in, and so
    // is an array that is not the leader's view on the block (fit's parameters in the module's
    // kernels' memory: see \`own\`).
    for (const [name, offset] of scalars) P[offset] = params[name];
    for (const [name, offset] of arrays) if (params[name] !== p[name]) P.set(params[name], offset);
    Atomics.store(I, CMD, STEP);
    step = Atomics.add(I, GEN, 1) + 1;
    Atomics.notify(I, GEN);
  }
  const direct = N[SLICES + 1] > 0 && isZero(grad); // after the helpers are woken: off their path
  if (direct) N[SLICES + 2] = m.gradientBatch(params, X, Y, N[SLICES + 1], N[SLICES], grad).loss;
  else slice(0, params, X, Y);
  for (let k = 1; k < threads; k++) {
    if (team) waitFor(DONE + k, step);
    else slice(k, params, X, Y);
  }
  // The sum in slice order, one pass over grad: d = ((d + c0 g0) + c1 g1) + ..., the same bytes
  // whatever the timing, and whichever thread computed each slice.
  let loss = 0;
  const c = [], gs = [];
  for (let k = 0; k < threads; k++) {
    const n = N[SLICES + 3 * k + 1];
    if (n === 0) continue;
    loss += n * N[SLICES + 3 * k + 2];
    if (k === 0 && direct) continue;
    c.push(scale * n); gs.push(G[k]);
  }
  const c0 = direct ? scale * N[SLICES + 1] : 1;
  for (const [name, offset, size, scalar] of layout) {
    if (scalar) {
      let s = direct ? c0 * grad[name] : grad[name];
      for (let j = 0; j < c.length; j++) s += c[j] * gs[j][offset];
      grad[name] = s;
    } else if (c.length === 1) {
      const d = grad[name], c1 = c[0], g1 = gs[0];
      if (direct) for (let i = 0; i < size; i++) d[i] = c0 * d[i] + c1 * g1[offset + i];
      else for (let i = 0; i < size; i++) d[i] += c1 * g1[offset + i];
    } else {
      const d = grad[name];
      for (let i = 0; i < size; i++) {
        let s = direct ? c0 * d[i] : d[i];
        for (let j = 0; j < c.length; j++) s += c[j] * gs[j][offset + i];
        d[i] = s;
      }
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
return { X: new F(arena, 0, dataX), Y: new F(arena, dataX * F.BYTES_PER_ELEMENT, dataY), count, params: own ?? p, batchGradient: { gradient, rows: rowsOf }, stop, stats };
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
 * The team's memory for `threads` threads training module `m` on `count` rows of X and Y
 * (copied in once) from the parameters \`start\` (copied into the shared block).
 */
export function teamMemory<F extends Floats>(m: GeneratedModule<F>, X: F, Y: F, count: number, start: Params<F>, threads: number, options: { readonly shuffled: boolean; readonly held: number }): TeamMemory {
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
  return memory;
}

/** Tells the helpers of \`memory\` to end (what LEADER_SOURCE's stop() does, from any thread: it never waits). */
export function stopTeam(memory: TeamMemory): void {
  const I = new Int32Array(memory.control);
  Atomics.store(I, 1, 2); // CMD = STOP (LAYOUT)
  Atomics.add(I, 0, 1); // GEN
  Atomics.notify(I, 0);
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
export function heldRows(validation: unknown, count: number): number {
  if (typeof validation !== 'object' || validation === null || !('fraction' in validation)) return 0;
  const f = (validation as { fraction: unknown }).fraction;
  return typeof f === 'number' && f > 0 && f < 1 ? Math.round(count * f) : 0;
}

/**
 * The JavaScript of a generated module as a script that a thread runs as
 * \`new Function('exports', 'module', script)\`: the ES module the emitter writes (its top-level
 * \`export\` declarations, each at the start of a line, become assignments to \`exports\`, as
 * runModule in load/loader.ts does) or CommonJS (taken as is).
 */
export function moduleScript(js: string): string {
  const names: string[] = [];
  const script = js.replace(/^export (function|class|const|let) ([\w$]+)/gm, (_, keyword: string, name: string) => {
    names.push(name);
    return `${keyword} ${name}`;
  });
  return names.length === 0 ? js : `'use strict';\n${script}\n;Object.assign(exports, { ${names.join(', ')} });`;
}

