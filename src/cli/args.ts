/**
 * Command-line arguments: positionals and `--flag [value]` options.
 *
 * Guarantees: `parseArgs` never throws on unknown flags itself; each command checks the
 * flags it accepts with `expectFlags`, which raises a GradcError naming the unknown flag.
 */
import { GradcError } from '../errors.js';

export interface Args {
  readonly positionals: string[];
  readonly flags: Map<string, string[]>;
}

/** `booleans` are flags that take no value. */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = []): Args {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('-') && a !== '-') {
      const [key, inline] = a.replace(/^--?/, '').split(/=(.*)/s, 2);
      const list = flags.get(key) ?? flags.set(key, []).get(key)!;
      if (inline !== undefined) list.push(inline);
      else if (!booleans.includes(key) && i + 1 < argv.length && !argv[i + 1].startsWith('--')) list.push(argv[++i]);
      else list.push('');
    } else positionals.push(a);
  }
  return { positionals, flags };
}

export function expectFlags(args: Args, allowed: readonly string[], command: string): void {
  for (const k of args.flags.keys()) {
    if (!allowed.includes(k)) throw new GradcError(`gradc ${command}: unknown option --${k} (options: ${allowed.map((a) => `--${a}`).join(', ') || 'none'})`);
  }
}

export const flag = (args: Args, name: string): string | undefined => args.flags.get(name)?.at(-1);
export const has = (args: Args, name: string): boolean => args.flags.has(name);
