/**
 * The one golden-file harness (test/golden.test.ts, test/inspect.test.ts).
 *
 * `expectGolden(path, actual)` compares `actual` with the file at `path` (relative to the
 * repository root), byte for byte. Under UPDATE_GOLDEN=1 (`npm run test:update`) it
 * rewrites the file instead (only when it differs) and passes; review the diff like code.
 * Otherwise a missing file fails the test naming the switch, and a different file fails
 * with the first differing line in the message, then vitest's full diff. The same rule
 * for every golden file: a missing one is never written silently.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';

export const ROOT = join(import.meta.dirname, '..', '..');
export const UPDATE = process.env.UPDATE_GOLDEN === '1';

export function expectGolden(path: string, actual: string): void {
  const abs = join(ROOT, path);
  if (UPDATE) {
    mkdirSync(dirname(abs), { recursive: true });
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== actual) writeFileSync(abs, actual);
    return;
  }
  expect(existsSync(abs), `${path} is missing; run UPDATE_GOLDEN=1 npm test and review it`).toBe(true);
  const expected = readFileSync(abs, 'utf8');
  if (expected === actual) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const first = a.findIndex((l, i) => l !== e[i]);
  const where = first < 0 ? e.length + 1 : first + 1;
  expect(actual, `${path} differs from line ${where} (expected: ${JSON.stringify(e[where - 1])}, got: ${JSON.stringify(a[where - 1])}); if the change is intended, run UPDATE_GOLDEN=1 npm test and review the diff`).toBe(expected);
}
