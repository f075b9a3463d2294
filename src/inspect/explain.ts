/**
 * The chain rule for one sample, step by step, with numbers: what `gradc explain` prints.
 *
 * Takes a model, one sample (`--at` values; parameters default to their initial values)
 * and a learning rate. Returns four tables:
 *   1. forward pass: every node with its formula and value;
 *   2. local gradients: for every edge on a path from a parameter to the loss, the
 *      derivative of the node with respect to that input, as formula and number;
 *   3. backward pass: from the loss back to each parameter, dloss/du as the sum over the
 *      consumers v of u of dloss/dv * dv/du, with the numbers multiplied out;
 *   4. the gradient-descent update: old value, gradient, new value.
 * The nodes are those of the simplified forward graph that gradc differentiates: the
 * leaves, every node the user named, and `t1`, `t2`, ... for unnamed subexpressions used
 * more than once; unnamed single-use operations are folded into the formula of the node
 * that uses them. Guarantees: local derivatives are partial derivatives (the other inputs
 * of the node held fixed), obtained with `differentiate` on the node's formula over
 * stand-in leaves and simplified like every gradient; every number comes from the
 * reference interpreter; the parameters' gradients equal the interpreter's value of the
 * derived gradients (a note says so if they ever differ). For tensors the local
 * derivative is a Jacobian, shown as the vector-Jacobian product it contributes, and
 * values are shown up to a readable size (`showValue`).
 */
import { GradcError } from '../errors.js';
import { make, input as leaf } from '../ir/build.js';
import { type Node, withGraph } from '../ir/node.js';
import { formula } from '../ir/print.js';
import { type Shape, showShape } from '../ir/shape.js';
import { consumers, dependsOn, topoOrder } from '../ir/walk.js';
import { evaluate } from '../interp/evaluate.js';
import { forwardNodes, type Model } from '../model.js';
import { deriveExpression, type ModelDefinition } from '../pipeline.js';
import { inspectModel, type Inspected } from './derived.js';
import { adjointLabel, sharedName } from '../naming.js';
import { type Given, type LeafKind, type SampleValue, describeInit, resolveSample, sampleEnv, showNumber, showValue } from './sample.js';
import { tex, texName } from './tex.js';
import { DEFAULT_STEPS, formatTimeWalk, type TimeWalk, timeWalks } from './throughTime.js';

export interface ForwardRow {
  readonly name: string;
  readonly kind: LeafKind | 'definition' | 'shared';
  readonly shape: Shape;
  /** Formula over the other nodes; for leaves, where the value came from. */
  readonly text: string;
  readonly tex: string;
  readonly value: Float64Array;
}

export interface LocalRow {
  /** `ds/dyhat`. */
  readonly name: string;
  readonly nameTex: string;
  readonly of: string;
  readonly wrt: string;
  /** The partial derivative (scalar nodes), or the vector-Jacobian product in terms of dloss/d<of> (tensor nodes). */
  readonly text: string;
  readonly tex: string;
  /** Its value (of shape `shape`); null for a tensor node's Jacobian, applied in the backward pass. */
  readonly value: Float64Array | null;
  readonly shape: Shape;
  /** For tensor nodes: the Jacobian's shape, `[4] by [4x3]`. */
  readonly jacobian?: string;
}

export interface BackwardTerm {
  readonly from: string;
  readonly text: string;
  readonly tex: string;
  /** The numbers multiplied (scalars only): `-2 * 1`. */
  readonly numbers?: string;
  readonly value: Float64Array;
}

export interface BackwardRow {
  readonly node: string;
  /** `dloss/dyhat`. */
  readonly name: string;
  readonly nameTex: string;
  readonly shape: Shape;
  readonly terms: readonly BackwardTerm[];
  readonly text: string;
  readonly tex: string;
  readonly numbers?: string;
  readonly value: Float64Array;
}

export interface UpdateRow {
  readonly param: string;
  readonly shape: Shape;
  readonly old: Float64Array;
  readonly gradient: Float64Array;
  readonly updated: Float64Array;
}

export interface Walkthrough {
  readonly model: string;
  readonly source: string;
  readonly lr: number;
  readonly sample: readonly SampleValue[];
  readonly forward: readonly ForwardRow[];
  readonly local: readonly LocalRow[];
  readonly backward: readonly BackwardRow[];
  readonly update: readonly UpdateRow[];
  /** 5. Each recurrence step by step (inspect/throughTime.ts): the first and last `steps` steps, forward and backward. */
  readonly time: readonly TimeWalk[];
  readonly steps: number;
  readonly notes: readonly string[];
}

export const DEFAULT_LR = 0.1;

const LEAF_OPS = new Set(['param', 'input', 'target']);

export interface ExplainOptions {
  readonly lr?: number;
  /** Steps of each recurrence shown at each end (DEFAULT_STEPS); the ones between are elided. */
  readonly steps?: number;
}

export function explain(def: ModelDefinition | Model | Inspected, at: Given, options: ExplainOptions = {}): Walkthrough {
  const ins = inspectModel(def);
  // The stand-in leaves and local derivatives are interned in the model's own graph.
  return withGraph(() => walkthrough(ins, at, options), ins.graph);
}

/**
 * What the four tables share: the nodes shown (vertices) and their names, their values,
 * and each node's formula over stand-in leaves for the nodes it reads.
 */
interface Walk {
  readonly ins: Inspected;
  readonly model: Model;
  readonly env: Record<string, Float64Array>;
  readonly names: ReadonlyMap<Node, string>;
  readonly vertices: readonly Node[];
  readonly values: ReadonlyMap<Node, Float64Array>;
  readonly inLoss: ReadonlySet<Node>;
  /** Nodes on a path from a parameter to the loss. */
  readonly active: ReadonlySet<Node>;
  readonly stand: ReadonlyMap<Node, Node>;
  readonly standLabels: ReadonlyMap<Node, string>;
  readonly standEnv: Record<string, Float64Array>;
  readonly exprs: ReadonlyMap<Node, { expr: Node; inputs: Node[] }>;
  readonly notes: string[];
}

function walkthrough(ins: Inspected, at: Given, options: ExplainOptions): Walkthrough {
  const model = ins.derived.model;
  const lr = options.lr ?? DEFAULT_LR;
  const sample = resolveSample(model, at);
  const w = walkOf(ins, sampleEnv(sample));
  const forward = forwardTable(w, sample);
  const backOrder = fromTheLossBack(w);
  const { local, contributions } = localTable(w, backOrder);
  const { backward, adjoint } = backwardTable(w, backOrder, contributions);
  const update = updateTable(w, adjoint, lr);
  const steps = options.steps ?? DEFAULT_STEPS;
  if (!Number.isSafeInteger(steps) || steps < 1) throw new GradcError(`explain: steps must be a positive integer (the steps of each recurrence shown at each end), got ${String(steps)}`);
  const time = timeWalks(ins, w.env, steps, w.notes);
  return { model: model.name, source: model.source, lr, sample, forward, local, backward, update, time, steps, notes: w.notes };
}

function walkOf(ins: Inspected, env: Record<string, Float64Array>): Walk {
  const model = ins.derived.model;
  const notes: string[] = [];
  // The nodes of the walkthrough.
  const order = forwardNodes(model);
  const users = consumers(order);
  const names = new Map<Node, string>();
  const leaves = [...model.inputs, ...model.targets, ...model.params];
  for (const l of leaves) names.set(l.node, l.name);
  for (const n of order) if (!names.has(n) && model.labels.has(n)) names.set(n, model.labels.get(n)!);
  const taken = new Set(names.values());
  let k = 0;
  for (const n of order) {
    if (names.has(n) || n.args.length === 0 || users.get(n)!.length < 2) continue;
    let name: string;
    do name = sharedName(++k); while (taken.has(name));
    names.set(n, name);
  }
  if (k > 0) notes.push(`${sharedName(1)}${k > 1 ? `..${sharedName(k)}` : ''}: unnamed subexpressions used more than once, shown as nodes of their own.`);
  const isVertex = (n: Node) => names.has(n);
  const vertices = order.filter(isVertex);
  const values = evaluate(order, env);
  const inLoss = new Set(topoOrder([model.loss]));
  const params = new Set(model.params.map((p) => p.node));
  const active = new Set([...dependsOn(order, (n) => params.has(n))].filter((n) => inLoss.has(n)));

  // Stand-ins: each non-leaf node as a leaf, so that a node's formula reads its inputs as
  // independent variables (partial derivatives). Their names cannot clash with user names.
  const stand = new Map<Node, Node>();
  const standLabels = new Map<Node, string>();
  for (const v of vertices) {
    const s = v.args.length === 0 ? v : leaf(`#${names.get(v)}`, v.shape);
    stand.set(v, s);
    if (s !== v) standLabels.set(s, names.get(v)!);
  }
  const standEnv: Record<string, Float64Array> = { ...env };
  for (const v of vertices) if (v.args.length > 0) standEnv[`#${names.get(v)}`] = values.get(v)!;

  // Each node's formula over stand-ins, and the nodes it reads (in order of first use).
  const exprs = new Map<Node, { expr: Node; inputs: Node[] }>();
  for (const v of vertices) {
    if (v.args.length === 0) continue;
    const inputs: Node[] = [];
    const built = new Map<Node, Node>();
    const stack: { n: Node; expanded: boolean }[] = [{ n: v, expanded: false }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const n = top.n;
      if (built.has(n)) { stack.pop(); continue; }
      if (n !== v && isVertex(n)) {
        built.set(n, stand.get(n)!);
        if (!inputs.includes(n)) inputs.push(n);
        stack.pop();
        continue;
      }
      if (!top.expanded) {
        top.expanded = true;
        for (let i = n.args.length - 1; i >= 0; i--) if (!built.has(n.args[i])) stack.push({ n: n.args[i], expanded: false });
        continue;
      }
      stack.pop();
      const args = n.args.map((a) => built.get(a)!);
      built.set(n, args.every((a, i) => a === n.args[i]) ? n : make(n.op, args, n.attrs, n.shape));
    }
    const expr = built.get(v)!;
    exprs.set(v, { expr, inputs });
    if (!standLabels.has(expr) && !LEAF_OPS.has(expr.op)) standLabels.set(expr, names.get(v)!);
  }
  return { ins, model, env, names, vertices, values, inLoss, active, stand, standLabels, standEnv, exprs, notes };
}

const show = (n: Node, labels: ReadonlyMap<Node, string>) => ({
  text: labels.has(n) ? labels.get(n)! : formula(n, labels),
  tex: labels.has(n) ? texName(labels.get(n)!) : tex(n, labels),
});

/** 1. The forward pass: the sample, then every vertex with its formula and value (and notes on rewritten definitions). */
function forwardTable({ ins, model, names, vertices, values, inLoss, notes }: Walk, sample: readonly SampleValue[]): ForwardRow[] {
  const { original } = ins;
  const vertexLabels = new Map(names);
  const forward: ForwardRow[] = [];
  const initOf = new Map(model.params.map((p) => [p.name, p]));
  for (const s of sample) {
    const p = initOf.get(s.name);
    const text = s.kind !== 'parameter' ? `${s.kind} (given)` : s.from === 'given' ? 'parameter (given)' : `parameter (initial value: ${describeInit(p!.init, model.seed)})`;
    forward.push({ name: s.name, kind: s.kind, shape: s.shape, text, tex: `\\text{${text}}`, value: s.value });
  }
  for (const v of vertices) {
    if (v.args.length === 0) continue;
    const f = show(v, new Map([...vertexLabels].filter(([n]) => n !== v)));
    forward.push({ name: names.get(v)!, kind: model.labels.has(v) ? 'definition' : 'shared', shape: v.shape, ...f, value: values.get(v)! });
  }
  original.defs.forEach((d, i) => {
    const now = model.defs[i];
    if (!now || now.node === d.node || !inLoss.has(now.node)) return;
    const before = formula(d.node, original.labels);
    const after = formula(now.node, model.labels);
    if (before !== after && names.get(now.node) === d.name) notes.push(`${d.name} was written ${before}; gradc differentiates the equivalent form above, ${after}.`);
  });
  for (const d of model.defs) {
    if (!inLoss.has(d.node) && names.get(d.node) === d.name) notes.push(`${d.name} is computed but the loss does not read it (as simplified), so no gradient flows through it.`);
  }

  return forward;
}

/** The active vertices from the loss back: each after every node that reads it, else in order of first use (breadth first). */
function fromTheLossBack({ model, vertices, active, exprs }: Walk): Node[] {
  // So the tables read like the textbook.
  const pending = new Map<Node, number>();
  for (const v of vertices) {
    if (!active.has(v) || v.args.length === 0) continue;
    for (const u of exprs.get(v)!.inputs) if (active.has(u)) pending.set(u, (pending.get(u) ?? 0) + 1);
  }
  const backOrder: Node[] = [];
  const queue = active.has(model.loss) ? [model.loss] : [];
  while (queue.length) {
    const v = queue.shift()!;
    backOrder.push(v);
    for (const u of exprs.get(v)?.inputs ?? []) {
      if (!active.has(u)) continue;
      pending.set(u, pending.get(u)! - 1);
      if (pending.get(u) === 0) queue.push(u);
    }
  }
  return backOrder;
}

interface Contribution { readonly v: Node; readonly row: LocalRow; readonly vjp: Node; readonly G: Node }

/** 2. Local gradients: for each edge u -> v on the way back, dv/du (or its vector-Jacobian product for tensors). */
function localTable({ names, active, stand, standLabels, standEnv, exprs }: Walk, backOrder: readonly Node[]): { local: LocalRow[]; contributions: Map<Node, Contribution[]> } {
  const local: LocalRow[] = [];
  const contributions = new Map<Node, Contribution[]>();
  for (const v of backOrder) {
    if (v.args.length === 0) continue;
    const { expr, inputs } = exprs.get(v)!;
    const vName = names.get(v)!;
    const G = leaf(`#${adjointLabel(vName)}`, v.shape);
    const gLabels = new Map(standLabels).set(G, adjointLabel(vName));
    for (const u of inputs) {
      if (!active.has(u)) continue;
      const uName = names.get(u)!;
      const name = `d${vName}/d${uName}`;
      const x = stand.get(u)!;
      const scalar = v.shape.length === 0;
      const seeded = scalar ? make('mul', [G, expr]) : make('sum', [make('mul', [G, expr])]);
      const vjp = deriveExpression(seeded, [x])[0];
      let row: LocalRow;
      if (scalar) {
        const d = deriveExpression(expr, [x])[0];
        row = { name, nameTex: texName(name), of: vName, wrt: uName, ...show(d, standLabels), value: evaluate([d], standEnv).get(d)!, shape: d.shape };
      } else {
        const f = show(vjp, gLabels);
        row = { name, nameTex: texName(name), of: vName, wrt: uName, text: `${adjointLabel(vName)} ↦ ${f.text}`, tex: `${texName(adjointLabel(vName))} \\mapsto ${f.tex}`, value: null, shape: u.shape, jacobian: `${showShape(v.shape)} by ${showShape(u.shape)}` };
      }
      local.push(row);
      const list = contributions.get(u) ?? contributions.set(u, []).get(u)!;
      list.push({ v, row, vjp, G });
    }
  }

  return { local, contributions };
}

/** 3. The backward pass: dloss/du as the sum over u's consumers, with the numbers. */
function backwardTable({ model, names, values, standLabels, standEnv }: Walk, backOrder: readonly Node[], contributions: ReadonlyMap<Node, readonly Contribution[]>): { backward: BackwardRow[]; adjoint: Map<Node, Float64Array> } {
  const adjoint = new Map<Node, Float64Array>([[model.loss, Float64Array.of(1)]]);
  const backward: BackwardRow[] = [];
  for (const u of backOrder.slice(1)) {
    const uName = names.get(u)!;
    const incoming = contributions.get(u) ?? [];
    const terms: BackwardTerm[] = incoming.map(({ v, row, vjp, G }) => {
      const vName = names.get(v)!;
      const gv = adjoint.get(v)!;
      const value = evaluate([vjp], { ...standEnv, [`#${adjointLabel(vName)}`]: gv }).get(vjp)!;
      if (v.shape.length > 0) {
        const f = show(vjp, new Map(standLabels).set(G, adjointLabel(vName)));
        return { from: vName, ...f, value };
      }
      if (v === model.loss) {
        // The loss's own partial derivative; named "direct" when other paths add to it.
        const direct = incoming.length > 1;
        return { from: vName, text: `${row.name}${direct ? ' (direct)' : ''}`, tex: `${row.nameTex}${direct ? ' \\,\\text{(direct)}' : ''}`, numbers: row.value && u.shape.length === 0 ? showNumber(row.value[0]) : undefined, value };
      }
      const numbers = row.value && u.shape.length === 0 ? `${showNumber(gv[0])} * ${factor(row.value[0])}` : undefined;
      return { from: vName, text: `${adjointLabel(vName)} * ${row.name}`, tex: `${texName(adjointLabel(vName))} \\cdot ${row.nameTex}`, numbers, value };
    });
    const value = new Float64Array(values.get(u)!.length);
    for (const t of terms) for (let i = 0; i < value.length; i++) value[i] += t.value.length === 1 ? t.value[0] : t.value[i];
    adjoint.set(u, value);
    const name = adjointLabel(uName);
    backward.push({
      node: uName,
      name,
      nameTex: texName(name),
      shape: u.shape,
      terms,
      text: terms.map((t) => t.text).join(' + '),
      tex: terms.map((t) => t.tex).join(' + '),
      ...(terms.every((t) => t.numbers !== undefined) && terms.length > 0 ? { numbers: terms.map((t, i) => (i > 0 && t.numbers!.startsWith('-') ? `(${t.numbers})` : t.numbers)).join(' + ') } : {}),
      value,
    });
  }

  return { backward, adjoint };
}

/** 4. The update, and a check against the derived gradients. */
function updateTable({ ins, model, env, notes }: Walk, adjoint: ReadonlyMap<Node, Float64Array>, lr: number): UpdateRow[] {
  const { derived } = ins;
  const derivedValues = evaluate(derived.grads, env);
  return model.params.map((p, i) => {
    const old = env[p.name];
    const gradient = adjoint.get(p.node) ?? new Float64Array(old.length);
    const expected = derivedValues.get(derived.grads[i])!;
    const off = Math.max(...Array.from(gradient, (g, j) => Math.abs(g - (expected.length === 1 ? expected[0] : expected[j])) / Math.max(1, Math.abs(g))));
    if (off > 1e-9) notes.push(`dloss/d${p.name}: the chain above gives ${showValue(gradient, p.shape)} but the derived gradient gives ${showValue(expected, p.shape)} (please report this).`);
    return { param: p.name, shape: p.shape, old, gradient, updated: old.map((w, j) => w - lr * gradient[j]) };
  });

}

/** A number as a factor after `*`: negative ones in parentheses. */
const factor = (v: number) => (v < 0 ? `(${showNumber(v)})` : showNumber(v));

/** Columns padded to their widest cell, a rule under the header. */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[], indent = '  '): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `${indent}${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`.trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The four tables as text (what `gradc explain` prints). */
export function formatWalkthrough(w: Walkthrough): string {
  const tensors = w.forward.some((r) => r.shape.length > 0);
  const shapeCol = (s: Shape) => (tensors ? [showShape(s)] : []);
  const given = w.sample.filter((s) => s.from === 'given').map((s) => `${s.name} = ${showValue(s.value, s.shape)}`);
  const initial = w.sample.filter((s) => s.from === 'initial').map((s) => s.name);
  const out: string[] = [];
  out.push(`Walkthrough of ${w.model} (${w.source}) for one sample: ${given.join(', ')}`);
  if (initial.length) out.push(`Parameters at their initial values: ${initial.join(', ')}`);
  out.push('', '1. Forward pass: every node, its formula and its value', '');
  out.push(textTable(['node', ...(tensors ? ['shape'] : []), 'formula', 'value'], w.forward.map((r) => [r.name, ...shapeCol(r.shape), r.text, showValue(r.value, r.shape)])));
  out.push('', '2. Local gradients: each node with respect to each of its inputs (on the paths from the parameters to the loss)', '');
  out.push(textTable(['derivative', 'formula', 'value'], w.local.map((r) => [r.name, r.text, r.value ? showValue(r.value, r.shape) : `Jacobian ${r.jacobian}, applied in step 3`])));
  out.push('', '3. Backward pass: the chain rule, from the loss back to the parameters', '');
  out.push(textTable(['gradient', 'chain rule', 'numbers', 'value'], w.backward.map((r) => [r.name, r.text, r.numbers ?? '', showValue(r.value, r.shape)])));
  out.push('', `4. Update: gradient descent with learning rate ${w.lr}: new = old - ${w.lr} * gradient`, '');
  if (!tensors) {
    out.push(textTable(['parameter', 'old', 'gradient', 'new'], w.update.map((r) => [r.param, showValue(r.old, r.shape), showValue(r.gradient, r.shape), showValue(r.updated, r.shape)])));
  } else { // one line each for old, gradient and new: tensors are too wide to sit side by side
    out.push(textTable(['parameter', 'shape', '', 'value'], w.update.flatMap((r) => [
      [r.param, showShape(r.shape), 'old', showValue(r.old, r.shape)],
      ['', '', 'gradient', showValue(r.gradient, r.shape)],
      ['', '', 'new', showValue(r.updated, r.shape)],
    ])));
  }
  w.time.forEach((r, i) => {
    out.push('', `5${w.time.length > 1 ? String.fromCharCode(97 + i) : ''}. Through time: ${r.title} step by step`, '');
    out.push(formatTimeWalk(r, w.steps, (h, rows) => textTable(h, rows)));
  });
  if (w.notes.length) out.push('', 'Notes:', ...w.notes.map((n) => `  - ${n}`));
  return out.join('\n');
}
