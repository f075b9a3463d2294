/**
 * JSON and JSON Lines data files, read into packed rows.
 *
 * A JSON file is an array of samples; a JSON Lines file has one sample per line (blank
 * lines are skipped). A sample is an object either in the form `fit` takes,
 * `{ "inputs": { "x": [..] }, "targets": { "y": 1 } }`, or flat, `{ "x": [..], "y": 1 }`
 * (the flat form is used when the object has no `inputs` object, or when a field of the
 * model is itself named `inputs` or `targets`). Fields are found by name, or by the name
 * the `columns` option maps them to; a scalar is a number, a vector or matrix an array
 * (flat, or nested to the field's shape). Other keys are ignored. Numbered keys
 * (`x_1`..) and numbers written as strings are not read: JSON has arrays and numbers.
 *
 * Guarantees: the first bad sample stops the reading with a GradcError giving the file,
 * the line the sample starts on, the field and what is wrong (not an object, a missing
 * field with the keys it has, a value that is not a finite number or has the wrong
 * length); a JSON syntax error gives the line and column when the parser reports a
 * position. A JSON file is parsed whole (its text and the parsed values are in memory
 * together: use CSV or JSON Lines for large data); a JSON Lines file is read line by
 * line as a stream.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { didYouMean, GradcError } from '../errors.js';
import { describe, valuesInto } from './cells.js';
import { fieldsRead, list, sourceName, type ColumnMap } from './columns.js';
import type { RowLayout } from './layout.js';
import { RowBuffer } from './rowBuffer.js';

/** Writes one sample into the rows; returns the problem (with the field it is about) or undefined. */
function sampleInto(
  sample: unknown, layout: RowLayout, columns: ColumnMap | undefined, withTargets: boolean,
  x: Float64Array, xAt: number, y: Float64Array | undefined, yAt: number,
): { problem: string; symbol?: string } | undefined {
  if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) return { problem: `is ${describe(sample)}, not an object of inputs and targets` };
  const obj = sample as Record<string, unknown>;
  const named = (k: string): boolean => layout.inputs.some((f) => f.name === k) || layout.targets.some((f) => f.name === k);
  const nestedForm = Object.hasOwn(obj, 'inputs') && isObject(obj['inputs']) && !named('inputs') && !named('targets');
  for (const { field, into, kind } of fieldsRead(layout, withTargets)) {
    const part = nestedForm ? (kind === 'input' ? obj['inputs'] : obj['targets']) : obj;
    const key = sourceName(field, columns);
    if (!isObject(part)) return { problem: `has no 'targets' object (the sample has inputs and targets objects)`, symbol: field.name };
    if (!Object.hasOwn(part, key)) {
      const keys = Object.keys(part);
      const guess = didYouMean(key, keys);
      return {
        problem: `has no ${kind} '${key}'${nestedForm ? ` in its ${kind}s` : ''}; its keys are ${keys.length ? list(keys, 12) : '(none)'}${guess ? `. Did you mean '${guess}'? (--columns ${field.name}=${guess})` : ''}`,
        symbol: field.name,
      };
    }
    const problem = into === 1 ? valuesInto(part[key], field, x, xAt + field.offset) : valuesInto(part[key], field, y!, yAt + field.offset);
    if (problem !== undefined) return { problem: `${kind} '${key}' ${problem}`, symbol: field.name };
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the text of a JSON file (an array of samples) into rows. */
export function jsonRows(text: string, file: string, layout: RowLayout, withTargets: boolean, columns?: ColumnMap): { X: Float64Array; Y: Float64Array | undefined; count: number } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new GradcError('the file is empty: expected a JSON array of samples', { file });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    const where = at ? lineColumn(text, Number(at[1])) : {};
    throw new GradcError(`not valid JSON: ${message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '')}`, { file, ...where });
  }
  if (!Array.isArray(data)) throw new GradcError(`expected a JSON array of samples, got ${describe(data)}`, { file, line: lineColumn(text, text.search(/\S/)).line });
  if (data.length === 0) throw new GradcError('the file has no samples (an empty array)', { file });
  const count = data.length;
  const X = new Float64Array(count * layout.inputSize);
  const Y = withTargets ? new Float64Array(count * layout.targetSize) : undefined;
  for (let i = 0; i < count; i++) {
    const bad = sampleInto(data[i], layout, columns, withTargets, X, i * layout.inputSize, Y, i * layout.targetSize);
    if (bad) {
      throw new GradcError(`sample ${i + 1} ${bad.problem}`, { file, line: lineColumn(text, elementOffset(text, i)).line, ...(bad.symbol ? { symbol: bad.symbol } : {}) });
    }
  }
  return { X, Y, count };
}

/** Reads a JSON Lines stream (one sample per line) into rows. */
export async function jsonLinesRows(input: Readable, file: string, layout: RowLayout, withTargets: boolean, columns?: ColumnMap): Promise<{ X: Float64Array; Y: Float64Array | undefined; count: number }> {
  const xs = new RowBuffer(layout.inputSize);
  const ys = withTargets ? new RowBuffer(layout.targetSize) : undefined;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (let text of lines) {
      line++;
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') continue;
      let sample: unknown;
      try {
        sample = JSON.parse(text);
      } catch (e) {
        const at = /at position (\d+)/.exec((e as Error).message);
        throw new GradcError(`not valid JSON: ${(e as Error).message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '')}`, { file, line, ...(at ? { column: Number(at[1]) + 1 } : {}) });
      }
      const x = xs.next();
      const y = ys?.next();
      const bad = sampleInto(sample, layout, columns, withTargets, x.block, x.at, y?.block, y?.at ?? 0);
      if (bad) throw new GradcError(`sample ${bad.problem}`, { file, line, ...(bad.symbol ? { symbol: bad.symbol } : {}) });
    }
  } finally {
    lines.close();
  }
  if (xs.count === 0) throw new GradcError(line === 0 ? 'the file is empty: expected one JSON sample per line' : 'the file has no samples (only blank lines)', { file });
  const count = xs.count;
  return { X: xs.finish(), Y: ys?.finish(), count };
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1, start = 0;
  for (let k = text.indexOf('\n'); k >= 0 && k < offset; k = text.indexOf('\n', k + 1)) {
    line++;
    start = k + 1;
  }
  return { line, column: offset - start + 1 };
}

/** Where element `index` of the top-level JSON array in `text` starts (text known to be valid JSON). */
function elementOffset(text: string, index: number): number {
  let depth = 0, seen = -1, inString = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (inString) {
      if (c === '\\') k++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    if (depth === 1 && c !== ',' && c !== ']' && startsValue(text, k)) {
      seen++;
      if (seen === index) return k;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
  }
  return 0;
}

/** True when the value at `k` (depth 1) follows '[' or ',' (the start of an element, not its middle). */
function startsValue(text: string, k: number): boolean {
  let j = k - 1;
  while (j >= 0 && (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j--;
  return text[j] === '[' || text[j] === ',';
}
