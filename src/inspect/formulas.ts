/**
 * The derived gradient formulas, readable: what `gradc grad` prints.
 *
 * Takes a model and optionally the parameters wanted; returns one formula per parameter
 * (dloss/dp, simplified) and the named steps they share. Guarantees:
 * - intermediates the user named appear by name (`dloss/dw = 2 * s * x`);
 * - a backward subexpression used more than once (by several gradients, or twice in
 *   one) is printed once, as a step, and referred to by name: `dloss/d<name>` when it is
 *   the adjoint of a node the user named (definitions first, then parameters), else
 *   `g1`, `g2`, ... (with the forward expression it is the adjoint of, when there is one);
 *   trivial ones (a leaf, a constant, a single operation on names) stay inline;
 * - lines come in parameter order, each step right before its first use, and every
 *   formula has text (mathjs syntax, step names standing for their values) and LaTeX;
 * - `expanded` is the gradient without steps, as the generated module's doc comment
 *   shows it (there cut at 400 characters);
 * - the output depends only on the model, never on node ids; a formula is at most
 *   MAX_LENGTH characters (a longer subexpression prints as `…`).
 */
import { GradcError } from '../errors.js';
import type { Node } from '../ir/node.js';
import { formula } from '../ir/print.js';
import { showShape } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import type { Model } from '../model.js';
import type { ModelDefinition } from '../2-build/define.js';
import { forwardNodes, inspectModel, type Inspected } from './derived.js';
import { tex, texName } from './tex.js';

export interface FormulaLine {
  /** `dloss/dw`, `dloss/dz`, `g1`. */
  readonly name: string;
  readonly nameTex: string;
  /** Formula text (mathjs syntax; step names stand for their values). */
  readonly text: string;
  readonly tex: string;
  readonly shape: string;
  /** The parameter whose gradient this line is, if it is one. */
  readonly param?: string;
  /** For a step: the forward node it is the adjoint of (its name, or its formula). */
  readonly adjointOf?: string;
  /** Step names this formula refers to. */
  readonly uses: readonly string[];
}

export interface ParamGradient {
  readonly param: string;
  readonly name: string;
  readonly shape: string;
  /** With steps: the step's name when the gradient is a shared step of another name. */
  readonly text: string;
  readonly tex: string;
  /** Without steps (named definitions still appear by name). */
  readonly expanded: string;
  readonly expandedTex: string;
}

export interface GradientFormulas {
  readonly model: string;
  readonly source: string;
  /** Everything to print, in order: steps before their first use, then each gradient. */
  readonly lines: readonly FormulaLine[];
  /** Named steps: lines other formulas refer to. */
  readonly steps: readonly FormulaLine[];
  readonly gradients: readonly ParamGradient[];
}

/** Parameters named by `wrt` (all when empty), or a GradcError naming an unknown one. */
export function selectParams(model: Model, wrt: readonly string[] = []): number[] {
  if (wrt.length === 0) return model.params.map((_, i) => i);
  return [...new Set(wrt)].map((name) => {
    const i = model.params.findIndex((p) => p.name === name);
    if (i >= 0) return i;
    const kind = model.inputs.some((l) => l.name === name) ? 'an input' : model.targets.some((l) => l.name === name) ? 'a target'
      : model.defs.some((d) => d.name === name) ? 'a definition' : null;
    throw new GradcError(`--wrt: ${kind ? `'${name}' is ${kind}, not a parameter` : `unknown parameter '${name}'`} (parameters: ${model.params.map((p) => p.name).join(', ')})`, { symbol: name });
  });
}

const LOSS = 'loss';
/** Longest formula printed; a longer subexpression prints as `…` (unnamed DAGs can expand exponentially). */
const MAX_LENGTH = 20_000;
/** The `# dloss/d(...)` annotation of an unnamed step is a hint, so it is kept short (and linear on deep graphs). */
const ANNOTATION_LENGTH = 120;
const ANNOTATION_DEPTH = 6;
export const adjointLabel = (name: string): string => `d${LOSS}/d${name}`;

/** Number of operations in `n` up to `limit`, not counting inside named nodes. */
function weight(n: Node, named: (n: Node) => boolean, limit: number): number {
  let count = 0;
  const stack = [n];
  const seen = new Set<Node>();
  while (stack.length && count < limit) {
    const x = stack.pop()!;
    if (seen.has(x) || x.args.length === 0 || (x !== n && named(x))) continue;
    seen.add(x);
    count++;
    stack.push(...x.args);
  }
  return count;
}

export function gradientFormulas(def: ModelDefinition | Model | Inspected, options: { wrt?: readonly string[] } = {}): GradientFormulas {
  const { derived } = inspectModel(def);
  const model = derived.model;
  const chosen = selectParams(model, options.wrt);
  const roots = chosen.map((i) => derived.grads[i]);
  const labels = new Map(model.labels);
  const forward = new Set(forwardNodes(model));
  const order = topoOrder(roots);

  // Uses of each node: distinct parents, plus one per gradient it is.
  const uses = new Map<Node, number>();
  for (const n of order) for (const a of new Set(n.args)) uses.set(a, (uses.get(a) ?? 0) + 1);
  for (const r of roots) uses.set(r, (uses.get(r) ?? 0) + 1);

  // Names for adjoints: of definitions (earliest in the forward graph first), then of
  // parameters. What an unnamed step is the adjoint of: the largest unnamed forward node.
  const adjointName = new Map<Node, string>();
  const adjointOf = new Map<Node, string>();
  const fwdOrder = forwardNodes(model);
  for (const f of fwdOrder) {
    const a = derived.adjoints.get(f);
    const l = labels.get(f);
    if (a && l && f.op !== 'param' && !adjointName.has(a)) {
      adjointName.set(a, adjointLabel(l));
      adjointOf.set(a, l);
    }
  }
  model.params.forEach((p, i) => {
    const a = derived.grads[i];
    if (!adjointName.has(a)) adjointName.set(a, adjointLabel(p.name));
  });
  for (const f of fwdOrder.slice().reverse()) {
    const a = derived.adjoints.get(f);
    if (a && !labels.has(f) && f.args.length > 0 && !adjointOf.has(a)) adjointOf.set(a, formula(f, labels, { maxLength: ANNOTATION_LENGTH, maxDepth: ANNOTATION_DEPTH }));
  }

  // Steps: shared backward subexpressions worth a name.
  const isStep = new Set<Node>();
  for (const n of order) {
    if ((uses.get(n) ?? 0) < 2 || n.args.length === 0 || forward.has(n) || labels.has(n)) continue;
    // An adjoint of a named node is always worth its name; another subexpression only if
    // it is more than one operation on names (so `-y` or `1 - h1` stay inline).
    if (adjointName.has(n) || weight(n, (x) => labels.has(x) || isStep.has(x), 2) >= 2) isStep.add(n);
  }

  // Print order: for each gradient, its steps (post-order) then itself.
  const stepNames = new Map<Node, string>();
  let g = 0;
  const lines: FormulaLine[] = [];
  const printed = new Set<Node>();
  const stepLabels = new Map(labels);
  const line = (n: Node, name: string, param?: string): FormulaLine => {
    const reached = new Set<string>();
    // Only the steps the printed formula mentions (not those hidden inside other steps).
    const stack = [n];
    const seen = new Set<Node>();
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      if (x !== n && stepLabels.has(x)) { if (stepNames.has(x)) reached.add(stepNames.get(x)!); continue; }
      stack.push(...x.args);
    }
    const alias = stepNames.get(n) !== undefined && stepNames.get(n) !== name ? stepNames.get(n)! : undefined;
    if (alias) reached.add(alias);
    return {
      name,
      nameTex: texName(name),
      text: alias ?? formula(n, stepLabels, { maxLength: MAX_LENGTH }),
      tex: alias ? texName(alias) : tex(n, stepLabels, { maxLength: MAX_LENGTH }),
      shape: showShape(n.shape),
      ...(param ? { param } : {}),
      ...(!alias && isStep.has(n) && adjointOf.has(n) ? { adjointOf: adjointOf.get(n)! } : {}),
      uses: [...reached].sort(),
    };
  };
  const emitSteps = (root: Node) => {
    for (const n of topoOrder([root])) {
      if (!isStep.has(n) || printed.has(n)) continue;
      const name = adjointName.get(n) ?? `g${++g}`;
      const p = model.params.findIndex((q, i) => chosen.includes(i) && derived.grads[i] === n && adjointLabel(q.name) === name);
      lines.push(line(n, name, p >= 0 ? model.params[p].name : undefined));
      stepNames.set(n, name);
      stepLabels.set(n, name);
      printed.add(n);
    }
  };
  const gradients: ParamGradient[] = [];
  // Several parameters often share one gradient node (every term of a sum): print it once.
  const expandedOf = new Map<Node, { text: string; tex: string }>();
  const expand = (r: Node) => {
    let e = expandedOf.get(r);
    if (!e) expandedOf.set(r, (e = { text: formula(r, labels, { maxLength: MAX_LENGTH }), tex: tex(r, labels, { maxLength: MAX_LENGTH }) }));
    return e;
  };
  const lineOf = new Map<string, FormulaLine>(); // the first line of each name, as lines.find would
  let indexed = 0;
  for (const i of chosen) {
    const p = model.params[i];
    const r = derived.grads[i];
    const name = adjointLabel(p.name);
    emitSteps(r);
    const own = stepNames.get(r) === name;
    if (!own) lines.push(line(r, name, p.name));
    for (; indexed < lines.length; indexed++) if (!lineOf.has(lines[indexed].name)) lineOf.set(lines[indexed].name, lines[indexed]);
    const shown = lineOf.get(name)!;
    const expanded = expand(r);
    gradients.push({
      param: p.name,
      name,
      shape: showShape(p.shape),
      text: shown.text,
      tex: shown.tex,
      expanded: expanded.text,
      expandedTex: expanded.tex,
    });
  }
  const referenced = new Set(lines.flatMap((l) => l.uses));
  return {
    model: model.name,
    source: model.source,
    lines,
    steps: lines.filter((l) => referenced.has(l.name)),
    gradients,
  };
}

/** The text `gradc grad` prints: one `name = formula` line each, names aligned. */
export function formatFormulas(f: GradientFormulas, options: { tex?: boolean } = {}): string {
  if (options.tex) return f.lines.map((l) => `${l.nameTex} = ${l.tex}`).join('\n');
  const width = Math.max(...f.lines.map((l) => l.name.length));
  return f.lines
    .map((l) => `${l.name.padEnd(width)} = ${l.text}${l.adjointOf && !l.name.endsWith(`/d${l.adjointOf}`) ? `    # ${adjointLabel(`(${l.adjointOf})`)}` : ''}`)
    .join('\n');
}
