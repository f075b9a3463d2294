/**
 * Reading a data file into a model's rows: the entry points.
 *
 * `readRows(path, layout)` reads inputs and targets (for train and evaluate);
 * `readInputRows(path, layout)` reads inputs only, so a file without target columns is
 * fine (for predict). The format comes from the extension (.csv, .tsv, .json, .jsonl or
 * .ndjson) unless `format` says it; `parseRows` / `parseInputRows` read text already in
 * memory. Which columns feed which field is described in columns.ts; what each format
 * accepts in csv.ts and json.ts.
 *
 * Guarantees: the rows follow the layout exactly (see layout.ts), so a generated
 * module's `fitRows`, `stepBatch` and `gradientBatch` take them as they are; every value
 * in them is a finite number read from the file; any problem with the file is a
 * GradcError naming the file and, for a bad row, its line, column and text, and no
 * rows are returned. Reading stops at the first bad row.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Readable } from 'node:stream';
import { GradcError } from '../errors.js';
import type { ColumnMap } from './columns.js';
import { csvRows, readError } from './csv.js';
import { jsonLinesRows, jsonRows } from './json.js';
import type { InputRows, RowLayout, Rows } from './layout.js';

export type DataFormat = 'csv' | 'tsv' | 'json' | 'jsonl';

export interface ReadOptions {
  /** Field name -> column (or JSON key) name, for columns not named after their field. */
  readonly columns?: ColumnMap | undefined;
  /** The format, when the file's extension does not say it. */
  readonly format?: DataFormat | undefined;
  /** The file's name in messages (default: the path given). */
  readonly file?: string | undefined;
}

/** Inputs and targets of every sample in the file at `path`. */
export async function readRows(path: string, layout: RowLayout, options: ReadOptions = {}): Promise<Rows> {
  const r = await read({ path }, layout, true, options);
  return { X: r.X, Y: r.Y!, count: r.count };
}

/** Inputs of every sample in the file at `path` (target columns, if any, are ignored). */
export async function readInputRows(path: string, layout: RowLayout, options: ReadOptions = {}): Promise<InputRows> {
  const r = await read({ path }, layout, false, options);
  return { X: r.X, count: r.count };
}

/** `readRows` on text in memory; `options.format` is required unless `options.file` has an extension. */
export async function parseRows(text: string, layout: RowLayout, options: ReadOptions = {}): Promise<Rows> {
  const r = await read({ text }, layout, true, options);
  return { X: r.X, Y: r.Y!, count: r.count };
}

/** `readInputRows` on text in memory. */
export async function parseInputRows(text: string, layout: RowLayout, options: ReadOptions = {}): Promise<InputRows> {
  const r = await read({ text }, layout, false, options);
  return { X: r.X, count: r.count };
}

/** The format a file name implies, if any. */
export function formatOf(path: string): DataFormat | undefined {
  const ext = extname(path).toLowerCase();
  return ext === '.csv' ? 'csv' : ext === '.tsv' ? 'tsv' : ext === '.json' ? 'json' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : undefined;
}

async function read(source: { path: string } | { text: string }, layout: RowLayout, withTargets: boolean, options: ReadOptions): Promise<{ X: Float64Array; Y: Float64Array | undefined; count: number }> {
  const path = 'path' in source ? source.path : undefined;
  const file = options.file ?? path ?? '<data>';
  const format = options.format ?? formatOf(file) ?? (path !== undefined ? formatOf(path) : undefined);
  if (format === undefined) throw new GradcError(`cannot tell the data format from the file name: use a .csv, .tsv, .json or .jsonl file (or give the format)`, { file });
  const stream = (): Readable => (path !== undefined ? createReadStream(path) : Readable.from([(source as { text: string }).text]));
  try {
    if (format === 'json') {
      const text = path !== undefined ? await readFile(path, 'utf8') : (source as { text: string }).text;
      return jsonRows(text, file, layout, withTargets, options.columns);
    }
    if (format === 'jsonl') return await jsonLinesRows(stream(), file, layout, withTargets, options.columns);
    return await csvRows(stream(), file, layout, withTargets, { columns: options.columns, delimiter: format === 'tsv' ? '\t' : ',' });
  } catch (e) {
    throw readError(e, file);
  }
}
