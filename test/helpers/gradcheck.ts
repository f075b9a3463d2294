/**
 * Gradient checks on IR: a scalar function of named leaves, differentiated by gradc
 * (`differentiate`, evaluated by the reference interpreter) and by central differences
 * (the same function, evaluated by the interpreter at shifted points).
 *
 * Guarantees: every differentiated leaf is checked element by element; values are
 * passed as plain arrays so a check can shift one element in place; a failure message
 * names the check, the point and the element.
 */
import { input, param } from '../../src/ir/build.js';
import type { Node } from '../../src/ir/node.js';
import { type Shape, shape as mkShape, sizeOf } from '../../src/ir/shape.js';
import { differentiate } from '../../src/3-diff/grad.js';
import { evaluate, evaluateScalar } from '../../src/interp/evaluate.js';
import { centralDifference, defaultStep, relativeError } from './numeric.js';

export type Leaves = Readonly<Record<string, Node>>;
export type Point = Record<string, number[]>;

export interface GradCheck {
  readonly label: string;
  /** Differentiated leaves (parameters) and their shapes ([] for a scalar). */
  readonly params: Readonly<Record<string, readonly number[]>>;
  /** Leaves held fixed (weights that make the loss a scalar, conditions of select). */
  readonly inputs?: Readonly<Record<string, readonly number[]>>;
  /** The scalar function. */
  readonly f: (leaves: Leaves) => Node;
  /** Points at which gradc's gradient must match central differences. */
  readonly points: readonly Point[];
  /** Exact expectations (conventions at kinks): leaf name -> gradient elements. */
  readonly exact?: readonly { readonly at: Point; readonly grad: Readonly<Record<string, readonly number[]>> }[];
  readonly step?: (x: number) => number;
  /** Largest allowed relative error (floor 1). */
  readonly tol?: number;
}

export interface CheckResult {
  /** Worst relative error against central differences. */
  readonly maxError: number;
  /** Number of gradient elements compared. */
  readonly compared: number;
}

const toShape = (s: readonly number[]): Shape => mkShape(...s);

export function buildCheck(c: GradCheck): { loss: Node; wrt: Node[]; grads: readonly Node[] } {
  const leaves: Record<string, Node> = {};
  for (const [n, s] of Object.entries(c.params)) leaves[n] = param(n, toShape(s));
  for (const [n, s] of Object.entries(c.inputs ?? {})) leaves[n] = input(n, toShape(s));
  const loss = c.f(leaves);
  const wrt = Object.keys(c.params).map((n) => leaves[n]);
  return { loss, wrt, grads: differentiate(loss, wrt).grads };
}

/** gradc's gradient at `at`, one array per parameter. */
export function gradcGradient(loss: Node, grads: readonly Node[], at: Point): Float64Array[] {
  const values = evaluate([loss, ...grads], at);
  return grads.map((g) => values.get(g)!);
}

export function runCheck(c: GradCheck): CheckResult {
  const { loss, wrt, grads } = buildCheck(c);
  const tol = c.tol ?? 1e-6;
  let maxError = 0;
  let compared = 0;
  for (const p of c.points) {
    const at: Point = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.slice()]));
    const analytic = gradcGradient(loss, grads, at);
    wrt.forEach((leaf, i) => {
      const name = leaf.attrs.name!;
      const x = at[name];
      if (x.length !== sizeOf(leaf.shape)) throw new Error(`${c.label}: point gives ${x.length} values for '${name}'`);
      for (let k = 0; k < x.length; k++) {
        const x0 = x[k];
        const fd = centralDifference((t) => {
          x[k] = t;
          return evaluateScalar(loss, at);
        }, x0, (c.step ?? defaultStep)(x0));
        x[k] = x0;
        const err = relativeError(analytic[i][k], fd);
        const where = `${c.label} at ${JSON.stringify(p)}: d/d${name}[${k}] gradc ${analytic[i][k]} vs central difference ${fd}`;
        if (!(err <= tol)) throw new Error(`${where} (relative error ${err.toExponential(2)} > ${tol})`);
        maxError = Math.max(maxError, err);
        compared++;
      }
    });
  }
  for (const e of c.exact ?? []) {
    const analytic = gradcGradient(loss, grads, e.at);
    wrt.forEach((leaf, i) => {
      const want = e.grad[leaf.attrs.name!];
      if (!want) return;
      const got = Array.from(analytic[i]);
      if (!want.every((w, k) => Object.is(w, got[k]) || w === got[k])) {
        throw new Error(`${c.label} at ${JSON.stringify(e.at)}: d/d${leaf.attrs.name} is [${got.join(', ')}], the convention says [${want.join(', ')}]`);
      }
      compared += want.length;
    });
  }
  return { maxError, compared };
}
