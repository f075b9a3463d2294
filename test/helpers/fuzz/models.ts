/**
 * Random whole models for the pipeline fuzz test (test/fuzz.test.ts).
 *
 * `randomModel(seed)` is deterministic in its seed (a fast-check integer, so a failure
 * prints the seed that reproduces it). It makes an op tree over scalars, vectors and
 * matrices (sizes 1..4) that uses every function and operator gradc accepts, splits
 * some subtrees into named definition lines, and names leaves and lines from a pool
 * that mixes ordinary names with hostile ones (reserved words, Object.prototype keys,
 * names of the generated module's own identifiers). Most models are shape-consistent by
 * construction; `MUTATIONS` turns a share of them into invalid ones (wrong shape,
 * unknown or prototype function, syntax error, cycle, bad literal, deep nesting, ...).
 *
 * A model is rendered through one of three doors, all of which must give the same model:
 *   'spec'      defineModel({ inputs, targets, params, formulas })
 *   'builder'   defineModel(name, (m) => ...) calling m.add / m.call / m.times ... per op
 *   'lines'     defineModel(name, (m) => ...) calling m.def(name, formulaText) per line
 */
import { defineModel, type ModelDefinition } from '../../../src/index.js';
import type { ModelBuilder } from '../../../src/2-build/builder.js';
import type { Node } from '../../../src/ir/node.js';
import { seeded } from '../numeric.js';

export type Shape = readonly number[];

export type Tree =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'num'; readonly value: number; readonly text?: string }
  | { readonly kind: 'op'; readonly op: string; readonly args: readonly Tree[] } // + - * / ^ .* ./ .^ (binary), neg (unary)
  | { readonly kind: 'call'; readonly fn: string; readonly args: readonly Tree[] }
  | { readonly kind: 'index'; readonly arg: Tree; readonly at: number } // 1-based
  | { readonly kind: 'raw'; readonly text: string }; // invalid text, only from mutations

export type LeafKind = 'param' | 'input' | 'target';
export interface LeafSpec { readonly name: string; readonly kind: LeafKind; shape: Shape }
export interface Line { readonly name: string; tree: Tree }
export type Door = 'spec' | 'builder' | 'lines';

export interface ModelCase {
  readonly seed: number;
  readonly door: Door;
  readonly leaves: LeafSpec[];
  /** Definition lines in dependency order; the last one is `loss`. */
  readonly lines: Line[];
  /** Builder only: an `m.mlp(input, sizes, activation)` whose output's sum is added to the loss. */
  readonly mlp?: { readonly input: string; readonly sizes: readonly number[]; readonly activation: string };
  /** What was done to make it invalid, if anything (the model may still happen to be valid). */
  readonly mutation?: string;
}

export const ORDINARY_NAMES = ['w', 'x', 'y', 'b', 'W', 'h', 'z', 'u', 'v2', 'A', 'theta', 'bias', 'k1', 'yhat'];
/** Names that are legal gradc names but collide with something: JS/TS words, prototype keys, generated identifiers. */
export const HOSTILE_NAMES = [
  'class', 'delete', 'constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty', 'prototype',
  'Math', 'undefined', 'NaN', 'Infinity', 'this', 'new', 'function', 'return', 'let', 'yield', 'await', 'arguments', 'eval',
  'Floats', 'SampleError', 'INPUT_SIZE', 'TARGET_SIZE', 'zeroParams', 'initParams', 'copyParams', 'forward', 'gradient', 'step',
  'params', 'inputs', 'targets', 'grad', 'value', 'v', 'src', 'into', 'at', 'where', 'rand', 'count', 'first',
  't0', 't1', 'd_w', 'd_loss', 'w_0', 'w_1', 'x_0', 'e', 'pi', 'i', 'exp', 'sum', 'max', 'true', 'null', 'end', 'mod', 'to', 'in',
];
/** Not legal gradc names: must be a GradcError. */
export const INVALID_NAMES = ['$p', '$x', 'a-b', '1x', '', 'w x', 'ü'];

const UNARY = ['exp', 'log', 'sqrt', 'abs', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'softplus', 'square', 'sign'];
const BINARY_FN = ['max', 'min', 'pow'];
const ELEMENTWISE_OPS = ['+', '-', '.*', './', '.^'];
const NUMBERS = [0, 1, 2, 0.5, -1, -1.5, 3, 1e-3, 10];

const sizeOf = (s: Shape) => s.reduce((a, b) => a * b, 1);
const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((x, i) => x === b[i]);

export class Gen {
  readonly rand: () => number;
  constructor(seed: number) { this.rand = seeded(seed); }
  int(lo: number, hi: number): number { return lo + Math.floor(this.rand() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.rand() * xs.length)]; }
  chance(p: number): boolean { return this.rand() < p; }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) { const j = this.int(0, i); [xs[i], xs[j]] = [xs[j], xs[i]]; }
    return xs;
  }
}

const name = (n: string): Tree => ({ kind: 'name', name: n });
const num = (value: number): Tree => ({ kind: 'num', value });
const op = (o: string, ...args: Tree[]): Tree => ({ kind: 'op', op: o, args });
const call = (fn: string, ...args: Tree[]): Tree => ({ kind: 'call', fn, args });
/** square(t) + 1: a value >= 1, to keep log, sqrt, divisors and pow bases in their domain. */
const positive = (t: Tree): Tree => op('+', call('square', t), num(1));

class ModelGen {
  readonly leaves: LeafSpec[] = [];
  readonly lines: Line[] = [];
  private readonly used = new Set<string>(['loss']);
  constructor(readonly g: Gen, private readonly hostileShare: number) {}

  freshName(): string {
    for (let tries = 0; tries < 50; tries++) {
      const n = this.g.chance(this.hostileShare) ? this.g.pick(HOSTILE_NAMES) : this.g.pick(ORDINARY_NAMES) + (tries > 5 ? tries : '');
      if (!this.used.has(n)) { this.used.add(n); return n; }
    }
    const n = `n${this.used.size}`;
    this.used.add(n);
    return n;
  }

  /** A leaf of this shape: an existing one, or a new parameter, input or target. */
  leaf(shape: Shape): Tree {
    const have = this.leaves.filter((l) => sameShape(l.shape, shape));
    if (have.length > 0 && this.g.chance(0.6)) return name(this.g.pick(have).name);
    const kind: LeafKind = this.leaves.every((l) => l.kind !== 'param') || this.g.chance(0.5) ? 'param' : this.g.chance(0.7) ? 'input' : 'target';
    const l: LeafSpec = { name: this.freshName(), kind, shape };
    this.leaves.push(l);
    return name(l.name);
  }

  dim(): number { return this.g.int(1, 4); }
  anyShape(): Shape {
    const r = this.g.rand();
    return r < 0.4 ? [] : r < 0.75 ? [this.dim()] : [this.dim(), this.dim()];
  }

  /** An expression of shape `shape`. */
  expr(shape: Shape, depth: number): Tree {
    if (depth <= 0 || this.g.chance(0.2)) {
      return shape.length === 0 && this.g.chance(0.25) ? num(this.g.pick(NUMBERS)) : this.leaf(shape);
    }
    const t = this.compound(shape, depth - 1);
    if (this.g.chance(0.2)) { // a named intermediate
      const n = this.freshName();
      this.lines.push({ name: n, tree: t });
      return name(n);
    }
    return t;
  }

  compoundOf(shape: Shape, depth: number): Tree { return this.compound(shape, depth - 1); }

  private elementwise(shape: Shape, d: number): Tree {
    const g = this.g;
    const r = g.rand();
    const sub = (s: Shape = shape) => this.expr(s, d);
        // Either side may be a scalar, not both (the result must have `shape`).
    let scalars = 0;
    const side = () => (shape.length > 0 && scalars === 0 && g.chance(0.25) ? (scalars++, sub([])) : sub());
    if (r < 0.35) {
      const fn = g.pick(UNARY);
      const x = sub();
      return call(fn, (fn === 'log' || fn === 'sqrt') && g.chance(0.6) ? positive(x) : x);
    }
    if (r < 0.45) return op('neg', sub());
    if (r < 0.85) {
      const o = g.pick(ELEMENTWISE_OPS);
      // Tensors: `.*`, `./`, `.^`; two scalars may also use `*`, `/`, `^`.
      const o2 = shape.length === 0 && g.chance(0.5) ? ({ '.*': '*', './': '/', '.^': '^' } as Record<string, string>)[o] ?? o : o;
      if (o === './') { const b = side(); return op(o2, side(), g.chance(0.6) ? positive(b) : b); }
      if (o === '.^') {
        if (g.chance(0.5)) return op(o2, sub(), num(g.pick([2, 3, 0, 1, -1, 0.5])));
        const base = side();
        return op(o2, g.chance(0.6) ? positive(base) : base, side());
      }
      // scalar * tensor, tensor * scalar with `*`
      if (o === '.*' && shape.length > 0 && g.chance(0.3)) return g.chance(0.5) ? op('*', sub([]), sub()) : op('*', sub(), sub([]));
      return op(o2, side(), side());
    }
    const fn = g.pick(BINARY_FN);
    if (fn === 'pow') {
      if (g.chance(0.5)) return call('pow', sub(), num(g.pick([2, 0, 3])));
      const base = side();
      return call('pow', g.chance(0.6) ? positive(base) : base, side());
    }
    return call(fn, side(), side());
  }

  /**
   * The patterns the simplifier's stability rewrites look for (simplify.ts), at any shape,
   * with the constant 1 sometimes a tensor (`t .^ 0`): a rewrite must keep value and shape.
   */
  private pattern(shape: Shape, d: number): Tree | undefined {
    const g = this.g;
    const sub = (s: Shape) => this.expr(s, d);
    // One of `1` and `x` has `shape` (the other may be a scalar), so the result has `shape`.
    let scalarX = false;
    const scalarOrShape = () => (scalarX = shape.length > 0 && g.chance(0.4)) ? sub([]) : sub(shape);
    const one = (): Tree => (shape.length > 0 && (scalarX || g.chance(0.5)) ? op('.^', sub(shape), num(0)) : num(1));
    const choices: (() => Tree | undefined)[] = [
      () => { const t = sub(shape); return op('./', call('exp', t), call('sum', call('exp', t))); },
      () => call('log', op('+', call('exp', scalarOrShape()), one())),
      () => { const x = call('exp', scalarOrShape()); return call('log', op('+', one(), x)); },
      () => { const x = call('sigmoid', scalarOrShape()); return call('log', op('-', one(), x)); },
      () => call('log', call('sigmoid', sub(shape))),
      () => call('log', call('exp', sub(shape))),
      () => call('sqrt', call('square', sub(shape))),
      () => { const t = sub(shape); return op(shape.length === 0 ? '*' : '.*', t, t); },
      () => { const t = sub(shape); return op('+', t, t); },
      () => { const t = sub(shape); return op('-', t, t); },
      () => { const t = sub(shape); return op('./', t, t); },
      () => { const c = num(g.pick([2, -3, 0.5])); return op('.*', c, op('./', sub(shape), c)); },
      () => (shape.length === 1 ? call('log', call('softmax', sub(shape))) : undefined),
      () => (shape.length === 0 ? call('log', call('sum', call('exp', sub(this.anyShape())))) : undefined),
      () => (shape.length === 0 ? call('relu', op('-', call('sqrt', call('sum', op('.^', op('-', sub([2]), sub([2])), num(2)))), sub([]))) : undefined),
      () => (shape.length === 0 ? call('sum', op('.^', sub([]), call('concat', num(0), num(1), num(2)))) : undefined),
      () => (shape.length === 0 ? op('^', sub([]), sub([])) : undefined),
    ];
    return g.pick(choices)();
  }

  private compound(shape: Shape, d: number): Tree {
    const g = this.g;
    const sub = (s: Shape) => this.expr(s, d);
    if (g.chance(0.15)) { const p = this.pattern(shape, d); if (p) return p; }
    if (shape.length === 0) {
      const r = g.rand();
      if (r < 0.35) return this.elementwise(shape, d);
      const n = this.dim();
      const vec = (): Shape => [n];
      const k = this.dim();
      const choices: (() => Tree)[] = [
        () => call('sum', sub(g.chance(0.5) ? vec() : [n, k])),
        () => call('mean', sub(g.chance(0.5) ? vec() : [n, k])),
        () => call('dot', sub(vec()), sub(vec())),
        () => op('*', sub(vec()), sub(vec())), // dot product
        () => call('logsumexp', sub(vec())),
        () => call('cross_entropy', sub(vec()), g.chance(0.7) ? call('softmax', sub(vec())) : sub(vec())),
        () => ({ kind: 'index', arg: sub(vec()), at: g.int(1, n) }),
        () => call('sum', call('log_softmax', sub(vec()))),
      ];
      return g.pick(choices)();
    }
    if (shape.length === 1) {
      const n = shape[0];
      const k = this.dim();
      const choices: (() => Tree)[] = [
        () => this.elementwise(shape, d),
        () => this.elementwise(shape, d),
        () => call('matmul', sub([n, k]), sub([k])),
        () => op('*', sub([n, k]), sub([k])),
        () => op('*', sub([k]), sub([k, n])), // row vector times matrix
        () => op('*', call('transpose', sub([k, n])), sub([k])),
        () => call('softmax', sub(shape)),
        () => call('log_softmax', sub(shape)),
        () => call('transpose', sub(shape)),
        () => {
          const parts: Tree[] = [];
          for (let left = n; left > 0;) {
            const p = g.int(1, left);
            parts.push(p === 1 && g.chance(0.5) ? sub([]) : sub([p]));
            left -= p;
          }
          return call('concat', ...parts);
        },
      ];
      return g.pick(choices)();
    }
    const [r, c] = shape;
    const k = this.dim();
    const choices: (() => Tree)[] = [
      () => this.elementwise(shape, d),
      () => this.elementwise(shape, d),
      () => call('outer', sub([r]), sub([c])),
      () => op('*', sub([r, k]), sub([k, c])),
      () => call('matmul', sub([r, k]), sub([k, c])),
      () => call('transpose', sub([c, r])),
    ];
    return g.pick(choices)();
  }
}

/** Ways to make a model invalid; each rewrites the model in place and names itself. */
const MUTATIONS: readonly [string, (m: ModelCase, g: Gen) => void][] = [
  ['a leaf with another shape', (m, g) => { const l = g.pick(m.leaves); l.shape = l.shape.length === 0 ? [g.int(2, 4)] : l.shape.length === 1 ? [l.shape[0] + 1] : [l.shape[1], l.shape[0] + 1]; }],
  ['an unknown or prototype function', (m, g) => { const line = g.pick(m.lines); line.tree = call(g.pick(['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf', 'isPrototypeOf', 'swish', 'Log', 'f']), line.tree); }],
  ['a syntax error', (m, g) => { const line = g.pick(m.lines); line.tree = { kind: 'raw', text: `(${render(line.tree)}${g.pick([' +', ')(', ' ** 2', ' @ 1', ',', ' = 2'])}` }; }],
  ['an undefined name', (m, g) => { const line = g.pick(m.lines); line.tree = op('+', line.tree, name(g.pick(['nope', 'undefinedName', 'Object', 'globalThis']))); }],
  ['a non-scalar loss', (m, g) => { const l = m.lines[m.lines.length - 1]; l.tree = op('*', l.tree, name(m.leaves.find((x) => x.shape.length > 0)?.name ?? 'w')); void g; }],
  ['a cycle', (m) => { const l = m.lines[m.lines.length - 1]; m.lines.unshift({ name: 'cyc', tree: op('+', name('loss'), num(1)) }); l.tree = op('+', l.tree, name('cyc')); }],
  ['a bad literal', (m, g) => { const l = g.pick(m.lines); l.tree = op('+', l.tree, { kind: 'raw', text: g.pick(['NaN', 'Infinity', '1e400', '1e-400', '-Infinity', '"abc"', 'true', 'null', '[1, 2]', '2 i', 'undefined']) }); }],
  ['deep nesting', (m, g) => { const l = g.pick(m.lines); const k = g.pick([40, 300]); l.tree = { kind: 'raw', text: '('.repeat(k) + render(l.tree) + ')'.repeat(k) }; }],
  ['an invalid name', (m, g) => { const l = g.pick(m.leaves); const bad = g.pick(INVALID_NAMES); for (const line of m.lines) line.tree = renameTree(line.tree, l.name, bad); (l as { name: string }).name = bad; }],
  ['a parameter assigned by a formula', (m, g) => { const p = m.leaves.find((l) => l.kind === 'param'); if (p) m.lines.unshift({ name: p.name, tree: num(g.pick([1, 2])) }); }],
  ['a name defined twice', (m) => { if (m.lines.length > 0) m.lines.unshift({ name: m.lines[m.lines.length - 1].name, tree: num(1) }); }],
  ['a vector index out of range', (m, g) => { const v = m.leaves.find((l) => l.shape.length === 1); if (v) { const l = g.pick(m.lines); l.tree = op('+', l.tree, { kind: 'index', arg: name(v.name), at: g.pick([0, v.shape[0] + 1, -1, 1.5]) }); } }],
  ['a tensor ^ exponent', (m, g) => { const v = m.leaves.find((l) => l.shape.length > 0); if (v) { const l = g.pick(m.lines); l.tree = op('+', l.tree, call('sum', op('^', name(v.name), num(2)))); } }],
  // concat is variadic: only concat() has a wrong argument count.
  ['a wrong argument count', (m, g) => { const l = g.pick(m.lines); const fn = g.pick(['exp', 'max', 'sum', 'dot', 'concat', 'softmax']); l.tree = call(fn, ...(fn === 'concat' || g.chance(0.5) ? [] : [l.tree, l.tree, l.tree])); }],
];

function renameTree(t: Tree, from: string, to: string): Tree {
  switch (t.kind) {
    case 'name': return t.name === from ? name(to) : t;
    case 'op': return { ...t, args: t.args.map((a) => renameTree(a, from, to)) };
    case 'call': return { ...t, args: t.args.map((a) => renameTree(a, from, to)) };
    case 'index': return { ...t, arg: renameTree(t.arg, from, to) };
    default: return t;
  }
}

export interface ModelOptions {
  /** Share of invalid models (default 0.15). */
  readonly invalidShare?: number;
  /** Share of hostile names (default 0.25). */
  readonly hostileShare?: number;
  readonly maxDepth?: number;
}

export function randomModel(seed: number, options: ModelOptions = {}): ModelCase {
  const g = new Gen(seed);
  const mg = new ModelGen(g, options.hostileShare ?? 0.25);
  const depth = g.int(2, options.maxDepth ?? 5);
  let lossTree = mg.compoundOf([], depth);
  // The loss must read a parameter; most generated trees do, this makes sure.
  if (!mg.leaves.some((l) => l.kind === 'param' && readsName(lossTree, mg.lines, l.name))) {
    const p: LeafSpec = mg.leaves.find((l) => l.kind === 'param') ?? { name: mg.freshName(), kind: 'param', shape: [] };
    if (!mg.leaves.includes(p)) mg.leaves.push(p);
    lossTree = op('+', lossTree, p.shape.length === 0 ? op('*', num(0.5), call('square', name(p.name))) : call('sum', call('square', name(p.name))));
  }
  const door: Door = g.pick(['spec', 'spec', 'builder', 'lines']);
  const lines = [...mg.lines, { name: 'loss', tree: lossTree }];
  const vectorInput = mg.leaves.find((l) => l.kind === 'input' && l.shape.length === 1);
  const mlp = door === 'builder' && vectorInput && g.chance(0.3)
    ? { input: vectorInput.name, sizes: [g.int(1, 3), g.int(1, 2)].slice(0, g.int(1, 2)), activation: g.pick(['tanh', 'relu', 'sigmoid', 'softplus', 'exp', 'linear', 'linear', 'swish', 'toString']) }
    : undefined;
  const m: ModelCase = { seed, door, leaves: mg.leaves, lines, mlp };
  if (g.chance(options.invalidShare ?? 0.15)) {
    const [what, mutate] = g.pick(MUTATIONS);
    const before = describeModel(m);
    mutate(m, g);
    // Some mutations find nothing to change (no vector to index): then the model is still valid.
    return describeModel(m) === before ? m : { ...m, mutation: what };
  }
  return m;
}

function readsName(t: Tree, lines: readonly Line[], n: string): boolean {
  const seen = new Set<string>();
  const stack: Tree[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.kind === 'name') {
      if (x.name === n) return true;
      const line = lines.find((l) => l.name === x.name);
      if (line && !seen.has(line.name)) { seen.add(line.name); stack.push(line.tree); }
    } else if (x.kind === 'op' || x.kind === 'call') stack.push(...x.args);
    else if (x.kind === 'index') stack.push(x.arg);
  }
  return false;
}

const numText = (v: number): string => (Object.is(v, -0) || v < 0 ? `(${v})` : String(v));

/** Formula text of a tree (every compound operand parenthesized). */
export function render(t: Tree): string {
  switch (t.kind) {
    case 'name': return t.name;
    case 'num': return t.text ?? numText(t.value);
    case 'raw': return t.text;
    case 'index': return `${wrap(t.arg)}[${t.at}]`;
    case 'call': return `${t.fn}(${t.args.map(render).join(', ')})`;
    case 'op': return t.op === 'neg' ? `-${wrap(t.args[0])}` : `${wrap(t.args[0])} ${t.op} ${wrap(t.args[1])}`;
  }
}
const wrap = (t: Tree): string => (t.kind === 'name' || (t.kind === 'num' && t.value >= 0 && !Object.is(t.value, -0)) || t.kind === 'call' ? render(t) : `(${render(t)})`);

/** The formula block, one `name = formula` line per definition. */
export function formulaText(m: ModelCase): string {
  return m.lines.map((l) => `${l.name} = ${render(l.tree)}`).join('\n');
}

const shapeSpec = (s: Shape): number | number[] | 'scalar' => (s.length === 0 ? 'scalar' : s.length === 1 ? s[0] : [...s]);

/** Deterministic initial values for a parameter (so every door and lowering starts equal). */
export function initValues(l: LeafSpec): number[] {
  return Array.from({ length: sizeOf(l.shape) }, (_, k) => Math.round(Math.sin(k + l.name.length) * 100) / 100);
}

/** The model as a definition, through its door. */
export function toDefinition(m: ModelCase): ModelDefinition {
  const modelName = `fuzz${m.seed}`;
  const byKind = (k: LeafKind) => m.leaves.filter((l) => l.kind === k);
  // Object.fromEntries makes own properties, so '__proto__' stays a key.
  const shapes = (k: LeafKind) => Object.fromEntries(byKind(k).map((l) => [l.name, shapeSpec(l.shape)]));
  if (m.door === 'spec') {
    return defineModel({
      name: modelName,
      inputs: shapes('input'),
      targets: shapes('target'),
      params: Object.fromEntries(byKind('param').map((l) => [l.name, { shape: shapeSpec(l.shape), init: initValues(l) }])),
      formulas: formulaText(m),
    });
  }
  return defineModel(modelName, (b) => {
    const scope = new Map<string, Node>();
    for (const l of m.leaves) {
      if (l.kind === 'param') scope.set(l.name, b.param(l.name, { shape: shapeSpec(l.shape), init: initValues(l) }));
      else scope.set(l.name, l.kind === 'input' ? b.input(l.name, shapeSpec(l.shape)) : b.target(l.name, shapeSpec(l.shape)));
    }
    const mlpSum = m.mlp ? b.sum(b.mlp(scope.get(m.mlp.input) ?? m.mlp.input, m.mlp.sizes, m.mlp.activation as 'tanh')) : undefined;
    for (const line of m.lines) {
      let node = m.door === 'lines' ? b.expr(render(line.tree)) : builderExpr(b, line.tree, scope);
      if (line.name === 'loss' && mlpSum) node = b.add(node, mlpSum);
      scope.set(line.name, b.def(line.name, node));
    }
  });
}

/** A tree through the builder's methods (formula text only for indexing and invalid text). */
function builderExpr(b: ModelBuilder, t: Tree, scope: ReadonlyMap<string, Node>): Node | number | string {
  const e = (x: Tree) => builderExpr(b, x, scope);
  switch (t.kind) {
    case 'name': return scope.get(t.name) ?? t.name; // an unknown name goes in as text, to be reported
    case 'num': return t.text ?? t.value;
    case 'raw': return b.expr(t.text);
    case 'index': return b.expr(render(t));
    case 'call': return b.call(t.fn, ...t.args.map(e));
    case 'op': {
      const [x, y] = t.args.map(e);
      switch (t.op) {
        case 'neg': return b.neg(x);
        case '+': return b.add(x, y);
        case '-': return b.sub(x, y);
        case '*': return b.times(x, y);
        case '.*': return b.mul(x, y);
        case '/': case './': return b.div(x, y);
        case '^': case '.^': return b.pow(x, y);
      }
      throw new Error(`fuzz generator: no builder method for '${t.op}'`);
    }
  }
}

/** A readable reproducer: the door, the leaves and the formulas. */
export function describeModel(m: ModelCase): string {
  const leaves = m.leaves.map((l) => `${l.kind} ${JSON.stringify(l.name)}: [${l.shape.join('x')}]`).join(', ');
  const mlp = m.mlp ? `\n  mlp(${m.mlp.input}, [${m.mlp.sizes.join(', ')}], '${m.mlp.activation}') summed into the loss` : '';
  return `model seed ${m.seed} via ${m.door}${m.mutation ? ` (mutation: ${m.mutation})` : ''}\n  ${leaves}${mlp}\n  ${formulaText(m).split('\n').join('\n  ')}`;
}
