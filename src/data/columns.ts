/**
 * Which column of a data file holds which value of which field.
 *
 * Conventions (the same for CSV, JSON and JSON Lines, except numbered columns, which are
 * CSV only):
 * - a field is read from the column (or JSON key) with its own name, or with the name
 *   the `columns` option gives it (`columns: field -> name`, on the command line
 *   `--columns field=name,field=name`); header names are compared after trimming spaces,
 *   case-sensitively;
 * - a scalar field's column holds a number;
 * - a vector or matrix field of n values comes either from one column with its name whose
 *   cells hold a JSON array (`"[1,2,3]"`, nested arrays for a matrix), or from n numbered
 *   columns `x_1 .. x_n`, or `x1 .. xn`, numbered from 1 in row-major order (a [2x3]
 *   matrix `m` is `m_1 .. m_6`, m_4 being row 2, column 1); a file numbered from 0, or with
 *   more numbered columns than the field has values, is refused, saying so;
 * - other columns are ignored (an id, a name, a note); a header may have unnamed columns,
 *   but no name twice;
 * - when only inputs are read (predict), target columns need not be there.
 *
 * Guarantees: `planColumns` either returns a plan in which every value of every field
 * read comes from exactly one column and no column feeds two values, or throws a
 * GradcError at the header's line naming the field, what was looked for and the header.
 */
import { didYouMean, GradcError } from '../errors.js';
import { shapeText, type Field, type RowLayout } from './layout.js';

/** Field name -> the name of its column (or the base name of its numbered columns). */
export type ColumnMap = ReadonlyMap<string, string>;

/** Where each column of a CSV file goes. */
export interface ColumnPlan {
  /** Cells per row (the header's length). */
  readonly width: number;
  /** The trimmed header names. */
  readonly header: readonly string[];
  /** Per column: 0 ignored, 1 into the X row, 2 into the Y row. */
  readonly into: Uint8Array;
  /** Per column: the offset in its row. */
  readonly offset: Int32Array;
  /** Per column: the field whose whole value it holds as a JSON array, if it does. */
  readonly arrayOf: readonly (Field | undefined)[];
  /** Per column: the field and element (1-based; 0 for a whole field) it feeds, for messages. */
  readonly feeds: readonly (string | undefined)[];
  /** Per column: the integer field (token ids, a length) it feeds, whose values are checked as read. */
  readonly integer: readonly (Field | undefined)[];
}

/**
 * Parses the `--columns` option: `field=name,field=name`. Every field must be an input or
 * a target of the model; a field may be named once.
 */
export function parseColumns(text: string, layout: RowLayout): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const field = part.slice(0, eq).trim();
    const name = part.slice(eq + 1).trim();
    if (eq < 0 || !field || !name) throw new GradcError(`--columns: expected field=column, got '${part.trim()}' (e.g. --columns iq=IQ,package=salary)`);
    if (map.has(field)) throw new GradcError(`--columns: '${field}' is mapped twice`, { symbol: field });
    map.set(field, name);
  }
  checkColumns(map, layout);
  return map;
}

/** Throws unless every key of `columns` is an input or target of the layout. */
export function checkColumns(columns: ColumnMap, layout: RowLayout): void {
  const names = [...layout.inputs, ...layout.targets].map((f) => f.name);
  for (const field of columns.keys()) {
    if (!names.includes(field)) {
      const guess = didYouMean(field, names);
      throw new GradcError(`columns: the model has no input or target '${field}'${guess ? ` (did you mean '${guess}'?)` : ''}; it has ${names.join(', ')}`, { symbol: field });
    }
  }
}

/** The column (or JSON key) a field is read from. */
export const sourceName = (field: Field, columns: ColumnMap | undefined): string => columns?.get(field.name) ?? field.name;

/** The fields read: all inputs, and the targets when `withTargets`, with where they go. */
export function fieldsRead(layout: RowLayout, withTargets: boolean): { field: Field; into: 1 | 2; kind: 'input' | 'target' }[] {
  return [
    ...layout.inputs.map((field) => ({ field, into: 1 as const, kind: 'input' as const })),
    ...(withTargets ? layout.targets.map((field) => ({ field, into: 2 as const, kind: 'target' as const })) : []),
  ];
}

/** The plan for a CSV file with this header row (cells as parsed, untrimmed). */
export function planColumns(headerCells: readonly string[], layout: RowLayout, columns: ColumnMap | undefined, withTargets: boolean, file: string, line = 1): ColumnPlan {
  const header = headerCells.map((h) => h.trim());
  const fail = (problem: string, column?: number, symbol?: string): never => {
    throw new GradcError(problem, { file, line, ...(column !== undefined ? { column: column + 1 } : {}), ...(symbol !== undefined ? { symbol } : {}) });
  };
  if (header.some((h) => h.includes('\u0000'))) fail('the header holds NUL characters: the file looks like UTF-16 or binary, not UTF-8 text (save it as UTF-8)');
  const index = new Map<string, number>();
  header.forEach((name, j) => {
    if (name === '') return;
    const first = index.get(name);
    if (first !== undefined) fail(`column name '${name}' appears twice in the header (columns ${first + 1} and ${j + 1})`, j, name);
    index.set(name, j);
  });
  if (columns) checkColumns(columns, layout);

  const width = header.length;
  const into = new Uint8Array(width);
  const offset = new Int32Array(width);
  const arrayOf: (Field | undefined)[] = new Array(width).fill(undefined);
  const feeds: (string | undefined)[] = new Array(width).fill(undefined);
  const integer: (Field | undefined)[] = new Array(width).fill(undefined);
  const take = (j: number, to: 1 | 2, at: number, what: string, array?: Field): void => {
    if (feeds[j] !== undefined) fail(`column '${header[j]}' would be read for both ${feeds[j]} and ${what}; map one of them to another column with --columns`, j, header[j]);
    into[j] = to;
    offset[j] = at;
    arrayOf[j] = array;
    feeds[j] = what;
  };

  for (const { field, into: to, kind } of fieldsRead(layout, withTargets)) {
    const base = sourceName(field, columns);
    const whole = index.get(base);
    if (whole !== undefined) {
      take(whole, to, field.offset, `${kind} '${field.name}'`, field.shape.length ? field : undefined);
      if (field.ids !== undefined) integer[whole] = field;
      continue;
    }
    if (field.shape.length) {
      const sep = index.has(`${base}_1`) ? '_' : index.has(`${base}1`) ? '' : index.has(`${base}_0`) ? '_' : index.has(`${base}0`) ? '' : undefined;
      if (sep !== undefined) {
        const zero = index.get(`${base}${sep}0`);
        if (zero !== undefined) fail(`numbered columns are counted from 1 (${base}${sep}1 .. ${base}${sep}${field.size}), but the file has '${base}${sep}0'`, zero, header[zero]);
        const extra = index.get(`${base}${sep}${field.size + 1}`);
        if (extra !== undefined) fail(`the file has column '${header[extra]}', but ${kind} '${field.name}' has only ${field.size} values (shape ${shapeText(field.shape)})`, extra, header[extra]);
        const missing: string[] = [];
        for (let k = 1; k <= field.size; k++) {
          const j = index.get(`${base}${sep}${k}`);
          if (j === undefined) missing.push(`${base}${sep}${k}`);
          else {
            take(j, to, field.offset + k - 1, `${kind} '${field.name}' element ${k}`);
            if (field.ids !== undefined) integer[j] = field;
          }
        }
        if (missing.length) fail(`${kind} '${field.name}' (shape ${shapeText(field.shape)}) needs columns ${base}${sep}1 .. ${base}${sep}${field.size}; missing ${list(missing, 8)}`, undefined, field.name);
        continue;
      }
    }
    if (header.length === 1 && /[;\t|]/.test(header[0]!)) {
      const sep = header[0]!.includes(';') ? ';' : header[0]!.includes('\t') ? 'tabs' : '|';
      fail(`no column for ${kind} '${field.name}': the header '${header[0]!.slice(0, 60)}' is one column; the file seems to separate cells with ${sep}, not commas (${sep === 'tabs' ? 'name it .tsv' : 'write it with commas'})`, undefined, field.name);
    }
    const guess = didYouMean(base, header.filter((h) => h !== ''));
    const looked = field.shape.length
      ? `a column '${base}' holding arrays of ${field.size} numbers, or columns ${base}_1 .. ${base}_${field.size}`
      : `a column '${base}'`;
    fail(
      `no column for ${kind} '${field.name}': looked for ${looked}; the header has ${list(header.map((h) => h || '(unnamed)'), 12)}` +
        (guess ? `. Did you mean '${guess}'? (--columns ${field.name}=${guess})` : `. Map a column to it with --columns ${field.name}=NAME`),
      undefined,
      field.name,
    );
  }
  return { width, header, into, offset, arrayOf, feeds, integer };
}

/** `a, b, c` or `a, b, ..., z (40 in all)` when longer than `max`. */
export function list(items: readonly string[], max: number): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max - 2).join(', ')}, ..., ${items[items.length - 1]} (${items.length} in all)`;
}
