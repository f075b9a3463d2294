/**
 * Printing IR for people.
 *
 * - `printIr(roots, labels)`: the SSA listing used by `DEBUG=2` and the golden files,
 *   one line per node in topological order: `%4 yhat = mul(%1 w, %2 x) : scalar`.
 * - `formula(node, labels)`: a mathjs-syntax formula (`2 * (yhat - y) * x`) in which
 *   every node the user named (other than `node` itself) appears by its name. It parses
 *   back with mathjs to the same value when every label is an identifier (labels that
 *   are not, such as the step names `dloss/dz` of `inspect/`, print as quotients).
 *   Elementwise products, quotients and powers of tensors print as mathjs's `.*`, `./`
 *   and `.^` (plain `*`, `/` and `^` mean matrix operations there).
 * Guarantees: both are iterative (no recursion) and deterministic: numbering follows the
 * topological order, never node ids.
 */
import type { Node } from './node.js';
import { OPS } from './ops.js';
import { showShape } from './shape.js';
import { topoOrder } from './walk.js';

export type Labels = ReadonlyMap<Node, string>;

export function formatNumber(v: number): string {
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

function attrText(n: Node): string {
  const parts: string[] = [];
  if (n.attrs.value !== undefined) parts.push(formatNumber(n.attrs.value));
  if (n.attrs.name !== undefined) parts.push(n.attrs.name);
  if (n.attrs.start !== undefined) parts.push(`@${n.attrs.start}`);
  return parts.length ? `[${parts.join(' ')}]` : '';
}

export function printIr(roots: readonly Node[], labels: Labels = new Map(), rootNames: readonly string[] = []): string {
  const order = topoOrder(roots);
  const num = new Map<Node, number>();
  order.forEach((n, i) => num.set(n, i));
  const ref = (n: Node) => `%${num.get(n)}${labels.has(n) ? ` ${labels.get(n)}` : ''}`;
  const lines = order.map((n) => {
    const label = labels.get(n);
    const args = n.args.length ? `(${n.args.map(ref).join(', ')})` : '';
    const body = n.attrs.body ? ` ${timeText(n, n.args.map(ref))}` : ''; // a recurrence's step, written over t
    return `%${num.get(n)}${label ? ` ${label}` : ''} = ${n.op}${attrText(n)}${args}${body} : ${showShape(n.shape)}`;
  });
  roots.forEach((r, i) => lines.push(`return ${rootNames[i] ?? `#${i}`} = %${num.get(r)}`));
  return lines.join('\n');
}

// Precedence for parenthesizing formula text (higher binds tighter).
const PREC: Partial<Record<string, number>> = { add: 1, sub: 1, mul: 2, div: 2, neg: 3, pow: 4, square: 4 };
const SYMBOL: Partial<Record<string, string>> = { add: '+', sub: '-', mul: '*', div: '/', pow: '^' };

interface Printed { text: string; prec: number }

/**
 * Formula text of `root`. Named nodes (in `labels`) print as their names, except `root`
 * itself, and except when `expand` is set (then only leaves print by name). Subexpressions
 * longer than `maxLength` characters or deeper than `maxDepth` print as `…`.
 */
export function formula(root: Node, labels: Labels = new Map(), options: FormulaOptions = {}): string {
  return (options.expand ? undefined : oneLevel(root, labels, options.maxLength ?? Infinity)) ?? formulaIn(new Map(), root, labels, options);
}

/**
 * `formula(root, labels)` (without `expand`) when every argument of `root` is named or a
 * leaf, the common case of a statement's comment: the same text, printed without the walk.
 * Undefined when some argument would have to be printed as a formula itself.
 */
function oneLevel(root: Node, labels: Labels, max: number): string | undefined {
  const args: Printed[] = [];
  for (const a of root.args) {
    const label = labels.get(a);
    if (label !== undefined) args.push(labelText(label));
    else if (a.args.length === 0) {
      const p = printNode(a, []);
      args.push(p.text.length > max ? { text: '…', prec: 9 } : p);
    } else return undefined;
  }
  const p = printNode(root, args);
  return p.text.length > max ? '…' : p.text;
}

export interface FormulaOptions { readonly expand?: boolean; readonly maxLength?: number; readonly maxDepth?: number }

/**
 * `formula(r, labels, options)` for each of `roots`, the work on shared subexpressions
 * done once (each node's text depends on the node alone when there is no `maxDepth`).
 */
export function formulas(roots: readonly Node[], labels: Labels = new Map(), options: FormulaOptions = {}): string[] {
  if (options.maxDepth !== undefined) return roots.map((r) => formula(r, labels, options));
  const done = new Map<Node, Printed>();
  return roots.map((r) => formulaIn(done, r, labels, options));
}

/** `formula`, with `done` holding the texts of nodes other than `root` printed so far (read and extended). */
function formulaIn(done: Map<Node, Printed>, root: Node, labels: Labels, options: FormulaOptions): string {
  const cut = (n: Node) => n !== root && labels.has(n) && (!options.expand || n.args.length === 0);
  const stack: { n: Node; expanded: boolean; depth: number }[] = [{ n: root, expanded: false, depth: 0 }];
  const max = options.maxLength ?? Infinity;
  const maxDepth = options.maxDepth ?? Infinity;
  let result: Printed | undefined; // the root's text: not kept in `done`, where the root may stand for its label
  const has = (n: Node) => (n === root ? result !== undefined : done.has(n));
  while (stack.length) {
    const top = stack[stack.length - 1];
    const n = top.n;
    if (has(n)) { stack.pop(); continue; }
    if (cut(n)) { done.set(n, labelText(labels.get(n)!)); stack.pop(); continue; }
    if (top.depth > maxDepth && n.args.length > 0) { done.set(n, { text: '…', prec: 9 }); stack.pop(); continue; }
    if (!top.expanded) {
      top.expanded = true;
      for (const a of n.args) if (!done.has(a)) stack.push({ n: a, expanded: false, depth: top.depth + 1 });
      continue;
    }
    stack.pop();
    const args = n.args.map((a) => done.get(a)!);
    const p = printNode(n, args);
    const text = p.text.length > max ? { text: `…`, prec: 9 } : p;
    if (n === root) result = text;
    else done.set(n, text);
  }
  return result!.text;
}

/**
 * A scan or tsum with its body written over t: `scan(h[0] = 0; h[t] = tanh(Wx * x[t] + Wh * h[t-1] + b))`,
 * `sum_t(...)`. A forward recurrence's states are `h`, the reverse one's (backpropagation
 * through time) `G`; a sequence is indexed by the step it reads.
 */
function timeText(n: Node, args: readonly string[]): string {
  const b = n.attrs.body!;
  const scan = n.op === 'scan';
  const first = scan ? 1 : 0;
  const self = b.reverse ? 'G' : 'h';
  const at = (k: number) => (k === 0 ? 't' : k > 0 ? `t+${k}` : `t${k}`);
  const labels = new Map<Node, string>();
  b.seqs.forEach((s, i) => {
    const arg = n.args[first + i];
    const name = arg.op === 'scan' ? (arg.attrs.body!.reverse ? 'G' : 'h') : args[first + i];
    const history = arg.shape[0] === b.steps + 1; // row t is the state after step t; else row t-1 is step t's
    const stride = b.strides?.[i] ?? 1;
    const row = stride === 1 ? at(b.shifts[i] - (history ? 1 : 0)) : `${stride}(t-1)${b.shifts[i] === 0 ? '' : `+${b.shifts[i]}`}`;
    labels.set(s, `${/^%?[A-Za-z0-9_$]+$/.test(name) ? name : `(${name})`}[${row}]`);
  });
  b.consts.forEach((k, j) => labels.set(k, args[first + b.seqs.length + j]));
  if (b.carry) labels.set(b.carry, `${self}[${b.reverse ? 't' : 't-1'}]`);
  const body = formula(b.result, labels, { maxLength: 2000 }); // a checkpointed step is k cell steps: a tree that grows as 2^k
  if (!scan) return `sum_t(${body})`;
  const last = b.reverse ? b.steps : 0;
  return `scan(${self}[${last}] = ${args[0]}; ${self}[${b.reverse ? 't-1' : 't'}] = ${body})`;
}

/**
 * A label as an operand. Identifiers bind tightest; a label that is not an identifier
 * (the inspection tools name steps `dloss/dz`) binds like a quotient, so it is
 * parenthesized where a quotient would be (`a / (dloss/dz)`, `(dloss/dz)^2`).
 */
function labelText(label: string): Printed {
  return { text: label, prec: /^[A-Za-z_$][A-Za-z0-9_$]*(\[t([+-]\d+)?\])?$/.test(label) ? 9 : 2 }; // h[t-1]: a recurrence's state
}

function printNode(n: Node, a: Printed[]): Printed {
  const wrap = (p: Printed, prec: number, right = false) => (p.prec < prec || (right && p.prec === prec) ? `(${p.text})` : p.text);
  switch (n.op) {
    case 'const': {
      const v = n.attrs.value!;
      const t = formatNumber(v);
      return { text: n.shape.length ? `${t}[${showShape(n.shape)}]` : t, prec: v < 0 || Object.is(v, -0) ? 3 : 9 };
    }
    case 'param': case 'input': case 'target':
      return { text: n.attrs.name!, prec: 9 };
    case 'neg':
      return { text: `-${wrap(a[0], 3)}`, prec: 3 };
    case 'add': case 'sub': case 'mul': case 'div': {
      const prec = PREC[n.op]!;
      const right = n.op === 'sub' || n.op === 'div';
      const dot = (n.op === 'mul' || n.op === 'div') && n.args.every((x) => x.shape.length > 0) ? '.' : ''; // mathjs: .* is elementwise
      return { text: `${wrap(a[0], prec)} ${dot}${SYMBOL[n.op]} ${wrap(a[1], prec, right)}`, prec };
    }
    case 'pow':
      return { text: `${wrap(a[0], 5)}${n.shape.length ? '.^' : '^'}${wrap(a[1], 5)}`, prec: 4 };
    case 'square':
      return { text: `${wrap(a[0], 5)}${n.shape.length ? '.^' : '^'}2`, prec: 4 };
    case 'index':
      return { text: `${wrap(a[0], 9)}[${n.attrs.start! + 1}]`, prec: 9 };
    case 'slice': // a recurrence's state after step r (row 0: the initial state); other slices print as calls
      if (n.args[0].op === 'scan' && n.shape.length === 1 && n.shape[0] === n.args[0].shape[1]) return { text: `${wrap(a[0], 9)}[row ${n.attrs.start! / n.shape[0]}]`, prec: 9 };
      return { text: `slice(${a[0].text}, ${n.attrs.start! + 1})`, prec: 9 };
    case 'slot': // a recurrence body's input (ir/scan.ts names it)
      return { text: n.attrs.name!, prec: 9 };
    case 'scan': case 'tsum':
      return { text: timeText(n, a.map((x) => x.text)), prec: 9 };
    default: {
      const extra = n.attrs.start !== undefined ? `, ${n.attrs.start + 1}` : '';
      return { text: `${OPS[n.op].fn ?? n.op}(${a.map((x) => x.text).join(', ')}${extra})`, prec: 9 };
    }
  }
}
