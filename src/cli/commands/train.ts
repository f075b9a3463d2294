/**
 * `gradc train <model.ts> --data train.csv [options]`
 *
 * Compiles the model in process, reads the data file (data/read.ts), splits off
 * validation rows (--val fraction, with --seed) or reads them (--val-data), scales
 * inputs (and regression targets) with statistics of the training split only, and
 * trains with the generated module's `fitRows` (its validation, early stopping, metrics
 * and abort signal) and the optimizer asked for, in a worker thread (cli/fitWorker.ts).
 * Progress: a live bar on a terminal, redrawn within epochs, else one line per epoch,
 * on stderr (train/progress.ts).
 *
 * Guarantees:
 * - The parameters kept are those of the epoch with the lowest validation loss (the
 *   training loss when there is no validation data): fit's earlyStopping with
 *   restoreBest; --patience N stops after N epochs without improvement. Ctrl-C (SIGINT)
 *   stops after the current batch (fit's signal, read after every step) and still writes
 *   the best parameters (those of the last step when no epoch has completed); a second
 *   Ctrl-C is left to Node (exits at once).
 * - --out gets the module's `saveParams` document (with the optimizer state, so --resume
 *   continues where it stopped) plus the scaling statistics, written atomically
 *   (files.ts): a failed run, or a bad option, leaves the file as it was.
 * - --resume reads such a file (checked: model, structure, shapes) and continues from
 *   its parameters, optimizer state and scaling (the scaling is not recomputed, so the
 *   parameters keep their meaning). A different --optimizer starts a fresh optimizer state;
 *   --lr with the same optimizer keeps its state (moments, step) and changes the rate.
 * - --plot writes the loss curve (training and validation) as SVG; a sparkline of the
 *   loss and a summary end the run on stderr.
 * - --threads N spreads each batch's gradient over N threads (train/parallel.ts: the same
 *   result up to rounding, the same bytes from run to run); the default, auto, uses the
 *   machine's cores only when a step is large enough to gain (chooseThreads).
 * - Every check (options, files, data against the model's inputs) runs before training.
 */
import { resolve } from 'node:path';
import { GradcError } from '../../errors.js';
import type { EpochRecord, GeneratedModule, OptimizerOptions, OptimizerState } from '../../load/loader.js';
import { parseNumber } from '../../data/cells.js';
import { computeScaling, parseScaleMethod, readRows, scaleRows, splitRows, type Rows, type Scaling } from '../../data/index.js';
import { lossCurveSvg, num, sparkline, TrainingProgress, duration, type ProgressStream } from '../../train/index.js';
import { type Args, expectFlags, value } from '../args.js';
import type { Command } from '../command.js';
import { checkNotAnInput, checkNotTheSame, checkWritableTarget, writeFile } from '../files.js';
import { fitInWorker, type WorkerFitResult } from '../fitWorker.js';
import { chooseThreads, paramCount, sparseParams } from '../../train/parallel.js';
import { columnsOption, compiledModel, COMPILE_FLAGS, isRegression, outputTargets, readParamsFile, required, type Compiled, type ParamsFile } from '../training.js';

const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'] as const;
type OptimizerKind = (typeof OPTIMIZERS)[number];

const FLAGS = ['data', 'val', 'val-data', 'optimizer', 'lr', 'epochs', 'batch', 'seed', 'patience', 'scale', 'columns', 'out', 'resume', 'plot', 'threads', ...COMPILE_FLAGS];

const USAGE = 'gradc train <model.ts> --data train.csv [--val 0.2 | --val-data val.csv] [--optimizer sgd|momentum|adam|adamw|rmsprop] [--lr X] [--epochs N] [--batch N] [--seed N] [--patience N] [--scale standard|minmax|none] [--columns field=column,...] [--out params.json] [--resume params.json] [--plot loss.svg] [--threads N|auto]';

/** A number option: undefined when absent; `ok` says what is accepted. */
function numberOption(args: Args, name: string, what: string, ok: (v: number) => boolean): number | undefined {
  const text = value(args, name, 'train', what);
  if (text === undefined) return undefined;
  const v = parseNumber(text); // decimal only: Number('0x10') would be 16
  if (!ok(v)) throw new GradcError(`option --${name} must be ${what}, got '${text}'`);
  return v;
}
const positiveInteger = (v: number): boolean => Number.isSafeInteger(v) && v >= 1; // safe: an epoch counter beyond 2^53 would stop advancing

function optimizerKind(args: Args): OptimizerKind | undefined {
  const text = value(args, 'optimizer', 'train', `one of ${OPTIMIZERS.join(', ')}`);
  if (text === undefined) return undefined;
  const kind = OPTIMIZERS.find((k) => k === text);
  if (!kind) throw new GradcError(`unknown optimizer '${text}' (--optimizer takes ${OPTIMIZERS.join(', ')})`);
  return kind;
}

/** The outputs the run will write, checked before training (folder exists, not the model file, not the data). */
function checkOutput(path: string | undefined, what: string, compiled: Compiled, inputs: readonly (string | undefined)[]): void {
  if (path === undefined) return;
  checkWritableTarget(path, what);
  checkNotAnInput(path, compiled.file, what);
  checkNotTheSame(path, inputs, what);
}

type MetricName = 'accuracy' | 'mse' | 'mae';

/**
 * The metric shown per epoch, comparing the model's first output with its first target:
 * accuracy for a classifier (integer targets: one-hot of the output's size, a class index
 * for a vector output, or 0/1 for a scalar one), MAE for a regression (in scaled units
 * when the targets are scaled); none when the two do not pair up.
 */
function metricsFor(m: GeneratedModule, rows: Rows, targetSize: number, scaledTargets: boolean): MetricName[] {
  const out = Object.values(m.shapes.outputs)[0], tgt = Object.values(m.shapes.targets)[0];
  if (!out || !tgt) return [];
  const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  const o = size(out), t = size(tgt);
  const integers = !scaledTargets && !isRegression(rows.Y, rows.count * targetSize);
  let binary = true;
  for (let i = 0; i < rows.count * targetSize && binary; i++) binary = rows.Y[i] === 0 || rows.Y[i] === 1;
  if (integers && ((o === t && o > 1) || (t === 1 && o > 1) || (o === 1 && t === 1 && binary))) return ['accuracy'];
  return o === t ? ['mae'] : [];
}

/** `{ accuracy, val_accuracy }` from an epoch record's metrics, for the progress display. */
function metricValues(metrics: EpochRecord['metrics']): Record<string, number> {
  const shown: Record<string, number> = {};
  for (const [name, v] of Object.entries(metrics.train)) if (v !== undefined) shown[name] = v;
  for (const [name, v] of Object.entries(metrics.validation)) if (v !== undefined) shown[`val_${name}`] = v;
  return shown;
}

export const train: Command = {
  name: 'train',
  usage: USAGE,
  summary: 'train the model on a data file (CSV, TSV, JSON, JSON Lines) and save the parameters (--out) with the scaling; Ctrl-C stops after the current batch and still writes the best parameters',
  async run(args, out, err = (l) => console.error(l)) {
    expectFlags(args, FLAGS, 'train');
    const dataPath = required(args, 'data', 'train', 'data file');
    const valFraction = numberOption(args, 'val', 'a fraction between 0 and 1', (v) => v > 0 && v < 1);
    const valPath = value(args, 'val-data', 'train', 'a data file');
    if (valFraction !== undefined && valPath !== undefined) throw new GradcError('give --val or --val-data, not both');
    const kind = optimizerKind(args);
    const lr = numberOption(args, 'lr', 'a finite number >= 0', (v) => Number.isFinite(v) && v >= 0);
    const epochs = numberOption(args, 'epochs', 'a positive integer (at most 2^53 - 1)', positiveInteger) ?? 100;
    const batch = numberOption(args, 'batch', 'a positive integer (at most 2^53 - 1)', positiveInteger) ?? 1;
    const seed = numberOption(args, 'seed', 'an integer', Number.isInteger) ?? 1;
    const patience = numberOption(args, 'patience', 'a positive integer (at most 2^53 - 1)', positiveInteger);
    const scaleText = value(args, 'scale', 'train', 'standard, minmax or none');
    const method = parseScaleMethod(scaleText ?? 'standard');
    const outPath = value(args, 'out', 'train', 'a file name');
    const resumePath = value(args, 'resume', 'train', 'a params file');
    const plotPath = value(args, 'plot', 'train', 'a file name');
    const threadsText = value(args, 'threads', 'train', 'a thread count or auto');
    const threadsAsked = threadsText === undefined || threadsText === 'auto' ? 'auto' : numberOption(args, 'threads', 'a whole number from 1 to 256, or auto', (v) => Number.isInteger(v) && v >= 1 && v <= 256);

    const compiled = await compiledModel(args, 'train', USAGE);
    const { module: m, layout } = compiled;
    checkOutput(outPath, '--out', compiled, [dataPath, valPath]);
    checkOutput(plotPath, '--plot', compiled, [dataPath, valPath, resumePath]);
    if (outPath !== undefined && plotPath !== undefined && resolve(outPath) === resolve(plotPath)) throw new GradcError('--out and --plot name the same file');
    const columns = columnsOption(args, 'train', layout);

    const resumed = resumePath === undefined ? undefined : readParamsFile(resumePath, compiled);
    const all = await readRows(dataPath, layout, { columns });
    if (all.count === 0) throw new GradcError('the data file has no samples', { file: dataPath });
    let trainRows: Rows = all;
    let valRows: Rows | undefined;
    if (valFraction !== undefined) ({ train: trainRows, validation: valRows } = splitRows(all, layout, valFraction, seed));
    else if (valPath !== undefined) valRows = await readRows(valPath, layout, { columns });

    // Scaling: the resumed file's, else statistics of the training split only.
    let scaling: Scaling | undefined = resumed ? resumed.scaling : undefined;
    if (!resumed && method) scaling = computeScaling(method, layout, trainRows, { targets: isRegression(trainRows.Y, trainRows.count * layout.targetSize, outputTargets(m, layout).some((t) => t !== undefined)) });
    if (resumed && scaleText !== undefined && (method ?? 'none') !== (resumed.scaling?.method ?? 'none')) {
      throw new GradcError(`--scale ${scaleText} differs from the scaling saved in ${resumePath} (${resumed.scaling?.method ?? 'none'}); a resumed run keeps the saved scaling`);
    }
    if (scaling) {
      if (trainRows === all) trainRows = { X: Float64Array.from(all.X), Y: Float64Array.from(all.Y), count: all.count };
      for (const rows of valRows ? [trainRows, valRows] : [trainRows]) {
        scaleRows(scaling, layout, 'inputs', rows.X, rows.count);
        scaleRows(scaling, layout, 'targets', rows.Y, rows.count);
      }
    }

    // The optimizer: the resumed state when it is of the kind asked for, else a fresh one.
    let optimizer: OptimizerOptions | OptimizerState;
    const saved = resumed?.optimizer;
    if (saved && (kind === undefined || kind === saved.options.kind)) {
      optimizer = lr === undefined ? saved : { ...saved, options: { ...saved.options, learningRate: lr } }; // --lr keeps the moments
    }
    else optimizer = { kind: kind ?? 'sgd', ...(lr !== undefined ? { learningRate: lr } : {}) } as OptimizerOptions;

    const kindName = 'kind' in optimizer ? optimizer.kind : optimizer.options.kind;
    err(`training ${m.MODEL_NAME} on ${trainRows.count} samples${valRows ? ` (validation: ${valRows.count})` : ''}: up to ${epochs} epoch${epochs === 1 ? '' : 's'}, batch ${batch}, ${kindName}${!resumed ? '' : saved && optimizer !== undefined && !('kind' in optimizer) ? `, resumed at step ${saved.step}` : `, resumed from ${resumePath} with a fresh ${kindName} state${saved ? ` (the file's is ${saved.options.kind})` : ''}`}`);
    const stream: ProgressStream = process.stderr.isTTY ? process.stderr : { write: (t: string) => err(t.replace(/\n$/, '')), isTTY: false };
    const progress = new TrainingProgress({ epochs, samplesPerEpoch: trainRows.count, stream });
    const metrics = metricsFor(m, trainRows, layout.targetSize, scaling !== undefined && scaling.targets.length > 0);
    const threads = chooseThreads(threadsAsked, paramCount(m), batch, trainRows.count, epochs, sparseParams(m));
    if (threads > 1) err(`${threads} threads: each batch's gradient is split over them`);
    // fitRows runs in a worker thread (fitWorker.ts), so this thread stays free to take
    // Ctrl-C, which stops training after the current batch, and to draw the progress.
    const run = fitInWorker(compiled.js, trainRows.X, trainRows.Y, trainRows.count, {
      epochs,
      batchSize: batch,
      shuffleSeed: seed,
      optimizer,
      ...(resumed ? { params: resumed.params } : {}),
      ...(valRows ? { validation: { X: valRows.X, Y: valRows.Y, count: valRows.count } } : {}),
      // The best epoch's parameters are kept whatever stops training; without --patience, never stop early.
      earlyStopping: { patience: patience ?? epochs, restoreBest: true },
      metrics,
    }, {
      move: true, // the rows are not used here after training
      threads,
      adaptive: threadsAsked === 'auto',
      start: () => progress.restart(),
      batch: (_epoch, samples, loss) => progress.batch(samples, loss),
      epoch: (r) => progress.epoch({ epoch: r.epoch + 1, loss: r.loss, valLoss: r.valLoss, metrics: metricValues(r.metrics), learningRate: r.learningRate }),
    });
    let interrupted = false;
    const onSigint = (): void => {
      interrupted = true;
      run.abort();
      process.removeListener('SIGINT', onSigint); // a second Ctrl-C ends the process
    };
    process.on('SIGINT', onSigint);
    const started = performance.now();
    let r: WorkerFitResult;
    try {
      r = await run.result;
    } finally {
      process.removeListener('SIGINT', onSigint);
      progress.stop();
    }
    // Diverged before any epoch completed: the parameters are the starting ones, not trained ones.
    if (r.stopped === 'diverged' && r.history.loss.length === 0) {
      throw new GradcError(`the loss diverged in the first epoch (starting loss ${num(r.initialLoss)}), so nothing was trained${outPath !== undefined ? ` and ${outPath} was not written` : ''}; try a smaller --lr`);
    }
    const seconds = (performance.now() - started) / 1000;
    const losses = r.history.loss;
    const valLosses = r.history.valLoss;
    const done = losses.length;
    const best = r.bestEpoch >= 0 ? { epoch: r.bestEpoch + 1, loss: (valRows ? valLosses : losses)[r.bestEpoch]! } : undefined;

    const partial = r.lastStep && r.lastStep.epoch === done && r.lastStep.samples < trainRows.count ? ` in epoch ${done + 1} after ${r.lastStep.samples} of ${trainRows.count} samples` : '';
    const why = interrupted && r.stopped === 'aborted' ? `interrupted (Ctrl-C)${partial}; the ${best ? 'best epoch\'s' : 'last'} parameters are kept`
      : r.stopped === 'early-stopping' && patience !== undefined ? `no improvement for ${patience} epochs (--patience)`
      : r.stopped === 'diverged' ? 'the loss diverged; the best parameters before it are kept'
      : 'all epochs done';
    const watched = valRows ? 'validation loss' : 'loss';
    err(`trained ${done} epoch${done === 1 ? '' : 's'} in ${duration(seconds)} (${why}); loss ${num(r.initialLoss)} -> ${num(losses.at(-1) ?? r.initialLoss)}${best ? `; best ${watched} ${num(best.loss)} at epoch ${best.epoch}` : ''}${scaling?.targets.length ? ' (in scaled target units)' : ''}`);
    if (valLosses.length && !valLosses.some(Number.isFinite)) err(`warning: the validation loss was ${valLosses.at(-1)} after every epoch (the validation data gives a loss that is not finite); the parameters kept are the last epoch's`);
    if (losses.length) err(`loss ${sparkline(losses, { width: 60 })}${valLosses.length ? `\nval  ${sparkline(valLosses, { width: 60 })}` : ''}`);
    const kept = r.params;
    const state = r.optimizer;

    if (outPath !== undefined) {
      const doc: ParamsFile = { ...m.saveParams(kept, state), ...(scaling ? { scaling } : {}) };
      writeFile(outPath, `${JSON.stringify(doc, null, 2)}\n`);
      out(`wrote ${outPath}`);
    } else err('no --out given: the parameters were not saved');
    if (plotPath !== undefined) {
      const svg = await lossCurveSvg({ loss: losses, ...(valLosses.length ? { valLoss: valLosses } : {}) }, { title: `${m.MODEL_NAME}: loss per epoch` });
      writeFile(plotPath, svg);
      out(`wrote ${plotPath}`);
    }
  },
};
