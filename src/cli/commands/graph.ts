/**
 * `gradc graph <model.ts> [--grad] [--at name=value,...] [--format svg|dot|mermaid] [--max-nodes N] [-o file]`
 *
 * Draws the computational graph (inspect/graph.ts): every node with its op, name and
 * shape; --grad adds the backward graph beside the forward one; --at adds each node's
 * value and gradient for one sample. The format is --format, else the extension of
 * the -o file (.svg, .dot/.gv, .mmd/.mermaid), else svg. Without -o the text goes to
 * stdout. The same model and options give the same bytes. SVG is drawn only for graphs
 * up to --max-nodes nodes (default MAX_SVG_NODES, inspect/graph.ts); a larger one is a
 * clear error before Graphviz runs. The -o file is checked before any work (its folder
 * must exist; it must not be a folder) and written atomically (files.ts); it must not be the model file or a file it imports; when it
 * already holds these bytes it is left untouched and the output says 'unchanged'.
 */
import { GradcError } from '../../errors.js';
import { computationalGraph, MAX_SVG_NODES, toDot, toMermaid, toSvg } from '../../inspect/graph.js';
import { atOption, expectFlags, flag, has, maxNodesOption, oneModel, value } from '../args.js';
import type { Command } from '../command.js';
import { checkNotAnInput, checkWritableTarget, writeFile } from '../files.js';
import { loadModelFile } from '../modelFile.js';

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

/** `--max-nodes N`: the largest graph drawn as SVG. */
export const graph: Command = {
  name: 'graph',
  usage: 'gradc graph <model.ts> [--grad] [--at name=value,...] [--format svg|dot|mermaid] [--max-nodes N] [-o file]',
  summary: 'draw the computational graph (with --grad the backward graph beside it; with --at values and gradients)',
  booleans: ['grad'],
  async run(args, out) {
    expectFlags(args, ['grad', 'at', 'format', 'max-nodes', 'o', 'out'], 'graph');
    const file = oneModel(args, graph.usage);
    const target = flag(args, 'o') ?? flag(args, 'out');
    if (target === '') throw new GradcError(`-o needs a file name`);
    const format = formatOf(flag(args, 'format'), target);
    const maxNodes = maxNodesOption(args, 'graph', MAX_SVG_NODES);
    const toFile = target !== undefined && target !== '-';
    if (toFile) {
      checkWritableTarget(target, '-o');
      checkNotAnInput(target, file, '-o');
    }
    const { model } = await loadModelFile(file);
    const g = computationalGraph(model, { grad: has(args, 'grad'), at: atOption(args) });
    const text = format === 'dot' ? toDot(g) : format === 'mermaid' ? toMermaid(g) : await toSvg(g, { maxNodes });
    if (!toFile) {
      out(text.replace(/\n$/, ''));
      return;
    }
    const done = writeFile(target, text);
    out(`${done === 'unchanged' ? 'unchanged' : 'wrote'} ${target} (${format}, ${g.nodes.length} nodes)`);
  },
};
