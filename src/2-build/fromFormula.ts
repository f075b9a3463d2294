/**
 * Phase 2, build (formula door): a mathjs syntax tree into IR.
 *
 * Guarantees: the node returned computes the formula with mathjs meaning (see
 * functions.ts for operators); every symbol is resolved through `resolve`, and every
 * failure (unknown symbol, unknown function, wrong argument count, shapes that do not
 * fit, an unsupported construct) is a GradcError carrying the line, the column of the
 * offending symbol, operator or function name (from phase 1's `tokenColumns`), and that
 * symbol. A shape error names the shapes of the operands. Every constant is finite:
 * `NaN`, `Infinity`, a literal that overflows (`1e400`) or underflows to 0 (`1e-400`)
 * is such an error, naming the literal. Functions are looked up in a Map (`toString`
 * is an unknown function, not Object.prototype's); quoted formula text is clipped.
 * The walk over the mathjs tree is iterative.
 */
import type { MathNode } from 'mathjs';
import { didYouMean, GradcError, type SourceLocation } from '../errors.js';
import { constant, make } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { ShapeError } from '../ir/ops.js';
import { clip, columnOf, tokenColumns } from '../1-parse/formula.js';
import { FUNCTIONS, FUNCTION_NAMES, times } from './functions.js';
import { isIds, lookup, rangeOf, rowOf } from './indexing.js';

export interface FormulaContext {
  readonly where: SourceLocation; // file and line of the formula
  readonly lineText: string;
  /** Column of each token-bearing node in `lineText` (default: found by `tokenColumns`). */
  readonly columns?: ReadonlyMap<MathNode, number>;
  /** The node a name stands for, or undefined when the name is unknown. */
  readonly resolve: (name: string) => Node | undefined;
  /** Names that are known at this point (for the error message). */
  readonly known: () => readonly string[];
  /** What `name[index]` stands for when it is not a constant index into a vector (recurrences: h[t-1], x[t], h[T]). */
  readonly access?: (name: string, index: MathNode) => Node | undefined;
}

type M = MathNode & Record<string, any>;

const OPERATOR_OPS: ReadonlyMap<string, string> = new Map(Object.entries({
  add: '+', subtract: '-', multiply: '*', divide: '/', pow: '^',
  dotMultiply: '.*', dotDivide: './', dotPow: '.^', unaryMinus: '-', unaryPlus: '+',
}));

/** mathjs names for non-finite numbers, refused as literals. */
const NON_FINITE: ReadonlySet<string> = new Set(['NaN', 'Infinity', 'inf', 'Inf']);

const NUMBER_AT = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;

/** The numeric literal that starts at 1-based `column` of `lineText`, if there is one. */
function literalAt(lineText: string, column: number | undefined): string | undefined {
  if (column === undefined) return undefined;
  NUMBER_AT.lastIndex = column - 1;
  return NUMBER_AT.exec(lineText)?.[0];
}

/** What converting one formula needs at every node: where it is, and how to fail there. */
interface Scope {
  readonly ctx: FormulaContext;
  readonly columns: ReadonlyMap<MathNode, number>;
  /** A GradcError at `node` (its column) about `symbol`. */
  readonly fail: (problem: string, node?: MathNode, symbol?: string) => never;
  /** `build()`, with a shape error turned into a located GradcError about `symbol`. */
  readonly shaped: (n: M, build: () => Node, symbol: string) => Node;
}

export function formulaToNode(root: MathNode, ctx: FormulaContext): Node {
  const columns = ctx.columns ?? tokenColumns(root, ctx.lineText);
  const fail = (problem: string, node?: MathNode, symbol?: string): never => {
    const column = (node && columns.get(node)) ?? (symbol ? columnOf(ctx.lineText, symbol) : undefined);
    throw new GradcError(problem, { ...ctx.where, column, symbol });
  };
  const shaped = (n: M, build: () => Node, symbol: string): Node => {
    try {
      return build();
    } catch (e) {
      if (e instanceof ShapeError || (e instanceof RangeError && !/call stack/.test(e.message))) {
        // ShapeError messages read `op: why (shapes [a], [b])`; the op is already in the formula text.
        return fail(`shape mismatch in '${clip(n.toString())}': ${e.message.replace(/^\w+: /, '')}`, n, symbol);
      }
      throw e;
    }
  };
  const scope: Scope = { ctx, columns, fail, shaped };

  // Post-order over the mathjs tree with an explicit stack.
  const values = new Map<MathNode, Node>();
  const stack: { node: M; expanded: boolean }[] = [{ node: root as M, expanded: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (!top.expanded) {
      top.expanded = true;
      for (const c of children(top.node).slice().reverse()) stack.push({ node: c, expanded: false });
      continue;
    }
    stack.pop();
    const n = top.node;
    const args = children(n).map((c) => values.get(c)!);
    values.set(n, convert(n, args, scope));
  }
  return values.get(root)!;
}

function children(n: M): M[] {
  switch (n.type) {
    case 'OperatorNode': return n.args;
    case 'FunctionNode': return n.args;
    case 'ParenthesisNode': return [n.content];
    case 'AccessorNode': return [n.object];
    default: return [];
  }
}

/** One mathjs node as IR, its children already converted (`args`). */
function convert(n: M, args: Node[], s: Scope): Node {
  switch (n.type) {
    case 'ConstantNode': return constantNode(n, s);
    case 'SymbolNode': return symbolNode(n, s);
    case 'ParenthesisNode': return args[0];
    case 'OperatorNode': return operatorNode(n, args, s);
    case 'FunctionNode': return functionNode(n, args, s);
    case 'AccessorNode': return accessorNode(n, args, s);
    default: return s.fail(`'${clip(n.toString())}' (${n.type}) is not supported in a formula`, n);
  }
}

/** A numeric literal, finite and not underflowing to 0 as written. */
function constantNode(n: M, { ctx, columns, fail }: Scope): Node {
  if (typeof n.value !== 'number') return fail(`only numeric constants are supported, got ${clip(JSON.stringify(n.value) ?? String(n.value))}`, n);
  const written = literalAt(ctx.lineText, columns.get(n));
  if (written === undefined && !Number.isFinite(n.value)) {
    // mathjs reads the names `NaN` and `Infinity` as constants.
    const name = Number.isNaN(n.value) ? 'NaN' : 'Infinity';
    return fail(`'${name}' is not allowed in a formula: constants must be finite numbers`, undefined, name);
  }
  const shown = clip(written ?? String(n.value), 40);
  if (!Number.isFinite(n.value)) return fail(`the literal ${shown} is too large: it overflows to ${n.value} (numbers must be finite, at most about 1.8e308)`, n, written);
  if (n.value === 0 && written !== undefined && /[1-9]/.test(written.replace(/[eE].*$/, ''))) {
    return fail(`the literal ${shown} is too small: it underflows to 0 (the smallest positive number is about 5e-324)`, n, written);
  }
  return constant(n.value);
}

/** A name: a known value, pi or e; anything else is an error with a suggestion. */
function symbolNode(n: M, { ctx, fail }: Scope): Node {
  const found = ctx.resolve(n.name);
  if (found) return found;
  if (n.name === 'pi') return constant(Math.PI);
  if (n.name === 'e') return constant(Math.E);
  if (NON_FINITE.has(n.name)) return fail(`'${n.name}' is not allowed in a formula: constants must be finite numbers`, n, n.name);
  if (Object.hasOwn(Object.prototype, n.name)) {
    return fail(`unknown symbol '${n.name}': '${n.name}' cannot name a value (every JavaScript object already has a property '${n.name}'${n.name === '__proto__' ? `; in an object literal it sets the prototype, so a parameter or input declared with it vanishes` : ''})`, n, n.name);
  }
  const known = ctx.known();
  const guess = didYouMean(n.name, known);
  const list = known.length > 24 ? `${known.slice(0, 24).join(', ')}, ... (${known.length} in all)` : known.join(', ');
  return fail(`unknown symbol '${n.name}'${guess ? ` (did you mean '${guess}'?)` : ''}${known.length ? ` (known: ${list})` : ''}`, n, n.name);
}

function operatorNode(n: M, [a, b]: Node[], { fail, shaped }: Scope): Node {
  const op = OPERATOR_OPS.get(n.fn);
  if (!op) return fail(`operator '${n.op}' is not supported`, n, n.op);
  return shaped(n, () => {
    switch (n.fn) {
      case 'add': return make('add', [a, b]);
      case 'subtract': return make('sub', [a, b]);
      case 'multiply': return times(a, b);
      case 'divide': return make('div', [a, b]);
      case 'pow':
        if (a.shape.length > 0) throw new ShapeError(`'^' on a tensor base is a matrix power; use '.^' for elementwise powers`);
        return make('pow', [a, b]);
      case 'dotMultiply': return make('mul', [a, b]);
      case 'dotDivide': return make('div', [a, b]);
      case 'dotPow': return make('pow', [a, b]);
      case 'unaryMinus': return make('neg', [a]);
      default: return a; // unaryPlus
    }
  }, op);
}

function functionNode(n: M, args: Node[], { fail, shaped }: Scope): Node {
  const name: string = n.fn?.name ?? String(n.fn);
  const info = FUNCTIONS.get(name);
  if (!info) {
    const guess = didYouMean(name, FUNCTION_NAMES);
    return fail(`unknown function '${clip(name)}'${guess ? ` (did you mean '${guess}'?)` : ''} (supported: ${FUNCTION_NAMES.join(', ')})`, n, name);
  }
  const [lo, hi] = info.arity;
  if (args.length < lo || args.length > hi) {
    return fail(`function '${name}' takes ${lo === hi ? lo : `${lo} to ${hi}`} argument(s), got ${args.length}`, n, name);
  }
  return shaped(n, () => info.build(args), name);
}

/**
 * `x[...]`, 1-based as in mathjs: `v[k]` an element of a vector, `X[k]` a row of a matrix,
 * `v[a:b]` / `X[a:b]` elements or rows a..b (inclusive), `E[ids]` the rows of parameter
 * matrix E picked by integer input `ids` (an embedding lookup). Anything else (a second
 * index, a computed index) is a located error. Inside a recurrence the context first
 * resolves `h[t-1]`, `x[t]`, `h[T]` (2-build/recurrentFormulas.ts).
 */
function accessorNode(n: M, args: Node[], { ctx, fail, shaped }: Scope): Node {
  const dims: M[] = n.index.dimensions;
  if (ctx.access && n.object.type === 'SymbolNode' && dims.length === 1) {
    let found: Node | undefined;
    try {
      found = ctx.access(n.object.name, dims[0]);
    } catch (e) { // a state at a step the recurrence does not have (h[4] of T = 3, h[1.5]): located here
      if (e instanceof GradcError) return fail(`'${clip(n.toString())}': ${e.message.replace(/^[^:]*: /, '')}`, n, n.object.name);
      throw e;
    }
    if (found) return found;
  }
  const name: string | undefined = n.object.name;
  const usage = `a constant index (v[1], X[2]: 1-based), a range (X[2:5]) or an integer input (E[tokens])`;
  const constantOf = (d: M): number | undefined => (d.type === 'ConstantNode' && typeof d.value === 'number' && Number.isInteger(d.value) ? d.value : undefined);
  if (dims.length !== 1) return fail(`only one index is supported: ${usage}, got '${clip(n.toString())}'`, n.object, name);
  const d = dims[0];
  const k = constantOf(d);
  if (k !== undefined) return shaped(n, () => rowOf(args[0], k - 1), name ?? '[');
  if (d.type === 'RangeNode' && !d.step) {
    const [a, b] = [constantOf(d.start), constantOf(d.end)];
    if (a === undefined || b === undefined) return fail(`a range needs constant integer ends, as in X[2:5], got '${clip(n.toString())}'`, n.object, name);
    return shaped(n, () => rangeOf(args[0], a - 1, b), name ?? '[');
  }
  if (d.type === 'SymbolNode') {
    const ids = ctx.resolve(d.name);
    if (ids && isIds(ids)) return shaped(n, () => lookup(args[0], ids), name ?? d.name);
    return fail(`'${d.name}' cannot index '${name ?? clip(n.object.toString())}': an index is ${usage}${ids ? `, and '${d.name}' is not an integer input` : ''}`, d, d.name);
  }
  return fail(`unsupported index in '${clip(n.toString())}': ${usage}`, n.object, name);
}
