/**
 * `gradc predict <model.ts> --params params.json --data new.csv [--out predictions.csv]`
 * `gradc evaluate <model.ts> --params params.json --data test.csv`
 *
 * Both read a params file written by `gradc train` (checked against the model: name,
 * structure, shapes), apply its saved scaling to the inputs (and, for evaluate, to
 * regression targets), and run the generated module on every row.
 *
 * Guarantees:
 * - predict writes one CSV row per data row, in the file's order, header = the output
 *   names (a vector output `p` as p_1 .. p_n); outputs paired with a scaled target are
 *   un-scaled, so they are in the data file's units. Without --out the CSV goes to stdout.
 *   The data file needs only the input columns. --out is written atomically.
 * - evaluate prints the mean loss (in the units the model was trained in: scaled targets
 *   when the targets were scaled), then either the accuracy, when the first output is a
 *   vector and its target is, on every row, a one-hot vector of the same size or a class
 *   index below that size (argmax of the output against argmax of the target / the
 *   index), or else (a continuous target: regression) the mean squared
 *   and mean absolute error of each output paired with a target, in raw units, after the
 *   accuracy of a binary classifier (a scalar output against 0/1 labels, split at 0.5).
 */
import { GradcError } from '../../errors.js';
import { csvHeader, csvLines, readInputRows, readRows, scaleRows, unscaleValue, writeCsv, type Field, type RowLayout, type Scaling } from '../../data/index.js';
import type { GeneratedModule, Params } from '../../load/loader.js';
import { expectFlags, value } from '../args.js';
import type { Command } from '../command.js';
import { checkNotAnInput, checkNotTheSame, checkWritableTarget } from '../files.js';
import { columnsOption, compiledModel, COMPILE_FLAGS, outputTargets, readParamsFile, required } from '../training.js';

const PREDICT_USAGE = 'gradc predict <model.ts> --params params.json --data new.csv [--columns field=column,...] [--out predictions.csv]';
const EVALUATE_USAGE = 'gradc evaluate <model.ts> --params params.json --data test.csv [--columns field=column,...]';

/** The forward pass on `count` packed X rows: outputs flattened per row in `shapes.outputs` order. */
function outputsOf(m: GeneratedModule, params: Params, X: Float64Array, count: number): Float64Array {
  const inputs = Object.entries(m.shapes.inputs);
  const outputs = Object.keys(m.shapes.outputs);
  const rows: Record<string, number | Float64Array>[] = [];
  for (let i = 0; i < count; i++) {
    const row: Record<string, number | Float64Array> = {};
    let at = i * m.INPUT_SIZE;
    for (const [name, shape] of inputs) {
      const size = shape.reduce((a, b) => a * b, 1);
      row[name] = shape.length ? X.slice(at, at + size) : X[at];
      at += size;
    }
    rows.push(row);
  }
  const predicted = m.predict(params, rows);
  const out = new Float64Array(count * m.OUTPUT_SIZE);
  predicted.forEach((p, i) => {
    let at = i * m.OUTPUT_SIZE;
    for (const name of outputs) {
      const v = p[name];
      if (typeof v === 'number') out[at++] = v;
      else for (let k = 0; k < v.length; k++) out[at++] = v[k];
    }
  });
  return out;
}

/** The output fields, laid out as `outputsOf` returns them. */
function outputFields(m: GeneratedModule): Field[] {
  let offset = 0;
  return Object.entries(m.shapes.outputs).map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const f = { name, shape, offset, size };
    offset += size;
    return f;
  });
}

/** Outputs paired with a scaled target (training/outputTargets) back in raw units, in place. */
function unscaleOutputs(m: GeneratedModule, layout: RowLayout, scaling: Scaling, Y: Float64Array, count: number): void {
  const paired = outputTargets(m, layout);
  outputFields(m).forEach((f, n) => {
    const t = paired[n];
    if (!t) return;
    for (let i = 0; i < count; i++) {
      const at = i * m.OUTPUT_SIZE + f.offset;
      if (f.shape.length === 0) Y[at] = unscaleValue(scaling, t.name, Y[at]);
      else Y.set(unscaleValue(scaling, t.name, Y.slice(at, at + f.size)), at);
    }
  });
}

const argmax = (a: ArrayLike<number>, from: number, n: number): number => {
  let best = 0;
  for (let k = 1; k < n; k++) if (a[from + k] > a[from + best]) best = k;
  return best;
};

/**
 * Whether \`target\` holds class labels for an output of \`classes\` values on every row: a
 * one-hot vector of that size (0s and one 1), or one class index (an integer in
 * [0, classes)). Anything else (a continuous vector target, say) is regression.
 */
function classLabels(Y: Float64Array, count: number, width: number, target: Field, classes: number): boolean {
  if (target.size !== classes && target.size !== 1) return false;
  for (let i = 0; i < count; i++) {
    const at = i * width + target.offset;
    if (target.size === 1 && target.size !== classes) {
      const c = Y[at];
      if (!Number.isInteger(c) || c < 0 || c >= classes) return false;
      continue;
    }
    let ones = 0;
    for (let k = 0; k < target.size; k++) {
      const v = Y[at + k];
      if (v === 1) ones++;
      else if (v !== 0) return false;
    }
    if (ones !== 1) return false;
  }
  return true;
}

export const predict: Command = {
  name: 'predict',
  usage: PREDICT_USAGE,
  summary: 'run a trained model (params from gradc train, scaling applied) on every row of a data file; CSV of the outputs to --out or stdout',
  async run(args, out) {
    expectFlags(args, ['params', 'data', 'out', 'columns', ...COMPILE_FLAGS], 'predict');
    const paramsPath = required(args, 'params', 'predict', 'params file');
    const dataPath = required(args, 'data', 'predict', 'data file');
    const outPath = value(args, 'out', 'predict', 'a file name');
    const compiled = await compiledModel(args, 'predict', PREDICT_USAGE);
    const { module: m, layout } = compiled;
    if (outPath !== undefined) {
      checkWritableTarget(outPath, '--out');
      checkNotAnInput(outPath, compiled.file, '--out');
      checkNotTheSame(outPath, [dataPath, paramsPath], '--out');
    }
    const columns = columnsOption(args, 'predict', layout);
    const saved = readParamsFile(paramsPath, compiled);
    const rows = await readInputRows(dataPath, layout, { columns });
    if (saved.scaling) scaleRows(saved.scaling, layout, 'inputs', rows.X, rows.count);
    const Y = outputsOf(m, saved.params, rows.X, rows.count);
    const fields = outputFields(m);
    if (saved.scaling) unscaleOutputs(m, layout, saved.scaling, Y, rows.count);
    const header = csvHeader(fields);
    if (outPath !== undefined) {
      await writeCsv(outPath, header, Y, rows.count);
      out(`wrote ${rows.count} prediction${rows.count === 1 ? '' : 's'} to ${outPath}`);
    } else for (const line of csvLines(header, Y, rows.count)) out(line.replace(/\n$/, ''));
  },
};

export const evaluate: Command = {
  name: 'evaluate',
  usage: EVALUATE_USAGE,
  summary: 'mean loss of a trained model on a data file, with accuracy (classifiers) or MSE and MAE (regression)',
  async run(args, out) {
    expectFlags(args, ['params', 'data', 'columns', ...COMPILE_FLAGS], 'evaluate');
    const paramsPath = required(args, 'params', 'evaluate', 'params file');
    const dataPath = required(args, 'data', 'evaluate', 'data file');
    const compiled = await compiledModel(args, 'evaluate', EVALUATE_USAGE);
    const { module: m, layout } = compiled;
    const columns = columnsOption(args, 'evaluate', layout);
    const saved = readParamsFile(paramsPath, compiled);
    const rows = await readRows(dataPath, layout, { columns });
    if (rows.count === 0) throw new GradcError('the data file has no samples', { file: dataPath });
    const rawY = Float64Array.from(rows.Y);
    if (saved.scaling) {
      scaleRows(saved.scaling, layout, 'inputs', rows.X, rows.count);
      scaleRows(saved.scaling, layout, 'targets', rows.Y, rows.count);
    }
    const loss = m.gradientBatch(saved.params, rows.X, rows.Y, rows.count).loss;
    out(`samples   ${rows.count}`);
    out(`loss      ${loss}${saved.scaling?.targets.length ? ' (scaled target units, as in training)' : ''}`);
    const outputs = outputsOf(m, saved.params, rows.X, rows.count);
    const fields = outputFields(m);
    const first = fields[0], target = layout.targets[0];
    if (first && target && first.shape.length > 0 && classLabels(rawY, rows.count, layout.targetSize, target, first.size)) {
      let right = 0;
      for (let i = 0; i < rows.count; i++) {
        const guess = argmax(outputs, i * m.OUTPUT_SIZE + first.offset, first.size);
        const at = i * layout.targetSize + target.offset;
        const truth = target.size === 1 ? rawY[at] : argmax(rawY, at, target.size);
        if (guess === truth) right++;
      }
      out(`accuracy  ${right / rows.count} (${right}/${rows.count}, argmax of ${first.name} against ${target.name})`);
      return;
    }
    if (saved.scaling) unscaleOutputs(m, layout, saved.scaling, outputs, rows.count);
    const paired = outputTargets(m, layout);
    // A binary classifier: a scalar output against 0/1 labels, right when on the label's side of 0.5 (as fit's accuracy).
    const label = paired[0];
    if (first && label && first.size === 1 && label.size === 1 && rawY.every((_, at) => (at - label.offset) % layout.targetSize !== 0 || rawY[at] === 0 || rawY[at] === 1)) {
      let right = 0;
      for (let i = 0; i < rows.count; i++) if ((outputs[i * m.OUTPUT_SIZE + first.offset] > 0.5) === (rawY[i * layout.targetSize + label.offset] === 1)) right++;
      out(`accuracy  ${right / rows.count} (${right}/${rows.count}, ${first.name} > 0.5 against ${label.name} = 1)`);
    }
    fields.forEach((f, n) => {
      const t = paired[n];
      if (!t) return;
      let se = 0, ae = 0;
      for (let i = 0; i < rows.count; i++) {
        for (let k = 0; k < f.size; k++) {
          const d = outputs[i * m.OUTPUT_SIZE + f.offset + k] - rawY[i * layout.targetSize + t.offset + k];
          se += d * d;
          ae += Math.abs(d);
        }
      }
      const values = rows.count * f.size;
      out(`mse       ${se / values} (${f.name} against ${t.name}, in the data file's units)`);
      out(`mae       ${ae / values}`);
    });
  },
};
