/**
 * Rows written as CSV (predictions for `gradc predict --out`).
 *
 * Guarantees: the header names each field's columns as the readers read them back
 * (a scalar `yhat`; a vector or matrix `logits_1 .. logits_10`, row-major), so a file
 * written here is a valid input for `readRows` with the same layout; every value is
 * written in the shortest form that reads back to the same float64 (`String(x)`, and
 * `-0`), so nothing is rounded; a non-finite value is written as `NaN` / `Infinity` (which the
 * readers refuse, on purpose). `writeCsv` streams to a temporary file next to `path`
 * and renames it over `path` only when everything is written: a failure never leaves a
 * half-written file or destroys the one that was there.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Field } from './layout.js';

/** The column names of `fields`, in row order. */
export function csvHeader(fields: readonly Pick<Field, 'name' | 'shape' | 'size'>[]): string[] {
  return fields.flatMap((f) => (f.shape.length ? Array.from({ length: f.size }, (_, k) => `${f.name}_${k + 1}`) : [f.name]));
}

/** The CSV text, line by line (each ending in \n): the header, then `count` rows of `width` values. */
export function* csvLines(header: readonly string[], rows: ArrayLike<number>, count: number): Generator<string> {
  const width = header.length;
  yield `${header.map(cell).join(',')}\n`;
  for (let i = 0; i < count; i++) {
    let line = '';
    for (let k = 0; k < width; k++) {
      const x = rows[i * width + k];
      line += (k ? ',' : '') + (x === 0 && 1 / x < 0 ? '-0' : String(x));
    }
    yield `${line}\n`;
  }
}

/** Writes `csvLines(header, rows, count)` to `path`, atomically (see above). */
export async function writeCsv(path: string, header: readonly string[], rows: ArrayLike<number>, count: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const out = createWriteStream(temp);
  try {
    await new Promise<void>((resolve, reject) => {
      out.on('error', reject);
      const lines = csvLines(header, rows, count);
      const pump = (): void => {
        for (let r = lines.next(); !r.done; r = lines.next()) if (!out.write(r.value)) return void out.once('drain', pump);
        out.end(resolve);
      };
      pump();
    });
    await rename(temp, path);
  } catch (e) {
    out.destroy();
    await rm(temp, { force: true });
    throw e;
  }
}

/** A header cell, quoted when it holds a comma, quote or line break. */
function cell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
