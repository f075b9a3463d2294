/**
 * `gradc report <model.ts> [--at name=value,...] [--lr 0.1] [--wrt name,...] [--no-fonts] [-o report.html]`
 *
 * Writes one self-contained HTML page (inspect/report.ts): the model's formulas, every
 * derived gradient formula typeset with KaTeX, the graph as inline SVG and, with --at,
 * the explain tables. No JavaScript and nothing loaded from the network. The file is
 * -o (`-` for stdout), by default `<model name>.report.html`.
 */
import { writeFileSync } from 'node:fs';
import { GradcError } from '../../errors.js';
import { expectFlags, flag, has } from '../args.js';
import type { Command } from '../command.js';
import { loadModelFile } from '../modelFile.js';
import { atOption, lrOption, oneModel } from './explain.js';

export const report: Command = {
  name: 'report',
  usage: 'gradc report <model.ts> [--at name=value,...] [--lr 0.1] [--wrt name,...] [--no-fonts] [-o report.html]',
  summary: 'write one self-contained HTML page: formulas, gradients (KaTeX), graph (SVG), with --at the explain tables',
  booleans: ['no-fonts'],
  async run(args, out) {
    expectFlags(args, ['at', 'lr', 'wrt', 'no-fonts', 'o', 'out'], 'report');
    const file = oneModel(args, report.usage);
    const target = flag(args, 'o') ?? flag(args, 'out');
    if (target === '') throw new GradcError(`-o needs a file name`);
    const wrt = (args.flags.get('wrt') ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
    const { model } = await loadModelFile(file);
    const { report: reportPage } = await import('../../inspect/report.js'); // KaTeX and Graphviz load only here
    const page = await reportPage(model, { at: atOption(args), lr: lrOption(args), wrt, fonts: !has(args, 'no-fonts') });
    if (target === '-') {
      out(page.replace(/\n$/, ''));
      return;
    }
    const path = target ?? `${model.name}.report.html`;
    writeFileSync(path, page);
    out(`wrote ${path} (${Math.round(page.length / 1024)} KB)`);
  },
};
