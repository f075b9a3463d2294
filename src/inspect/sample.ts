/**
 * One sample for the inspection tools: the value of every leaf of a model, and how
 * values are shown to people.
 *
 * `parseAt("x=1,y=2,w=[0.5,1]")` reads the `--at` syntax (numbers, and vectors or
 * matrices in brackets: `W=[[1,2],[3,4]]` or row-major `W=[1,2,3,4]`).
 * `resolveSample(model, given)` returns a value for every input, target and parameter.
 * Guarantees: every input and target must be given; a parameter that is not given takes
 * its initial value, exactly as `initParams()` of the generated module computes it
 * (random initializers draw from the model's seed with the same generator, in the same
 * order); an unknown name, a missing value, a value that is not a number or a value of
 * the wrong shape is a GradcError naming the symbol and the expected shape.
 * `showValue` prints a scalar as a short number and a tensor up to a readable size,
 * saying what it left out.
 */
import { GradcError } from '../errors.js';
import { type Shape, showShape, sizeOf } from '../ir/shape.js';
import type { Init, Model } from '../model.js';
import { mulberry32 } from '../rng.js';

export type LeafKind = 'input' | 'target' | 'parameter';

export interface SampleValue {
  readonly name: string;
  readonly kind: LeafKind;
  readonly shape: Shape;
  readonly value: Float64Array;
  /** Given by the caller, or the parameter's initial value. */
  readonly from: 'given' | 'initial';
}

/** Values as the caller gives them: numbers, nested arrays, or `--at` text. */
export type Given = string | Readonly<Record<string, number | readonly number[] | readonly (readonly number[])[] | Float64Array>>;

interface Parsed { readonly values: number[]; readonly dims: number[] | null }

/** Splits on `sep` outside brackets. */
function splitTop(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === sep && depth === 0) { parts.push(text.slice(start, i)); start = i + 1; }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseNumber(t: string, name: string): number {
  const v = Number(t);
  if (t === '' || !Number.isFinite(v) && !/^[+-]?Infinity$/.test(t)) {
    throw new GradcError(`--at: the value of '${name}' is not a number: '${t}'`, { symbol: name });
  }
  return v;
}

/** A number, `[a, b, ...]` or `[[a, b], [c, d]]`, with the nested dimensions when bracketed. */
function parseValue(text: string, name: string): Parsed {
  const t = text.trim();
  if (!t.startsWith('[')) return { values: [parseNumber(t, name)], dims: null };
  if (!t.endsWith(']')) throw new GradcError(`--at: unbalanced brackets in the value of '${name}': '${t}'`, { symbol: name });
  const items = splitTop(t.slice(1, -1), ',');
  if (items.length > 0 && items.every((i) => i.startsWith('['))) {
    const rows = items.map((i) => parseValue(i, name));
    const width = rows[0].values.length;
    if (rows.some((r) => r.dims?.length !== 1 || r.values.length !== width)) {
      throw new GradcError(`--at: the rows of '${name}' are not all vectors of one length: '${t}'`, { symbol: name });
    }
    return { values: rows.flatMap((r) => r.values), dims: [rows.length, width] };
  }
  return { values: items.map((i) => parseNumber(i, name)), dims: [items.length] };
}

/** `--at` text (`x=1,y=2,W=[[1,2],[3,4]]`; several `--at` texts may be joined by commas). */
export function parseAt(text: string): Map<string, Parsed> {
  const out = new Map<string, Parsed>();
  for (const part of splitTop(text, ',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new GradcError(`--at: expected name=value, got '${part}' (example: --at x=1,y=2,w=0.5)`);
    const name = part.slice(0, eq).trim();
    if (out.has(name)) throw new GradcError(`--at: '${name}' is given twice`, { symbol: name });
    out.set(name, parseValue(part.slice(eq + 1), name));
  }
  return out;
}

function fromGiven(given: Given): Map<string, Parsed> {
  if (typeof given === 'string') return parseAt(given);
  const out = new Map<string, Parsed>();
  for (const [name, v] of Object.entries(given)) {
    if (typeof v === 'number') out.set(name, { values: [v], dims: null });
    else if (v instanceof Float64Array) out.set(name, { values: Array.from(v), dims: null });
    else if (v.length > 0 && Array.isArray(v[0])) {
      const rows = v as readonly (readonly number[])[];
      out.set(name, { values: rows.flat(), dims: [rows.length, rows[0].length] });
    } else out.set(name, { values: (v as readonly number[]).slice(), dims: null });
  }
  return out;
}

/** The initial value of every parameter, equal to the generated module's `initParams(model.seed)`. */
export function initialValues(model: Model, seed = model.seed): Map<string, Float64Array> {
  const rand = mulberry32(seed);
  const uniform = (low: number, high: number) => low + (high - low) * rand();
  const normal = () => {
    const u = 1 - rand(), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const out = new Map<string, Float64Array>();
  for (const p of model.params) {
    const s = p.shape;
    const fanIn = s.length === 2 ? s[1] : s.length === 1 ? s[0] : 1;
    const fanOut = s.length === 2 ? s[0] : 1;
    const draw = drawer(p.init, fanIn, fanOut, uniform, normal);
    const values = new Float64Array(sizeOf(s));
    for (let k = 0; k < values.length; k++) values[k] = p.init.kind === 'values' ? p.init.values[k] : draw();
    out.set(p.name, values);
  }
  return out;
}

function drawer(init: Init, fanIn: number, fanOut: number, uniform: (l: number, h: number) => number, normal: () => number): () => number {
  switch (init.kind) {
    case 'constant': return () => init.value;
    case 'values': return () => NaN; // read directly
    case 'uniform': return () => uniform(init.low, init.high);
    case 'normal': return () => init.std * normal();
    case 'glorot': { const r = Math.sqrt(6 / (fanIn + fanOut)); return () => uniform(-r, r); }
    case 'he': return () => Math.sqrt(2 / fanIn) * normal();
  }
}

/** How a parameter starts, in words: `1`, `uniform(-1, 1), seed 7`. */
export function describeInit(init: Init, seed: number): string {
  switch (init.kind) {
    case 'constant': return `${init.value}`;
    case 'values': return init.values.length === 1 ? `${init.values[0]}` : 'given values';
    case 'uniform': return `uniform(${init.low}, ${init.high}), seed ${seed}`;
    case 'normal': return `normal(0, ${init.std}), seed ${seed}`;
    case 'glorot': return `Glorot uniform, seed ${seed}`;
    case 'he': return `He normal, seed ${seed}`;
  }
}

const expected = (s: Shape) => (s.length === 0 ? 'a scalar (one number)' : `shape ${showShape(s)} (${sizeOf(s)} values)`);

/** A value for every leaf of `model`: inputs and targets from `given`, parameters from `given` or their initializers. */
export function resolveSample(model: Model, given: Given): SampleValue[] {
  const parsed = fromGiven(given);
  const leaves: { name: string; kind: LeafKind; shape: Shape }[] = [
    ...model.inputs.map((l) => ({ name: l.name, kind: 'input' as const, shape: l.shape })),
    ...model.targets.map((l) => ({ name: l.name, kind: 'target' as const, shape: l.shape })),
    ...model.params.map((l) => ({ name: l.name, kind: 'parameter' as const, shape: l.shape })),
  ];
  const known = new Map(leaves.map((l) => [l.name, l]));
  for (const name of parsed.keys()) {
    if (known.has(name)) continue;
    const def = model.defs.find((d) => d.name === name);
    const list = (k: LeafKind) => leaves.filter((l) => l.kind === k).map((l) => l.name).join(', ') || 'none';
    const why = def ? `'${name}' is computed by the model, not given (give inputs, targets and parameters)` : `unknown name '${name}'`;
    throw new GradcError(`--at: ${why}; inputs: ${list('input')}; targets: ${list('target')}; parameters: ${list('parameter')}`, { symbol: name });
  }
  const init = initialValues(model);
  return leaves.map((l) => {
    const p = parsed.get(l.name);
    if (!p) {
      if (l.kind !== 'parameter') throw new GradcError(`--at: no value for ${l.kind} '${l.name}' (expected ${expected(l.shape)})`, { symbol: l.name });
      return { ...l, value: init.get(l.name)!, from: 'initial' as const };
    }
    const size = sizeOf(l.shape);
    const dimsOk = p.dims === null || p.dims.length === l.shape.length || (l.shape.length === 2 && p.dims.length === 1);
    if (p.values.length !== size || !dimsOk || (p.dims?.length === 2 && (p.dims[0] !== l.shape[0] || p.dims[1] !== l.shape[1]))) {
      const got = p.dims ? `shape [${p.dims.join('x')}]` : p.values.length === 1 ? 'one number' : `${p.values.length} values`;
      throw new GradcError(`--at: ${l.kind} '${l.name}' expects ${expected(l.shape)}, got ${got}`, { symbol: l.name });
    }
    const attrs = model.inputs.find((i) => i.name === l.name)?.node.attrs;
    const limit = attrs?.limit, low = attrs?.low ?? 0;
    const bad = limit === undefined ? -1 : p.values.findIndex((v) => !(Number.isInteger(v) && v >= low && v < limit));
    if (bad >= 0) throw new GradcError(`--at: input '${l.name}'${l.shape.length ? ` position ${bad}` : ''} must be an integer ${low === 0 ? 'id' : 'length'} in ${low}..${limit! - 1}, got ${p.values[bad]}`, { symbol: l.name });
    return { ...l, value: Float64Array.from(p.values), from: 'given' as const };
  });
}

/** The sample as the interpreter's environment. */
export function sampleEnv(sample: readonly SampleValue[]): Record<string, Float64Array> {
  return Object.fromEntries(sample.map((s) => [s.name, s.value]));
}

/** A number for people: integers as they are, others to 6 significant digits. */
export function showNumber(v: number): string {
  if (Object.is(v, -0)) return '0';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

/**
 * A value for people. Scalars as numbers; vectors up to `max` elements; matrices up to
 * max/2 rows of max-2 columns (3 rows of 4 by default); anything larger shows its first
 * elements and says how much it left out.
 */
export function showValue(value: ArrayLike<number>, shape: Shape, max = 6): string {
  if (shape.length === 0) return showNumber(value[0]);
  const row = (start: number, n: number, limit: number) => {
    const shown = Array.from({ length: Math.min(n, limit) }, (_, k) => showNumber(value[start + k]));
    return `[${shown.join(', ')}${n > limit ? ', …' : ''}]`;
  };
  if (shape.length === 1) return `${row(0, shape[0], max)}${shape[0] > max ? ` (${shape[0] - max} of ${shape[0]} not shown)` : ''}`;
  const [r, c] = shape;
  const maxRows = Math.max(1, Math.floor(max / 2)), maxCols = Math.max(2, max - 2);
  const rows = Array.from({ length: Math.min(r, maxRows) }, (_, i) => row(i * c, c, maxCols));
  const elided = r > maxRows || c > maxCols;
  return `[${rows.join(', ')}${r > maxRows ? ', …' : ''}]${elided ? ` (${showShape(shape)}, showing ${Math.min(r, maxRows)}x${Math.min(c, maxCols)})` : ''}`;
}
