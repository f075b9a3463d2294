/**
 * The derived gradients as named steps: what `gradc grad` prints and what the generated
 * module's doc comment shows (one source for both; inspect/formulas.ts adds LaTeX).
 *
 * Takes a derived model (after phases 3 and 4) and optionally the parameters wanted;
 * returns one line per gradient (dloss/dp, simplified) and the named steps they share.
 * Guarantees:
 * - intermediates the user named appear by name (`dloss/dw = 2 * s * x`);
 * - a backward subexpression used more than once (by several gradients, or twice in
 *   one) is printed once, as a step, and referred to by name. Its name comes from
 *   naming.ts `adjointOwners`: `dloss/d<label>` when it is the adjoint of a node the user
 *   named, `dloss/d<param>` when it is a parameter's gradient, else `g1`, `g2`, ... with the
 *   forward expression it is the adjoint of beside it; trivial ones (a leaf, a constant,
 *   a single operation on names) stay inline;
 * - lines come in parameter order, each step right before its first use; every line's
 *   text is mathjs syntax in which step names stand for their values, and `labels` maps
 *   every named node (the user's and the steps') to its name, so another notation (LaTeX)
 *   prints the same lines;
 * - the output depends only on the model, never on node ids; a formula is at most
 *   MAX_LENGTH characters (a longer subexpression prints as `…`).
 */
import { GradcError } from '../errors.js';
import type { Node } from '../ir/node.js';
import { formula } from '../ir/print.js';
import { topoOrder } from '../ir/walk.js';
import { type Derived, forwardNodes, type Model } from '../model.js';
import { adjointLabel, adjointOwners, stepName } from '../naming.js';

export interface StepLine {
  /** `dloss/dw`, `dloss/dz`, `g1`. */
  readonly name: string;
  readonly node: Node;
  /** Formula text (mathjs syntax; step names stand for their values), or the alias. */
  readonly text: string;
  /** When this line is a gradient that is a step of another name: that name. */
  readonly alias?: string;
  /** The parameter whose gradient this line is, if it is one. */
  readonly param?: string;
  /** For a step: the forward node it is the adjoint of (its name, or its formula). */
  readonly adjointOf?: string;
  /** Step names this formula refers to. */
  readonly uses: readonly string[];
}

export interface GradientSteps {
  /** Everything to print, in order: steps before their first use, then each gradient. */
  readonly lines: readonly StepLine[];
  /** The user's labels and the step names: print any line's node with these. */
  readonly labels: ReadonlyMap<Node, string>;
  /** Per chosen parameter: its index, the name of its line and the line that shows it. */
  readonly gradients: readonly { readonly index: number; readonly name: string; readonly line: StepLine }[];
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

/** Longest formula printed; a longer subexpression prints as `…` (unnamed DAGs can expand exponentially). */
export const MAX_LENGTH = 20_000;
/** The `# dloss/d(...)` annotation of an unnamed step is a hint, so it is kept short (and linear on deep graphs). */
const ANNOTATION_LENGTH = 120;
const ANNOTATION_DEPTH = 6;

/** Uses of each node of `order`: distinct parents, plus one per gradient (root) it is. */
function useCounts(order: readonly Node[], roots: readonly Node[]): Map<Node, number> {
  const uses = new Map<Node, number>();
  for (const n of order) for (const a of new Set(n.args)) uses.set(a, (uses.get(a) ?? 0) + 1);
  for (const r of roots) uses.set(r, (uses.get(r) ?? 0) + 1);
  return uses;
}

/**
 * Names for adjoints (naming.ts): a named owner's, else the first parameter's whose
 * gradient it is; and what an unnamed step is the adjoint of: its unnamed owner's formula.
 */
function adjointDisplay(derived: Derived): { adjointName: Map<Node, string>; adjointOf: Map<Node, string> } {
  const { model } = derived;
  const adjointName = new Map<Node, string>();
  const adjointOf = new Map<Node, string>();
  for (const [a, owner] of adjointOwners(derived)) {
    if (owner.label !== undefined) {
      adjointName.set(a, adjointLabel(owner.label));
      adjointOf.set(a, owner.label);
    } else if (owner.param === undefined) {
      adjointOf.set(a, formula(owner.of, model.labels, { maxLength: ANNOTATION_LENGTH, maxDepth: ANNOTATION_DEPTH }));
    }
  }
  model.params.forEach((p, i) => {
    if (!adjointName.has(derived.grads[i])) adjointName.set(derived.grads[i], adjointLabel(p.name));
  });
  return { adjointName, adjointOf };
}

/** The steps: shared backward subexpressions worth a name (in `order`, arguments first). */
function chooseSteps(order: readonly Node[], uses: ReadonlyMap<Node, number>, forward: ReadonlySet<Node>, labels: ReadonlyMap<Node, string>, adjointName: ReadonlyMap<Node, string>): Set<Node> {
  const isStep = new Set<Node>();
  for (const n of order) {
    if ((uses.get(n) ?? 0) < 2 || n.args.length === 0 || forward.has(n) || labels.has(n)) continue;
    // An adjoint of a named node is always worth its name; another subexpression only if
    // it is more than one operation on names (so `-y` or `1 - h1` stay inline).
    if (adjointName.has(n) || weight(n, (x) => labels.has(x) || isStep.has(x), 2) >= 2) isStep.add(n);
  }
  return isStep;
}

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

export function gradientSteps(derived: Derived, options: { wrt?: readonly string[] } = {}): GradientSteps {
  const model = derived.model;
  const chosen = selectParams(model, options.wrt);
  const roots = chosen.map((i) => derived.grads[i]);
  const labels = model.labels;
  const forward = new Set(forwardNodes(model));
  const order = topoOrder(roots);

  const { adjointName, adjointOf } = adjointDisplay(derived);
  const isStep = chooseSteps(order, useCounts(order, roots), forward, labels, adjointName);

  // Print order: for each gradient, its steps (post-order) then itself.
  const stepNames = new Map<Node, string>();
  let g = 0;
  const lines: StepLine[] = [];
  const stepLabels = new Map(labels);
  const line = (n: Node, name: string, param?: string): StepLine => {
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
      node: n,
      text: alias ?? formula(n, stepLabels, { maxLength: MAX_LENGTH }),
      ...(alias ? { alias } : {}),
      ...(param ? { param } : {}),
      ...(!alias && isStep.has(n) && adjointOf.has(n) ? { adjointOf: adjointOf.get(n)! } : {}),
      uses: [...reached].sort(),
    };
  };
  // The chosen parameters whose gradient each node is, in parameter order.
  const gradientOf = new Map<Node, number[]>();
  for (const i of chosen) (gradientOf.get(derived.grads[i]) ?? gradientOf.set(derived.grads[i], []).get(derived.grads[i])!).push(i);
  const walked = new Set<Node>(); // every gradient's walk skips what an earlier one listed
  const emitSteps = (root: Node) => {
    for (const n of topoOrder([root], walked)) {
      walked.add(n);
      if (!isStep.has(n) || stepNames.has(n)) continue;
      const name = adjointName.get(n) ?? stepName(++g);
      const p = (gradientOf.get(n) ?? []).find((i) => adjointLabel(model.params[i].name) === name) ?? -1;
      lines.push(line(n, name, p >= 0 ? model.params[p].name : undefined));
      stepNames.set(n, name);
      stepLabels.set(n, name);
    }
  };
  const gradients: { index: number; name: string; line: StepLine }[] = [];
  const lineOf = new Map<string, StepLine>(); // the first line of each name
  let indexed = 0;
  for (const i of chosen) {
    const p = model.params[i];
    const r = derived.grads[i];
    const name = adjointLabel(p.name);
    emitSteps(r);
    if (stepNames.get(r) !== name) lines.push(line(r, name, p.name));
    for (; indexed < lines.length; indexed++) if (!lineOf.has(lines[indexed].name)) lineOf.set(lines[indexed].name, lines[indexed]);
    gradients.push({ index: i, name, line: lineOf.get(name)! });
  }
  return { lines, labels: stepLabels, gradients };
}

/** The text `gradc grad` prints and the doc comment shows: one `name = formula` line each, names aligned. */
export function formatSteps(lines: readonly Pick<StepLine, 'name' | 'text' | 'adjointOf'>[]): string {
  const width = Math.max(...lines.map((l) => l.name.length));
  return lines
    .map((l) => `${l.name.padEnd(width)} = ${l.text}${l.adjointOf && !l.name.endsWith(`/d${l.adjointOf}`) ? `    # ${adjointLabel(`(${l.adjointOf})`)}` : ''}`)
    .join('\n');
}
