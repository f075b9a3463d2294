/**
 * Command-line arguments: positionals and `--flag [value]` options.
 *
 * Guarantees: `parseArgs` never throws on unknown flags itself; each command checks the
 * flags it accepts with `expectFlags`, which raises a GradcError naming the unknown flag
 * (and the closest known one). A flag that takes no value (`booleans`) given one
 * (`--check=yes`) is a GradcError; `value` raises one for a flag given without a value.
 * `--` ends the flags: everything after it is positional. The option helpers that several
 * commands share (`oneModel`, `atOption`, `lrOption`, `maxNodesOption`) live here, so no
 * command imports another.
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

/** The one model file a command takes; a GradcError with the usage otherwise. */
export function oneModel(args: Args, usage: string): string {
  if (args.positionals.length !== 1) throw new GradcError(`expects one model file, got ${args.positionals.length} (usage: ${usage})`);
  return args.positionals[0];
}

/** The --at text (several --at flags are joined), or undefined. */
export function atOption(args: Args): string | undefined {
  const list = args.flags.get('at');
  if (!list) return undefined;
  const text = list.filter((s) => s.trim()).join(',');
  if (!text) throw new GradcError(`--at needs values (example: --at x=1,y=2,w=0.5)`);
  return text;
}

/** The --lr number, or `fallback` when absent. */
export function lrOption(args: Args, fallback: number): number {
  const text = flag(args, 'lr');
  if (text === undefined) return fallback;
  const lr = Number(text);
  if (text.trim() === '' || !Number.isFinite(lr)) throw new GradcError(`--lr must be a number, got '${text}'`);
  return lr;
}

/** The --max-nodes positive integer, or `fallback` when absent. */
export function maxNodesOption(args: Args, command: string, fallback: number): number {
  const v = value(args, 'max-nodes', command, 'a number');
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new GradcError(`--max-nodes must be a positive integer, got '${v}'`);
  return n;
}
