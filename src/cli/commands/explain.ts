/**
 * `gradc explain <model.ts> --at name=value,... [--lr 0.1] [--json]`
 *
 * Prints the chain rule for one sample as four tables (inspect/explain.ts): forward
 * pass, local gradients, backward pass, update. Inputs and targets must be given in
 * --at; parameters not given start at their initial values (random initializers draw
 * from the model's seed, as the generated module's initParams() does). Values: numbers,
 * vectors `[1,2,3]`, matrices `[[1,2],[3,4]]`. Unknown names, missing values and values
 * of the wrong shape are GradcErrors naming the symbol and the expected shape.
 */
import { GradcError } from '../../errors.js';
import { DEFAULT_LR, explain as walkthrough, formatWalkthrough } from '../../inspect/explain.js';
import { type Args, expectFlags, flag, has } from '../args.js';
import type { Command } from '../command.js';
import { loadModelFile } from '../modelFile.js';

/** The --at text (several --at flags are joined), or undefined. */
export function atOption(args: Args): string | undefined {
  const list = args.flags.get('at');
  if (!list) return undefined;
  const text = list.filter((s) => s.trim()).join(',');
  if (!text) throw new GradcError(`--at needs values (example: --at x=1,y=2,w=0.5)`);
  return text;
}

export function lrOption(args: Args): number {
  const text = flag(args, 'lr');
  if (text === undefined) return DEFAULT_LR;
  const lr = Number(text);
  if (text.trim() === '' || !Number.isFinite(lr)) throw new GradcError(`--lr must be a number, got '${text}'`);
  return lr;
}

export function oneModel(args: Args, usage: string): string {
  if (args.positionals.length !== 1) throw new GradcError(`expects one model file, got ${args.positionals.length} (usage: ${usage})`);
  return args.positionals[0];
}

export const explain: Command = {
  name: 'explain',
  usage: 'gradc explain <model.ts> --at name=value,... [--lr 0.1] [--json]',
  summary: 'walk through forward pass, local gradients, chain rule and update for one sample, with numbers',
  booleans: ['json'],
  async run(args, out) {
    expectFlags(args, ['at', 'lr', 'json'], 'explain');
    const file = oneModel(args, explain.usage);
    const at = atOption(args);
    if (at === undefined) throw new GradcError(`--at is required: the sample's inputs and targets (example: --at x=1,y=2)`);
    const lr = lrOption(args);
    const { model } = await loadModelFile(file);
    const w = walkthrough(model, at, { lr });
    if (has(args, 'json')) out(JSON.stringify(w, (_k, v) => (v instanceof Float64Array ? Array.from(v) : v), 2));
    else out(formatWalkthrough(w));
  },
};
