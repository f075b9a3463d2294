/**
 * One self-contained HTML page about a model: what `gradc report` writes.
 *
 * The page holds the model (leaves and formulas as written), every derived gradient
 * formula (with its named steps), the computational graph (forward and backward, as
 * inline SVG) and, given a sample, the four explain tables. Guarantees: formulas are
 * typeset on the server with KaTeX (`renderToString`), so the page needs no JavaScript;
 * the KaTeX style sheet is inlined, with its fonts as data URIs (woff2 only; pass
 * `fonts: false` to leave them out and let the browser fall back to its own fonts); the
 * page loads nothing from the network; the same model and options give the same bytes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import katex from 'katex';
import { showShape } from '../ir/shape.js';
import type { Model } from '../model.js';
import type { ModelDefinition } from '../pipeline.js';
import { inspectModel, type Inspected } from './derived.js';
import { explain, type Walkthrough } from './explain.js';
import { gradientFormulas } from './formulas.js';
import { computationalGraph, MAX_SVG_NODES, tooLargeToDraw, toSvg } from './graph.js';
import { type Given, describeInit, showNumber, showValue } from './sample.js';
import { tex, texName } from './tex.js';

export interface ReportOptions {
  /** One sample: adds values to the graph and the explain tables. */
  readonly at?: Given;
  readonly lr?: number;
  readonly wrt?: readonly string[];
  /** Inline KaTeX's fonts (default true). */
  readonly fonts?: boolean;
  /** The graph is drawn only up to this many nodes (default MAX_SVG_NODES, see graph.ts); past it the page says why it is not drawn. */
  readonly maxGraphNodes?: number;
  /** Called with the reason when the graph is left out of the page. */
  readonly onGraphOmitted?: (why: string) => void;
}

const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** KaTeX HTML; inline formulas in tables are set in display style, so fractions keep their size. */
const math = (t: string, display = false) => katex.renderToString(display ? t : `\\displaystyle ${t}`, { displayMode: display, throwOnError: false, output: 'html' });

let katexCss: Map<boolean, string> | undefined;
/** KaTeX's style sheet, fonts inlined as woff2 data URIs (or dropped). */
export function katexStyle(fonts = true): string {
  katexCss ??= new Map();
  const cached = katexCss.get(fonts);
  if (cached) return cached;
  const dist = dirname(createRequire(import.meta.url).resolve('katex'));
  const css = readFileSync(join(dist, 'katex.min.css'), 'utf8').replace(/src:url\(fonts\/([^)]+)\.woff2\)[^;}]*/g, (_m, file: string) =>
    fonts ? `src:url(data:font/woff2;base64,${readFileSync(join(dist, 'fonts', `${file}.woff2`)).toString('base64')}) format("woff2")` : 'src:local("Times New Roman")');
  katexCss.set(fonts, css);
  return css;
}

const PAGE_CSS = `
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #111827; margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 1.6em; margin-bottom: 0; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #e5e7eb; } h3 { font-size: 1.05em; }
.source { color: #6b7280; margin-top: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; vertical-align: middle; }
th { background: #f9fafb; font-weight: 600; }
td.num { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; white-space: nowrap; }
.formulas .katex-display { margin: 0.9em 0; text-align: left; }
.formulas .katex-display > .katex { text-align: left; }
figure.graph { margin: 0; overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; }
figure.graph svg { max-width: 100%; height: auto; }
.note { color: #4b5563; }
`;

function table(headers: readonly string[], rows: readonly (readonly string[])[], numeric: readonly number[] = []): string {
  const head = `<tr>${headers.map((h) => `<th>${html(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

function modelSection(model: Model): string {
  const leaves = [
    ...model.inputs.map((l) => [html(l.name), 'input', showShape(l.shape), '']),
    ...model.targets.map((l) => [html(l.name), 'target', showShape(l.shape), '']),
    ...model.params.map((p) => [html(p.name), 'parameter', showShape(p.shape), html(describeInit(p.init, model.seed))]),
  ];
  const defs = model.defs.map((d) => {
    const labels = new Map([...model.labels].filter(([n]) => n !== d.node));
    return math(`${texName(d.name)} = ${tex(d.node, labels)}`, true);
  });
  return `<h2>Model</h2>\n${table(['name', 'kind', 'shape', 'initial value'], leaves)}\n<div class="formulas">\n${defs.join('\n')}\n</div>`;
}

function walkthroughSection(w: Walkthrough): string {
  const v = (x: Float64Array | null, s: readonly number[]) => (x ? html(showValue(x, s)) : '');
  const given = w.sample.filter((s) => s.from === 'given').map((s) => `${s.name} = ${showValue(s.value, s.shape)}`).join(', ');
  const out = [`<h2>Walkthrough for one sample</h2>\n<p>${html(given)}${w.sample.some((s) => s.from === 'initial') ? '; other parameters at their initial values' : ''}.</p>`];
  out.push('<h3>1. Forward pass</h3>');
  const tensors = w.forward.some((r) => r.shape.length > 0);
  const shape = (s: readonly number[]) => (tensors ? [showShape(s)] : []);
  out.push(table(['node', ...(tensors ? ['shape'] : []), 'formula', 'value'], w.forward.map((r) => [
    math(texName(r.name)), ...shape(r.shape), r.kind === 'input' || r.kind === 'target' || r.kind === 'parameter' ? html(r.text) : math(r.tex), v(r.value, r.shape),
  ]), [tensors ? 3 : 2]));
  out.push('<h3>2. Local gradients</h3>');
  out.push(table(['derivative', 'formula', 'value'], w.local.map((r) => [
    math(r.nameTex), math(r.tex), r.value ? v(r.value, r.shape) : html(`Jacobian ${r.jacobian}, applied in step 3`),
  ]), [2]));
  out.push('<h3>3. Backward pass (chain rule)</h3>');
  out.push(table(['gradient', 'chain rule', 'numbers', 'value'], w.backward.map((r) => [
    math(r.nameTex), math(r.tex), html(r.numbers ?? ''), v(r.value, r.shape),
  ]), [2, 3]));
  out.push(`<h3>4. Update with learning rate ${showNumber(w.lr)}</h3>`);
  out.push(table(['parameter', 'old', 'gradient', 'new'], w.update.map((r) => [
    math(texName(r.param)), v(r.old, r.shape), v(r.gradient, r.shape), v(r.updated, r.shape),
  ]), [1, 2, 3]));
  if (w.notes.length) out.push(`<ul class="note">${w.notes.map((n) => `<li>${html(n)}</li>`).join('')}</ul>`);
  return out.join('\n');
}

/** The report page as HTML text. */
export async function report(def: ModelDefinition | Model | Inspected, options: ReportOptions = {}): Promise<string> {
  const ins = inspectModel(def);
  const model = ins.original;
  const f = gradientFormulas(ins, { wrt: options.wrt });
  const w = options.at !== undefined ? explain(ins, options.at, { lr: options.lr }) : undefined;
  const graph = computationalGraph(ins, { grad: true, at: options.at });
  const tooLarge = tooLargeToDraw(graph, options.maxGraphNodes ?? MAX_SVG_NODES);
  if (tooLarge) options.onGraphOmitted?.(tooLarge);
  const figure = tooLarge
    ? `<p class="note graph-omitted">Not drawn: ${html(tooLarge)}. Raise the limit with --max-nodes N, or draw it with gradc graph --grad --format dot.</p>`
    : `<figure class="graph">\n${(await toSvg(graph, { maxNodes: options.maxGraphNodes })).replace(/^[\s\S]*?(?=<svg)/, '').trim()}\n</figure>`;
  const gradients = f.lines.map((l) => math(`${l.nameTex} = ${l.tex}`, true));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradc report">
<title>gradc report: ${html(model.name)}</title>
<style>${katexStyle(options.fonts ?? true)}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<h1>gradc report: ${html(model.name)}</h1>
<p class="source">from ${html(model.source)}</p>
${modelSection(model)}
<h2>Gradients</h2>
<p class="note">Derived by the chain rule and simplified; shared subexpressions are named once and reused.</p>
<div class="formulas gradients">
${gradients.join('\n')}
</div>
<h2>Computational graph</h2>
<p class="note">Forward graph on the left, backward graph (the gradients) beside it; dashed edges: backward nodes reading forward values.${w ? ' Values and gradients for the sample below.' : ''}</p>
${figure}
${w ? walkthroughSection(w) : ''}
</body>
</html>
`;
}
