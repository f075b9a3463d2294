/**
 * Known-open defects the fuzz test finds on today's code, each tied to its item of
 * issue 7. A finding that matches an entry here is counted and printed, not failed;
 * anything else fails the test. When a fix merges, delete its entry: the fuzz test then
 * holds the line for it. `GRADC_FUZZ_STRICT=1` ignores this list (every finding fails).
 *
 * KNOWN_HANGS lists inputs that hang today (a hang cannot be caught in process); the
 * harness skips them until the entry is removed.
 */
import type { CompileOptions } from './data.js';
import type { Finding } from './check.js';
import { formulaText } from './models.js';

export interface KnownHang { readonly item: string; readonly what: string; readonly matches: (c: { options: CompileOptions }) => boolean }

export const KNOWN_HANGS: readonly KnownHang[] = [];

export function isKnownHang(c: { options: CompileOptions }): boolean {
  return KNOWN_HANGS.some((h) => h.matches(c));
}

export interface KnownOpen { readonly item: string; readonly what: string; readonly matches: (f: Finding) => boolean }

/** A compile option outside what item 9 allows (any finding on such a model is item 9's). */
export function badCompileOptions(o: CompileOptions): boolean {
  const posInt = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 1);
  const natural = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0);
  return !posInt(o.maxBatch) || !posInt(o.chunkSize) || !natural(o.unrollLimit) || !natural(o.unrollElements) ||
    !(o.lowering === undefined || o.lowering === 'auto' || o.lowering === 'unrolled' || o.lowering === 'loops') ||
    !(o.precision === undefined || o.precision === 'f64' || o.precision === 'f32');
}

const hostileCount = (f: Finding) => /^count /.test(f.hostile ?? '');
const fitOption = (f: Finding, ...keys: string[]) => f.call === 'fit' && keys.some((k) => (f.hostile ?? '').startsWith(`${k}:`));

export const KNOWN_OPEN: readonly KnownOpen[] = [];

export function knownOpen(f: Finding): KnownOpen | undefined {
  if (process.env.GRADC_FUZZ_STRICT === '1') return undefined;
  return KNOWN_OPEN.find((k) => k.matches(f));
}
