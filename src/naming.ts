/**
 * The one owner of names: every name in generated code and every name the inspection
 * tools display (Tangent's naming.py).
 *
 *   Names           identifiers of one generated scope: `yhat`, `t3`, `d_z`, `W_3`
 *   adjointName     the adjoint of a value in generated code: `d_<name>`
 *   adjointLabel    the adjoint of a value as displayed (`gradc grad`, graph, explain): `dloss/d<name>`
 *   elementName     one element of a tensor in generated code: `<name>_<k>`
 *   stepName        an unnamed shared step of the displayed gradient formulas: `g<k>`
 *   sharedName      an unnamed forward subexpression used twice, as `gradc explain` shows it: `t<k>`
 *   adjointOwners   which forward node each adjoint is named after (one rule for code and display)
 *
 * Guarantees: every name `Names` hands out is a valid TypeScript identifier, not a reserved
 * word, not a global the generated code uses (Math, Float64Array, ...), and unique
 * within its `Names` scope. User labels are kept as written where possible (`yhat`),
 * anonymous temporaries are `t<k>` numbered in order of first request; clashes get `_2`,
 * `_3`, ... suffixes. Names that gradc itself uses in generated kernels start with `$`,
 * which user names cannot contain (builder.ts accepts only [A-Za-z_][A-Za-z0-9_]*), so
 * they never collide. An adjoint shared by several forward nodes (the simplifier makes
 * dloss/db1 and dloss/d(w11 * x1 + w12 * x2 + b1) one node) is named after the node it
 * belongs to, never after a parameter that merely shares it: see `adjointOwners`.
 */
import type { Node } from './ir/node.js';
import { type Derived, forwardNodes } from './model.js';

const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'yield let static implements interface package private protected public await async of any number string ' +
    'boolean symbol never unknown undefined NaN Infinity Math Float64Array Float32Array Array Object Number Error ' +
    'arguments eval globalThis console type as is keyof readonly declare namespace module require'
  ).split(' '),
);

/** Whether `s` is [A-Za-z_$][A-Za-z0-9_$]* (then `fresh` keeps it as it is, reserved words aside). */
function isPlainName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
    if (!letter && (i === 0 || c < 48 || c > 57)) return false;
  }
  return true;
}

export class Names {
  /** Names handed out by `fresh` (temporaries are not kept here: see `taken`). */
  private readonly used = new Set<string>();
  /** Temporaries `t0` .. `t<temps - 1>` are handed out or skipped (a skipped one is in `used`). */
  private temps = 0;

  /** A fresh name based on `base` (a user label or a description). */
  fresh(base: string): string {
    let b = base;
    if (!isPlainName(b)) {
      b = b.replace(/[^A-Za-z0-9_$]/g, '_');
      if (!/^[A-Za-z_$]/.test(b)) b = `_${b}`;
    }
    if (RESERVED.has(b)) b = `${b}_`;
    let name = b;
    for (let k = 2; this.taken(name); k++) name = `${b}_${k}`;
    this.used.add(name);
    return name;
  }

  temp(): string {
    let name: string;
    do name = `t${this.temps++}`; while (this.used.has(name));
    return name;
  }

  /**
   * Whether `name` is handed out: by `fresh`, or as a temporary `t<k>` with k below
   * `temps` (temporaries are most names of a large kernel: no set of 10^5 strings is kept for them).
   */
  private taken(name: string): boolean {
    if (this.used.has(name)) return true;
    if (name.length < 2 || name.charCodeAt(0) !== 116 || (name.charCodeAt(1) === 48 && name.length > 2)) return false; // 't', no leading zero
    for (let i = 1; i < name.length; i++) { const c = name.charCodeAt(i); if (c < 48 || c > 57) return false; }
    return Number(name.slice(1)) < this.temps;
  }
}

/** Name of the adjoint of a named value in generated code: `d_z`. */
export const adjointName = (name: string): string => `d_${name}`;
/** Name of an element of a tensor in generated code: `W_3`. */
export const elementName = (name: string, k: number): string => `${name}_${k}`;
/** An unnamed shared step of the displayed gradient formulas (3-diff/steps.ts): `g1`. */
export const stepName = (k: number): string => `g${k}`;
/** An unnamed forward subexpression used more than once, as `gradc explain` shows it: `t1`. */
export const sharedName = (k: number): string => `t${k}`;
/** An unnamed subexpression used more than once in a recurrence's step as displayed (inspect/recurrence.ts): `u1[t]`. */
export const cellName = (k: number): string => `u${k}[t]`;
/** A recurrence's state at a step as displayed: `h[t-1]`, `h[T]`, `h[7]`. */
export const stateAt = (name: string, step: string | number): string => `${name}[${step}]`;
/** The adjoint of a named value as displayed: `dloss/dz`. */
export const adjointLabel = (name: string): string => `dloss/d${name}`;

/** What an adjoint is named after: a forward node, and whether the user named it. */
export interface AdjointOwner {
  readonly of: Node;
  /** The user's label of `of` (a definition), when it has one. */
  readonly label?: string;
  /** The parameter whose gradient this adjoint is, when `of` is that parameter. */
  readonly param?: string;
}

/**
 * For every adjoint node of `derived`, the forward node it is named after. Several forward
 * nodes can share one adjoint node (`a + b` passes its adjoint to both; hash-consing makes
 * them one node), and the first of these rules that applies picks the owner:
 *   1. a node the user named (not a leaf), the one closest to the loss: `d_z`, `dloss/dz`;
 *      the sharers are that node and what it passes its adjoint through to (`s = yhat - y`
 *      passes dloss/ds on to yhat), so the one closest to the loss is the node whose
 *      consumer's rule created the adjoint: the node it belongs to;
 *   2. an unnamed operation, the one closest to the loss (generated code names it after
 *      that operation's temporary, `d_t3`; displays, which have no temporaries, name it
 *      after the parameter below and show the operation beside it);
 *   3. the parameter whose gradient it is (the first, in parameter order).
 * So a parameter's gradient carries the parameter's name only when it is not also the
 * adjoint of something else: in XOR, dloss/dc is the adjoint of z and named `d_z`.
 */
export function adjointOwners(derived: Derived): Map<Node, AdjointOwner> {
  const { model, adjoints } = derived;
  const owners = new Map<Node, AdjointOwner>();
  const closestFirst = forwardNodes(model).reverse().filter((f) => f.args.length > 0);
  for (const f of closestFirst) {
    const a = adjoints.get(f);
    const label = model.labels.get(f);
    if (a && label !== undefined && !owners.has(a)) owners.set(a, { of: f, label });
  }
  for (const f of closestFirst) {
    const a = adjoints.get(f);
    if (a && !owners.has(a)) owners.set(a, { of: f });
  }
  model.params.forEach((p, i) => {
    if (!owners.has(derived.grads[i])) owners.set(derived.grads[i], { of: p.node, param: p.name });
  });
  return owners;
}
