/**
 * Phase 1, parse (line shapes): the mathjs trees of lines that differ only in numbered
 * names (`a7 = tanh(w * a6 + b)`, `a8 = tanh(w * a7 + b)`), parsed once per shape.
 *
 * A long model is often one line written many times with the numbers in its names
 * changed (issue 11's chain of 10,000 lines), and mathjs parses every line from scratch:
 * most of parsing such a block. `LineShapes` keys a line by its shape, its text with each
 * numbered name (a name holding a digit) replaced by the order of its first appearance,
 * and gives a line of a shape it has parsed before a copy of that tree with the line's
 * own names put in.
 *
 * Guarantees: the tree is the one mathjs's `parse` gives for the line (the same node
 * types, operators, constants and names in the same places). A copy is made only when
 * (1) the line is plain (ASCII names, numbers, operators, brackets, commas, colons and
 * spaces: no strings, no dot access `a.b`, no name right after a number or a dot, as in
 * `2e1`), so that what its names are cannot change how mathjs splits it into tokens,
 * names without digits (functions, `mod`, `in`, ...) being part of the shape as written;
 * and (2) the numbered names the scan found are exactly the numbered SymbolNodes of the
 * tree mathjs gave for the first line of that shape, occurrence for occurrence. Any
 * other line is parsed by mathjs. A LineShapes serves one block of formulas: nothing
 * outlives the parse of that block. Walks over trees are iterative (mathjs's own
 * `traverse` and `transform` recurse, and a long sum is as deep as it is long).
 */
import type { MathNode } from 'mathjs';

type Any = MathNode & Record<string, any>;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isNameStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
const isNameChar = (c: number): boolean => isNameStart(c) || isDigit(c);
/** The characters of a plain line besides names and digits: space, tab, + - * / ^ ( ) [ ] , : = . */
const PUNCTUATION = new Set([' ', '\t', '+', '-', '*', '/', '^', '(', ')', '[', ']', ',', ':', '=', '.'].map((s) => s.charCodeAt(0)));

/** A plain line's shape and its numbered names (each occurrence, in order). */
interface Scanned { readonly key: string; readonly names: readonly string[] }

/** The shape of `line`, or undefined when it is not plain (see the header). */
export function shapeOf(line: string): Scanned | undefined {
  let key = '';
  const names: string[] = [];
  const first = new Map<string, number>();
  let i = 0;
  while (i < line.length) {
    const c = line.charCodeAt(i);
    if (isNameStart(c)) {
      const before = i > 0 ? line.charCodeAt(i - 1) : 32;
      if (isDigit(before) || before === 46) return undefined; // `2e1`, `2x`, `a.b`: the name decides the tokens
      let j = i + 1;
      let numbered = false;
      for (; j < line.length && isNameChar(line.charCodeAt(j)); j++) if (isDigit(line.charCodeAt(j))) numbered = true;
      const name = line.slice(i, j);
      if (numbered) {
        let k = first.get(name);
        if (k === undefined) first.set(name, (k = first.size));
        names.push(name);
        key += `#${k}#`; // '#' cannot be in a line: comments are cut off before parsing
      } else key += name;
      i = j;
      continue;
    }
    if (c === 46 && !(isDigit(line.charCodeAt(i + 1)) || '*/^'.includes(line.charAt(i + 1)))) return undefined; // dot access
    if (!isDigit(c) && !PUNCTUATION.has(c)) return undefined;
    key += line.charAt(i++);
  }
  return { key, names };
}

/** The nodes of `tree`, every node after its children (an explicit stack: a 5,000-term line is 5,000 deep). */
function postOrder(tree: MathNode): MathNode[] {
  const out: MathNode[] = [];
  const stack: { node: MathNode; expanded: boolean }[] = [{ node: tree, expanded: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.expanded) { out.push(top.node); stack.pop(); continue; }
    top.expanded = true;
    top.node.forEach((child: MathNode) => { stack.push({ node: child, expanded: false }); });
  }
  return out;
}

/** The numbered SymbolNode names of `tree`, each occurrence. */
function numberedSymbols(tree: MathNode): string[] {
  const out: string[] = [];
  for (const n of postOrder(tree)) {
    if (n.type === 'SymbolNode' && /[0-9]/.test((n as Any).name)) out.push((n as Any).name);
  }
  return out;
}

/** A copy of `tree` (every node new) with each SymbolNode named in `rename` renamed. */
function copyRenamed(tree: MathNode, rename: ReadonlyMap<string, string>): MathNode {
  const copies = new Map<MathNode, MathNode>();
  for (const n of postOrder(tree)) {
    if (n.type === 'SymbolNode') {
      const copy = n.clone() as Any;
      const to = rename.get(copy.name);
      if (to !== undefined) copy.name = to;
      copies.set(n, copy);
    } else copies.set(n, n.map((child: MathNode) => copies.get(child)!)); // map builds the node anew over the copied children
  }
  return copies.get(tree)!;
}

const sameOccurrences = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  const x = a.slice().sort(), y = b.slice().sort();
  return x.every((s, i) => s === y[i]);
};

/** A parsed shape: the first line's tree and its distinct numbered names, in order of first appearance. */
interface Template { readonly tree: MathNode; readonly names: readonly string[] }

const distinct = (names: readonly string[]): string[] => [...new Set(names)];

export class LineShapes {
  /** Shape -> its template, or null when the first line of that shape failed check (2). */
  readonly #parsed = new Map<string, Template | null>();

  /** The tree of `line`: a copy of its shape's tree, else `parse()` (mathjs, with gradc's checks). */
  parse(line: string, parse: () => MathNode): MathNode {
    const shape = shapeOf(line);
    if (!shape) return parse();
    const template = this.#parsed.get(shape.key);
    if (template === undefined) {
      const tree = parse();
      this.#parsed.set(shape.key, sameOccurrences(numberedSymbols(tree), shape.names) ? { tree, names: distinct(shape.names) } : null);
      return tree;
    }
    if (template === null) return parse();
    const own = distinct(shape.names);
    const rename = new Map<string, string>();
    template.names.forEach((name, k) => rename.set(name, own[k]));
    return copyRenamed(template.tree, rename);
  }
}
