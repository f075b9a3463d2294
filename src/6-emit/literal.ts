/**
 * Phase 6, emit: a number of the IR as a TypeScript literal.
 *
 * Guarantees: the text reads back as the same double (`String` round-trips every double;
 * -0 keeps its sign), NaN prints as `NaN`, and a negative value is parenthesized so that
 * it can stand as an operand anywhere (`x - (-1)`).
 */
import { formatNumber } from '../ir/print.js';

export function literal(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  const t = formatNumber(v);
  return v < 0 || Object.is(v, -0) ? `(${t})` : t;
}
