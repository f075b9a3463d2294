/**
 * Clipping by global norm is overflow- and underflow-safe (issue 9): the norm is
 * sqrt(sum g^2) only while that sum is in the normal range; gradients of 1e160 (whose
 * squares overflow to Infinity) and of 1e-165 (whose squares underflow to 0) still clip
 * to the step the exact norm gives (Math.hypot, which scales, is the reference). Both
 * lowerings; SGD and Adam; batch 1 and batch 2.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type GeneratedModule } from '../src/index.js';

// loss = (dot(w, x) + b - y)^2: dloss/dw = 2 r x, dloss/db = 2 r with r = dot(w, x) + b - y.
const def = defineModel('clip', (m) => {
  const x = m.input('x', 3);
  const y = m.target('y');
  const w = m.param('w', { shape: [3], init: 1 });
  const b = m.param('b', { init: 0 });
  m.def('r', m.sub(m.add(m.dot(w, x), b), y));
  m.loss('r^2');
});

const LOWERINGS = ['unrolled', 'loops'] as const;
const modules = new Map<string, GeneratedModule>(LOWERINGS.map((l) => [l, compile(def, { lowering: l })]));

/** The mean gradient over rows (exact formula), as [w0, w1, w2, b]. */
function gradient(w: number[], b: number, X: number[][], Y: number[]): number[] {
  const g = [0, 0, 0, 0];
  X.forEach((x, i) => {
    const r = w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + b - Y[i];
    for (let k = 0; k < 3; k++) g[k] += (2 * r * x[k]) / X.length;
    g[3] += (2 * r) / X.length;
  });
  return g;
}

function step(m: GeneratedModule, kind: 'sgd' | 'adam', clipNorm: number, X: number[][], Y: number[], w0: number[]): { w: number[]; b: number } {
  const p = m.initParams();
  (p.w as Float64Array).set(w0);
  const st = m.initOptimizer(p, { kind, learningRate: 0.1, clipNorm });
  const loss = m.stepBatch(p, Float64Array.from(X.flat()), Float64Array.from(Y), X.length, st);
  expect(Number.isFinite(loss)).toBe(true);
  expect(st.step).toBe(1);
  return { w: [...(p.w as Float64Array)], b: p.b as number };
}

/** The clipped step by the reference: Math.hypot's norm, then SGD or Adam's first step. */
function reference(kind: 'sgd' | 'adam', clipNorm: number, X: number[][], Y: number[], w0: number[]): number[] {
  const g = gradient(w0, 0, X, Y);
  const norm = Math.hypot(...g);
  const c = norm > clipNorm ? clipNorm / norm : 1;
  const p = [...w0, 0];
  return p.map((v, k) => {
    const gk = c * g[k];
    if (kind === 'sgd') return v - 0.1 * gk;
    const m1 = 0.1 * gk, v1 = 0.001 * gk * gk; // first Adam step: bias corrections 0.1 and 0.001
    return v - (0.1 * (m1 / 0.1)) / (Math.sqrt(v1 / 0.001) + 1e-8);
  });
}

describe.each(LOWERINGS)('clipping by global norm, %s lowering', (lowering) => {
  const m = modules.get(lowering)!;
  const cases = [
    // |g| about 2e160: g^2 overflows (the old norm was Infinity, so the clip scale was 0 and nothing moved)
    { name: 'huge gradients (1e160)', X: [[1e80, 1, 0]], Y: [0], w0: [1, 1, 1], clip: 1 },
    { name: 'huge gradients, batch 2', X: [[1e80, 1, 0], [-3e79, 2, 1e78]], Y: [0, 1], w0: [1, 1, 1], clip: 0.5 },
    { name: 'gradients near the largest double (2e300)', X: [[1e150, 0, 0]], Y: [0], w0: [1, 1, 1], clip: 2 },
    // |g| about 2e-165: g^2 underflows to 0 (the old norm was 0, so nothing was clipped)
    { name: 'tiny gradients (1e-165)', X: [[1e-20, 0, 0]], Y: [1e-165], w0: [0, 0, 0], clip: 1e-175 },
  ];
  for (const kind of ['sgd', 'adam'] as const) {
    it.each(cases)(`${kind}: $name`, ({ X, Y, w0, clip }) => {
      const got = step(m, kind, clip, X, Y, w0);
      const want = reference(kind, clip, X, Y, w0);
      [...got.w, got.b].forEach((v, k) => {
        expect(Number.isFinite(v)).toBe(true);
        expect(Math.abs(v - want[k])).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(want[k]), Math.abs(w0[k] ?? 0), 1e-300));
      });
      // the step moved the parameter with the largest gradient by lr * clip for SGD (the clip did bite)
      if (kind === 'sgd') {
        const g = gradient(w0, 0, X, Y);
        const norm = Math.hypot(...g);
        expect(norm).toBeGreaterThan(clip);
        const moved = Math.hypot(...[...got.w, got.b].map((v, k) => v - [...w0, 0][k]));
        expect(moved / (0.1 * clip)).toBeCloseTo(1, 10);
      }
    });
  }
});
