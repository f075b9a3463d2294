/**
 * The gradc command line.
 *
 * Guarantees: bad input (a GradcError) prints its message, which names the file, line,
 * column and symbol, with no stack trace, and exits 1; a failure that is not a
 * GradcError is a bug in gradc and prints its stack, exit 2; success exits 0.
 */
import { GradcError } from '../errors.js';
import { parseArgs } from './args.js';
import { COMMANDS } from './commands/index.js';

function help(): string {
  return ['usage: gradc <command> [options]', '', ...COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`)].join('\n');
}

export async function main(argv: readonly string[], out = (l: string) => console.log(l), err = (l: string) => console.error(l)): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return name ? 0 : 1;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`gradc: unknown command '${name}'\n${help()}`);
    return 1;
  }
  try {
    await command.run(parseArgs(rest, command.booleans), out);
    return 0;
  } catch (e) {
    if (e instanceof GradcError) {
      err(`gradc ${name}: error: ${e.message}`);
      return 1;
    }
    err(`gradc ${name}: internal error (a bug in gradc):\n${e instanceof Error ? e.stack : String(e)}`);
    return 2;
  }
}

const invoked = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invoked || process.env.GRADC_CLI === '1') {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
