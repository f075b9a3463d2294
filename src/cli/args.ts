/**
 * Command-line arguments: positionals and `--flag [value]` options.
 *
 * Guarantees: `parseArgs` never throws on unknown flags itself; each command checks the
 * flags it accepts with `expectFlags`, which raises a GradcError naming the unknown flag
 * (and the closest known one). A flag that takes no value (`booleans`) given one
 * (`--check=yes`) is a GradcError; `value` raises one for a flag given without a value.
 * `--` ends the flags: everything after it is positional.
 */
import { didYouMean, GradcError } from '../errors.js';

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
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const [key, inline] = a.replace(/^--?/, '').split(/=(.*)/s, 2);
      const list = flags.get(key) ?? flags.set(key, []).get(key)!;
      if (booleans.includes(key)) {
        if (inline !== undefined) throw new GradcError(`option --${key} takes no value (got '--${key}=${inline}')`);
        list.push('');
      } else if (inline !== undefined) list.push(inline);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) list.push(argv[++i]);
      else list.push('');
    } else positionals.push(a);
  }
  return { positionals, flags };
}

export function expectFlags(args: Args, allowed: readonly string[], command: string): void {
  for (const k of args.flags.keys()) {
    if (allowed.includes(k)) continue;
    const guess = didYouMean(k, allowed);
    const options = allowed.length ? `gradc ${command} takes ${allowed.map((a) => `--${a}`).join(', ')}` : `gradc ${command} takes no options`;
    throw new GradcError(`unknown option --${k}${guess ? ` (did you mean --${guess}?)` : ''}; ${options}`);
  }
}

/** The value of a flag given at most once; a GradcError when it is given twice with different values. */
export function flag(args: Args, name: string): string | undefined {
  const list = args.flags.get(name);
  if (list && new Set(list).size > 1) throw new GradcError(`option --${name} is given ${list.length} times (${list.map((v) => `'${v}'`).join(', ')}); give it once`);
  return list?.at(-1);
}
export const has = (args: Args, name: string): boolean => args.flags.has(name);

/** The value of `--name`, undefined when absent; a GradcError when given without a value. */
export function value(args: Args, name: string, command: string, what = 'a value'): string | undefined {
  const v = flag(args, name);
  if (v === '') throw new GradcError(`option --${name} needs ${what} (gradc ${command})`);
  return v;
}
