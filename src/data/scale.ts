/**
 * Scaling inputs (and regression targets) to a common range, and back.
 *
 * `standard`: x' = (x - mean) / std, with the population standard deviation (divided by
 * n, as scikit-learn's StandardScaler). `minmax`: x' = (x - min) / (max - min), into
 * [0, 1]. Statistics are per element of each field (each pixel of an image has its
 * own), computed by `computeScaling` on the rows it is given: pass the training split
 * only, never the validation or test rows.
 *
 * Guarantees: the statistics are a plain JSON-serialisable object (`Scaling`), listing
 * fields by name in layout order, that `checkScaling` validates when read back. A
 * constant element (std = 0, or max = min) is shifted but not divided: it becomes 0, and
 * a value that differs from the constant later is shifted by it, not blown up; an element
 * is constant exactly when all its values are equal (its mean is then that value, free
 * of rounding). `scaleRows` and `unscaleRows` work in place and are inverse to within
 * rounding; `unscaleValue` turns one model output in target units back to raw units, so
 * predictions come out in the units of the data file.
 */
import { GradcError } from '../errors.js';
import type { Field, RowLayout } from './layout.js';

export type ScaleMethod = 'standard' | 'minmax';

/** One field's statistics, one number per element (row-major). */
export type FieldScaling =
  | { readonly name: string; readonly mean: readonly number[]; readonly std: readonly number[] }
  | { readonly name: string; readonly min: readonly number[]; readonly max: readonly number[] };

export interface Scaling {
  readonly method: ScaleMethod;
  /** Every input, in layout order. */
  readonly inputs: readonly FieldScaling[];
  /** Every target when targets are scaled (regression), else none. */
  readonly targets: readonly FieldScaling[];
}

/** `standard`, `minmax` or `none` (undefined) from the command line's `--scale`. */
export function parseScaleMethod(text: string): ScaleMethod | undefined {
  if (text === 'standard' || text === 'minmax') return text;
  if (text === 'none') return undefined;
  throw new GradcError(`--scale: unknown scaling '${text}' (use standard, minmax or none)`);
}

/**
 * Statistics of `rows` (count rows of X, and of Y when `targets` is true) for `method`.
 * Give it the training rows only.
 */
export function computeScaling(
  method: ScaleMethod, layout: RowLayout,
  rows: { readonly X: Float64Array; readonly Y?: Float64Array | undefined; readonly count: number },
  options: { readonly targets?: boolean } = {},
): Scaling {
  if (rows.count < 1) throw new GradcError('cannot compute scaling statistics from no samples');
  const inputs = layout.inputs.map((f) => fieldStats(method, f, rows.X, layout.inputSize, rows.count));
  let targets: FieldScaling[] = [];
  if (options.targets) {
    if (!rows.Y) throw new Error('computeScaling: targets asked for but no Y rows given');
    targets = layout.targets.map((f) => fieldStats(method, f, rows.Y!, layout.targetSize, rows.count));
  }
  return { method, inputs, targets };
}

function fieldStats(method: ScaleMethod, f: Field, rows: Float64Array, width: number, count: number): FieldScaling {
  if (f.ids !== undefined) { // token ids are not quantities: the identity (shift 0, divisor 1)
    const zeros = new Array<number>(f.size).fill(0), ones = new Array<number>(f.size).fill(1);
    return method === 'standard' ? { name: f.name, mean: zeros, std: ones } : { name: f.name, min: zeros, max: ones };
  }
  const a: number[] = [], b: number[] = [];
  for (let k = 0; k < f.size; k++) {
    const at = f.offset + k;
    let lo = Infinity, hi = -Infinity, sum = 0;
    for (let i = 0; i < count; i++) {
      const v = rows[i * width + at];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
    }
    if (method === 'minmax') {
      a.push(lo);
      b.push(hi);
      continue;
    }
    if (lo === hi) {
      a.push(lo);
      b.push(0);
      continue;
    }
    const mean = sum / count;
    let ss = 0;
    for (let i = 0; i < count; i++) {
      const d = rows[i * width + at] - mean;
      ss += d * d;
    }
    a.push(mean);
    b.push(Math.sqrt(ss / count));
  }
  return method === 'standard' ? { name: f.name, mean: a, std: b } : { name: f.name, min: a, max: b };
}

/** Per element: subtract `shift`, divide by `divisor` (1 for a constant element). */
function affine(s: FieldScaling): { shift: readonly number[]; divisor: number[] } {
  if ('mean' in s) return { shift: s.mean, divisor: s.std.map((d) => (d > 0 ? d : 1)) };
  return { shift: s.min, divisor: s.max.map((hi, k) => (hi - s.min[k] > 0 ? hi - s.min[k] : 1)) };
}

/** Scales the X rows (`part` 'inputs') or Y rows ('targets') in place. */
export function scaleRows(scaling: Scaling, layout: RowLayout, part: 'inputs' | 'targets', rows: Float64Array, count: number): void {
  transform(scaling, layout, part, rows, count, false);
}

/** Undoes `scaleRows` in place: scaled rows back to raw units. */
export function unscaleRows(scaling: Scaling, layout: RowLayout, part: 'inputs' | 'targets', rows: Float64Array, count: number): void {
  transform(scaling, layout, part, rows, count, true);
}

function transform(scaling: Scaling, layout: RowLayout, part: 'inputs' | 'targets', rows: Float64Array, count: number, inverse: boolean): void {
  const fields = part === 'inputs' ? layout.inputs : layout.targets;
  const width = part === 'inputs' ? layout.inputSize : layout.targetSize;
  const stats = scaling[part];
  if (stats.length === 0) return; // targets not scaled
  fields.forEach((f, n) => {
    const { shift, divisor } = affine(stats[n]);
    for (let k = 0; k < f.size; k++) {
      const s = shift[k], d = divisor[k];
      for (let at = f.offset + k, i = 0; i < count; i++, at += width) rows[at] = inverse ? rows[at] * d + s : (rows[at] - s) / d;
    }
  });
}

/**
 * A value in scaled units of target `name` (a model output compared with that target)
 * back in raw units; returned as is when targets are not scaled. A new value: the
 * argument is not changed.
 */
export function unscaleValue<V extends number | Float64Array>(scaling: Scaling, name: string, value: V): V {
  const s = scaling.targets.find((t) => t.name === name);
  if (!s) return value;
  const { shift, divisor } = affine(s);
  if (typeof value === 'number') return (value * divisor[0] + shift[0]) as V;
  const out = new Float64Array(value.length);
  for (let k = 0; k < value.length; k++) out[k] = value[k] * divisor[k] + shift[k];
  return out as V;
}

/**
 * `doc` (read back from a file) as Scaling for this layout, or a GradcError saying what
 * does not fit: the method, a field missing or extra, a length, a value that is not a
 * finite number, a negative std, max below min. `where` names the file in messages.
 */
export function checkScaling(doc: unknown, layout: RowLayout, where = 'scaling'): Scaling {
  const fail = (problem: string): never => {
    throw new GradcError(`${where}: ${problem}`);
  };
  if (typeof doc !== 'object' || doc === null) return fail('is not an object');
  const d = doc as Record<string, unknown>;
  const method = d['method'];
  if (method !== 'standard' && method !== 'minmax') return fail(`unknown method ${JSON.stringify(method)} (standard or minmax)`);
  const part = (name: 'inputs' | 'targets', fields: readonly Field[], optional: boolean): FieldScaling[] => {
    const list = d[name];
    if (!Array.isArray(list)) return fail(`'${name}' is not a list`);
    if (optional && list.length === 0) return [];
    const names = list.map((s: unknown) => (typeof s === 'object' && s !== null ? (s as { name?: unknown }).name : undefined));
    if (list.length !== fields.length || fields.some((f, n) => names[n] !== f.name)) {
      return fail(`${name} are ${names.map(String).join(', ') || '(none)'}, the model's are ${fields.map((f) => f.name).join(', ')}`);
    }
    return fields.map((f, n) => {
      const s = list[n] as Record<string, unknown>;
      const [ka, kb] = method === 'standard' ? ['mean', 'std'] : ['min', 'max'];
      const a = s[ka], b = s[kb];
      for (const [k, v] of [[ka, a], [kb, b]] as const) {
        if (!Array.isArray(v) || v.length !== f.size) fail(`${f.name}.${k} must be a list of ${f.size} numbers`);
        if (!(v as unknown[]).every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`${f.name}.${k} holds a value that is not a finite number`);
      }
      const av = a as number[], bv = b as number[];
      if (method === 'standard' && bv.some((x) => x < 0)) fail(`${f.name}.std has a negative value`);
      if (method === 'minmax' && bv.some((x, k) => x < av[k])) fail(`${f.name}: max is below min`);
      return method === 'standard' ? { name: f.name, mean: av, std: bv } : { name: f.name, min: av, max: bv };
    });
  };
  return { method, inputs: part('inputs', layout.inputs, false), targets: part('targets', layout.targets, true) };
}
