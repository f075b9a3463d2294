/**
 * The one formatter through which numbers reach generated code.
 *
 * Guarantees: `literal(v)` is TypeScript source that evaluates to exactly `v`: the
 * shortest round-trip text (`String`), `-0` kept as `(-0)`, `NaN` as `NaN`, and a negative
 * value parenthesized, so it can stand as any operand (`x - (-2)`, `(-2) ** 2`).
 */
import { formatNumber } from '../ir/print.js';

export function literal(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  const t = formatNumber(v);
  return v < 0 || Object.is(v, -0) ? `(${t})` : t;
}
