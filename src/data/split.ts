/**
 * A training / validation split of packed rows, drawn with a seed.
 *
 * Guarantees: `splitRows(rows, layout, fraction, seed)` puts round(fraction * count)
 * samples, chosen by a Fisher-Yates shuffle driven by mulberry32(seed) (the generator the
 * generated modules use), into the validation part and the rest into the training part;
 * the same rows, fraction and seed always give the same split, on every platform. Both
 * parts keep the file's order and are fresh arrays (the input is not changed). A
 * fraction outside (0, 1), or one that leaves either part empty, is a GradcError.
 */
import { GradcError } from '../errors.js';
import type { RowLayout, Rows } from './layout.js';
import { mulberry32 } from '../rng.js';

export { mulberry32 };

/** The split; `validationIndex` lists, in order, which original rows went to validation. */
export interface Split {
  readonly train: Rows;
  readonly validation: Rows;
  readonly validationIndex: Int32Array;
}

export function splitRows(rows: Rows, layout: RowLayout, fraction: number, seed: number): Split {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    throw new GradcError(`the validation fraction must be a number between 0 and 1 (exclusive), got ${String(fraction)}`);
  }
  if (!Number.isFinite(seed)) throw new GradcError(`the split seed must be a finite number, got ${String(seed)}`);
  const n = rows.count;
  const v = Math.round(fraction * n);
  if (v < 1 || v > n - 1) {
    throw new GradcError(`a validation fraction of ${fraction} of ${n} sample${n === 1 ? '' : 's'} leaves ${v < 1 ? 'no validation samples' : 'no training samples'}`);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const inValidation = new Uint8Array(n);
  for (let i = 0; i < v; i++) inValidation[order[i]] = 1;

  const xw = layout.inputSize, yw = layout.targetSize;
  const train = { X: new Float64Array((n - v) * xw), Y: new Float64Array((n - v) * yw), count: n - v };
  const validation = { X: new Float64Array(v * xw), Y: new Float64Array(v * yw), count: v };
  const validationIndex = new Int32Array(v);
  let t = 0, w = 0;
  for (let i = 0; i < n; i++) {
    const to = inValidation[i] ? validation : train;
    const k = inValidation[i] ? w++ : t++;
    if (inValidation[i]) validationIndex[k] = i;
    to.X.set(rows.X.subarray(i * xw, (i + 1) * xw), k * xw);
    to.Y.set(rows.Y.subarray(i * yw, (i + 1) * yw), k * yw);
  }
  return { train, validation, validationIndex };
}
