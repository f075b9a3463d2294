/**
 * Phase 2, build (builder door): the typed API that makes a `Model`.
 *
 * Both doors end here: `defineModel({ formulas })` parses formula lines and defines
 * each through this builder, and TypeScript code calls the same methods (so a loop can
 * build many neurons). Every method that takes an expression accepts an `Expr`: an IR
 * node, a number, or a formula string over the names known so far.
 *
 * Guarantees of `build()`: the Model invariants of model.ts hold, or a GradcError names
 * what is wrong and where (a name defined twice, a parameter assigned by a formula, a
 * cycle between formulas with its path, an unknown symbol or function, no `loss`, a
 * loss that is not a scalar or reads no parameter, an unknown function or activation
 * (looked up in a Map or Set, never on a plain object), a constant that is not finite,
 * a tensor or a parameter set past `maxElements`); names, shapes, initializers and the
 * seed are checked as they are given (specs.ts).
 */
import { didYouMean, GradcError, type SourceLocation } from '../errors.js';
import { constant, make, input as inputLeaf, intInput as intInputLeaf, lengthInput as lengthLeaf, param as paramLeaf, row, target as targetLeaf } from '../ir/build.js';
import { lengthMask, lookup, padMask, poolRows, rangeOf, rowOf } from './indexing.js';
import { inCurrentGraph, isInterned, type Node } from '../ir/node.js';
import { ShapeError, type Op } from '../ir/ops.js';
import { shape, showShape, sizeOf } from '../ir/shape.js';
import { type Host, type Recurrence, type ScanOptions, scan } from './recurrent.js';
import { defineRecurrence, type StateLines } from './recurrentFormulas.js';
import { dependsOn, topoOrder } from '../ir/walk.js';
import type { Definition, Leaf, Model, ParamLeaf } from '../model.js';
import { DEFAULT_MAX_ELEMENTS } from '../options.js';
import { clip, parseFormula, parseFormulas, tokenColumns, type Assignment } from '../1-parse/formula.js';
import { formulaToNode } from './fromFormula.js';
import { FUNCTIONS, FUNCTION_NAMES, mean, times } from './functions.js';
import { checkName, describe, toInit, toShape, type InitSpec, type ShapeSpec } from './specs.js';

export type Expr = Node | number | string;

/** Ids of an integer input are at most this many (2^24: exact in the f32 rows too). */
export const MAX_IDS = 2 ** 24;
export type { Recurrence, ScanOptions } from './recurrent.js';

/** Options of the cells m.rnn, m.lstm, m.gru. */
export interface CellOptions extends ScanOptions {
  /** Parameter name prefix (default `<kind><k>`). */
  readonly name?: string;
  readonly init?: InitSpec;
  readonly recurrentInit?: InitSpec;
  readonly biasInit?: InitSpec;
}

/** x[t] W: a row vector times W, or (a sequence of numbers) the number times W's one row. */
const inputTerm = (xt: Node, W: Node): Node => (xt.shape.length === 0 ? make('mul', [xt, row(W, 0)]) : make('matmul', [xt, W]));
const shapeOf = (n: number) => shape(n);
/** The recurrence options among a cell's options (truncate, checkpoint, lengths), as given. */
const scanOptionsOf = (o: CellOptions): ScanOptions => ({
  ...(o.truncate === undefined ? {} : { truncate: o.truncate }), ...(o.checkpoint === undefined ? {} : { checkpoint: o.checkpoint }),
  ...(o.lengths === undefined ? {} : { lengths: o.lengths }),
});
export type { InitSpec, ShapeSpec } from './specs.js';
export interface ParamOptions { readonly shape?: ShapeSpec; readonly init?: InitSpec }
export type Activation = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'softplus' | 'exp';

/** The activations `activate`, `dense` and `mlp` take (a Set: user text is never a key of a plain object). */
const ACTIVATIONS: ReadonlySet<string> = new Set<Activation>(['linear', 'sigmoid', 'tanh', 'relu', 'softplus', 'exp']);

export interface BuilderOptions {
  readonly source?: string;
  readonly seed?: number;
  /** Bound on the elements of any one tensor, and of all parameters together (default DEFAULT_MAX_ELEMENTS). */
  readonly maxElements?: number;
}

function checkSeed(seed: unknown, where: SourceLocation): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new GradcError(`the seed must be an integer, got ${describe(seed)}`, { ...where, symbol: 'seed' });
  return seed;
}

export class ModelBuilder {
  readonly name: string;
  readonly source: string;
  private seed = 1;
  private readonly params: ParamLeaf[] = [];
  private readonly inputs: Leaf[] = [];
  private readonly targets: Leaf[] = [];
  private readonly defs: Definition[] = [];
  private readonly scope = new Map<string, Node>();
  private readonly kinds = new Map<string, string>(); // name -> 'parameter' | 'input' | 'target' | 'definition'
  private readonly outputNames: string[] = [];
  /** Where each definition was written, for errors found only by `build()`. */
  private readonly defAt = new Map<string, SourceLocation>();
  private layers = 0;
  private readonly maxElements: number;
  private paramElements = 0; // elements of all parameters so far

  constructor(name: string, options: BuilderOptions = {}) {
    // The name appears in the generated module's header comments: one line, no comment end.
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200 || /[\u0000-\u001f\u007f\u2028\u2029]|\*\//.test(name)) {
      throw new GradcError(`a model name must be one line of at most 200 characters without '*/', got ${describe(name)}`, { file: options.source, symbol: 'name' });
    }
    this.name = name;
    this.source = options.source ?? `<inline model '${name}'>`;
    if (options.seed !== undefined) this.seed = checkSeed(options.seed, this.where());
    const max = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
    if (!Number.isSafeInteger(max) || max <= 0) throw new GradcError(`maxElements must be a positive integer, got ${describe(max)}`, this.where({ symbol: 'maxElements' }));
    this.maxElements = max;
  }

  private where(extra: SourceLocation = {}): SourceLocation {
    return { file: this.source, ...extra };
  }

  private claim(name: string, kind: string, at: SourceLocation = {}): void {
    checkName(name, this.where(at));
    const prev = this.kinds.get(name);
    if (prev === 'parameter' && kind === 'definition') {
      throw new GradcError(`'${name}' is a parameter and cannot be assigned by a formula`, this.where({ ...at, symbol: name }));
    }
    if (prev) throw new GradcError(`'${name}' is defined twice (already ${prev === 'input' ? 'an' : 'a'} ${prev})`, this.where({ ...at, symbol: name }));
    this.kinds.set(name, kind);
  }

  setSeed(seed: number): this {
    this.seed = checkSeed(seed, this.where());
    return this;
  }

  input(name: string, s?: ShapeSpec): Node {
    this.claim(name, 'input');
    const node = inputLeaf(name, toShape(s, name, this.where(), this.maxElements));
    this.inputs.push({ name, shape: node.shape, node });
    this.scope.set(name, node);
    return node;
  }

  /**
   * An integer input: token ids, each an integer in 0 .. ids - 1 (checked at run time: a
   * SampleError names the sample and the position of a bad one); a scalar or a vector of
   * ids. In the sample types a number, number[] or Int32Array; in the rows, numbers.
   */
  intInput(name: string, s: ShapeSpec | undefined, ids: number): Node {
    this.claim(name, 'input');
    const sh = toShape(s, name, this.where(), this.maxElements);
    if (typeof ids !== 'number' || !Number.isSafeInteger(ids) || ids < 1 || ids > MAX_IDS) {
      throw new GradcError(`integer input '${name}': ids (the vocabulary size) must be an integer in 1..${MAX_IDS}, got ${describe(ids)}`, this.where({ symbol: name }));
    }
    if (sh.length > 1) throw new GradcError(`integer input '${name}' must be a scalar or a vector of ids, got shape ${showShape(sh)}`, this.where({ symbol: name }));
    const node = intInputLeaf(name, sh, ids);
    this.inputs.push({ name, shape: node.shape, node });
    this.scope.set(name, node);
    return node;
  }

  /**
   * The length of each sample's sequence `of` (a [T x V] input, or T numbers): an integer
   * input in 1..T (checked at run time: a SampleError names the sample and the value). A
   * recurrence over `of` (m.scan, m.rnn, m.lstm, m.gru, formulas) then stops at each
   * sample's length: the rows past it are padding, read by nothing that reaches the loss,
   * and every state stays as it was after the last valid step (so `last`, h[T] in formulas,
   * is the state after it). In the sample types a number; in the rows, one number.
   */
  lengthInput(name: string, of: Expr): Node {
    const seq = this.expr(of);
    if (seq.shape.length === 0) throw new GradcError(`length input '${name}': its sequence must be a [T x V] matrix or a vector of T numbers, got shape ${showShape(seq.shape)}`, this.where({ symbol: name }));
    if (seq.op !== 'input' || seq.attrs.low !== undefined) throw new GradcError(`length input '${name}': its sequence must be an input of the model (a [T x V] matrix or T numbers), got ${seq.op === 'param' ? `the parameter '${seq.attrs.name}'` : seq.op === 'target' ? `the target '${seq.attrs.name}'` : seq.op === 'input' ? `the length input '${seq.attrs.name}'` : 'a computed value'}`, this.where({ symbol: name }));
    if (this.lengthsOf.has(seq)) throw new GradcError(`length input '${name}': the sequence already has the length input '${this.lengthsOf.get(seq)!.attrs.name}'`, this.where({ symbol: name }));
    this.claim(name, 'input');
    const node = lengthLeaf(name, seq.shape[0]);
    this.inputs.push({ name, shape: node.shape, node });
    this.scope.set(name, node);
    this.lengthsOf.set(seq, node);
    return node;
  }

  /** Length inputs by the sequence they measure. */
  private readonly lengthsOf = new Map<Node, Node>();

  target(name: string, s?: ShapeSpec): Node {
    this.claim(name, 'target');
    const node = targetLeaf(name, toShape(s, name, this.where(), this.maxElements));
    this.targets.push({ name, shape: node.shape, node });
    this.scope.set(name, node);
    return node;
  }

  param(name: string, options: ParamOptions | number = {}): Node {
    this.claim(name, 'parameter');
    const opts = paramOptions(options, name, this.where({ symbol: name }));
    const s = toShape(opts.shape, name, this.where(), this.maxElements);
    const init = toInit(opts.init, s, name, this.where());
    const total = this.paramElements + sizeOf(s);
    if (total > this.maxElements) {
      throw new GradcError(
        `with '${name}' the parameters have ${total} elements in all, more than the limit of ${this.maxElements}; ` +
          `if that is intended, raise the limit with the option { maxElements: ${total} } (compile/generate options, or defineModel)`,
        this.where({ symbol: name }),
      );
    }
    this.paramElements = total;
    const node = paramLeaf(name, s);
    this.params.push({ name, shape: s, node, init });
    this.scope.set(name, node);
    return node;
  }

  /** An expression as an IR node; strings are parsed as formulas over the names known so far. */
  expr(e: Expr, at: SourceLocation = {}): Node {
    if (typeof e === 'number') {
      if (!Number.isFinite(e)) throw new GradcError(`the constant ${describe(e)} is not a finite number`, this.where(at));
      return constant(e);
    }
    if (typeof e !== 'string') {
      if (isInterned(e)) {
        if (inCurrentGraph(e)) return e;
        // A node kept from another model's body (or from an earlier build of this one): its
        // leaves are not this model's inputs and parameters, and lowering would fail on them.
        throw new GradcError('this expression was made in another model (or an earlier run of this body): a value m.* returned belongs to that model only; build it again with this m', this.where(at));
      }
      const lookalike = e !== null && typeof e === 'object' && 'op' in e;
      throw new GradcError(`expected a formula string, a number or an expression, got ${e === null ? 'null' : lookalike ? 'an object that looks like an expression but was not made by gradc (use the values m.* returns, from this copy of gradc)' : typeof e}`, this.where(at));
    }
    const where = this.where({ snippet: e, ...at });
    const tree = parseFormula(e, where);
    return formulaToNode(tree, {
      where,
      lineText: e,
      columns: tokenColumns(tree, e),
      resolve: (n) => this.scope.get(n),
      known: () => [...this.scope.keys()],
      access: this.access,
    });
  }

  /** A named intermediate: `name = e`. */
  def(name: string, e: Expr, at: SourceLocation = {}, formula?: string): Node {
    this.claim(name, 'definition', at);
    const node = this.expr(e, at);
    this.scope.set(name, node);
    this.defAt.set(name, { snippet: typeof e === 'string' ? e : undefined, ...at, symbol: name });
    this.defs.push({ name, node, formula: formula ?? (typeof e === 'string' ? e : undefined), line: at.line });
    return node;
  }

  /** True when `name` is a parameter, input, target or definition already. */
  has(name: string): boolean {
    return this.kinds.has(name);
  }

  /** Defines `loss`. */
  loss(e: Expr): Node {
    return this.def('loss', e);
  }

  /** Names (or nodes defined by `def`) that `forward` returns; inferred when never called. */
  output(...names: string[]): this {
    this.outputNames.push(...names);
    return this;
  }

  /**
   * A block of formula lines. Lines may come in any order: each is defined after the
   * lines it reads, and a cycle is an error that prints its path. `truncate` and
   * `checkpoint` apply to the block's recurrence (ScanOptions).
   */
  formulas(text: string, options: { lineOffset?: number } & ScanOptions = {}): this {
    if (typeof text !== 'string') throw new GradcError(`formulas must be a string of lines 'name = formula', got ${typeof text}`, this.where());
    const lineOffset = options.lineOffset ?? 0;
    // Line numbers count lines of `text`; `block` lets the CLI find them in the model file.
    const block = this.where(lineOffset === 0 ? { block: text } : {});
    const all = parseFormulas(text, block, lineOffset);
    const at = (a: Assignment): SourceLocation => ({ ...block, line: a.line, column: a.column, snippet: a.lineText, symbol: a.name });
    const { lines, recurrence } = this.recurrenceLines(all, at);
    const byName = new Map<string, Assignment>();
    for (const a of lines) {
      if (byName.has(a.name)) {
        const first = byName.get(a.name)!;
        const above = a.line - first.line;
        throw new GradcError(`'${a.name}' is defined twice (the first definition is ${above} line${above === 1 ? '' : 's'} above: '${clip(first.lineText.trim())}')`, at(a));
      }
      if (this.kinds.has(a.name)) this.claim(a.name, 'definition', at(a));
      byName.set(a.name, a);
    }
    const ordered = orderByDependencies(lines, byName, (a, path) => {
      throw new GradcError(`formulas form a cycle: ${path.join(' -> ')}`, at(a));
    });
    for (const a of ordered) {
      if (recurrence && a.time !== undefined) {
        // the first of the states' stand-ins in the order defines them all (a line may read only one of them)
        if (!this.states.has(recurrence[0].name)) this.defineStates(recurrence, at, scanOptionsOf(options));
        continue;
      }
      const node = formulaToNode(a.expr, {
        where: { ...block, line: a.line, snippet: a.lineText },
        lineText: a.lineText,
        columns: a.columns,
        resolve: (n) => this.scope.get(n),
        known: () => [...this.scope.keys()],
        access: this.access,
      });
      this.def(a.name, node, at(a), a.text);
    }
    return this;
  }

  /**
   * The plain lines of a formulas block, and its recurrence's lines (`s[0] = ...`, `s[t] = ...`)
   * grouped by state; each state stands in the ordering as one line reading what any line
   * of the recurrence reads (2-build/recurrentFormulas.ts).
   */
  private recurrenceLines(all: readonly Assignment[], at: (a: Assignment) => SourceLocation): { lines: Assignment[]; recurrence?: StateLines[] } {
    const timed = all.filter((a) => a.time !== undefined);
    if (timed.length === 0) return { lines: [...all] };
    const byState = new Map<string, { init?: Assignment; step?: Assignment }>();
    for (const a of timed) {
      const e = byState.get(a.name) ?? byState.set(a.name, {}).get(a.name)!;
      const kind = a.time === 'init' ? 'init' : 'step';
      if (e[kind]) throw new GradcError(`'${a.name}[${kind === 'init' ? '0' : 't'}]' is defined twice`, at(a));
      e[kind] = a;
    }
    const group: StateLines[] = [];
    for (const [name, e] of byState) {
      if (!e.init || !e.step) {
        // A step without an initial value is most often a per-step output (o[t] = f(h[t])): say how to write one.
        const hint = e.step && !e.init ? `; for an output at every step summed into the loss, accumulate it in a state: '${name}[0] = 0' and '${name}[t] = ${name}[t-1] + f(h[t])' (another state's new value is read as h[t]; then '${name}' is the sum over the steps, divided by T the mean)` : '';
        throw new GradcError(`the recurrence '${name}' needs both '${name}[0] = ...' (its initial value) and '${name}[t] = ...' (its step)${hint}`, at((e.init ?? e.step)!));
      }
      group.push({ name, init: e.init, step: e.step });
    }
    const states = new Set(byState.keys());
    const reads = [...new Set(timed.flatMap((a) => a.reads))].filter((r) => !states.has(r) && r !== 't' && r !== 'T');
    const stand = group.map((g) => ({ ...g.step, reads }));
    return { lines: [...all.filter((a) => a.time === undefined), ...stand], recurrence: group };
  }

  /** Defines the recurrence of `group` and its states' names (each, after the last step). */
  private defineStates(group: readonly StateLines[], at: (a: Assignment) => SourceLocation, options: ScanOptions): void {
    const r = defineRecurrence(group, {
      host: this.host,
      resolve: (n) => this.scope.get(n),
      known: () => [...this.scope.keys()],
      access: this.access,
      lengths: () => [...new Set(this.params.flatMap((p) => [...p.shape]))],
      at,
    }, options);
    for (const g of group) {
      this.def(g.name, r.last[g.name], at(g.step), `${g.name}[T]`);
      this.states.set(g.name, r);
    }
  }

  /** Recurrence states by name: `h[T]`, `h[k]` in formulas (2-build/recurrentFormulas.ts). */
  private readonly states = new Map<string, Recurrence<string>>();
  private readonly access = (name: string, index: unknown): Node | undefined => {
    const r = this.states.get(name);
    if (!r) return undefined;
    const d = index as { type: string; name?: string; value?: unknown };
    if (d.type === 'SymbolNode' && d.name === 'T') return r.last[name];
    if (d.type === 'ConstantNode' && typeof d.value === 'number') return r.at(d.value)[name];
    return undefined;
  };

  /**
   * `build()` for the operation `what`, with a shape mismatch as a GradcError naming the
   * operation and the shapes (ir/ops.ts throws a ShapeError, which is not one).
   */
  private shaped<T = Node>(what: string, build: () => T, symbol = what): T {
    try {
      return build();
    } catch (e) {
      if (e instanceof ShapeError || (e instanceof RangeError && !/call stack/i.test(e.message))) {
        throw new GradcError(`shape mismatch in m.${what}: ${e.message}`, this.where({ symbol }));
      }
      throw e;
    }
  }

  // Operations on expressions (each accepts formula strings too).
  add = (a: Expr, b: Expr): Node => this.shaped('add(...)', () => make('add', [this.expr(a), this.expr(b)]));
  sub = (a: Expr, b: Expr): Node => this.shaped('sub(...)', () => make('sub', [this.expr(a), this.expr(b)]));
  mul = (a: Expr, b: Expr): Node => this.shaped('mul(...)', () => make('mul', [this.expr(a), this.expr(b)]));
  div = (a: Expr, b: Expr): Node => this.shaped('div(...)', () => make('div', [this.expr(a), this.expr(b)]));
  pow = (a: Expr, b: Expr): Node => this.shaped('pow(...)', () => make('pow', [this.expr(a), this.expr(b)]));
  neg = (a: Expr): Node => make('neg', [this.expr(a)]);
  /** `*` as in formulas: matrix product for two tensors, scaling otherwise. */
  times = (a: Expr, b: Expr): Node => this.shaped('times(...)', () => times(this.expr(a), this.expr(b)));
  matmul = (a: Expr, b: Expr): Node => this.shaped('matmul(...)', () => make('matmul', [this.expr(a), this.expr(b)]));
  dot = (a: Expr, b: Expr): Node => this.shaped('dot(...)', () => make('dot', [this.expr(a), this.expr(b)]));
  sum = (a: Expr): Node => make('sum', [this.expr(a)]);
  mean = (a: Expr): Node => mean(this.expr(a));
  /** Any formula function by name (`sigmoid`, `max`, `softmax`, ...). */
  call = (fn: string, ...args: Expr[]): Node => {
    const info = typeof fn === 'string' ? FUNCTIONS.get(fn) : undefined;
    if (!info) {
      const guess = typeof fn === 'string' ? didYouMean(fn, FUNCTION_NAMES) : undefined;
      throw new GradcError(`unknown function ${typeof fn === 'string' ? `'${clip(fn)}'` : describe(fn)}${guess ? ` (did you mean '${guess}'?)` : ''} (supported: ${FUNCTION_NAMES.join(', ')})`, this.where({ symbol: fn }));
    }
    const [lo, hi] = info.arity;
    if (args.length < lo || args.length > hi) {
      throw new GradcError(`function '${fn}' takes ${lo === hi ? lo : `${lo} to ${hi}`} argument(s), got ${args.length}`, this.where({ symbol: fn }));
    }
    const nodes = args.map((a) => this.expr(a));
    return this.shaped(`call('${fn}', ...)`, () => info.build(nodes), fn);
  };
  /** Row `i` of a matrix, or element `i` of a vector (0-based; in formulas `X[i]` is 1-based). */
  row = (x: Expr, i: number): Node => {
    const xn = this.expr(x);
    this.zeroBased('row', xn, [['i', i, 0]]);
    return this.shaped('row(...)', () => rowOf(xn, i));
  };
  /** Rows `from` .. `to - 1` of a matrix, or those elements of a vector (0-based, `to` exclusive; in formulas `X[a:b]`, 1-based and inclusive). */
  rows = (x: Expr, from: number, to: number): Node => {
    const xn = this.expr(x);
    this.zeroBased('rows', xn, [['from', from, 0], ['to', to, 1]]);
    if (from >= to) throw new GradcError(`m.rows(x, from, to): from must be less than to (rows from .. to - 1, 0-based), got ${from} and ${to}`, this.where({ symbol: 'rows' }));
    return this.shaped('rows(...)', () => rangeOf(xn, from, to));
  };
  /** m.row / m.rows arguments: 0-based integers within the rows of `x` (`to` may be one past the last). */
  private zeroBased(fn: string, x: Node, args: readonly (readonly [string, unknown, number])[]): void {
    if (x.shape.length === 0) return; // rowOf / rangeOf say a scalar cannot be indexed
    const n = x.shape[0];
    for (const [name, v, past] of args) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > n - 1 + past) {
        throw new GradcError(`m.${fn}(...): ${name} is a 0-based row, an integer in 0..${n - 1 + past} for shape ${showShape(x.shape)}, got ${describe(v)}`, this.where({ symbol: fn }));
      }
    }
  }
  /** Rows of parameter matrix `table` picked by integer input `ids` (an embedding lookup; in formulas `E[ids]`). */
  lookup = (table: Expr, ids: Expr): Node => this.shaped('lookup(...)', () => lookup(this.expr(table), this.expr(ids)));
  /**
   * The sum or mean over the rows of a matrix (a bag of embeddings), with the rows masked
   * out where `ids` equals `padding`, or at positions from `length` on, when given.
   */
  pool = (x: Expr, mode: 'sum' | 'mean', mask: { readonly ids: Expr; readonly padding: number } | { readonly length: Expr } | undefined = undefined): Node =>
    this.shaped('pool(...)', () => {
      const xn = this.expr(x);
      if (mask !== undefined) {
        const keys = typeof mask === 'object' && mask !== null ? Object.keys(mask).sort().join(',') : '';
        if (keys !== 'ids,padding' && keys !== 'length') throw new GradcError(`pool(x, mode, mask): mask is { ids, padding } or { length }, got ${typeof mask === 'object' && mask !== null ? `{ ${Object.keys(mask).map((k) => k.slice(0, 40)).join(', ')} }` : describe(mask)}`, this.where({ symbol: 'pool' }));
      }
      const m = mask === undefined ? undefined : 'ids' in mask ? padMask(this.expr(mask.ids), mask.padding) : lengthMask(this.expr(mask.length), xn.shape[0] ?? 1);
      if (mode !== 'sum' && mode !== 'mean') throw new ShapeError(`pool mode must be 'sum' or 'mean', got ${describe(mode)}`);
      return poolRows(xn, mode, m);
    });
  activate = (x: Expr, activation: Activation): Node => {
    checkActivation(activation, this.where());
    return activation === 'linear' ? this.expr(x) : make(activation as Op, [this.expr(x)]);
  };

  /**
   * A dense layer `activation(W x + b)` with new parameters `<name>_W` ([units x in],
   * Glorot-initialized unless `init` says otherwise) and `<name>_b` (zeros).
   */
  dense(x: Expr, units: number, activation: Activation = 'linear', options: { name?: string; init?: InitSpec; biasInit?: InitSpec } = {}): Node {
    checkActivation(activation, this.where());
    if (typeof units !== 'number' || !Number.isSafeInteger(units) || units < 1) {
      throw new GradcError(`dense(x, units): units must be a positive integer (the layer's width), got ${describe(units)}`, this.where({ symbol: 'units' }));
    }
    const xn = this.expr(x);
    if (xn.shape.length !== 1) throw new GradcError(`dense layer input must be a vector, got ${showShape(xn.shape)}`, this.where());
    const name = options.name ?? `layer${++this.layers}`;
    const W = this.param(`${name}_W`, { shape: [units, xn.shape[0]], init: options.init ?? 'glorot' });
    const b = this.param(`${name}_b`, { shape: [units], init: options.biasInit ?? 0 });
    const z = this.def(`${name}_z`, make('add', [make('matmul', [W, xn]), b]));
    return activation === 'linear' ? z : this.def(`${name}_a`, this.activate(z, activation));
  }

  /**
   * A recurrence (2-build/recurrent.ts): named states, each `init` at step 0 and
   * `step(states, x[t])` at step t = 1..T, over the rows x[t] of the sequence `xs`. One
   * scan node whatever T is; its gradient is backpropagation through time, a loop too.
   */
  scan<K extends string>(
    init: { readonly [S in K]: Expr },
    xs: Expr,
    step: (state: { readonly [S in K]: Node }, x: Node) => { readonly [S in K]: Expr },
    options: ScanOptions = {},
  ): Recurrence<K> {
    return this.shaped('scan(...)', () => scan(this.host, init, typeof xs === 'number' ? constant(xs) : xs, step, options));
  }

  /**
   * An Elman cell over the sequence `x` ([T x V], or T numbers): h[t] = activation(x[t] W +
   * h[t-1] U + b), h[0] = 0, with parameters `<name>_W` [V x hidden], `<name>_U` [hidden x
   * hidden], `<name>_b` [hidden], laid out as tf.layers.simpleRNN's kernel, recurrentKernel, bias.
   */
  rnn(x: Expr, hidden: number, activation: Activation = 'tanh', options: CellOptions = {}): Recurrence<'h'> {
    checkActivation(activation, this.where());
    const { xn, W, U, b } = this.cell('rnn', x, hidden, 1, options);
    return this.scan({ h: constant(0, shapeOf(hidden)) }, xn, ({ h }, xt) => ({
      h: this.activate(make('add', [make('add', [inputTerm(xt, W), make('matmul', [h, U])]), b]), activation),
    }), scanOptionsOf(options));
  }

  /**
   * An LSTM cell (tf.layers.lstm's layout: gates i, f, c, o in the columns of `<name>_W`
   * [V x 4h], `<name>_U` [h x 4h] and `<name>_b` [4h]); states h and c, both 0 at step 0.
   */
  lstm(x: Expr, hidden: number, options: CellOptions = {}): Recurrence<'h' | 'c'> {
    const { xn, W, U, b } = this.cell('lstm', x, hidden, 4, options);
    const H = hidden;
    return this.scan({ h: constant(0, shapeOf(H)), c: constant(0, shapeOf(H)) }, xn, ({ h, c }, xt) => {
      const z = make('add', [make('add', [inputTerm(xt, W), make('matmul', [h, U])]), b]);
      const gate = (k: number) => make('slice', [z], { start: k * H }, shapeOf(H));
      const [i, f, g, o] = [make('sigmoid', [gate(0)]), make('sigmoid', [gate(1)]), make('tanh', [gate(2)]), make('sigmoid', [gate(3)])];
      const cNext = make('add', [make('mul', [f, c]), make('mul', [i, g])]);
      return { h: make('mul', [o, make('tanh', [cNext])]), c: cNext };
    }, scanOptionsOf(options));
  }

  /**
   * A GRU cell (tf.layers.gru's layout: gates z, r, h in the columns of `<name>_W` [V x 3h],
   * `<name>_U` [h x 3h] and `<name>_b` [3h]; the reset gate applies before U); h[0] = 0.
   */
  gru(x: Expr, hidden: number, options: CellOptions = {}): Recurrence<'h'> {
    const { xn, W, U, b } = this.cell('gru', x, hidden, 3, options);
    const H = hidden;
    return this.scan({ h: constant(0, shapeOf(H)) }, xn, ({ h }, xt) => {
      const xz = make('add', [inputTerm(xt, W), b]);
      const hz = make('matmul', [h, U]);
      const part = (v: Node, k: number) => make('slice', [v], { start: k * H }, shapeOf(H));
      const z = make('sigmoid', [make('add', [part(xz, 0), part(hz, 0)])]);
      const r = make('sigmoid', [make('add', [part(xz, 1), part(hz, 1)])]);
      const n = make('tanh', [make('add', [part(xz, 2), part(make('matmul', [make('mul', [r, h]), U]), 2)])]);
      return { h: make('add', [make('mul', [z, h]), make('mul', [make('sub', [constant(1), z]), n])]) };
    }, scanOptionsOf(options));
  }

  /** The checked sequence and new parameters of a cell with `gates` gate blocks. */
  private cell(kind: string, x: Expr, hidden: number, gates: number, options: CellOptions): { xn: Node; W: Node; U: Node; b: Node } {
    if (typeof hidden !== 'number' || !Number.isSafeInteger(hidden) || hidden < 1) {
      throw new GradcError(`${kind}(x, hidden): hidden must be a positive integer (the state's width), got ${describe(hidden)}`, this.where({ symbol: 'hidden' }));
    }
    if (typeof options !== 'object' || options === null) throw new GradcError(`${kind}(...): options must be an object, got ${describe(options)}`, this.where());
    const known = ['name', 'init', 'recurrentInit', 'biasInit', 'truncate', 'checkpoint', 'lengths'];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw new GradcError(`${kind}(...): unknown option '${key.slice(0, 40)}' (the options are ${known.join(', ')})`, this.where({ symbol: key.slice(0, 40) }));
    }
    const xn = this.expr(x);
    if (xn.shape.length === 0) throw new GradcError(`${kind}(x, hidden): x must be a sequence, a [T x V] matrix or a vector of T numbers, got ${showShape(xn.shape)}`, this.where());
    const V = xn.shape.length === 2 ? xn.shape[1] : 1;
    const name = options.name ?? `${kind}${++this.layers}`;
    const W = this.param(`${name}_W`, { shape: [V, gates * hidden], init: options.init ?? 'glorot' });
    const U = this.param(`${name}_U`, { shape: [hidden, gates * hidden], init: options.recurrentInit ?? 'glorot' });
    const b = this.param(`${name}_b`, { shape: [gates * hidden], init: options.biasInit ?? 0 });
    return { xn, W, U, b };
  }

  private readonly host: Host = { expr: (e) => this.expr(e), where: (extra) => this.where(extra), lengthOf: (seq) => this.lengthsOf.get(seq) };

  /** A multilayer perceptron: `sizes` are the layer widths after the input. */
  mlp(x: Expr, sizes: readonly number[], activation: Activation, outputActivation: Activation = 'linear'): Node {
    checkActivation(activation, this.where());
    checkActivation(outputActivation, this.where());
    if (!Array.isArray(sizes)) throw new GradcError(`mlp(x, sizes, activation): sizes must be an array of layer widths, got ${describe(sizes)}`, this.where());
    let h = this.expr(x);
    sizes.forEach((units, i) => {
      h = this.dense(h, units, i === sizes.length - 1 ? outputActivation : activation);
    });
    return h;
  }

  build(): Model {
    const lossDef = this.defs.find((d) => d.name === 'loss');
    if (!lossDef) throw new GradcError(`no 'loss' is defined (define 'loss = ...', a scalar)`, this.where({ symbol: 'loss' }));
    const loss = lossDef.node;
    const lossAt = this.where({ ...this.defAt.get('loss'), symbol: 'loss' });
    if (loss.shape.length !== 0) throw new GradcError(`the loss must be a scalar, but it has shape ${showShape(loss.shape)}`, lossAt);
    const order = topoOrder([loss]);
    const reached = new Set(order);
    // Every value the module computes (the loss's graph and every definition, outputs included).
    const tooLarge = (n: Node) => sizeOf(n.shape) > this.maxElements;
    const huge = order.find(tooLarge) ?? topoOrder(this.defs.map((d) => d.node), reached).find(tooLarge);
    if (huge) {
      const label = this.defs.find((d) => d.node === huge)?.name;
      throw new GradcError(
        `${label ? `'${label}'` : `an intermediate value (${huge.op})`} has ${sizeOf(huge.shape)} elements (shape ${showShape(huge.shape)}), more than the limit of ${this.maxElements} elements per tensor; ` +
          `if that is intended, raise the limit with the option { maxElements: ${sizeOf(huge.shape)} } (compile/generate options, or defineModel)`,
        label ? { ...this.where(this.defAt.get(label)), symbol: label } : lossAt,
      );
    }
    if (!this.params.some((p) => reached.has(p.node))) {
      throw new GradcError(`the loss does not depend on any parameter (parameters: ${this.params.map((p) => p.name).join(', ') || 'none'})`, lossAt);
    }
    const labels = new Map<Node, string>();
    for (const l of [...this.params, ...this.inputs, ...this.targets]) labels.set(l.node, l.name);
    for (const d of this.defs) if (!labels.has(d.node) && d.node.op !== 'const') labels.set(d.node, d.name);
    return Object.freeze({
      name: this.name,
      source: this.source,
      params: this.params.slice(),
      inputs: this.inputs.slice(),
      targets: this.targets.slice(),
      defs: this.defs.slice(),
      outputs: this.resolveOutputs(order, loss),
      loss,
      labels,
      seed: this.seed,
    });
  }

  private resolveOutputs(order: readonly Node[], loss: Node): Definition[] {
    if (this.outputNames.length > 0) {
      return this.outputNames.map((n) => {
        const d = this.defs.find((x) => x.name === n);
        if (!d) throw new GradcError(`output '${n}' is not a defined name`, this.where({ symbol: n }));
        return d;
      });
    }
    // Inferred: the named values that do not read a target but feed something that does.
    const targets = new Set(this.targets.map((t) => t.node));
    const readsTarget = dependsOn(order, (n) => targets.has(n));
    const feedsTarget = new Set<Node>();
    for (const n of order) if (readsTarget.has(n)) for (const a of n.args) feedsTarget.add(a);
    const seen = new Set<Node>();
    return this.defs.filter((d) => {
      const ok = d.name !== 'loss' && !readsTarget.has(d.node) && feedsTarget.has(d.node) && !seen.has(d.node);
      seen.add(d.node);
      return ok && d.node !== loss;
    });
  }
}

function checkActivation(a: unknown, where: SourceLocation): void {
  if (typeof a !== 'string' || !ACTIVATIONS.has(a)) {
    throw new GradcError(`unknown activation ${typeof a === 'string' ? `'${clip(a)}'` : describe(a)} (supported: ${[...ACTIVATIONS].join(', ')})`, { ...where, symbol: typeof a === 'string' ? clip(a) : undefined });
  }
}

/** `param`'s options: a number, an array of values, or { shape, init }. */
function paramOptions(o: unknown, name: string, where: SourceLocation): ParamOptions {
  if (typeof o === 'number' || Array.isArray(o)) return { init: o as InitSpec };
  if (o === undefined) return {};
  if (typeof o !== 'object' || o === null) {
    throw new GradcError(`parameter '${name}' is given as ${describe(o)}; expected an initial value (a number or an array) or { shape, init }`, where);
  }
  const extra = Object.keys(o).find((k) => k !== 'shape' && k !== 'init');
  if (extra !== undefined) {
    throw new GradcError(`parameter '${name}' has an unknown field '${clip(extra)}' (expected { shape, init }${extra === 'kind' ? '; an initializer goes in { init: { kind: ... } }' : ''})`, where);
  }
  return o as ParamOptions;
}

/** Lines ordered so that each comes after the lines it reads (iterative DFS); calls `cycle` on a cycle. */
function orderByDependencies(
  lines: readonly Assignment[],
  byName: ReadonlyMap<string, Assignment>,
  cycle: (a: Assignment, path: string[]) => never,
): Assignment[] {
  const out: Assignment[] = [];
  const state = new Map<string, 1 | 2>();
  for (const start of lines) {
    if (state.has(start.name)) continue;
    const stack: { a: Assignment; next: number }[] = [{ a: start, next: 0 }];
    state.set(start.name, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.a.reads.length) {
        const dep = byName.get(top.a.reads[top.next++]);
        if (!dep) continue;
        const s = state.get(dep.name);
        if (s === 1) {
          const names = stack.map((f) => f.a.name);
          cycle(dep, [...names.slice(names.indexOf(dep.name)), dep.name]);
        }
        if (s === undefined) {
          state.set(dep.name, 1);
          stack.push({ a: dep, next: 0 });
        }
      } else {
        stack.pop();
        state.set(top.a.name, 2);
        out.push(top.a);
      }
    }
  }
  return out;
}

