/**
 * What `gradc train`, `gradc predict` and `gradc evaluate` share: the model compiled in
 * process, its row layout, the data file read into rows, and the params file.
 *
 * Guarantees: the params file `gradc train` writes is the generated module's
 * `saveParams` document with one more key, `scaling` (the statistics of the training
 * split, see data/scale.ts; absent with --scale none). `readParamsFile` checks it with
 * the module's `loadParams` (model name, structure hash, shapes) and `checkScaling`;
 * every problem is a GradcError naming the file. Targets are scaled (regression) when
 * some target value in the training data is not an integer, or when the outputs pair with
 * the targets (below) and some integer target is neither 0 nor 1 (integer regression
 * targets: counts, prices); class indices (a scalar target of a vector output), one-hot
 * codes and 0/1 labels are left as they are. An output is un-scaled with
 * the target it is paired with: outputs and targets pair up in declaration order when
 * there are as many of each and each pair has the same shape.
 */
import { readFileSync } from 'node:fs';
import { generate } from '../index.js';
import { GradcError } from '../errors.js';
import { runModule, transpile, type GeneratedModule, type OptimizerState, type Params, type SavedParams } from '../load/loader.js';
import { checkScaling, parseColumns, rowLayout, type ColumnMap, type Field, type RowLayout, type Scaling } from '../data/index.js';
import { type Args, value } from './args.js';
import { COMPILE_FLAGS, compileOptionsFromArgs } from './compileOptions.js';
import { displayPath, loadModelFile } from './modelFile.js';

export { COMPILE_FLAGS };

export interface Compiled {
  readonly module: GeneratedModule;
  /** The module's JavaScript (\`transpile\` of the generated TypeScript), for a worker thread. */
  readonly js: string;
  readonly layout: RowLayout;
  readonly file: string;
}

/** The model file named first on the command line, compiled with the compile flags. */
export async function compiledModel(args: Args, command: string, usage: string): Promise<Compiled> {
  const [path, ...rest] = args.positionals;
  if (!path) throw new GradcError(`no model file given (usage: ${usage})`);
  if (rest.length) throw new GradcError(`expects one model file, got ${args.positionals.length} (usage: ${usage})`);
  const options = compileOptionsFromArgs(args, command);
  const { model, file } = await loadModelFile(path);
  const { code } = generate(model, { ...options, source: file });
  const js = transpile(code);
  const module = runModule(js);
  return { module, js, layout: rowLayout(module.shapes, module), file };
}

/** `--name`, required. */
export function required(args: Args, name: string, command: string, what: string): string {
  const v = value(args, name, command, what);
  if (v === undefined) throw new GradcError(`gradc ${command} needs --${name} <${what}>`);
  return v;
}

/** `--columns field=name,...` as a map, when given. */
export function columnsOption(args: Args, command: string, layout: RowLayout): ColumnMap | undefined {
  const text = value(args, 'columns', command, 'field=column pairs');
  return text === undefined ? undefined : parseColumns(text, layout);
}

/**
 * Whether the targets are scaled (see the header): some target value is not an integer, or
 * (with \`paired\`, an output of the same shape as its target, so not a class index) some
 * integer is neither 0 nor 1 (counts, prices in whole units: regression).
 */
export function isRegression(Y: Float64Array, length: number, paired = false): boolean {
  let labels = true; // every value 0 or 1: one-hot codes or binary labels
  for (let i = 0; i < length; i++) {
    if (!Number.isInteger(Y[i])) return true;
    if (Y[i] !== 0 && Y[i] !== 1) labels = false;
  }
  return paired && !labels;
}

/** The params file `gradc train` writes (see the header). */
export type ParamsFile = SavedParams & { readonly scaling?: Scaling | undefined };

export interface LoadedParams {
  readonly params: Params;
  readonly optimizer?: OptimizerState | undefined;
  readonly scaling?: Scaling | undefined;
}

/** Reads and checks a params file for this model. */
export function readParamsFile(path: string, compiled: Compiled): LoadedParams {
  const file = displayPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GradcError(`cannot read the params file: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`, { file });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new GradcError(`the params file is not JSON: ${(e as Error).message}`, { file });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new GradcError('the params file does not hold a JSON object', { file });
  const { scaling, ...saved } = doc as Record<string, unknown>;
  const m = compiled.module;
  if (typeof saved['model'] === 'string' && saved['model'] !== m.MODEL_NAME) {
    throw new GradcError(`the params file is for the model '${saved['model']}', not '${m.MODEL_NAME}' (${compiled.file})`, { file });
  }
  let loaded: ReturnType<GeneratedModule['loadParams']>;
  try {
    loaded = m.loadParams(saved as unknown as SavedParams);
  } catch (e) {
    if (e instanceof GradcError) throw new GradcError(`${file}: ${e.message}`, { file });
    throw e;
  }
  return { ...loaded, scaling: scaling === undefined ? undefined : checkScaling(scaling, compiled.layout, `${file}: scaling`) };
}

/** Output fields paired with the target each is un-scaled by (see the header), or none. */
export function outputTargets(m: GeneratedModule, layout: RowLayout): (Field | undefined)[] {
  const outputs = Object.entries(m.shapes.outputs);
  const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
  if (outputs.length !== layout.targets.length || !outputs.every(([, shape], i) => same(shape, layout.targets[i].shape))) return outputs.map(() => undefined);
  return layout.targets.map((t) => t);
}
