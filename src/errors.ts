/**
 * User-facing errors.
 *
 * Guarantees: every mistake in a model or a sample is reported as a `GradcError` whose
 * message names the problem and where it is: the model file, the line and column in
 * the formula, the symbol, the shapes. The CLI prints `message` alone (no stack) and
 * exits non-zero; anything that is not a GradcError is a bug in gradc and is shown
 * with its stack.
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
}

export class GradcError extends Error {
  readonly where: SourceLocation;
  readonly problem: string;
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
}

export function formatMessage(problem: string, w: SourceLocation): string {
  let at = w.file ?? '';
  if (w.line !== undefined) at += `${at ? ':' : 'line '}${w.line}${w.column !== undefined ? `:${w.column}` : ''}`;
  return at ? `${at}: ${problem}` : problem;
}
