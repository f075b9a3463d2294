/**
 * Phase 1, parse: a block of formula lines into mathjs syntax trees.
 *
 * Takes text such as
 *     yhat = w*x + b      # comments run to the end of the line
 *     loss = (yhat - y)^2
 * and returns one `Assignment` per non-blank line: the defined name, the mathjs tree
 * of its right-hand side, the names it reads, and where it is (line and column in the
 * block, plus `lineOffset`). Guarantees: every line that is not `name = formula` is a
 * GradcError with its line and column (for mathjs syntax errors, the column mathjs
 * reports); nothing here knows about shapes or the IR.
 */
import { type MathNode, parse } from 'mathjs';
import { GradcError, type SourceLocation } from '../errors.js';

export interface Assignment {
  readonly name: string;
  readonly expr: MathNode;
  readonly text: string; // the right-hand side as written
  readonly line: number; // 1-based, in the file when lineOffset was given
  readonly lineText: string;
  readonly reads: readonly string[]; // symbols read, in order of first appearance
}

/** 1-based column of `symbol` as a whole word in `lineText`, if it appears. */
export function columnOf(lineText: string, symbol: string, from = 0): number | undefined {
  const re = new RegExp(`(?<![A-Za-z0-9_])${symbol.replace(/[$]/g, '\\$')}(?![A-Za-z0-9_])`, 'g');
  re.lastIndex = from;
  const m = re.exec(lineText);
  return m ? m.index + 1 : undefined;
}

function symbolsRead(expr: MathNode): string[] {
  const seen: string[] = [];
  expr.traverse((node, _path, parent) => {
    if (node.type !== 'SymbolNode') return;
    const name = (node as unknown as { name: string }).name;
    // A SymbolNode that names the function of a FunctionNode is not a read.
    if (parent && parent.type === 'FunctionNode' && (parent as unknown as { fn: MathNode }).fn === node) return;
    if (!seen.includes(name)) seen.push(name);
  });
  return seen;
}

export function parseFormulas(text: string, where: SourceLocation = {}, lineOffset = 0): Assignment[] {
  const out: Assignment[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineText = raw.replace(/\r$/, '');
    const code = lineText.replace(/#.*$/, '');
    if (code.trim() === '') return;
    const line = i + 1 + lineOffset;
    const at = (column: number | undefined, symbol?: string): SourceLocation => ({ ...where, line, column, symbol });
    let tree: MathNode;
    try {
      tree = parse(code);
    } catch (e) {
      const char = (e as { char?: number }).char;
      const msg = (e as Error).message.replace(/\s*\(char \d+\)$/, '');
      throw new GradcError(`formula does not parse: ${msg}: '${code.trim()}'`, at(char !== undefined ? char + 1 : undefined));
    }
    if (tree.type !== 'AssignmentNode') {
      throw new GradcError(`expected an assignment 'name = formula', got '${code.trim()}'`, at(code.search(/\S/) + 1));
    }
    const assign = tree as unknown as { object: MathNode; value: MathNode };
    if (assign.object.type !== 'SymbolNode') {
      throw new GradcError(`the left side of '=' must be a plain name, got '${assign.object.toString()}'`, at(code.search(/\S/) + 1));
    }
    const name = (assign.object as unknown as { name: string }).name;
    const eq = code.indexOf('=');
    out.push({ name, expr: assign.value, text: code.slice(eq + 1).trim(), line, lineText, reads: symbolsRead(assign.value) });
  });
  return out;
}
