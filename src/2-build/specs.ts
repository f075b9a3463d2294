/**
 * Phase 2, build: the user's names, shapes and initializers, checked.
 *
 * A model file is not type-checked when it is loaded, so every value here may be
 * anything. Guarantees:
 * - `checkName`: a name is an identifier ([A-Za-z_][A-Za-z0-9_]*) and not a property
 *   every JavaScript object already has (`__proto__`, `constructor`, `toString`, ...):
 *   in the generated module names are keys of plain objects (`params.w`, `{ w: ... }`),
 *   where `__proto__` would set the prototype and a missing `constructor` would be found
 *   on it. JavaScript reserved words (`class`, `delete`) are fine: they are only ever
 *   property names there, and names.ts renames locals. Nor is it a word formulas read
 *   as a constant or an operator (`NaN`, `true`, `not`, ...: `FORMULA_WORDS`).
 * - `toShape`: a scalar, vector or matrix of positive integer sizes, with at most
 *   `maxElements` elements (default DEFAULT_MAX_ELEMENTS, overridable).
 * - `toInit`: an `Init` whose kind is known and whose numbers are all finite (`low <=
 *   high`, `std >= 0`, the number of values matching the shape, given flat or as rows);
 *   a fresh object, so later changes to the user's object change nothing. These numbers
 *   reach generated code (only through module.ts's number formatter).
 * Every failure is a GradcError naming the parameter and what was wrong.
 */
import { GradcError, type SourceLocation } from '../errors.js';
import type { Init } from '../model.js';
import { DEFAULT_MAX_ELEMENTS } from '../options.js';
import { type Shape, shape as mkShape, showShape, sizeOf } from '../ir/shape.js';

export type ShapeSpec = number | readonly number[] | 'scalar';
export type InitSpec = number | readonly number[] | readonly (readonly number[])[] | Init | 'glorot' | 'he' | 'zeros';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Properties of every plain object (Object.prototype), which cannot name a value. */
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Words the formula parser (mathjs) reads as something other than a name: constants
 * (`NaN`, `Infinity`, `true`, `false`, `null`, `undefined`) and the operator `not`. A value
 * declared with one of them could never be read by a formula.
 */
const FORMULA_WORDS: ReadonlySet<string> = new Set(['NaN', 'Infinity', 'true', 'false', 'null', 'undefined', 'not']);

/** A user value, short, for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function checkName(name: unknown, where: SourceLocation): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new GradcError(`${typeof name === 'string' ? `'${name.length > 40 ? `${name.slice(0, 40)}...` : name}'` : describe(name)} is not a valid name (a letter or '_', then letters, digits or '_')`, { ...where, symbol: typeof name === 'string' ? name : undefined });
  }
  if (FORMULA_WORDS.has(name)) {
    throw new GradcError(`'${name}' cannot be used as a name: formulas read '${name}' as ${name === 'not' ? 'an operator' : 'a constant'}, so no formula could use it (rename it, e.g. '${name}_')`, { ...where, symbol: name });
  }
  if (INHERITED.has(name)) {
    throw new GradcError(`'${name}' cannot be used as a name: every JavaScript object already has a property '${name}', so the generated module could not tell it from a missing value (rename it, e.g. '${name.replace(/^_+|_+$/g, '')}_')`, { ...where, symbol: name });
  }
}

export function toShape(s: unknown, name: string, where: SourceLocation, maxElements = DEFAULT_MAX_ELEMENTS): Shape {
  const at = { ...where, symbol: name };
  let shape: Shape;
  if (s === undefined || s === 'scalar') return mkShape();
  try {
    if (typeof s === 'number') shape = mkShape(s);
    else if (Array.isArray(s) && s.every((d) => typeof d === 'number')) shape = mkShape(...s);
    else throw new GradcError(`'${name}' has a bad shape ${describe(s)} (expected a size, [rows, columns] or 'scalar')`, at);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new GradcError(`'${name}' has a bad shape: ${e.message} (sizes are positive integers)`, at);
  }
  const n = sizeOf(shape);
  if (n > maxElements) {
    throw new GradcError(
      `'${name}' has ${n} elements (shape ${showShape(shape)}), more than the limit of ${maxElements} elements per tensor; ` +
        `if that is intended, raise the limit with the option { maxElements: ${Number.isSafeInteger(n) ? n : 'N'} } (compile/generate options, or defineModel)`,
      at,
    );
  }
  return shape;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Known initializer kinds and the numeric fields each one needs. */
const KINDS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['constant', ['value']],
  ['values', []],
  ['uniform', ['low', 'high']],
  ['normal', ['std']],
  ['glorot', []],
  ['he', []],
]);

/** Flat initial values for shape `s`: given flat, or (for a matrix) as rows. */
function toValues(v: readonly unknown[], s: Shape, name: string, at: SourceLocation): number[] {
  const n = sizeOf(s);
  const bad = (why: string): never => {
    throw new GradcError(`parameter '${name}' has bad initial values: ${why} (shape ${showShape(s)}: ${n} finite numbers${s.length === 2 ? `, flat or as ${s[0]} rows of ${s[1]}` : ''})`, at);
  };
  let flat: readonly unknown[] = v;
  if (v.some((x) => Array.isArray(x))) {
    if (s.length !== 2) bad(`nested arrays for a ${s.length === 0 ? 'scalar' : 'vector'}`);
    if (v.length !== s[0] || !v.every((row) => Array.isArray(row) && row.length === s[1])) {
      bad(`rows of lengths [${v.map((r) => (Array.isArray(r) ? r.length : describe(r))).join(', ')}]`);
    }
    flat = (v as unknown[][]).flat();
  }
  if (flat.length !== n) bad(`${flat.length} value${flat.length === 1 ? '' : 's'}`);
  const i = flat.findIndex((x) => !finite(x));
  if (i >= 0) bad(`value ${i} is ${describe(flat[i])}`);
  return flat.slice() as number[];
}

export function toInit(i: unknown, s: Shape, name: string, where: SourceLocation): Init {
  const at = { ...where, symbol: name };
  const kinds = `a finite number, an array of values, 'zeros', 'glorot', 'he', or { kind: ${[...KINDS.keys()].map((k) => `'${k}'`).join(' | ')}, ... }`;
  if (i === undefined) return s.length === 2 ? { kind: 'glorot' } : { kind: 'constant', value: 0 };
  if (typeof i === 'number') {
    if (!finite(i)) throw new GradcError(`parameter '${name}' has initial value ${describe(i)}; it must be a finite number`, at);
    return { kind: 'constant', value: i };
  }
  if (i === 'zeros') return { kind: 'constant', value: 0 };
  if (i === 'glorot' || i === 'he') return { kind: i };
  if (Array.isArray(i)) return { kind: 'values', values: toValues(i, s, name, at) };
  if (typeof i !== 'object' || i === null) throw new GradcError(`parameter '${name}' has initializer ${describe(i)}; expected ${kinds}`, at);
  const spec = i as Record<string, unknown>;
  const kind = Object.hasOwn(spec, 'kind') ? spec.kind : undefined;
  const fields = typeof kind === 'string' ? KINDS.get(kind) : undefined;
  if (!fields) throw new GradcError(`parameter '${name}' has an initializer of unknown kind ${describe(kind)}; expected ${kinds}`, at);
  const num = (f: string): number => {
    const v = Object.hasOwn(spec, f) ? spec[f] : undefined;
    if (!finite(v)) throw new GradcError(`parameter '${name}': initializer '${kind}' needs '${f}' as a finite number, got ${describe(v)}`, at);
    return v;
  };
  switch (kind) {
    case 'constant': return { kind, value: num('value') };
    case 'values': {
      const v = Object.hasOwn(spec, 'values') ? spec.values : undefined;
      if (!Array.isArray(v)) throw new GradcError(`parameter '${name}': initializer 'values' needs 'values' as an array, got ${describe(v)}`, at);
      return { kind, values: toValues(v, s, name, at) };
    }
    case 'uniform': {
      const low = num('low'), high = num('high');
      if (!(low <= high)) throw new GradcError(`parameter '${name}': initializer 'uniform' needs low <= high, got low ${low}, high ${high}`, at);
      return { kind, low, high };
    }
    case 'normal': {
      const std = num('std');
      if (std < 0) throw new GradcError(`parameter '${name}': initializer 'normal' needs std >= 0, got ${std}`, at);
      return { kind, std };
    }
    default: return { kind: kind as 'glorot' | 'he' };
  }
}
