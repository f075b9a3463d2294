/**
 * `gradc report <model.ts> [--at name=value,...] [--lr 0.1] [--wrt name,...] [--no-fonts] [--max-nodes N] [-o report.html]`
 *
 * Writes one self-contained HTML page (inspect/report.ts): the model's formulas, every
 * derived gradient formula typeset with KaTeX, the graph as inline SVG and, with --at,
 * the explain tables. No JavaScript and nothing loaded from the network. The file is
 * -o (`-` for stdout), by default `<model name>.report.html`, checked before any work (its
 * folder must exist; it must not be a folder) and written atomically (files.ts); it must not be the model file or a file it imports; when it
 * already holds these bytes it is left untouched and the output says 'unchanged'. A
 * graph over --max-nodes nodes is not drawn: the page and the output say so.
 */
import { GradcError } from '../../errors.js';
import { atOption, expectFlags, flag, has, lrOption, maxNodesOption, oneModel } from '../args.js';
import type { Command } from '../command.js';
import { checkNotAnInput, checkWritableTarget, writeFile } from '../files.js';
import { DEFAULT_LR } from '../../inspect/explain.js';
import { MAX_SVG_NODES } from '../../inspect/graph.js';
import { loadModelFile } from '../modelFile.js';

export const report: Command = {
  name: 'report',
  usage: 'gradc report <model.ts> [--at name=value,...] [--lr 0.1] [--wrt name,...] [--no-fonts] [--max-nodes N] [-o report.html]',
  summary: 'write one self-contained HTML page: formulas, gradients (KaTeX), graph (SVG), with --at the explain tables',
  booleans: ['no-fonts'],
  async run(args, out) {
    expectFlags(args, ['at', 'lr', 'wrt', 'no-fonts', 'max-nodes', 'o', 'out'], 'report');
    const file = oneModel(args, report.usage);
    const target = flag(args, 'o') ?? flag(args, 'out');
    if (target === '') throw new GradcError(`-o needs a file name`);
    const wrt = (args.flags.get('wrt') ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
    const maxGraphNodes = maxNodesOption(args, 'report', MAX_SVG_NODES);
    if (target !== undefined && target !== '-') {
      checkWritableTarget(target, '-o');
      checkNotAnInput(target, file, '-o');
    }
    const { model } = await loadModelFile(file);
    const { report: reportPage } = await import('../../inspect/report.js'); // KaTeX and Graphviz load only here
    let omitted: string | undefined;
    const page = await reportPage(model, { at: atOption(args), lr: lrOption(args, DEFAULT_LR), wrt, fonts: !has(args, 'no-fonts'), maxGraphNodes, onGraphOmitted: (why) => (omitted = why) });
    if (target === '-') {
      out(page.replace(/\n$/, ''));
      return;
    }
    const path = target ?? `${model.name}.report.html`;
    checkWritableTarget(path, 'the report file');
    checkNotAnInput(path, file, target === undefined ? 'the report file' : '-o');
    const done = writeFile(path, page);
    const note = omitted ? `; graph not drawn: ${omitted}; raise the limit with --max-nodes N` : '';
    out(`${done === 'unchanged' ? 'unchanged' : 'wrote'} ${path} (${Math.round(page.length / 1024)} KB${note})`);
  },
};
