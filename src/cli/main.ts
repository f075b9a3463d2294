/**
 * The gradc command line.
 *
 * Guarantees: bad input (a GradcError) prints `gradc <command>: error: <message>`, the
 * message naming the file, line, column and symbol, followed by the source line with a
 * caret when the file and line are known; no stack trace; exit 1. A failure that is
 * not a GradcError is a bug in gradc and prints its stack, exit 2 (a thrown value that is
 * not an Error, such as an object from WebAssembly, is shown with its fields, never as
 * "[object Object]"); success exits 0.
 * `gradc`, `gradc --help` and `gradc <command> --help` print usage (to stderr and exit
 * 1 when no command was given, else to stdout and exit 0); an unknown command is exit 1.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { asGradcError, didYouMean, GradcError } from '../errors.js';
import { parseArgs } from './args.js';
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { excerpt } from './modelFile.js';

function help(): string {
  return [
    'usage: gradc <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`),
    '',
    'gradc <command> --help shows one command; gradc --version the version.',
  ].join('\n');
}

const commandHelp = (c: Command): string => `usage: ${c.usage}\n  ${c.summary}`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `gradc ${pkg.version}`;
}

/** Any thrown value as text for the internal-error message: an Error's stack, else its fields. */
export function describeInternal(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  const { name, message } = (typeof e === 'object' && e !== null ? e : {}) as { name?: unknown; message?: unknown };
  const head = typeof message === 'string' ? `${typeof name === 'string' && name ? name : 'thrown value'}: ${message}\n` : '';
  let shown: string;
  try {
    shown = inspect(e, { depth: 4, breakLength: 100, maxStringLength: 2000, maxArrayLength: 20 });
  } catch {
    shown = Object.prototype.toString.call(e);
  }
  return `${head}(a thrown ${e === null ? 'null' : typeof e}, not an Error) ${shown}`;
}

const isHelp = (a: string): boolean => a === '--help' || a === '-h';

export async function main(argv: readonly string[], out = (l: string) => console.log(l), err = (l: string) => console.error(l)): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    err(help());
    return 1;
  }
  if (isHelp(name) || name === 'help') {
    const about = rest[0] && COMMANDS.find((c) => c.name === rest[0]);
    out(about ? commandHelp(about) : help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    out(version());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const guess = didYouMean(name, COMMANDS.map((c) => c.name));
    const what = name.startsWith('-') ? `unknown option '${name}' (options go after the command)` : `unknown command '${name}'`;
    err(`gradc: ${what}${guess ? `; did you mean '${guess}'?` : ''}\n\n${help()}`);
    return 1;
  }
  const end = rest.indexOf('--');
  if ((end < 0 ? rest : rest.slice(0, end)).some(isHelp)) {
    out(commandHelp(command));
    return 0;
  }
  // Deep enough to reach the model file's frame from where a builder call fails (see locateInFile).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Math.max(limit, 50);
  try {
    await command.run(parseArgs(rest, command.booleans), out, err);
    return 0;
  } catch (e) {
    if (e instanceof GradcError) {
      const g = asGradcError(e);
      const source = excerpt(g.where);
      err(`gradc ${name}: error: ${g.message}${source ? `\n${source}` : ''}`);
      return 1;
    }
    err(`gradc ${name}: internal error (a bug in gradc):\n${describeInternal(e)}`);
    return 2;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const invoked = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invoked || process.env.GRADC_CLI === '1') {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
