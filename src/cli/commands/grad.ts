/**
 * `gradc grad <model.ts> [--wrt name,...] [--tex] [--json]`
 *
 * Prints the simplified derived gradient formula of each parameter (or of the
 * parameters after --wrt), with the subexpressions they share named once as steps
 * (inspect/formulas.ts). --tex prints LaTeX instead, one `name = formula` line each;
 * --json prints text, LaTeX and the steps as one JSON object. An unknown name after
 * --wrt is a GradcError that lists the parameters.
 */
import { GradcError } from '../../errors.js';
import { formatFormulas, gradientFormulas } from '../../inspect/formulas.js';
import { type Args, expectFlags, has } from '../args.js';
import type { Command } from '../command.js';
import { loadModelFile } from '../modelFile.js';

/** Names after --wrt: comma lists, repeated flags, and names left after the model file. */
export function wrtOption(args: Args, usage: string): { file: string; wrt: string[] } {
  const [file, ...rest] = args.positionals;
  if (!file) throw new GradcError(`no model file given (usage: ${usage})`);
  const listed = (args.flags.get('wrt') ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  if (rest.length > 0 && !args.flags.has('wrt')) throw new GradcError(`expects one model file, got ${args.positionals.length} (usage: ${usage})`);
  const wrt = [...listed, ...rest];
  if (args.flags.has('wrt') && wrt.length === 0) throw new GradcError(`--wrt needs parameter names (example: --wrt w1,b1)`);
  return { file, wrt };
}

export const grad: Command = {
  name: 'grad',
  usage: 'gradc grad <model.ts> [--wrt name,...] [--tex] [--json]',
  summary: 'print the derived gradient formulas, shared steps named once (--tex: LaTeX, --json: both and the steps)',
  booleans: ['tex', 'json'],
  async run(args, out) {
    expectFlags(args, ['wrt', 'tex', 'json'], 'grad');
    const { file, wrt } = wrtOption(args, grad.usage);
    const { model } = await loadModelFile(file);
    const f = gradientFormulas(model, { wrt });
    if (has(args, 'json')) out(JSON.stringify(f, null, 2));
    else out(formatFormulas(f, { tex: has(args, 'tex') }));
  },
};
