/**
 * brain.js in the sequence benchmark (bench/sequence.ts: recurrent nets over SEQ.steps
 * time steps of SEQ.inputs values, SEQ.hidden units; training samples per second):
 *   brain.js 1.6.1  `brain.recurrent.RNNTimeStep | LSTMTimeStep({ inputSize, hiddenLayers,
 *           outputSize })`, `train(data, { iterations: 1 })` timed over a set of
 *           sequences (it trains one sequence at a time: batch 1 only). Its time-step
 *           nets can only be trained to predict each next step of a sequence (output
 *           width = input width, a loss at every step: a 1-wide output with 16-wide
 *           inputs fails with NaN in its `predictTarget`), so it is measured on the same
 *           sequences with outputSize 16: per step its cell is the same (16 inputs, 32
 *           hidden, the same recurrent product) plus a 16x32 output layer, about a third
 *           more arithmetic than the one output of the others at the last step. Its
 *           update is its own RMSprop-like rule (the only one its recurrent nets have),
 *           with the same learning rate.
 *
 * Differences that cannot be configured away are said where they arise; the figures
 * are rates, measured as bench/setup.ts `measure` does (best window of several).
 */
import brain from 'brain.js';
import { LEARNING_RATE, TIMING, rng, type Timing } from './setup.js';

/** The sequence benchmark's net: the sizes. */
export const SEQ = { steps: 50, inputs: 16, hidden: 32 } as const;
export type Cell = 'rnn' | 'lstm';
/** Sequences in the data set each trainer cycles through. */
export const SEQ_ROWS = 64;

/** `rows` sequences of [steps x inputs] values in [-1, 1] and one target each, from a seed. */
export function sequenceData(rows = SEQ_ROWS, seed = 4242): { X: Float64Array; Y: Float64Array; rows: number } {
  const rand = rng(seed);
  const X = Float64Array.from({ length: rows * SEQ.steps * SEQ.inputs }, () => rand() * 2 - 1);
  const Y = Float64Array.from({ length: rows }, () => rand() * 2 - 1);
  return { X, Y, rows };
}

/** Training samples per second of brain.js's time-step net of the cell (batch 1). */
export function measureBrainSequence(cell: Cell, data: { X: Float64Array; Y: Float64Array; rows: number }, timing: Timing = TIMING): number {
  const width = SEQ.steps * SEQ.inputs;
  const sequences = Array.from({ length: data.rows }, (_, i) =>
    Array.from({ length: SEQ.steps }, (_, t) => Array.from(data.X.subarray(i * width + t * SEQ.inputs, i * width + (t + 1) * SEQ.inputs))));
  const Net = cell === 'rnn' ? brain.recurrent.RNNTimeStep : brain.recurrent.LSTMTimeStep;
  const fresh = () => new Net({ inputSize: SEQ.inputs, hiddenLayers: [SEQ.hidden], outputSize: SEQ.inputs });
  let net = fresh();
  // brain.js's own random initial weights now and then give a NaN error on this data
  // (it throws "network error rate is unexpected NaN"); the net is then made afresh and
  // the epoch counted anyway, since the work was done (a few in a run at most).
  const epoch = () => {
    try {
      net.train(sequences, { iterations: 1, errorThresh: -1, learningRate: LEARNING_RATE });
    } catch (e) {
      if (!(e instanceof Error && /NaN/.test(e.message))) throw e;
      net = fresh();
    }
  };
  const run = (ms: number): number => {
    const t0 = performance.now();
    let epochs = 0;
    while (performance.now() - t0 < ms) {
      epoch();
      epochs++;
    }
    return (epochs * data.rows) / ((performance.now() - t0) / 1000);
  };
  run(timing.warmupMs);
  let best = 0;
  for (let w = 0; w < timing.windows; w++) best = Math.max(best, run(timing.windowMs));
  return best;
}
