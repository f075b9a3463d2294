/** The shape of a CLI command: its name, usage line, and what it does with parsed arguments. */
import type { Args } from './args.js';

export interface Command {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** Flags that take no value. */
  readonly booleans?: readonly string[];
  /** Runs the command; `out` prints a line to stdout, `err` to stderr. Throws GradcError on bad input. */
  run(args: Args, out: (line: string) => void, err?: (line: string) => void): Promise<void>;
}
