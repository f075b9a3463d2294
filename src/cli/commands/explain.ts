/**
 * `gradc explain <model.ts> --at name=value,... [--lr 0.1] [--steps N] [--json]`
 *
 * Prints the chain rule for one sample as four tables (inspect/explain.ts): forward
 * pass, local gradients, backward pass, update. Inputs and targets must be given in
 * --at; parameters not given start at their initial values (random initializers draw
 * from the model's seed, as the generated module's initParams() does). Values: numbers,
 * vectors `[1,2,3]`, matrices `[[1,2],[3,4]]`. Unknown names, missing values and values
 * of the wrong shape are GradcErrors naming the symbol and the expected shape. A model with
 * recurrences gets a fifth table per recurrence (inspect/throughTime.ts): its first and
 * last --steps N steps (default 3) forward and backward, the steps between elided.
 */
import { GradcError } from '../../errors.js';
import { DEFAULT_LR, explain as walkthrough, formatWalkthrough } from '../../inspect/explain.js';
import { atOption, expectFlags, has, lrOption, oneModel, value } from '../args.js';
import type { Command } from '../command.js';
import { loadModelFile } from '../modelFile.js';

export const explain: Command = {
  name: 'explain',
  usage: 'gradc explain <model.ts> --at name=value,... [--lr 0.1] [--steps N] [--json]',
  summary: 'walk through forward pass, local gradients, chain rule and update for one sample, with numbers',
  booleans: ['json'],
  async run(args, out) {
    expectFlags(args, ['at', 'lr', 'steps', 'json'], 'explain');
    const file = oneModel(args, explain.usage);
    const at = atOption(args);
    if (at === undefined) throw new GradcError(`--at is required: the sample's inputs and targets (example: --at x=1,y=2)`);
    const lr = lrOption(args, DEFAULT_LR);
    const stepsText = value(args, 'steps', 'explain', 'a number');
    const steps = stepsText === undefined ? undefined : Number(stepsText);
    if (steps !== undefined && (!Number.isSafeInteger(steps) || steps < 1)) throw new GradcError(`--steps must be a positive integer (the steps of each recurrence shown at each end), got '${stepsText}'`);
    const { model } = await loadModelFile(file);
    const w = walkthrough(model, at, { lr, ...(steps === undefined ? {} : { steps }) });
    if (has(args, 'json')) out(JSON.stringify(w, (_k, v) => (v instanceof Float64Array ? Array.from(v) : v), 2));
    else out(formatWalkthrough(w));
  },
};
