/**
 * `gradc graph <model.ts> [--grad] [--at name=value,...] [--format svg|dot|mermaid] [-o file]`
 *
 * Draws the computational graph (inspect/graph.ts): every node with its op, name and
 * shape; --grad adds the backward graph beside the forward one; --at adds each node's
 * value and gradient for one sample. The format is --format, else the extension of
 * the -o file (.svg, .dot/.gv, .mmd/.mermaid), else svg. Without -o the text goes to
 * stdout. The same model and options give the same bytes.
 */
import { writeFileSync } from 'node:fs';
import { GradcError } from '../../errors.js';
import { computationalGraph, toDot, toMermaid, toSvg } from '../../inspect/graph.js';
import { expectFlags, flag, has } from '../args.js';
import type { Command } from '../command.js';
import { loadModelFile } from '../modelFile.js';
import { atOption, oneModel } from './explain.js';

const FORMATS = ['svg', 'dot', 'mermaid'] as const;
type Format = (typeof FORMATS)[number];

function formatOf(requested: string | undefined, file: string | undefined): Format {
  if (requested !== undefined) {
    if (!(FORMATS as readonly string[]).includes(requested)) throw new GradcError(`unknown --format '${requested}' (formats: ${FORMATS.join(', ')})`);
    return requested as Format;
  }
  if (file && /\.(dot|gv)$/i.test(file)) return 'dot';
  if (file && /\.(mmd|mermaid)$/i.test(file)) return 'mermaid';
  return 'svg';
}

export const graph: Command = {
  name: 'graph',
  usage: 'gradc graph <model.ts> [--grad] [--at name=value,...] [--format svg|dot|mermaid] [-o file]',
  summary: 'draw the computational graph (with --grad the backward graph beside it; with --at values and gradients)',
  booleans: ['grad'],
  async run(args, out) {
    expectFlags(args, ['grad', 'at', 'format', 'o', 'out'], 'graph');
    const file = oneModel(args, graph.usage);
    const target = flag(args, 'o') ?? flag(args, 'out');
    if (target === '') throw new GradcError(`-o needs a file name`);
    const format = formatOf(flag(args, 'format'), target);
    const { model } = await loadModelFile(file);
    const g = computationalGraph(model, { grad: has(args, 'grad'), at: atOption(args) });
    const text = format === 'dot' ? toDot(g) : format === 'mermaid' ? toMermaid(g) : await toSvg(g);
    if (target === undefined || target === '-') {
      out(text.replace(/\n$/, ''));
      return;
    }
    writeFileSync(target, text);
    out(`wrote ${target} (${format}, ${g.nodes.length} nodes)`);
  },
};
