/**
 * CSV (and TSV) files with a header row, read as a stream into packed rows.
 *
 * Guarantees: the file is parsed by csv-parse (RFC 4180: quoted cells may hold commas,
 * quotes written twice and line breaks; CRLF and LF line endings; a UTF-8 byte-order mark
 * is skipped; blank lines, empty or of spaces and tabs only, are skipped). Each record is turned into numbers as soon as it
 * is parsed and written straight into the rows (see RowBuffer); neither the file's text
 * nor its cells are kept, so memory holds the numbers plus one chunk of the file.
 *
 * The first bad row stops the reading with a GradcError giving the file, the line the
 * row starts on, the column number and header name, and the offending text: a cell that
 * is not a finite decimal number (including NaN, Infinity, an empty cell), a row with
 * more or fewer cells than the header, a malformed quote. An empty file, a file with a
 * header and no rows, a duplicate header name and a missing column (see columns.ts) are
 * errors too. Nothing is returned unless every row was read.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { GradcError } from '../errors.js';
import { integerProblem, numberProblem, parseNumber, quote, valuesInto } from './cells.js';
import { planColumns, type ColumnMap, type ColumnPlan } from './columns.js';
import type { RowLayout } from './layout.js';
import { RowBuffer } from './rowBuffer.js';

export interface CsvOptions {
  readonly columns?: ColumnMap | undefined;
  /** Cell separator: ',' (default) or '\t'. */
  readonly delimiter?: string;
}

/** Reads `input` (the file's bytes or text) into rows; `file` names it in messages. */
export async function csvRows(input: Readable, file: string, layout: RowLayout, withTargets: boolean, options: CsvOptions = {}): Promise<{ X: Float64Array; Y: Float64Array | undefined; count: number }> {
  let plan: ColumnPlan | undefined;
  let headerLine = 1;
  const xs = new RowBuffer(layout.inputSize);
  const ys = withTargets ? new RowBuffer(layout.targetSize) : undefined;

  const onRecord = (record: string[], info: { lines: number }): null => {
    if (record.length === 1 && record[0].trim() === '') return null; // a blank line (spaces or tabs only), skipped like an empty one
    if (plan === undefined) {
      plan = planColumns(record, layout, options.columns, withTargets, file, info.lines);
      headerLine = info.lines;
      return null;
    }
    const p = plan;
    const fail = (problem: string, j?: number): never => {
      let newlines = 0; // the record ends on info.lines; quoted cells may have spanned lines
      for (const cell of record) for (let k = cell.indexOf('\n'); k >= 0; k = cell.indexOf('\n', k + 1)) newlines++;
      throw new GradcError(problem, { file, line: info.lines - newlines, ...(j !== undefined ? { column: j + 1, symbol: p.header[j] } : {}) });
    };
    if (record.length !== p.width) {
      const trailing = record.length === p.width + 1 && record[p.width].trim() === '' ? ' (the last one is empty: a trailing comma?)' : '';
      fail(`the row has ${record.length} cell${record.length === 1 ? '' : 's'}, the header has ${p.width}${trailing}`);
    }
    const x = xs.next();
    const y = ys?.next();
    for (let j = 0; j < p.width; j++) {
      const to = p.into[j];
      if (to === 0) continue;
      const block = to === 1 ? x.block : y!.block;
      const at = (to === 1 ? x.at : y!.at) + p.offset[j];
      const cell = record[j];
      const field = p.arrayOf[j];
      if (field === undefined) {
        const n = parseNumber(cell);
        if (n !== n) fail(`column '${p.header[j]}' ${numberProblem(cell)}`, j);
        const int = p.integer[j];
        const bad = int && integerProblem(int, n);
        if (bad) fail(`column '${p.header[j]}' ${bad}`, j);
        block[at] = n;
      } else {
        const problem = arrayCellInto(cell, field, block, at);
        if (problem !== undefined) fail(`column '${p.header[j]}' ${problem}`, j);
      }
    }
    return null;
  };

  const parser = parse({
    bom: true,
    delimiter: options.delimiter ?? ',',
    relax_column_count: true, // ragged rows are reported by onRecord, with its own message
    skip_empty_lines: true,
    on_record: onRecord,
  });
  parser.resume(); // nothing is pushed downstream: records end in onRecord
  try {
    await pipeline(input, parser);
  } catch (e) {
    throw readError(e, file);
  }
  if (plan === undefined) throw new GradcError('the file is empty: expected a header row naming the columns, then one row per sample', { file });
  if (xs.count === 0) throw new GradcError(`the file has a header (${plan.header.join(', ')}) but no rows`, { file, line: headerLine });
  const count = xs.count;
  return { X: xs.finish(), Y: ys?.finish(), count };
}

/** A JSON array cell's values written at `at` (a plain number is fine for a field of size 1). */
function arrayCellInto(cell: string, field: Parameters<typeof valuesInto>[1], into: Float64Array, at: number): string | undefined {
  const text = cell.trim();
  if (!text.startsWith('[')) {
    if (field.size === 1) {
      const n = parseNumber(text);
      if (n === n) {
        into[at] = n;
        return integerProblem(field, n);
      }
      return numberProblem(cell);
    }
    return text === '' ? `is empty, not a JSON array of ${field.size} numbers` : `${quote(cell)} is not a JSON array of ${field.size} numbers`;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `${quote(cell)} is not a JSON array of numbers`;
  }
  const problem = valuesInto(value, field, into, at);
  return problem === undefined ? undefined : `${quote(cell)} ${problem}`;
}

/** A parse or file-system failure as a GradcError; GradcErrors pass through. */
export function readError(e: unknown, file: string): unknown {
  if (e instanceof GradcError) return e;
  if (e instanceof CsvError) {
    const line = (e as unknown as { lines?: number }).lines;
    const problem =
      e.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted cell is never closed (a " opens it and the file ends)'
      : e.code === 'CSV_INVALID_CLOSING_QUOTE' ? 'text follows a closing quote in a cell (write a quote inside a quoted cell as "")'
      : e.code === 'INVALID_OPENING_QUOTE' ? 'a quote in the middle of an unquoted cell (quote the whole cell and write the quote as "")'
      : `bad CSV: ${e.message}`;
    return new GradcError(problem, { file, ...(line ? { line } : {}) });
  }
  const code = (e as { code?: string } | null)?.code;
  if (code === 'ENOENT') return new GradcError('no such file', { file });
  if (code === 'EISDIR') return new GradcError('is a directory, not a data file', { file });
  if (code === 'EACCES' || code === 'EPERM') return new GradcError('cannot read the file (permission denied)', { file });
  return e;
}
