/**
 * The hand-written reference steps for small nets (issue 11, "Small nets"): what a person
 * writes for the 2-2-1 benchmark net (tanh hidden layer, linear output, squared error) when
 * speed is all that matters, with the same math and the same parameter layout as gradc's
 * `mlp` (W row-major [out x in], biases apart), one sample per step.
 *
 * - `sgdStep`: the update of each weight written as soon as its gradient is known, every
 *   value in a local, no checks, no allocation: the fastest plain-JS form we know.
 * - `adamStep`: the same with Adam's update (moments in typed arrays beside the weights,
 *   bias corrections computed once per step), for the Adam/SGD cost of hand-written code.
 *
 * Both return the loss before the step. Their results are checked against gradc's in
 * bench/small.ts before anything is timed, so the comparison is of equal work.
 */

/** The 2-2-1 net's parameters: W1 [2x2], b1 [2], W2 [1x2], b2 [1]. */
export interface Net221 {
  readonly W1: Float64Array;
  readonly b1: Float64Array;
  readonly W2: Float64Array;
  readonly b2: Float64Array;
}

/** One SGD step on row `row` of X (2 values per row) and Y (1 value per row). */
export function sgdStep(p: Net221, X: Float64Array, Y: Float64Array, row: number, lr: number): number {
  const W1 = p.W1, b1 = p.b1, W2 = p.W2, b2 = p.b2;
  const x0 = X[2 * row]!, x1 = X[2 * row + 1]!, y = Y[row]!;
  const w00 = W1[0]!, w01 = W1[1]!, w10 = W1[2]!, w11 = W1[3]!, c0 = b1[0]!, c1 = b1[1]!;
  const v0 = W2[0]!, v1 = W2[1]!, d = b2[0]!;
  const h0 = Math.tanh(w00 * x0 + w01 * x1 + c0);
  const h1 = Math.tanh(w10 * x0 + w11 * x1 + c1);
  const e = v0 * h0 + v1 * h1 + d - y;
  const g = 2 * e; // d(e^2)/de
  b2[0] = d - lr * g;
  W2[0] = v0 - lr * g * h0;
  W2[1] = v1 - lr * g * h1;
  const a0 = g * v0 * (1 - h0 * h0), a1 = g * v1 * (1 - h1 * h1);
  b1[0] = c0 - lr * a0;
  b1[1] = c1 - lr * a1;
  W1[0] = w00 - lr * a0 * x0;
  W1[1] = w01 - lr * a0 * x1;
  W1[2] = w10 - lr * a1 * x0;
  W1[3] = w11 - lr * a1 * x1;
  return e * e;
}

/** Adam's moments for the 2-2-1 net (one array per parameter, like gradc's OptimizerState) and beta1^t, beta2^t. */
export interface Adam221 {
  readonly m: Net221;
  readonly v: Net221;
  p1: number;
  p2: number;
}

export const adamState = (): Adam221 => {
  const zeros = (): Net221 => ({ W1: new Float64Array(4), b1: new Float64Array(2), W2: new Float64Array(2), b2: new Float64Array(1) });
  return { m: zeros(), v: zeros(), p1: 1, p2: 1 };
};

/** Adam's update of element k of w (m, v its moments), given its old value, its gradient, a = lr * sqrt(bc2) / bc1 and e = eps * sqrt(bc2). */
function adamUpdate(w: Float64Array, m: Float64Array, v: Float64Array, k: number, wk: number, gk: number, a: number, e: number): void {
  const m1 = 0.9 * m[k]! + (1 - 0.9) * gk, v1 = 0.999 * v[k]! + (1 - 0.999) * gk * gk;
  m[k] = m1;
  v[k] = v1;
  w[k] = wk - (a * m1) / (Math.sqrt(v1) + e);
}

/**
 * One Adam step (beta1 0.9, beta2 0.999, epsilon 1e-8) on row `row`, in Kingma and Ba's
 * efficient order (the step size and epsilon bias-corrected once per step, as gradc does),
 * with beta^t kept as running products (as TF.js does).
 */
export function adamStep(p: Net221, s: Adam221, X: Float64Array, Y: Float64Array, row: number, lr: number): number {
  const p1 = (s.p1 *= 0.9), p2 = (s.p2 *= 0.999);
  const root = Math.sqrt(1 - p2), a = (lr * root) / (1 - p1), e = 1e-8 * root;
  const W1 = p.W1, B1 = p.b1, W2 = p.W2, B2 = p.b2;
  const m = s.m, v = s.v;
  const x0 = X[2 * row]!, x1 = X[2 * row + 1]!, y = Y[row]!;
  const w00 = W1[0]!, w01 = W1[1]!, w10 = W1[2]!, w11 = W1[3]!, c0 = B1[0]!, c1 = B1[1]!;
  const v0 = W2[0]!, v1 = W2[1]!, d = B2[0]!;
  const h0 = Math.tanh(w00 * x0 + w01 * x1 + c0);
  const h1 = Math.tanh(w10 * x0 + w11 * x1 + c1);
  const err = v0 * h0 + v1 * h1 + d - y;
  const g = 2 * err;
  adamUpdate(B2, m.b2, v.b2, 0, d, g, a, e);
  adamUpdate(W2, m.W2, v.W2, 0, v0, g * h0, a, e);
  adamUpdate(W2, m.W2, v.W2, 1, v1, g * h1, a, e);
  const a0 = g * v0 * (1 - h0 * h0), a1 = g * v1 * (1 - h1 * h1);
  adamUpdate(B1, m.b1, v.b1, 0, c0, a0, a, e);
  adamUpdate(B1, m.b1, v.b1, 1, c1, a1, a, e);
  adamUpdate(W1, m.W1, v.W1, 0, w00, a0 * x0, a, e);
  adamUpdate(W1, m.W1, v.W1, 1, w01, a0 * x1, a, e);
  adamUpdate(W1, m.W1, v.W1, 2, w10, a1 * x0, a, e);
  adamUpdate(W1, m.W1, v.W1, 3, w11, a1 * x1, a, e);
  return err * err;
}
