/**
 * Data-parallel training over Node's worker_threads: `fitParallel` is a generated module's
 * `fitRows` with each minibatch's gradient spread over threads (the team of team.ts).
 *
 * How: the calling thread (the leader) runs the module's own `fitRows`, so every option
 * means what it means there (optimizers, schedules, clipping, validation, early stopping,
 * the divergence guard, callbacks, abort); only `batchGradient` is set (see FitOptions),
 * to LEADER_SOURCE's, which splits each batch over the helpers (worker threads started here,
 * each running HELPER_SOURCE on the same module).
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
 * In a browser, browser.ts runs the same team on Web Workers.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { GradcError } from '../errors.js';
import { runModule, transpile, type FitOptions, type FitResult, type Floats, type GeneratedModule, type Params } from '../load/loader.js';
import { chooseThreads as choose, HELPER_SOURCE, heldRows, LEADER_SOURCE, moduleScript, paramCount, sparseParams, stopTeam, teamError, teamMemory, type TeamMemory } from './team.js';

export { BREAK_EVEN_WORK, LEADER_SOURCE, MIN_STEPS, MIN_TOTAL_WORK, paramCount, sparseParams, teamError, type TeamMemory } from './team.js';

/** Options of fitParallel: fitRows's (without batchGradient, which it sets) and the thread count. */
export type ParallelFitOptions<F extends Floats = Float64Array> = Omit<FitOptions<F>, 'batchGradient'> & {
  /**
   * Threads computing each batch's gradient, the calling thread included: a positive
   * integer, or 'auto' (default): as many as the machine has cores when a step is large
   * enough to gain (see \`chooseThreads\`), else 1.
   */
  readonly threads?: number | 'auto' | undefined;
};

/**
 * What fitParallel returns: fitRows's result, the threads used, and how many batch gradients
 * the team computed and how many the calling thread alone (with 'auto', when the team was
 * not faster; 1 thread: both 0).
 */
export type ParallelFitResult<F extends Floats = Float64Array> = FitResult<F> & { readonly threads: number; readonly steps: { readonly team: number; readonly alone: number } };

/** team.ts's chooseThreads with this machine's cores (os.availableParallelism()). */
export function chooseThreads(threads: number | 'auto' | undefined, paramCount: number, batchSize: number, count: number, epochs: number, sparse: readonly string[] = []): number {
  return choose(threads, paramCount, batchSize, count, epochs, sparse, availableParallelism());
}

/** A helper thread in Node: HELPER_SOURCE called with the worker's workerData (CommonJS eval worker). */
const NODE_HELPER = `const { workerData } = require('node:worker_threads');\n(${HELPER_SOURCE})(workerData);\n`;

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
 * Makes the team's memory (teamMemory) and starts `threads - 1` helpers running module `js`.
 * They load in the background; the leader waits for them at its first step.
 */
export function startTeam<F extends Floats>(js: string, m: GeneratedModule<F>, X: F, Y: F, count: number, start: Params<F>, threads: number, options: { readonly shuffled: boolean; readonly held: number }): Team {
  const memory = teamMemory(m, X, Y, count, start, threads, options);
  const script = moduleScript(js);
  const workers: Worker[] = [];
  for (let index = 1; index < threads; index++) {
    const w = new Worker(NODE_HELPER, { eval: true, workerData: { js: script, index, memory } });
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
      stopTeam(memory);
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

/** Joins `memory` as the leader with module `m`; `adaptive` and `start` (an initParams() of `m` holding the starting values): see LEADER_SOURCE. */
export function lead<F extends Floats>(m: GeneratedModule<F>, memory: TeamMemory, threads: number, adaptive = false, start?: Params<F>): Leader<F> {
  return new Function('m', 'memory', 'threads', 'adaptive', 'start', LEADER_SOURCE)(m, memory, threads, adaptive, start) as Leader<F>;
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
  const threads = chooseThreads(asked, paramCount(m), batchSize, Number.isInteger(count) ? count : 0, epochs, sparseParams(m));
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
    const leader = lead(m, team.memory, threads, asked === undefined || asked === 'auto', given === undefined ? start : undefined);
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
