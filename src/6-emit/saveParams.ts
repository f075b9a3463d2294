/**
 * Phase 6, emit (saved parameters): `saveParams` and `loadParams` of the generated module.
 *
 * Guarantees: `saveParams(params, optimizer?)` gives a plain JSON-serialisable document
 * `{ format: 'gradc-params', version: 1, model, structure, precision, params, optimizer? }`
 * in which every parameter is `{ shape, values }` (row-major; a scalar has shape [] and one
 * value). Values are JSON numbers, which `JSON.stringify` prints as the shortest text that
 * reads back to the same double, so a round trip is bit-exact; -0 (which JSON prints as 0)
 * is written as the string "-0". A non-finite value is refused (SampleError), never saved.
 * `loadParams(doc)` (the object or its JSON text) checks the format, the version, the
 * model name, the structure hash (see structureHash.ts), the precision, every parameter's
 * name, shape and values, and the optimizer state, and throws a SampleError naming the
 * first problem; on a structure mismatch it names every parameter whose shape differs and
 * every parameter missing from or extra in the file. Precision: a file saved at f32 loads
 * exactly into an f64 module; a file saved at f64 loads into an f32 module rounded to
 * nearest (as any f64 value stored into a Float32Array), and a value that overflows f32 is
 * refused. Optimizer state (options, step count, moments) round-trips exactly, so training
 * resumes where it stopped.
 */
import type { Slot } from '../5-lower/schedule.js';
import { API_TEXT } from './apiText.js';
import type { Syntax } from './flavour.js';
import { RUNTIME_JS } from './runtimeJs.js';

/** The module code for `saveParams`/`loadParams` (needs RUNTIME and OPTIMIZER_RUNTIME): the model's table, then SAVE_RUNTIME. */
export function emitSaveParams(params: readonly Slot[], modelName: string, hash: string, precision: 'f64' | 'f32', S: Syntax): string {
  const { t } = S;
  // Parameter names are identifiers (checked by the builder); the model name goes in as a JSON string literal.
  const table = params.map((s) => `['${s.name}', [${s.shape.join(', ')}], ${s.size}]`).join(', ');
  return `/** The model's name, as saved in parameter files. */
export const MODEL_NAME = ${JSON.stringify(modelName)};
/** SHA-256 of the model's structure (names, shapes and the forward graph; not initial values), computed by gradc. */
export const STRUCTURE_HASH = '${hash}';
const $PRECISION${t(": 'f64' | 'f32'")} = '${precision}';
/** Each parameter: name, shape, number of values. */
const $SAVED${t(': readonly (readonly [string, readonly number[], number])[]')} = [${table}];

${S.flavour === 'ts' ? SAVE_RUNTIME : RUNTIME_JS.saved}`;
}

/** The model-independent part of `emitSaveParams` (its JavaScript is in runtimeJs.ts). */
export const SAVE_RUNTIME = `${API_TEXT.saved}

function $saveArrays(p: Params, where: string): { [name: string]: SavedArray } {
  $checkParams(p, where, false);
  const r = p as unknown as Record<string, Floats | number>;
  const out: { [name: string]: SavedArray } = {};
  for (const [name, shape] of $SAVED) {
    const v = r[name]!;
    const values: (number | string)[] = [];
    const n = typeof v === 'number' ? 1 : v.length;
    for (let k = 0; k < n; k++) {
      const x = typeof v === 'number' ? v : v[k]!;
      if (x - x !== 0) throw new SampleError(\`saveParams: \${where}.\${name}\${typeof v === 'number' ? '' : \`[\${k}]\`} is \${x}; only finite values can be saved\`, name);
      values.push(Object.is(x, -0) ? '-0' : x);
    }
    Object.defineProperty(out, name, { value: { shape: [...shape], values }, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The parameters (and, when given, the optimizer state) as a JSON-serialisable document,
 * exact on round trip through \`JSON.stringify\` and \`loadParams\` (see SavedParams). Throws a
 * SampleError when a parameter is missing, of the wrong size, or not finite.
 */
export function saveParams(params: Params, optimizer?: OptimizerState): SavedParams {
  const doc = { format: 'gradc-params' as const, version: 1 as const, model: MODEL_NAME, structure: STRUCTURE_HASH, precision: $PRECISION as 'f64' | 'f32', params: $saveArrays(params, 'params') };
  if (optimizer === undefined) return doc;
  if (typeof optimizer !== 'object' || optimizer === null) throw new SampleError(\`saveParams: optimizer must be an OptimizerState (from initOptimizer or fit), got \${$show(optimizer)}\`);
  $checkOptimizer('saveParams', optimizer);
  // JSON has no Infinity: clipNorm Infinity (no clipping) is the default, so it is left out.
  const options = JSON.parse(JSON.stringify(optimizer.options, (k, v: unknown) => (k === 'clipNorm' && v === Infinity ? undefined : v))) as OptimizerOptions;
  const saved: SavedOptimizer = {
    options,
    step: optimizer.step,
    ...(optimizer.m ? { m: $saveArrays(optimizer.m, 'optimizer.m') } : {}),
    ...(optimizer.v ? { v: $saveArrays(optimizer.v, 'optimizer.v') } : {}),
  };
  return { ...doc, optimizer: saved };
}

const $own = (o: object, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? (o as Record<string, unknown>)[key] : undefined);
const $shapeText = (s: readonly unknown[]) => \`[\${s.join('x')}]\`;

/** What differs between the file's parameter names and shapes and the model's ('' when nothing). */
function $shapeDifferences(arrays: object): string {
  const out: string[] = [];
  const known = new Set<string>();
  for (const [name, shape] of $SAVED) {
    known.add(name);
    const a = $own(arrays, name);
    if (a === undefined) { out.push(\`the file has no parameter '\${name}' (the model expects \${$shapeText(shape)})\`); continue; }
    const s = typeof a === 'object' && a !== null ? $own(a, 'shape') : undefined;
    if (!Array.isArray(s)) { out.push(\`\${name} has no shape in the file\`); continue; }
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) out.push(\`\${name} has shape \${$shapeText(s)} in the file, the model expects \${$shapeText(shape)}\`);
  }
  for (const name of Object.keys(arrays)) if (!known.has(name)) out.push(\`the file has a parameter '\${name.slice(0, 40)}' that the model does not have\`);
  return out.join('; ');
}

/** Reads \`arrays\` (checked against the model's names and shapes) into fresh parameters (plain arrays: loadParams places them). */
function $loadArrays(arrays: unknown, where: string): Params {
  if (typeof arrays !== 'object' || arrays === null || Array.isArray(arrays)) throw new SampleError(\`loadParams: \${where} must be an object of { shape, values } by parameter name, got \${$show(arrays)}\`);
  const diff = $shapeDifferences(arrays);
  if (diff) throw new SampleError(\`loadParams: \${where} do not match the model: \${diff}\`);
  const p = zeroParams();
  const r = p as unknown as Record<string, Floats | number>;
  for (const [name, , size] of $SAVED) {
    const values = $own($own(arrays, name) as object, 'values');
    if (!Array.isArray(values) || values.length !== size) throw new SampleError(\`loadParams: \${where}.\${name}.values must be an array of \${size} numbers, got \${$show(values)}\`, name);
    const target = r[name]!;
    for (let k = 0; k < size; k++) {
      const e: unknown = values[k];
      const x = e === '-0' ? -0 : e;
      if (typeof x !== 'number' || x - x !== 0) throw new SampleError(\`loadParams: \${where}.\${name}.values[\${k}] must be a finite number (or "-0"), got \${$show(e)}\`, name);
      const stored = $PRECISION === 'f32' ? Math.fround(x) : x;
      if (stored - stored !== 0) throw new SampleError(\`loadParams: \${where}.\${name}.values[\${k}] = \${x} does not fit in this module's \${$PRECISION} numbers\`, name);
      if (typeof target === 'number') r[name] = stored;
      else target[k] = stored;
    }
  }
  return p;
}

/** A second moment (adam, adamw) or mean square (rmsprop) is a running mean of squares: a negative value is a damaged file (its square root would be NaN and every step refused). */
function $checkNotNegative(v: Params, kind: string): void {
  const r = v as unknown as Record<string, Floats | number>;
  for (const [name, , size] of $SAVED) {
    const a = r[name]!;
    for (let k = 0; k < size; k++) {
      const x = typeof a === 'number' ? a : a[k]!;
      if (x < 0) throw new SampleError(\`loadParams: optimizer.v.\${name}.values[\${k}] is \${x}, but a \${kind} optimizer's v is a mean of squares (never negative)\`, name);
    }
  }
}

/**
 * Parameters (and the optimizer state, when the file has one) from a document made by
 * \`saveParams\`, as an object or its JSON text. Throws a SampleError naming the problem:
 * not a gradc parameter file, another version, another model (both names), a different
 * structure (with every parameter whose shape differs, and those missing or extra), a
 * value that is not a finite number, an array of the wrong length, bad optimizer state.
 * A file saved at f32 loads exactly; at f64 into an f32 module, values round to nearest.
 */
export function loadParams(doc: SavedParams | string): { params: Params; optimizer?: OptimizerState | undefined } {
  let d: unknown = doc;
  if (typeof doc === 'string') {
    try { d = JSON.parse(doc); } catch (e) { throw new SampleError(\`loadParams: the text is not JSON (\${e instanceof Error ? e.message : String(e)})\`); }
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new SampleError(\`loadParams: expected a gradc parameter file (an object), got \${$show(d)}\`);
  const format = $own(d, 'format');
  if (format !== 'gradc-params') throw new SampleError(\`loadParams: not a gradc parameter file (format is \${$show(format)}, expected "gradc-params")\`);
  const version = $own(d, 'version');
  if (version !== 1) throw new SampleError(\`loadParams: unsupported file version \${$show(version)} (this module reads version 1)\`);
  const model = $own(d, 'model');
  if (model !== MODEL_NAME) throw new SampleError(\`loadParams: this file holds parameters of model \${typeof model === 'string' ? JSON.stringify(model.slice(0, 80)) : $show(model)}, not of model \${JSON.stringify(MODEL_NAME)}\`);
  const precision = $own(d, 'precision');
  if (precision !== 'f64' && precision !== 'f32') throw new SampleError(\`loadParams: precision must be "f64" or "f32", got \${$show(precision)}\`);
  const arrays = $own(d, 'params');
  const structure = $own(d, 'structure');
  if (structure !== STRUCTURE_HASH) {
    const diff = typeof arrays === 'object' && arrays !== null ? $shapeDifferences(arrays) : '';
    throw new SampleError(\`loadParams: this file was saved from a different model structure (file \${typeof structure === 'string' ? structure.slice(0, 12) : $show(structure)}, model \${STRUCTURE_HASH.slice(0, 12)}): \${diff || 'the parameter names and shapes match, but the computation differs'}\`);
  }
  // Everything is read and checked in plain arrays, then placed in the kernels' memory
  // (simd.ts): a file refused halfway takes no pool slot, and the moments take one each.
  const params = $loadArrays(arrays, 'params');
  const o = $own(d, 'optimizer');
  if (o === undefined) return { params: $placed(params) };
  if (typeof o !== 'object' || o === null) throw new SampleError(\`loadParams: optimizer must be an object, got \${$show(o)}\`);
  const optimizer = $initOptimizer(params, $own(o, 'options') as OptimizerOptions, 'loadParams: optimizer.options', (p) => p);
  const step = $own(o, 'step');
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw new SampleError(\`loadParams: optimizer.step must be a non-negative integer (at most 2^53 - 1), got \${$show(step)}\`);
  optimizer.step = step;
  for (const key of ['m', 'v'] as const) {
    const into = optimizer[key];
    const saved = $own(o, key);
    if (!into && saved !== undefined) throw new SampleError(\`loadParams: optimizer.\${key} is in the file, but a \${optimizer.options.kind} optimizer has none\`);
    if (into) {
      if (saved === undefined) throw new SampleError(\`loadParams: optimizer.\${key} is missing (a \${optimizer.options.kind} optimizer needs it)\`);
      const loaded = $loadArrays(saved, \`optimizer.\${key}\`);
      if (key === 'v') $checkNotNegative(loaded, optimizer.options.kind);
      $copyInto(into, loaded);
    }
  }
  const placed = $placed(params);
  return { params: placed, optimizer: { ...optimizer, m: optimizer.m && $ownMoments($placed(optimizer.m, placed)), v: optimizer.v && $ownMoments($placed(optimizer.v, placed)) } };
}`;
