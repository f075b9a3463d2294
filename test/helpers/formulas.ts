/**
 * Random scalar formulas for property tests, printed twice: in gradc's formula syntax
 * and as an equal mathjs expression that `math.derivative` can differentiate.
 *
 * gradc's sigmoid, relu, softplus, square, max and min are not mathjs functions (and
 * mathjs cannot differentiate max/min), so the mathjs text spells each one with
 * mathjs-known elementary functions, by exact identities:
 *   sigmoid(u) = 1 / (1 + exp(-u))      relu(u)   = (u + abs(u)) / 2
 *   softplus(u) = log(1 + exp(u))       square(u) = u^2
 *   max(u, v) = (u + v + abs(u - v)) / 2,  min(u, v) = (u + v - abs(u - v)) / 2
 * so every generated formula is compared with mathjs, not only those that use mathjs
 * functions. Domains stay valid by construction: log and sqrt only see u^2 + 1 and
 * u^2 + 0.5, divisors are v^2 + 1, a variable exponent has the base u^2 + 1.
 * The identities for relu, max and min have the same kinks as gradc's functions, where
 * neither side is differentiable; the tests skip points near kinks (see `kinkDistance`).
 */
import fc from 'fast-check';
import type { Node } from '../../src/ir/node.js';
import { topoOrder } from '../../src/ir/walk.js';
import { evaluate, type Env } from '../../src/interp/evaluate.js';

export const UNARY_FUNCTIONS = ['exp', 'log', 'sqrt', 'abs', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'softplus', 'square'] as const;
export type UnaryFunction = (typeof UNARY_FUNCTIONS)[number];

export type Tree =
  | { readonly kind: 'var'; readonly name: string }
  | { readonly kind: 'num'; readonly value: number }
  | { readonly kind: 'call'; readonly fn: UnaryFunction; readonly arg: Tree }
  | { readonly kind: 'op'; readonly op: '+' | '-' | '*' | '/'; readonly a: Tree; readonly b: Tree }
  | { readonly kind: 'ipow'; readonly base: Tree; readonly power: 2 | 3 }
  | { readonly kind: 'vpow'; readonly base: Tree; readonly power: Tree }
  | { readonly kind: 'ext'; readonly fn: 'max' | 'min'; readonly a: Tree; readonly b: Tree };

/** Trees over `vars` of depth at most `depth`. */
export function arbTree(vars: readonly string[], depth = 4): fc.Arbitrary<Tree> {
  const leaf: fc.Arbitrary<Tree> = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...vars).map((name): Tree => ({ kind: 'var', name })) },
    { weight: 1, arbitrary: fc.constantFrom(0, 0.5, 1, 2, 3, -1.5).map((value): Tree => ({ kind: 'num', value })) },
  );
  const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
    tree: fc.oneof(
      { maxDepth: depth, depthIdentifier: 'formula', withCrossShrink: true },
      leaf,
      fc.tuple(fc.constantFrom(...UNARY_FUNCTIONS), tie('tree')).map(([fn, arg]): Tree => ({ kind: 'call', fn, arg })),
      fc.tuple(fc.constantFrom('+', '-', '*', '/'), tie('tree'), tie('tree')).map(([op, a, b]): Tree => ({ kind: 'op', op, a, b })),
      fc.tuple(tie('tree'), fc.constantFrom(2, 3)).map(([base, power]): Tree => ({ kind: 'ipow', base, power })),
      fc.tuple(tie('tree'), tie('tree')).map(([base, power]): Tree => ({ kind: 'vpow', base, power })),
      fc.tuple(fc.constantFrom('max', 'min'), tie('tree'), tie('tree')).map(([fn, a, b]): Tree => ({ kind: 'ext', fn, a, b })),
    ),
  }));
  return tree;
}

/** Formulas over `vars` that read at least one of them. */
export const arbFormula = (vars: readonly string[], depth = 4): fc.Arbitrary<Tree> =>
  arbTree(vars, depth).filter((t) => variablesOf(t).size > 0);

export function variablesOf(t: Tree): Set<string> {
  const out = new Set<string>();
  const stack = [t];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.kind === 'var') out.add(n.name);
    else if (n.kind === 'call') stack.push(n.arg);
    else if (n.kind === 'op' || n.kind === 'ext') stack.push(n.a, n.b);
    else if (n.kind === 'ipow') stack.push(n.base);
    else if (n.kind === 'vpow') stack.push(n.base, n.power);
  }
  return out;
}

const num = (v: number) => (v < 0 ? `(${v})` : `${v}`);

/** The formula in gradc syntax. */
export function gradcText(t: Tree): string {
  switch (t.kind) {
    case 'var': return t.name;
    case 'num': return num(t.value);
    case 'call': {
      const a = gradcText(t.arg);
      if (t.fn === 'log') return `log((${a})^2 + 1)`;
      if (t.fn === 'sqrt') return `sqrt((${a})^2 + 0.5)`;
      return `${t.fn}(${a})`;
    }
    case 'op': return t.op === '/' ? `(${gradcText(t.a)}) / ((${gradcText(t.b)})^2 + 1)` : `(${gradcText(t.a)}) ${t.op} (${gradcText(t.b)})`;
    case 'ipow': return `(${gradcText(t.base)})^${t.power}`;
    case 'vpow': return `((${gradcText(t.base)})^2 + 1)^(${gradcText(t.power)})`;
    case 'ext': return `${t.fn}(${gradcText(t.a)}, ${gradcText(t.b)})`;
  }
}

/** The same function in mathjs syntax, with mathjs-known functions only. */
export function mathjsText(t: Tree): string {
  switch (t.kind) {
    case 'var': return t.name;
    case 'num': return num(t.value);
    case 'call': {
      const a = mathjsText(t.arg);
      switch (t.fn) {
        case 'log': return `log((${a})^2 + 1)`;
        case 'sqrt': return `sqrt((${a})^2 + 0.5)`;
        case 'sigmoid': return `1 / (1 + exp(-(${a})))`;
        case 'relu': return `((${a}) + abs(${a})) / 2`;
        case 'softplus': return `log(1 + exp(${a}))`;
        case 'square': return `(${a})^2`;
        default: return `${t.fn}(${a})`;
      }
    }
    case 'op': return t.op === '/' ? `(${mathjsText(t.a)}) / ((${mathjsText(t.b)})^2 + 1)` : `(${mathjsText(t.a)}) ${t.op} (${mathjsText(t.b)})`;
    case 'ipow': return `(${mathjsText(t.base)})^${t.power}`;
    case 'vpow': return `((${mathjsText(t.base)})^2 + 1)^(${mathjsText(t.power)})`;
    case 'ext': {
      const a = mathjsText(t.a), b = mathjsText(t.b);
      return `((${a}) + (${b}) ${t.fn === 'max' ? '+' : '-'} abs((${a}) - (${b}))) / 2`;
    }
  }
}

/**
 * How close the point is to a kink of the formula: the smallest |argument| of abs,
 * relu and sign, and the smallest |a - b| of max, min, gt and ge, over the IR of the
 * formula evaluated at `env` (Infinity when there is no kink).
 */
export function kinkDistance(root: Node, env: Env): number {
  const values = evaluate([root], env);
  const at = (n: Node) => values.get(n)!;
  let d = Infinity;
  for (const n of topoOrder([root])) {
    if (n.op === 'abs' || n.op === 'relu' || n.op === 'sign') for (const v of at(n.args[0])) d = Math.min(d, Math.abs(v));
    if (n.op === 'max' || n.op === 'min' || n.op === 'gt' || n.op === 'ge') {
      const a = at(n.args[0]), b = at(n.args[1]);
      for (let i = 0; i < Math.max(a.length, b.length); i++) d = Math.min(d, Math.abs(a[a.length === 1 ? 0 : i] - b[b.length === 1 ? 0 : i]));
    }
  }
  return d;
}
