/**
 * Training off the main thread, for `gradc train`.
 *
 * A generated module's `fitRows` is synchronous: while it runs, the thread's event loop
 * is blocked, so a SIGINT handler could not run (Node delivers signals through the event
 * loop) and a progress bar could not be redrawn until training ended. So `gradc train`
 * runs `fitRows` in a worker thread, on the same module (its JavaScript, run there as
 * `runModule` runs it), and the main thread stays idle: `abort()` (Ctrl-C) sets a flag in
 * shared memory that the worker's `signal.aborted` reads after every step, so fit stops
 * after the current batch; the worker posts progress within an epoch (fit's `onBatch`,
 * throttled to one message per `progressMs`) and each epoch's record (fit's `onEpoch`,
 * without the parameters), which the main thread draws as they come.
 *
 * Guarantees: the result is fitRows's own (params, optimizer state, history, why it
 * stopped, best epoch), copied back by structured clone, plus where the last step left
 * the epoch under way; a SampleError in the worker (bad data, a bad option) comes back
 * as a GradcError with its message; any other failure, or a worker that exits without a
 * result, as an Error (an internal error). The worker ends when training ends. The
 * worker's code is a plain JavaScript string (an `eval` worker), so it runs the same from
 * src/ (under tsx or vitest) and from dist/.
 * With `threads` above 1 (`gradc train --threads`), this thread makes the team of
 * train/parallel.ts (shared memory, helper threads) and the training worker leads it: its
 * fitRows spreads each batch over the threads, as `fitParallel` does in process; the
 * helpers are terminated when training ends, whatever ends it.
 */
import { Worker } from 'node:worker_threads';
import { GradcError } from '../errors.js';
import { runModule, type EpochRecord, type FitOptions, type FitResult } from '../load/loader.js';
import { LEADER_SOURCE, startTeam, type Team } from '../train/parallel.js';

/** The options of fitRows that can cross to the worker (plain data: no functions, no signal). */
export type WorkerFitOptions = Omit<FitOptions, 'onEpoch' | 'onBatch' | 'signal' | 'batchGradient'>;

/** What the worker gives back: fitRows's result, and where the last step taken left its epoch. */
export interface WorkerFitResult extends FitResult {
  /** Epoch (from 0) and samples of it done at the last step taken; undefined if none was. */
  readonly lastStep: { readonly epoch: number; readonly samples: number } | undefined;
}

export interface WorkerFitHooks {
  /** The worker has loaded the module and calls fitRows now. */
  readonly start?: (() => void) | undefined;
  /** Progress within an epoch: epoch (from 0), samples of it done, their mean loss. */
  readonly batch?: ((epoch: number, samples: number, loss: number) => void) | undefined;
  /** After each completed epoch (the record without its parameters). */
  readonly epoch?: ((record: Omit<EpochRecord, 'params'>) => void) | undefined;
  /** Milliseconds between progress messages (default 100). */
  readonly progressMs?: number | undefined;
  /**
   * Move the rows (X, Y and the validation rows) to the worker instead of copying them:
   * no second copy of a large data set, but the caller's arrays are left empty (detached).
   */
  readonly move?: boolean | undefined;
  /** Threads computing each batch's gradient, the training worker included (default 1). */
  readonly threads?: number | undefined;
  /** With threads: check that they are faster than the training worker alone, and work alone when not (train/parallel.ts). */
  readonly adaptive?: boolean | undefined;
}

export interface WorkerFit {
  readonly result: Promise<WorkerFitResult>;
  /** Stop after the current batch (safe to call more than once, and after the end). */
  abort(): void;
}

// Runs in the worker (CommonJS). workerData: { js, X, Y, count, options, flag, progressMs, team }
// (team: { leader, memory, threads, adaptive } to lead the helpers of train/parallel.ts).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { js, count, options, flag, progressMs, team } = workerData;
const module = { exports: {} };
new Function('exports', 'module', js)(module.exports, module);
const leader = team ? new Function('m', 'memory', 'threads', 'adaptive', team.leader)(module.exports, team.memory, team.threads, team.adaptive) : null;
const X = leader ? leader.X : workerData.X, Y = leader ? leader.Y : workerData.Y;
const stop = new Int32Array(flag);
let last = 0, lastStep;
parentPort.postMessage({ type: 'start' });
try {
  const r = module.exports.fitRows(X, Y, count, {
    ...options,
    ...(leader ? { params: leader.params, batchGradient: leader.batchGradient } : {}),
    signal: { get aborted() { return Atomics.load(stop, 0) !== 0; } },
    onBatch(epoch, samples, loss) {
      lastStep = { epoch, samples };
      const t = Date.now();
      if (t - last >= progressMs) { last = t; parentPort.postMessage({ type: 'batch', epoch, samples, loss }); }
    },
    onEpoch(epoch, loss, params, record) {
      const { params: _, ...rest } = record;
      parentPort.postMessage({ type: 'epoch', record: rest });
    },
  });
  parentPort.postMessage({ type: 'done', result: { ...r, params: module.exports.copyParams(r.params), lastStep } });
} catch (e) {
  const sample = typeof e === 'object' && e !== null && (e[Symbol.for('gradc.GradcError')] === true || e.sampleError === true);
  parentPort.postMessage({ type: 'error', sample, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
}
`;

type Message =
  | { readonly type: 'start' }
  | { readonly type: 'batch'; readonly epoch: number; readonly samples: number; readonly loss: number }
  | { readonly type: 'epoch'; readonly record: Omit<EpochRecord, 'params'> }
  | { readonly type: 'done'; readonly result: WorkerFitResult }
  | { readonly type: 'error'; readonly sample: boolean; readonly message: string; readonly stack?: string };

/** Starts `fitRows(X, Y, count, options)` of the module `js` in a worker thread. */
export function fitInWorker(js: string, X: Float64Array, Y: Float64Array, count: number, options: WorkerFitOptions, hooks: WorkerFitHooks = {}): WorkerFit {
  const flag = new SharedArrayBuffer(4);
  const v = options.validation;
  const threads = hooks.threads ?? 1;
  let team: Team | undefined;
  if (threads > 1) {
    const held = v && 'fraction' in v ? Math.round(count * v.fraction) : 0;
    const m = runModule(js);
    team = startTeam(js, m, X, Y, count, options.params ?? m.initParams(), threads, { shuffled: options.shuffleSeed !== undefined, held });
  }
  const shipped = team ? { X: new Float64Array(0), Y: new Float64Array(0) } : { X, Y }; // with a team the rows are in its shared memory
  const rows = [shipped.X, shipped.Y, ...(v && 'X' in v ? [v.X, v.Y] : [])];
  const transferList = hooks.move ? [...new Set(rows.map((a) => a.buffer as ArrayBuffer))] : [];
  const workerData = { js, ...shipped, count, options, flag, progressMs: hooks.progressMs ?? 100, team: team && { leader: LEADER_SOURCE, memory: team.memory, threads, adaptive: hooks.adaptive ?? false } };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, transferList });
  const result = new Promise<WorkerFitResult>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
      team?.terminate();
    };
    worker.on('message', (msg: Message) => {
      try {
        if (msg.type === 'start') hooks.start?.();
        else if (msg.type === 'batch') hooks.batch?.(msg.epoch, msg.samples, msg.loss);
        else if (msg.type === 'epoch') hooks.epoch?.(msg.record);
        else if (msg.type === 'done') settle(() => resolve(msg.result));
        else settle(() => reject(msg.sample ? new GradcError(msg.message) : Object.assign(new Error(msg.message), { stack: msg.stack })));
      } catch (e) {
        settle(() => reject(e));
      }
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the training worker exited (code ${code}) without a result`))));
  });
  return { result, abort: () => Atomics.store(new Int32Array(flag), 0, 1) };
}
