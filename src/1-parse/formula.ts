/**
 * Phase 1, parse: a block of formula lines into mathjs syntax trees.
 *
 * Takes text such as
 *     yhat = w*x + b      # comments run to the end of the line
 *     loss = (yhat - y)^2
 * and returns one `Assignment` per non-blank line: the defined name, the mathjs tree
 * of its right-hand side, the names it reads, and where it is (line and column in the
 * block, plus `lineOffset`), with the column of every symbol, operator and function
 * name of the tree (`tokenColumns`), so that later phases can point at them.
 * Guarantees: every line that is not `name = formula` is a GradcError with its line,
 * its column (for a syntax error, where mathjs stopped) and the line as written;
 * nesting deeper than `MAX_NESTING` is such an error too (never a stack overflow); error
 * messages quote at most `QUOTE_LIMIT` characters of a formula; every walk is iterative;
 * nothing here knows about shapes or the IR.
 */
import { type MathNode, parse } from 'mathjs';
import { GradcError, type SourceLocation } from '../errors.js';
import { LineShapes } from './shapes.js';

export interface Assignment {
  readonly name: string;
  readonly expr: MathNode;
  readonly text: string; // the right-hand side as written
  readonly line: number; // 1-based, in the file when lineOffset was given
  readonly column: number; // 1-based column of `name`
  readonly lineText: string;
  readonly reads: readonly string[]; // symbols read, in order of first appearance
  /** 1-based column in `lineText` of each symbol, operator, function name and constant of `expr`. */
  readonly columns: ReadonlyMap<MathNode, number>;
  /** A recurrence's line: `h[0] = ...` (its initial value) or `h[t] = ...` (its step). */
  readonly time?: 'init' | 'step';
}

/** Whether UTF-16 code `c` is one of [A-Za-z0-9_$] (a character of a name). */
const isNameChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;

/**
 * 0-based index of the first occurrence of `text` in `line` at or after `from` that `ok`
 * accepts (a scan with indexOf: no regular expression is built per symbol), or -1.
 */
function findFrom(line: string, text: string, from: number, ok: (at: number) => boolean): number {
  if (text === '') {
    for (let at = from; at <= line.length; at++) if (ok(at)) return at;
    return -1;
  }
  for (let at = line.indexOf(text, from); at >= 0; at = line.indexOf(text, at + 1)) if (ok(at)) return at;
  return -1;
}

/** 1-based column of `symbol` as a whole word in `lineText` (from index `from`), if it appears. */
export function columnOf(lineText: string, symbol: string, from = 0): number | undefined {
  const at = findFrom(lineText, symbol, from, (i) =>
    !(i > 0 && isNameChar(lineText.charCodeAt(i - 1))) && !isNameChar(lineText.charCodeAt(i + symbol.length)));
  return at < 0 ? undefined : at + 1;
}

/**
 * Whether `name` at index `at` of `line` is a whole name: not followed by a name character,
 * and not inside a name (the name characters before it, if any, are all digits: `2x` is 2 * x).
 */
function isWordAt(line: string, name: string, at: number): boolean {
  if (isNameChar(line.charCodeAt(at + name.length))) return false;
  for (let i = at - 1; i >= 0; i--) {
    const c = line.charCodeAt(i);
    if (!isNameChar(c)) return true;
    if (c < 48 || c > 57) return false; // a letter, '_' or '$' starts a name that runs into this one
  }
  return true;
}

type Any = MathNode & Record<string, any>;

/** A token of a tree to find in its line: a name (as a whole word), an operator, or what `re` matches. */
interface Token { readonly token: Any; readonly text?: string; readonly word?: boolean; readonly re?: RegExp }

const NUMBER = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/g;
/** A non-finite number constant: a literal too large for a float64, or the word NaN or Infinity. */
const NON_FINITE_WORD = /(?<![A-Za-z0-9_$])(?:NaN|Infinity)(?![A-Za-z0-9_$])|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/g;

/**
 * The 1-based column in `lineText` of each token-bearing node of `expr` (symbols,
 * constants, function names, and the operator of each operator node), found by walking
 * the tree in source order and scanning `lineText` from `from` with a moving cursor.
 * mathjs trees carry no positions; this recovers them. A node whose text cannot be
 * found (mathjs rewrote it) is left out, and the cursor does not move.
 */
export function tokenColumns(expr: MathNode, lineText: string, from = 0): Map<MathNode, number> {
  const columns = new Map<MathNode, number>();
  let cursor = from;
  const found = (node: MathNode, at: number, length: number): void => {
    if (at < 0) return;
    columns.set(node, at + 1);
    cursor = at + length;
  };
  const find = (item: Token): void => {
    const { token, text, re } = item;
    if (re) {
      re.lastIndex = cursor;
      const m = re.exec(lineText);
      if (m) found(token, m.index, m[0].length);
    } else if (item.word) {
      found(token, findFrom(lineText, text!, cursor, (at) => isWordAt(lineText, text!, at)), text!.length);
    } else {
      // `*`, `/`, `^` must not match the second character of `.*`, `./`, `.^`.
      const afterDot = text!.length === 1 && '*/^'.includes(text!);
      found(token, findFrom(lineText, text!, cursor, (at) => !(afterDot && lineText.charCodeAt(at - 1) === 46)), text!.length);
    }
  };
  const word = (token: Any, name: string): Token => ({ token, text: name, word: true });
  const operator = (token: Any, op: string): Token => ({ token, text: op });

  // In-order walk with an explicit stack of work items: a node to expand, or a token to find.
  type Item = { node: Any } | Token;
  const stack: Item[] = [{ node: expr as Any }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('token' in item) {
      find(item);
      continue;
    }
    const n = item.node;
    const seq: Item[] = [];
    switch (n.type) {
      case 'SymbolNode':
        seq.push(word(n, n.name));
        break;
      case 'ConstantNode':
        // mathjs also reads the words NaN and Infinity as number constants: find them as words,
        // not as the next digits (which would point at another literal).
        if (typeof n.value === 'number') seq.push({ token: n, re: Number.isFinite(n.value) ? NUMBER : NON_FINITE_WORD });
        break;
      case 'FunctionNode':
        if (n.fn?.type === 'SymbolNode') seq.push(word(n, n.fn.name));
        for (const a of n.args) seq.push({ node: a });
        break;
      case 'OperatorNode': {
        const op = n.implicit ? undefined : operator(n, n.op);
        if (n.args.length === 1) {
          if (op) seq.push(op);
          seq.push({ node: n.args[0] });
        } else {
          n.args.forEach((a: Any, i: number) => {
            if (i === 1 && op) seq.push(op);
            seq.push({ node: a });
          });
        }
        break;
      }
      default:
        n.forEach((child: MathNode) => seq.push({ node: child as Any }));
    }
    for (let i = seq.length - 1; i >= 0; i--) stack.push(seq[i]);
  }
  return columns;
}

/** Symbols read by `expr`, in order of first appearance (pre-order walk with an explicit stack). */
function symbolsRead(expr: MathNode): string[] {
  const seen = new Set<string>();
  const stack: Any[] = [expr as Any];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const children: Any[] = [];
    node.forEach((child: MathNode) => children.push(child as Any));
    // A SymbolNode that names the function of a FunctionNode is not a read.
    const fn = node.type === 'FunctionNode' ? node.fn : undefined;
    for (let i = children.length - 1; i >= 0; i--) if (children[i] !== fn) stack.push(children[i]);
    if (node.type === 'SymbolNode') seen.add(node.name);
  }
  return [...seen];
}

/** Longest formula text quoted in an error message; longer text is cut with '...'. */
export const QUOTE_LIMIT = 80;

/** `text` cut to `limit` characters for an error message (a 20 KB formula is not echoed). */
export function clip(text: string, limit = QUOTE_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 3)}...`;
}

/**
 * Deepest nesting of brackets accepted. mathjs parses recursively and overflows the
 * stack at about 250 levels of parentheses (less when other frames are on the stack);
 * nesting past this limit is refused with its column, before mathjs sees it.
 */
export const MAX_NESTING = 200;

/** 1-based column where the nesting of ( [ { first exceeds `MAX_NESTING`, if it does. */
function tooDeep(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') {
      if (++depth > MAX_NESTING) return i + 1;
    } else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return undefined;
}

/** mathjs syntax-error messages, said the gradc way. */
function explainSyntaxError(message: string): string {
  const m = message.replace(/\s*\(char \d+\)$/, '');
  let x: RegExpMatchArray | null;
  if (m === 'Value expected') return `expected a value here (a number, a name, a function call or '(')`;
  if (m === 'Unexpected end of expression') return 'the formula ends where more was expected';
  if ((x = m.match(/^Parenthesis (\S) expected$/))) return `missing '${x[1]}'`;
  if ((x = m.match(/^End of matrix (\S) expected$/))) return `missing '${x[1]}'`;
  if ((x = m.match(/^(?:Syntax error in|Unexpected) part "(.*)"$/))) return `unexpected '${x[1]}'`;
  if ((x = m.match(/^Unexpected operator (.*)$/))) return `unexpected operator '${x[1]}'`;
  if (m === 'Invalid left hand side of assignment operator =') return `the left side of '=' must be a plain name`;
  return m.charAt(0).toLowerCase() + m.slice(1);
}

/**
 * One formula (a line `name = formula`, or an expression) as a mathjs tree, or a
 * GradcError at `where` with the column where mathjs stopped (1-based, in `text`).
 */
export function parseFormula(text: string, where: SourceLocation = {}): MathNode {
  const deep = tooDeep(text);
  const at = (column: number | undefined): SourceLocation => ({ ...where, column, snippet: where.snippet ?? text });
  if (deep !== undefined) {
    throw new GradcError(`formula nests too deeply: more than ${MAX_NESTING} levels of parentheses, brackets or calls are not supported (split it into named lines), in '${clip(text.trim())}'`, at(deep));
  }
  try {
    return parse(text);
  } catch (e) {
    // Other deep chains (`- - - ... x`, `a^b^c^...`) overflow mathjs's recursive parser:
    // point at the first long run of signs or powers, if there is one.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      const chain = /(?:[-+]\s*){100,}|(?:\.?\^[^^()]{0,40}){100,}/.exec(text);
      throw new GradcError(`formula nests too deeply for the parser (deep parentheses, or a long chain of signs or '^'); split it into named lines, in '${clip(text.trim())}'`, at(chain ? chain.index + 1 : undefined));
    }
    const char = (e as { char?: number }).char; // mathjs counts from 1
    const column = typeof char === 'number' ? Math.min(Math.max(char, 1), text.length + 1) : undefined;
    throw new GradcError(`formula does not parse: ${explainSyntaxError(String((e as Error)?.message))}, in '${clip(text.trim())}'`, { ...where, column, snippet: where.snippet ?? text });
  }
}

export function parseFormulas(text: string, where: SourceLocation = {}, lineOffset = 0): Assignment[] {
  const out: Assignment[] = [];
  const lines = text.split('\n');
  const shapes = new LineShapes(); // lines that differ only in numbered names are parsed once (shapes.ts)
  lines.forEach((raw, i) => {
    const lineText = raw.replace(/\r$/, '');
    const code = lineText.replace(/#.*$/, '');
    if (code.trim() === '') return;
    const line = i + 1 + lineOffset;
    const at = (column: number | undefined, symbol?: string): SourceLocation => ({ ...where, line, column, symbol, snippet: lineText });
    const start = code.search(/\S/) + 1;
    const tree = shapes.parse(code, () => parseFormula(code, at(undefined)));
    if (tree.type !== 'AssignmentNode') {
      throw new GradcError(`expected an assignment 'name = formula', got '${clip(code.trim())}'`, at(start));
    }
    const assign = tree as unknown as { object: MathNode; value: MathNode; index: MathNode | null };
    const time = assign.index ? timeIndex(assign.index) : undefined;
    if (assign.object.type !== 'SymbolNode' || (assign.index && !time)) {
      throw new GradcError(`the left side of '=' must be a plain name, or h[0] and h[t] for a recurrence, got '${clip(code.slice(0, code.indexOf('=')).trim())}'`, at(start));
    }
    const name = (assign.object as unknown as { name: string }).name;
    const eq = code.indexOf('=');
    out.push({
      name,
      expr: assign.value,
      text: code.slice(eq + 1).trim(),
      line,
      column: columnOf(lineText, name) ?? start,
      lineText,
      reads: symbolsRead(assign.value),
      columns: tokenColumns(assign.value, code, eq + 1),
      ...(time ? { time } : {}),
    });
  });
  return out;
}

/** `[0]` (a recurrence's initial value) or `[t]` (its step) on the left of '='. */
function timeIndex(index: MathNode): 'init' | 'step' | undefined {
  const dims = (index as unknown as { dimensions?: Any[] }).dimensions ?? [];
  if (dims.length !== 1) return undefined;
  const d = dims[0];
  if (d.type === 'ConstantNode' && d.value === 0) return 'init';
  if (d.type === 'SymbolNode' && d.name === 't') return 'step';
  return undefined;
}
