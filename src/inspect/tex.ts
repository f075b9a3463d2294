/**
 * LaTeX for IR formulas: what `gradc grad --tex` prints and the report typesets.
 *
 * Takes a node and labels (node -> name), like `formula` in ir/print.ts, and returns
 * LaTeX in the subset KaTeX renders. Guarantees: every op has a case (unknown tensor ops
 * fall back to `\operatorname{op}(...)`); operands are parenthesized by precedence, so
 * the LaTeX means what the IR means; a sign never follows an operator unparenthesized
 * (`a - \left(-b\right)`); bases of powers and subscripts are braced, so there is never
 * a double superscript; the walk is iterative and the output deterministic. Names are
 * typeset by `texName` (`w11` -> `w_{11}`, `yhat` -> `\hat{y}`, `dloss/dz` ->
 * `\frac{\partial \mathrm{loss}}{\partial z}`).
 */
import type { Node } from '../ir/node.js';
import { OPS } from '../ir/ops.js';
import type { Labels } from '../ir/print.js';

const GREEK = new Set([
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu', 'nu',
  'xi', 'pi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'chi', 'psi', 'omega',
  'Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Upsilon', 'Phi', 'Psi', 'Omega',
]);

const escape = (s: string) => s.replace(/_/g, '\\_');

/** LaTeX for a user name, a step name (`g1`) or a derivative name (`dloss/dz`, `ds/dyhat`). */
export function texName(name: string): string {
  const d = /^d([A-Za-z_][A-Za-z0-9_]*)\/d([A-Za-z_][A-Za-z0-9_]*(?:\[[A-Za-z0-9+-]+\])?)$/.exec(name);
  if (d) return `\\frac{\\partial ${texName(d[1])}}{\\partial ${texName(d[2])}}`;
  const at = /^([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z0-9+-]+)\]$/.exec(name); // a recurrence's state at a step: h[t-1] -> h_{t-1}
  if (at) {
    const b = texName(at[1]);
    return `${/^[A-Za-z]$|^\\[A-Za-z]+$/.test(b) ? b : `{${b}}`}_{${at[2]}}`;
  }
  const sub = /^([A-Za-z]+?)_?(\d+)$/.exec(name); // w11 -> w_{11}, alpha1 -> \alpha_{1}
  if (sub && (sub[1].length === 1 || GREEK.has(sub[1]))) return `${texName(sub[1])}_{${sub[2]}}`;
  if (/^[A-Za-z]$/.test(name)) return name;
  if (GREEK.has(name)) return `\\${name}`;
  const hat = /^([A-Za-z])hat$/.exec(name); // yhat -> \hat{y}
  if (hat) return `\\hat{${hat[1]}}`;
  return `\\mathrm{${escape(name)}}`;
}

/** A number in LaTeX: `1.5`, `-2`, `3 \times 10^{-7}`, `\infty`. */
export function texNumber(v: number): string {
  if (Number.isNaN(v)) return '\\mathrm{NaN}';
  if (v === Infinity) return '\\infty';
  if (v === -Infinity) return '-\\infty';
  const s = Object.is(v, -0) ? '-0' : String(v);
  const e = /^(-?[\d.]+)e([+-]\d+)$/.exec(s);
  return e ? `${e[1]} \\times 10^{${Number(e[2])}}` : s;
}

interface Printed {
  readonly text: string;
  /** 1 sum, 2 product, 3 negation, 4 power, 9 atom. */
  readonly prec: number;
  /** For comparisons: the condition without the Iverson brackets (used by select). */
  readonly cond?: string;
}

const paren = (t: string) => `\\left(${t}\\right)`;
/** Left operand of an operator of precedence `prec`. */
const left = (p: Printed, prec: number) => (p.prec < prec ? paren(p.text) : p.text);
/** Right operand: also parenthesized when it starts with a sign, and at equal precedence when `strict` (a - (b + c)). */
const right = (p: Printed, prec: number, strict = false) =>
  p.prec < prec || (strict && p.prec === prec) || p.text.startsWith('-') ? paren(p.text) : p.text;
/** Base of a power, a transpose or a subscript: an atom, braced. */
const base = (p: Printed) => `{${p.prec < 9 || p.text.startsWith('-') ? paren(p.text) : p.text}}`;

const NAMED_FN: Partial<Record<string, string>> = {
  log: '\\log', sin: '\\sin', cos: '\\cos', tanh: '\\tanh', sigmoid: '\\sigma', max: '\\max', min: '\\min',
};

function printTex(n: Node, a: readonly Printed[]): Printed {
  const call = (fn: string, extra = '') => ({ text: `${fn}${paren(a.map((x) => x.text).join(', ') + extra)}`, prec: 9 });
  switch (n.op) {
    case 'const': {
      const v = n.attrs.value!;
      const t = texNumber(v);
      const neg = t.startsWith('-');
      if (n.shape.length === 0) return { text: t, prec: neg ? 3 : 9 };
      return v === 0 ? { text: '\\mathbf{0}', prec: 9 } : { text: `${t} \\, \\mathbf{1}`, prec: 2 };
    }
    case 'param': case 'input': case 'target':
      return { text: texName(n.attrs.name!), prec: 9 };
    case 'neg':
      return { text: `-${right(a[0], 4)}`, prec: 3 };
    case 'add':
      return { text: `${left(a[0], 1)} + ${right(a[1], 1)}`, prec: 1 };
    case 'sub':
      return { text: `${left(a[0], 1)} - ${right(a[1], 1, true)}`, prec: 1 };
    case 'mul':
      return { text: `${left(a[0], 2)} ${n.args.every((x) => x.shape.length > 0) ? '\\odot' : '\\cdot'} ${right(a[1], 2)}`, prec: 2 }; // odot: elementwise
    case 'div':
      return { text: `\\frac{${a[0].text}}{${a[1].text}}`, prec: 2 };
    case 'pow':
      return { text: `${base(a[0])}^{${a[1].text}}`, prec: 4 };
    case 'square':
      return { text: `${base(a[0])}^{2}`, prec: 4 };
    case 'exp':
      return { text: `e^{${a[0].text}}`, prec: 4 };
    case 'sqrt':
      return { text: `\\sqrt{${a[0].text}}`, prec: 9 };
    case 'abs':
      return { text: `\\left|${a[0].text}\\right|`, prec: 9 };
    case 'gt': case 'ge': {
      const cond = `${a[0].text} ${n.op === 'gt' ? '>' : '\\geq'} ${a[1].text}`;
      return { text: `\\left[${cond}\\right]`, prec: 9, cond };
    }
    case 'select': {
      const cond = a[0].cond ?? `${a[0].text} \\neq 0`;
      return { text: `\\begin{cases} ${a[1].text} & \\text{if } ${cond} \\\\ ${a[2].text} & \\text{otherwise} \\end{cases}`, prec: 9 };
    }
    case 'matmul':
      return { text: `${left(a[0], 2)} \\, ${right(a[1], 2)}`, prec: 2 };
    case 'dot':
      return { text: `${base(a[0])}^{\\top} ${right(a[1], 2)}`, prec: 2 };
    case 'outer':
      return { text: `${left(a[0], 2)} \\, ${base(a[1])}^{\\top}`, prec: 2 };
    case 'transpose':
      return { text: `${base(a[0])}^{\\top}`, prec: 4 };
    case 'index':
      return { text: `${base(a[0])}_{${n.attrs.start! + 1}}`, prec: 9 };
    default: {
      const fn = NAMED_FN[n.op] ?? `\\operatorname{${escape(OPS[n.op].fn ?? n.op)}}`;
      return call(fn, n.attrs.start !== undefined ? `, ${n.attrs.start + 1}` : '');
    }
  }
}

/**
 * LaTeX of `root`. Nodes in `labels` print as their (typeset) names, except `root` itself.
 * A subexpression longer than `maxLength` characters prints as `\dots`.
 */
export function tex(root: Node, labels: Labels = new Map(), options: { maxLength?: number } = {}): string {
  const max = options.maxLength ?? Infinity;
  const done = new Map<Node, Printed>();
  const stack: { n: Node; expanded: boolean }[] = [{ n: root, expanded: false }];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const n = top.n;
    if (done.has(n)) { stack.pop(); continue; }
    if (n !== root && labels.has(n)) { done.set(n, { text: texName(labels.get(n)!), prec: 9 }); stack.pop(); continue; }
    if (!top.expanded) {
      top.expanded = true;
      for (const a of n.args) if (!done.has(a)) stack.push({ n: a, expanded: false });
      continue;
    }
    stack.pop();
    const p = printTex(n, n.args.map((a) => done.get(a)!));
    done.set(n, p.text.length > max ? { text: '\\dots', prec: 9 } : p); // bounded even where a DAG would expand exponentially
  }
  return done.get(root)!.text;
}
