/**
 * Data-parallel training in a browser: `fitParallelInBrowser` is `fitParallel` (parallel.ts)
 * on Web Workers, for a page that may share memory between threads.
 *
 * Why a worker leads: a page's main thread may not block in Atomics.wait, which the team's
 * leader does between the slices of every step (team.ts). So the whole training loop runs in
 * a dedicated Web Worker (the leader: the module's own `fitRows` with the team's
 * batchGradient hook, as `gradc train --threads` leads from its training worker in Node), and
 * the helpers are Web Workers too, all started from the calling thread, which only waits for
 * the result (a Promise) and stays free for the page. The threads share the team's
 * SharedArrayBuffers, which a browser makes only in a cross-origin-isolated page (served
 * with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
 * require-corp`).
 *
 * Guarantees:
 * - the same team as in Node (team.ts: the same slices, the same sum in slice order), so the
 *   result does not depend on timing, and equals Node's fitParallel with the same thread
 *   count (test/threads-browser.test.ts checks the bytes in headless Chromium);
 * - the single-thread fallback: with 1 thread, or where the page cannot share memory (no
 *   SharedArrayBuffer, not cross-origin isolated, no Worker or Blob), it is the module's own
 *   `fitRows` on the calling thread (the same bytes as without this function), and the
 *   result's `threads` is 1 with `fallback` saying why;
 * - whatever ends training (the end, an error, an abort), every worker is terminated before
 *   the Promise settles; a SampleError (bad data, a bad option) in a worker rejects it with a
 *   GradcError carrying its message, anything else with an Error.
 * Differences from fitParallel, because the loop runs in another thread: `onEpoch` and
 * `onBatch` are called on the calling thread as the leader's messages arrive (after the
 * fact: their return values are ignored, so stop with `signal`); `signal` is read every
 * SIGNAL_MS and stops training after the batch under way; an OptimizerState given as
 * `optimizer` is not advanced in place (the result's `optimizer` is the new state); the
 * options must be data a worker can receive (structured clone). The module is given as its
 * JavaScript (the ES module gradc writes, or CommonJS): every thread runs it with
 * `new Function`, so a Content-Security-Policy must allow 'unsafe-eval'.
 * This file imports no Node module: bundled alone, it runs in a page.
 */
import { GradcError } from '../errors.js';
import type { EpochRecord, FitOptions, FitResult, Floats, GeneratedModule } from '../load/loader.js';
import { chooseThreads, heldRows, HELPER_SOURCE, LEADER_SOURCE, moduleScript, paramCount, sparseParams, stopTeam, teamError, teamMemory } from './team.js';

/** How often the calling thread reads `options.signal` while the workers train (ms). */
export const SIGNAL_MS = 20;

/** Options of fitParallelInBrowser: fitRows's (without batchGradient) and the thread count (see ParallelFitOptions). */
export type BrowserFitOptions<F extends Floats = Float64Array> = Omit<FitOptions<F>, 'batchGradient'> & { readonly threads?: number | 'auto' | undefined };

/** fitRows's result, the threads used, the team's and the leader's steps, and why threads were not used (when they were asked for or 'auto' and the page cannot share memory). */
export type BrowserFitResult<F extends Floats = Float64Array> = FitResult<F> & {
  readonly threads: number;
  readonly steps: { readonly team: number; readonly alone: number };
  readonly fallback?: string | undefined;
};

/** The few Web APIs used here (this package type-checks without the DOM library). */
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((e: { readonly data: unknown }) => void) | null;
  onerror: ((e: { readonly message?: string; preventDefault?(): void }) => void) | null;
}
interface Web {
  readonly Worker?: new (url: string) => WebWorker;
  readonly Blob?: new (parts: string[], options: { type: string }) => object;
  readonly URL: { createObjectURL?(blob: object): string; revokeObjectURL?(url: string): void };
  readonly SharedArrayBuffer?: unknown;
  readonly crossOriginIsolated?: boolean;
  readonly navigator?: { readonly hardwareConcurrency?: number };
}
const web = (): Web => globalThis as unknown as Web;

/** Why this page cannot run a team ('' when it can): shared memory needs cross-origin isolation. */
export function threadsUnavailable(): string {
  const w = web();
  if (typeof w.SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available (the page is not cross-origin isolated)';
  if (w.crossOriginIsolated !== true) return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  if (typeof w.Worker !== 'function' || typeof w.Blob !== 'function' || typeof w.URL?.createObjectURL !== 'function') return 'Web Workers (Worker, Blob, URL.createObjectURL) are not available';
  return '';
}

/** A helper: HELPER_SOURCE called with the first message's data. */
const HELPER_WORKER = `self.onmessage = (e) => { self.onmessage = null; (${HELPER_SOURCE})(e.data); };\n`;

/**
 * The leader: the module's fitRows with the team's batchGradient (LEADER_SOURCE), the abort
 * flag as its signal, progress and each epoch posted as they happen, then the result (its
 * parameters copied out of the shared memory) or the error.
 */
const LEADER_WORKER = `self.onmessage = (e) => {
  self.onmessage = null;
  const { js, leaderSource, memory, threads, adaptive, count, options, flag, progress } = e.data;
  let leader = null;
  try {
    const module = { exports: {} };
    new Function('exports', 'module', js)(module.exports, module);
    const m = module.exports;
    leader = new Function('m', 'memory', 'threads', 'adaptive', leaderSource)(m, memory, threads, adaptive);
    const stop = new Int32Array(flag);
    const r = m.fitRows(leader.X, leader.Y, count, {
      ...options,
      params: leader.params,
      batchGradient: leader.batchGradient,
      signal: { get aborted() { return Atomics.load(stop, 0) !== 0; } },
      ...(progress.batch ? { onBatch(epoch, samples, loss) { postMessage({ type: 'batch', epoch, samples, loss }); } } : {}),
      ...(progress.epoch ? { onEpoch(epoch, loss, params, record) { postMessage({ type: 'epoch', record: { ...record, params: m.copyParams(params) } }); } } : {}),
    });
    leader.stop();
    postMessage({ type: 'done', result: { ...r, params: m.copyParams(r.params) }, steps: { ...leader.stats } });
  } catch (err) {
    if (leader) leader.stop();
    const sample = typeof err === 'object' && err !== null && (err[Symbol.for('gradc.GradcError')] === true || err.sampleError === true);
    postMessage({ type: 'error', sample, message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? String(err.stack) : '' });
  }
};
`;

type LeaderMessage =
  | { readonly type: 'batch'; readonly epoch: number; readonly samples: number; readonly loss: number }
  | { readonly type: 'epoch'; readonly record: EpochRecord<Floats> }
  | { readonly type: 'done'; readonly result: FitResult<Floats>; readonly steps: { readonly team: number; readonly alone: number } }
  | { readonly type: 'error'; readonly sample: boolean; readonly message: string; readonly stack: string };

/** The module of `js` on this thread (for its sizes, its checks and the fallback). */
function load<F extends Floats>(script: string): GeneratedModule<F> {
  const module = { exports: {} as Record<string, unknown> };
  new Function('exports', 'module', script)(module.exports, module);
  return module.exports as unknown as GeneratedModule<F>;
}

/**
 * `fitRows(X, Y, count, options)` of the module whose JavaScript is `code.js`, with each
 * batch's gradient spread over `options.threads` Web Workers (default 'auto': the rule of
 * chooseThreads with navigator.hardwareConcurrency), the training loop in a worker of its own
 * (see the header). The parameters (`options.params`, else initParams()) are updated in place
 * when given, and returned.
 */
export async function fitParallelInBrowser<F extends Floats = Float64Array>(code: { readonly js: string }, X: F, Y: F, count: number, options: BrowserFitOptions<F> = {}): Promise<BrowserFitResult<F>> {
  if (typeof code !== 'object' || code === null || typeof code.js !== 'string') throw new GradcError('fitParallelInBrowser: the module must be given as { js }: its JavaScript text');
  if (typeof options !== 'object' || options === null) throw new GradcError('fitParallelInBrowser: options must be an object');
  const script = moduleScript(code.js);
  const m = load<F>(script);
  const { threads: asked, onEpoch, onBatch, signal, ...rest } = options;
  if ('batchGradient' in rest) throw new GradcError('fitParallelInBrowser: batchGradient is set by fitParallelInBrowser itself');
  const epochs = rest.epochs ?? 100;
  const batchSize = rest.batchSize ?? 1;
  const w = web();
  const cores = Math.max(1, Math.floor(w.navigator?.hardwareConcurrency ?? 1));
  const chosen = chooseThreads(asked, paramCount(m), batchSize, Number.isInteger(count) ? count : 0, epochs, sparseParams(m), cores);
  const unavailable = chosen > 1 ? threadsUnavailable() : '';
  const none = { team: 0, alone: 0 };
  if (chosen === 1 || unavailable !== '') {
    const r = m.fitRows(X, Y, count, { ...rest, ...(onEpoch ? { onEpoch } : {}), ...(onBatch ? { onBatch } : {}), ...(signal ? { signal } : {}) });
    return { ...r, threads: 1, steps: none, ...(unavailable ? { fallback: unavailable } : {}) };
  }
  const threads = chosen;
  // Checked by fitRows first (the same errors as without threads), before any worker starts.
  if (!Number.isInteger(count) || count < 1 || !(X instanceof Float64Array || X instanceof Float32Array) || !(Y instanceof Float64Array || Y instanceof Float32Array) || X.length < count * m.INPUT_SIZE || Y.length < count * m.TARGET_SIZE) {
    return { ...m.fitRows(X, Y, count, { ...rest, epochs: 0 }), threads, steps: none };
  }
  const given = rest.params;
  if (given !== undefined) m.fitRows(X, Y, count, { ...rest, epochs: 0 }); // the module's own checks of the given object
  const memory = teamMemory(m, X, Y, count, given ?? m.initParams(), threads, { shuffled: rest.shuffleSeed !== undefined, held: heldRows(rest.validation, count) });
  const flag = new SharedArrayBuffer(4);
  const { params: _, ...data } = rest;
  const urls: string[] = [];
  const workers: WebWorker[] = [];
  const start = (source: string): WebWorker => {
    const url = w.URL.createObjectURL!(new w.Blob!([source], { type: 'text/javascript' }));
    urls.push(url);
    const worker = new w.Worker!(url);
    workers.push(worker);
    return worker;
  };
  let poll: ReturnType<typeof setInterval> | undefined;
  try {
    return await new Promise<BrowserFitResult<F>>((resolve, reject) => {
      const fail = (e: unknown) => reject(e);
      for (let index = 1; index < threads; index++) {
        const helper = start(HELPER_WORKER);
        helper.onerror = (e) => { e.preventDefault?.(); fail(new Error(`thread ${index + 1} of ${threads} did not start: ${e.message ?? 'an error'}`)); };
        helper.postMessage({ js: script, index, memory });
      }
      const leader = start(LEADER_WORKER);
      leader.onerror = (e) => { e.preventDefault?.(); fail(new Error(`the leading worker failed: ${e.message ?? 'an error'}`)); };
      leader.onmessage = (e) => {
        const msg = e.data as LeaderMessage;
        if (msg.type === 'batch') onBatch?.(msg.epoch, msg.samples, msg.loss);
        else if (msg.type === 'epoch') onEpoch?.(msg.record.epoch, msg.record.loss, msg.record.params as never, msg.record as never);
        else if (msg.type === 'error') fail(msg.sample ? new GradcError(msg.message) : teamError(Object.assign(new Error(msg.message), { stack: msg.stack })));
        else {
          const r = msg.result as FitResult<F>;
          if (given) for (const [name, v] of Object.entries(r.params)) {
            if (typeof v === 'number') given[name] = v;
            else (given[name] as F).set(v);
          }
          resolve({ ...r, params: given ?? r.params, threads, steps: msg.steps });
        }
      };
      const aborted = () => signal !== undefined && signal.aborted === true;
      if (signal !== undefined) poll = setInterval(() => { if (aborted()) Atomics.store(new Int32Array(flag), 0, 1); }, SIGNAL_MS);
      if (aborted()) Atomics.store(new Int32Array(flag), 0, 1);
      try {
        leader.postMessage({ js: script, leaderSource: LEADER_SOURCE, memory, threads, adaptive: asked === undefined || asked === 'auto', count, options: data, flag, progress: { batch: onBatch !== undefined, epoch: onEpoch !== undefined } });
      } catch (e) {
        fail(new GradcError(`fitParallelInBrowser: the options cannot be sent to a worker (${e instanceof Error ? e.message : String(e)}): give plain data (numbers, strings, arrays, typed arrays)`));
      }
    });
  } finally {
    if (poll !== undefined) clearInterval(poll);
    stopTeam(memory);
    for (const worker of workers) worker.terminate();
    for (const url of urls) w.URL.revokeObjectURL?.(url);
  }
}
