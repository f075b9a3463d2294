/**
 * A series of numbers as one line of text: ▁▂▃▄▅▆▇█.
 *
 * Guarantees: one character per value, or exactly `width` characters when the series is
 * longer (each the mean of a run of consecutive values); the lowest value is ▁ and the
 * highest █, linearly between, or logarithmically when `log` says so ('auto': when every
 * value is positive and the largest is at least 100 times the smallest, as a loss that
 * falls by decades); a constant series is a flat line of ▄; NaN and ±Infinity are ×
 * (and are left out of the means and of the range). An empty series is ''.
 */

const BLOCKS = '▁▂▃▄▅▆▇█';
export const NOT_FINITE = '×';

export interface SparklineOptions {
  /** At most this many characters (default: one per value). */
  readonly width?: number;
  /** Log scale (needs positive values): true, false, or 'auto' (the default). */
  readonly log?: boolean | 'auto';
}

export function sparkline(values: readonly number[], options: SparklineOptions = {}): string {
  const series = resample(values, options.width);
  const finite = series.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return NOT_FINITE.repeat(series.length);
  let lo = Infinity, hi = -Infinity; // a loop: Math.min(...finite) overflows the stack past about 1e5 values
  for (const v of finite) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const mode = options.log ?? 'auto';
  const log = lo > 0 && (mode === true || (mode === 'auto' && hi >= 100 * lo));
  const at = (v: number): number => (log ? Math.log(v) : v);
  [lo, hi] = [at(lo), at(hi)];
  let out = '';
  for (const v of series) {
    if (!Number.isFinite(v)) out += NOT_FINITE;
    else if (hi === lo) out += BLOCKS[3];
    else out += BLOCKS[Math.min(7, Math.max(0, Math.round(((at(v) - lo) / (hi - lo)) * 7)))];
  }
  return out;
}

/** `values`, or `width` means of consecutive runs of them when there are more. */
function resample(values: readonly number[], width: number | undefined): number[] {
  if (width === undefined || values.length <= width) return [...values];
  const w = Math.max(1, Math.floor(width));
  const out: number[] = [];
  for (let c = 0; c < w; c++) {
    const from = Math.floor((c * values.length) / w), to = Math.floor(((c + 1) * values.length) / w);
    let sum = 0, n = 0;
    for (let i = from; i < to; i++) if (Number.isFinite(values[i])) [sum, n] = [sum + values[i], n + 1];
    out.push(n ? sum / n : NaN);
  }
  return out;
}
