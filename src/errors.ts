/**
 * User-facing errors.
 *
 * Guarantees: every mistake in a model or a sample is reported as a `GradcError` whose
 * message names the problem and where it is: the model file, the line and column in
 * the formula, the symbol, the shapes. The CLI prints `message` alone (no stack) and
 * exits non-zero; anything that is not a GradcError is a bug in gradc and is shown
 * with its stack.
 *
 * `instanceof GradcError` also holds for an error made by another copy of this module
 * (a second instance loaded by a different module loader) or by code that cannot import
 * it (generated modules): what counts is the brand `Symbol.for('gradc.GradcError')`.
 */

export interface SourceLocation {
  /** Model file or a description such as `<inline model 'xor'>`. */
  file?: string;
  /** 1-based line and column within the file (or within the formula block). */
  line?: number;
  column?: number;
  /** The symbol the error is about, if any. */
  symbol?: string;
  /** The source line the error is on, as written (lets the CLI find it in the model file). */
  snippet?: string;
  /**
   * The whole `formulas` block when `line` counts lines of that block rather than of the
   * file (lets the CLI find the block in the model file and turn `line` into a file line).
   */
  block?: string;
}

/** The brand every GradcError carries; a registered symbol, so it is the same in every copy. */
export const GRADC_ERROR: unique symbol = Symbol.for('gradc.GradcError');

export class GradcError extends Error {
  readonly where: SourceLocation;
  readonly problem: string;
  readonly [GRADC_ERROR] = true;
  constructor(problem: string, where: SourceLocation = {}) {
    super(formatMessage(problem, where));
    this.name = 'GradcError';
    this.problem = problem;
    this.where = where;
  }
  /** The same error at a new location (e.g. mapped from the formula block into its file). */
  relocate(where: SourceLocation): GradcError {
    return new GradcError(this.problem, { ...this.where, ...where });
  }
  /** True for a GradcError of any copy of this module, and for errors carrying the brand. */
  static [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[GRADC_ERROR] === true;
  }
}

/**
 * The error as a GradcError of this copy of the module (so `relocate` and `where` are
 * there even when it came from another copy, or is a branded plain Error).
 */
export function asGradcError(e: GradcError): GradcError {
  if (Object.getPrototypeOf(e) === GradcError.prototype) return e;
  const where = (e as { where?: SourceLocation }).where ?? {};
  const problem = (e as { problem?: string }).problem ?? e.message;
  return Object.assign(new GradcError(problem, where), { stack: e.stack });
}

export function formatMessage(problem: string, w: SourceLocation): string {
  let at = w.file ?? '';
  if (w.line !== undefined) at += `${at ? ':' : 'line '}${w.line}${w.column !== undefined ? `:${w.column}` : ''}`;
  return at ? `${at}: ${problem}` : problem;
}

/** The candidate closest to `name` when it is close enough to be a likely typo. */
export function didYouMean(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = (name.length <= 2 ? 0 : name.length <= 5 ? 1 : 2) + 1; // typos allowed, plus one
  for (const c of candidates) {
    const d = c === name ? Infinity : editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
