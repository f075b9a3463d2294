/**
 * Pictures of the computational graph: what `gradc graph` draws.
 *
 * `computationalGraph(model, { grad, at })` lists the nodes and edges of the simplified
 * forward graph and, with `grad`, of the backward graph that computes the gradients
 * (beside the forward one; dashed edges show backward nodes reading forward values).
 * Each node is labelled with its name (if it has
 * one), op and shape; with `at` (one sample, see sample.ts) also with its value and,
 * for forward nodes on a path to the loss, its gradient dloss/dnode. Constants are drawn
 * once per use, so they add no long edges. A recurrence (scan; with `grad` also the reverse
 * scan of backpropagation through time and the sums over time) is drawn as its cell, once
 * whatever T is: a box holding the step's nodes, its state at the step before (`h[t-1]`,
 * fed by the initial state, edge `h[0]`), the sequence's row (`x[t]`, fed by the sequence,
 * edge `row t`), the step's result (`h[t]`) and the recurrent edge from `h[t]` back to
 * `h[t-1]` (labelled, drawn bold, not constraining the layout); the nodes reading the
 * recurrence take their edge from `h[t]`, labelled with the step they read (`h[T]`, `h[5]`).
 * Values (`at`) are shown for nodes outside cells. `toDot`, `toMermaid` and `toSvg` (Graphviz
 * compiled to WebAssembly, @viz-js/viz) render it. Guarantees: node ids follow the
 * topological order (forward nodes first), so the same model gives the same bytes.
 */
import { GradcError } from '../errors.js';
import type { Node } from '../ir/node.js';
import { showShape } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import { evaluate } from '../interp/evaluate.js';
import { forwardNodes, type Model } from '../model.js';
import type { ModelDefinition } from '../pipeline.js';
import { inspectModel, type Inspected } from './derived.js';
import { adjointLabel, adjointOwners } from '../naming.js';
import { type Given, resolveSample, sampleEnv, showValue } from './sample.js';
import { drawCell, type Cell } from './cell.js';

export type GraphNodeKind = 'param' | 'input' | 'target' | 'const' | 'op' | 'named' | 'loss' | 'backward' | 'gradient';

export interface GraphNode {
  readonly id: string;
  readonly kind: GraphNodeKind;
  readonly side: 'forward' | 'backward';
  /** The recurrence cell it belongs to (a step's node), if any. */
  readonly cluster?: string;
  /** Label lines: name or op, then `op · shape`, then the value and gradient with `at`. */
  readonly lines: readonly string[];
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** data: an argument; read: a backward node reading a forward value; recurrent: a step's state fed to the next step. */
  readonly kind: 'data' | 'read' | 'recurrent';
  readonly label?: string;
}

/** A recurrence drawn once: the box around its step's nodes. */
export interface GraphCluster {
  readonly id: string;
  readonly side: 'forward' | 'backward';
  readonly label: string;
}

export interface ComputationalGraph {
  readonly name: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly clusters: readonly GraphCluster[];
}

export interface GraphOptions {
  readonly grad?: boolean;
  readonly at?: Given;
}

const opText = (n: Node) => `${n.op}${n.attrs.start !== undefined ? `[${n.attrs.start + 1}]` : ''}`;

export function computationalGraph(def: ModelDefinition | Model | Inspected, options: GraphOptions = {}): ComputationalGraph {
  const { derived } = inspectModel(def);
  const model = derived.model;
  const fwd = forwardNodes(model);
  const fwdSet = new Set(fwd);
  const back = options.grad ? topoOrder(derived.grads).filter((n) => !fwdSet.has(n) && n.op !== 'const') : [];

  // Names of backward nodes (naming.ts): the adjoints of named nodes (as in gradc grad),
  // and each parameter's gradient (`dloss/dz = dloss/dc` when they are one node).
  const backName = new Map<Node, string>();
  for (const [a, owner] of adjointOwners(derived)) if (owner.label !== undefined) backName.set(a, adjointLabel(owner.label));
  model.params.forEach((p, i) => {
    const g = derived.grads[i];
    const prev = backName.get(g);
    backName.set(g, prev ? `${prev} = ${adjointLabel(p.name)}` : adjointLabel(p.name));
  });

  let values: Map<Node, Float64Array> | undefined;
  if (options.at !== undefined) {
    const env = sampleEnv(resolveSample(model, options.at));
    const adj = fwd.map((f) => derived.adjoints.get(f)).filter((a): a is Node => a !== undefined);
    values = evaluate([...fwd, ...derived.grads, ...adj], env);
  }
  const show = (n: Node) => showValue(values!.get(n)!, n.shape, 3);

  const ids = new Map<Node, string>();
  [...fwd, ...back].forEach((n, i) => { if (n.op !== 'const') ids.set(n, `n${i}`); });
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let consts = 0;
  const argId = (a: Node, side: 'forward' | 'backward'): string => {
    if (a.op !== 'const') return ids.get(a)!;
    const id = `c${consts++}`; // a constant, drawn once per use
    nodes.push({ id, kind: 'const', side, lines: [showValue([a.attrs.value!], [], 6) + (a.shape.length ? ` ${showShape(a.shape)}` : '')] });
    return id;
  };
  const gradientOf = new Set(derived.grads);
  const clusters: GraphCluster[] = [];
  const cells = new Map<Node, Cell>();
  /** An argument's edge: out of a recurrence cell from its result node, labelled with the step read. */
  const edgeFrom = (a: Node, to: Node, side: 'forward' | 'backward', kind: GraphEdge['kind']): GraphEdge => {
    const cell = cells.get(a);
    if (!cell) return { from: argId(a, side), to: ids.get(to)!, kind };
    return { from: cell.result, to: ids.get(to)!, kind, label: cell.readLabel(to) };
  };
  const cellOf = (n: Node, side: 'forward' | 'backward') => {
    const cell = drawCell(n, { id: `r${cells.size}`, side, argId: (a) => (cells.get(a)?.result ?? argId(a, side)), labels: model.labels });
    cells.set(n, cell);
    clusters.push(cell.cluster);
    nodes.push(...cell.nodes);
    edges.push(...cell.edges);
  };
  for (const n of fwd) {
    if (n.op === 'const') continue;
    if (n.op === 'scan' || n.op === 'tsum') { cellOf(n, 'forward'); continue; }
    const label = model.labels.get(n);
    const kind: GraphNodeKind = n === model.loss ? 'loss' : n.op === 'param' || n.op === 'input' || n.op === 'target' ? n.op : label ? 'named' : 'op';
    const lines = label ? [label, `${opText(n)} · ${showShape(n.shape)}`] : [`${opText(n)} · ${showShape(n.shape)}`];
    if (values) {
      lines.push(`= ${show(n)}`);
      const a = n === model.loss ? undefined : derived.adjoints.get(n);
      if (a) lines.push(`grad ${show(a)}`);
    }
    nodes.push({ id: ids.get(n)!, kind, side: 'forward', lines });
    for (const a of n.args) edges.push(edgeFrom(a, n, 'forward', 'data'));
  }
  for (const n of back) {
    if (n.op === 'scan' || n.op === 'tsum') { cellOf(n, 'backward'); continue; }
    const name = backName.get(n);
    const lines = name ? [name, `${opText(n)} · ${showShape(n.shape)}`] : [`${opText(n)} · ${showShape(n.shape)}`];
    if (values) lines.push(`= ${show(n)}`);
    nodes.push({ id: ids.get(n)!, kind: gradientOf.has(n) ? 'gradient' : 'backward', side: 'backward', lines });
    for (const a of n.args) edges.push(edgeFrom(a, n, 'backward', fwdSet.has(a) ? 'read' : 'data'));
  }
  return { name: model.name, nodes, edges, clusters };
}

const FILL: Record<GraphNodeKind, string> = {
  param: '#fde68a', input: '#bfdbfe', target: '#c7d2fe', const: '#ffffff', op: '#ffffff',
  named: '#e5e7eb', loss: '#fca5a5', backward: '#fce7f3', gradient: '#f9a8d4',
};

const dotString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Graphviz DOT text. */
export function toDot(g: ComputationalGraph): string {
  const out: string[] = [];
  out.push(`digraph ${dotString(g.name)} {`);
  out.push('  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.35];');
  out.push('  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, penwidth=0.8];');
  out.push('  edge [arrowsize=0.6, penwidth=0.8];');
  const node = (n: GraphNode) => {
    if (n.kind === 'const') return `    ${n.id} [label=${dotString(n.lines.join('\n'))}, shape=plaintext, style="", fontsize=9];`;
    const bold = n.kind === 'loss' || n.kind === 'gradient' ? ', penwidth=1.6' : '';
    return `    ${n.id} [label=${dotString(n.lines.join('\n'))}, fillcolor="${FILL[n.kind]}"${bold}];`;
  };
  for (const side of ['forward', 'backward'] as const) {
    const members = g.nodes.filter((n) => n.side === side);
    if (members.length === 0) continue;
    out.push(`  subgraph cluster_${side} {`);
    out.push(`    label=${dotString(side === 'forward' ? 'forward' : 'backward (gradients)')}; style="rounded,dashed"; color="#9ca3af";`);
    for (const n of members) if (n.cluster === undefined) out.push(node(n));
    for (const c of g.clusters.filter((c) => c.side === side)) {
      out.push(`    subgraph cluster_${c.id} {`);
      out.push(`      label=${dotString(c.label)}; style="rounded,filled"; fillcolor="#f0fdf4"; color="#16a34a";`);
      for (const n of members) if (n.cluster === c.id) out.push(`  ${node(n)}`);
      out.push('    }');
    }
    out.push('  }');
  }
  for (const e of g.edges) {
    const attrs: string[] = [];
    if (e.kind === 'read') attrs.push('style=dashed', 'color="#9ca3af"');
    if (e.kind === 'recurrent') attrs.push('style=bold', 'color="#16a34a"', 'fontcolor="#16a34a"', 'constraint=false');
    if (e.label !== undefined) attrs.push(`label=${dotString(e.label)}`, 'fontsize=9');
    out.push(`  ${e.from} -> ${e.to}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}

const mermaidText = (s: string) => s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

/** Mermaid flowchart text. */
export function toMermaid(g: ComputationalGraph): string {
  const out: string[] = ['flowchart LR'];
  for (const side of ['forward', 'backward'] as const) {
    const members = g.nodes.filter((n) => n.side === side);
    if (members.length === 0) continue;
    out.push(`  subgraph ${side}["${side === 'forward' ? 'forward' : 'backward (gradients)'}"]`);
    const shape = (n: GraphNode, indent: string) => {
      const text = n.lines.map(mermaidText).join('<br/>');
      return n.kind === 'const' ? `${indent}${n.id}(["${text}"])` : `${indent}${n.id}["${text}"]`;
    };
    for (const n of members) if (n.cluster === undefined) out.push(shape(n, '    '));
    for (const c of g.clusters.filter((c) => c.side === side)) {
      out.push(`    subgraph ${c.id}["${mermaidText(c.label)}"]`);
      for (const n of members) if (n.cluster === c.id) out.push(shape(n, '      '));
      out.push('    end');
    }
    out.push('  end');
  }
  for (const e of g.edges) {
    const arrow = e.kind === 'read' ? '-.->' : e.kind === 'recurrent' ? '==>' : '-->';
    out.push(`  ${e.from} ${arrow}${e.label !== undefined ? `|"${mermaidText(e.label)}"|` : ''} ${e.to}`);
  }
  for (const kind of Object.keys(FILL) as GraphNodeKind[]) {
    const members = g.nodes.filter((n) => n.kind === kind).map((n) => n.id);
    if (members.length === 0) continue;
    out.push(`  classDef ${kind} fill:${FILL[kind]},stroke:#374151`);
    out.push(`  class ${members.join(',')} ${kind}`);
  }
  return out.join('\n') + '\n';
}

/**
 * The most nodes `toSvg` hands to Graphviz unless told otherwise. Graphviz's layout time
 * grows about as the cube of the graph: measured (Node 20, @viz-js/viz 3) on --grad graphs
 * of tanh chains with skip connections (1.6 edges per node), 113 nodes took 0.6 s of CPU,
 * 278 nodes 10 s, 553 nodes more than a minute; a 2000-node graph ran out of memory after
 * 43 s and 2.2 GB. The largest example (co2) draws 200 nodes. Past the limit `toSvg`
 * refuses with a GradcError before Graphviz runs; `--max-nodes` raises it.
 */
export const MAX_SVG_NODES = 400;

/** Why `g` is too large to draw with Graphviz under `maxNodes`, or undefined when it is not. */
export function tooLargeToDraw(g: ComputationalGraph, maxNodes = MAX_SVG_NODES): string | undefined {
  if (g.nodes.length <= maxNodes) return undefined;
  return `the graph has ${g.nodes.length} nodes and ${g.edges.length} edges, more than the ${maxNodes} nodes Graphviz is asked to lay out as SVG (it would take minutes and gigabytes)`;
}

/** A value thrown by Graphviz's WebAssembly (often a plain object with a message), as text. */
export function describeThrown(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null) {
    const { name, message } = e as { name?: unknown; message?: unknown };
    if (typeof message === 'string') return typeof name === 'string' && name ? `${name}: ${message}` : message;
    try {
      return JSON.stringify(e);
    } catch {
      return Object.prototype.toString.call(e);
    }
  }
  return String(e);
}

export interface SvgOptions {
  /** Refuse graphs with more nodes than this (default MAX_SVG_NODES). */
  readonly maxNodes?: number;
}

/**
 * SVG text, drawn by Graphviz (WebAssembly, loaded on first use). A graph over the node
 * limit is a GradcError (nothing is run); Graphviz running out of memory is a GradcError
 * saying so; any other Graphviz failure is a bug in gradc, thrown as an Error with
 * Graphviz's message (never a bare object).
 */
export async function toSvg(g: ComputationalGraph | string, options: SvgOptions = {}): Promise<string> {
  if (typeof g !== 'string') {
    const why = tooLargeToDraw(g, options.maxNodes);
    if (why) throw new GradcError(`${why}; raise the limit with --max-nodes N, or write DOT text (--format dot) and lay it out with another tool`);
  }
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  try {
    return viz.renderString(typeof g === 'string' ? g : toDot(g), { format: 'svg' });
  } catch (e) {
    const what = describeThrown(e);
    if (/out of memory|memory access out of bounds|Cannot enlarge memory/i.test(what)) {
      throw new GradcError(`Graphviz ran out of memory laying out the graph (${what}); lower --max-nodes below ${typeof g === 'string' ? 'the graph size' : g.nodes.length} or write DOT text (--format dot)`);
    }
    throw e instanceof Error ? e : new Error(`Graphviz failed: ${what}`);
  }
}
