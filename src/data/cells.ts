/**
 * Numbers out of data cells.
 *
 * Guarantees: `parseNumber` accepts exactly decimal numbers (`12`, `-0.5`, `.5`, `1e-3`,
 * `+3.`), with surrounding spaces allowed, and returns NaN for anything else: empty and
 * blank cells, `NaN`, `Infinity`, numbers too large for a float64 (`1e999`), hex/octal/
 * binary literals (`0x1f`, which JavaScript's Number would take), decimal commas.
 * `numberProblem` says in words why a cell was refused. `valuesInto` writes a field's
 * values (a number, or an array, flat or nested to the field's shape) into a row and
 * says what is wrong when they do not fit. No function here knows where the cell was:
 * callers add the file, line and column.
 */
import { shapeText, type Field } from './layout.js';

const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** The number a cell holds, or NaN when it is not a finite decimal number. */
export function parseNumber(text: string): number {
  if (text.length === 0) return NaN;
  const n = Number(text);
  if (!Number.isFinite(n)) return NaN;
  const c0 = text.charCodeAt(0);
  // Number() also reads blank text (as 0) and 0x/0o/0b literals: those take the slow path.
  if (c0 <= 32 || text.charCodeAt(text.length - 1) <= 32 || (c0 === 48 && text.length > 2) || c0 === 43 || c0 === 45) {
    return DECIMAL.test(text) ? n : NaN;
  }
  return n;
}

/** Why `parseNumber` refused `text` (for the error message). */
export function numberProblem(text: string): string {
  const t = text.trim();
  if (t === '') return text === '' ? 'is empty' : 'is blank';
  if (text.includes('\uFFFD') || text.includes('\u0000')) return `${quote(text)} holds bytes that are not UTF-8 text (save the file as UTF-8)`;
  if (/^[+-]?nan$/i.test(t)) return `${quote(text)} is NaN, not a number`;
  if (/^[+-]?inf(inity)?$/i.test(t)) return `${quote(text)} is not a finite number`;
  if (DECIMAL.test(t)) return `${quote(text)} is out of the range of a float64`;
  if (/^[+-]?\d+,\d+$/.test(t)) return `${quote(text)} is not a number (use a point for decimals)`;
  return `${quote(text)} is not a number`;
}

/** A cell's text as messages show it: quoted, cut after 40 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/**
 * Writes the values of `field` from `value` (a JSON value: a number for a scalar field;
 * an array of field.size numbers, or nested arrays of the field's shape, for a vector
 * or matrix; a number or a one-element array for size 1) into `into` at `at`.
 * Returns undefined when done, or the problem.
 */
/**
 * Why `v` cannot be a value of integer field `field` (token ids 0..ids-1, a length 1..T),
 * or undefined (also for a field that is not an integer one): checked as the data is read,
 * so the message can name the file, line and column.
 */
export function integerProblem(field: Field, v: number): string | undefined {
  if (field.ids === undefined) return undefined;
  const low = field.low ?? 0, high = field.ids - 1;
  if (Number.isInteger(v) && v >= low && v <= high) return undefined;
  return `must be an integer ${field.low === undefined ? 'id' : 'length'} in ${low}..${high}, got ${Object.is(v, -0) ? '-0' : v}`;
}

export function valuesInto(value: unknown, field: Field, into: Float64Array, at: number): string | undefined {
  if (typeof value === 'number') {
    if (field.size !== 1) return `is a number, but ${field.name} has shape ${shapeText(field.shape)}: give an array of ${field.size} numbers`;
    into[at] = value; // JSON numbers are finite (JSON.parse turns 1e999 into Infinity: caught below)
    return Number.isFinite(value) ? integerProblem(field, value) : `${value} is not a finite number`;
  }
  if (!Array.isArray(value)) return `is ${describe(value)}, not ${field.size === 1 ? 'a number' : `an array of ${field.size} numbers`}`;
  const nested = field.shape.length > 1 && Array.isArray(value[0]);
  const flat = nested ? flatten(value, field.shape) : value;
  if (flat === undefined) return `is not an array of shape ${shapeText(field.shape)} (nested arrays) or of ${field.size} numbers`;
  if (flat.length !== field.size) return `has ${flat.length} value${flat.length === 1 ? '' : 's'}, ${field.name} needs ${field.size} (shape ${shapeText(field.shape)})`;
  for (let k = 0; k < flat.length; k++) {
    const v = flat[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) return `has ${describe(v)} as element ${k + 1}, not a finite number`;
    const bad = integerProblem(field, v);
    if (bad !== undefined) return `element ${k + 1} ${bad}`;
    into[at + k] = v;
  }
  return undefined;
}

/** The elements of nested arrays of exactly `shape`, row-major, or undefined when the nesting differs. */
function flatten(value: unknown[], shape: readonly number[]): unknown[] | undefined {
  let level: unknown[] = [value];
  for (const extent of shape) {
    const next: unknown[] = [];
    for (const x of level) {
      if (!Array.isArray(x) || x.length !== extent) return undefined;
      for (const e of x) next.push(e);
    }
    level = next;
  }
  return level;
}

/** A JSON value in a few words: `null`, `a string "abc"`, `an object`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `a string ${quote(v)}`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return String(v);
  return typeof v;
}
