/**
 * The optimizers' updates fused into the unrolled backward pass (6-emit/fusedSteps.ts).
 *
 * - Where it applies: an unrolled module short enough to fuse has one fused step per
 *   update rule; a looped module, or an unrolled one whose kernels are split, has none
 *   (it takes the gradient, then one update pass per parameter).
 * - Same numbers: for every optimizer, 100 fused steps (batch 1) give exactly the
 *   parameters, state and losses of the unfused path (gradient, then the update pass),
 *   which test/optimizers.test.ts holds to the float64 reference and to TF.js; with and
 *   without weight decay (without it, the steps that drop its terms: NO_DECAY), and past the
 *   step where Adam's bias corrections are exactly 1 (the steady hyperparameters read from
 *   the state, fusedSteps.ts hyperLines).
 * - All or nothing: a fused step whose update overflows part way through the parameters
 *   (after earlier elements were written) leaves the parameters, both moments and the step
 *   count exactly as they were, as a NaN loss does.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, type GeneratedModule, type OptimizerOptions, type Params } from '../src/index.js';

const def = defineModel('net231', (m) => {
  const x = m.input('x', 2);
  const y = m.target('y', 1);
  const out = m.mlp(x, [3, 1], 'tanh', 'linear');
  m.loss(m.mean(m.call('square', m.sub(out, y))));
});
const INIT: Record<string, number[]> = { layer1_W: [0.3, -0.2, 0.5, 0.1, -0.4, 0.25], layer1_b: [0.05, -0.1, 0.2], layer2_W: [0.6, -0.35, 0.45], layer2_b: [0.1] };
const ROWS = 8;
const X = Float64Array.from({ length: ROWS * 2 }, (_, i) => Math.sin(1.3 * i + 0.2) * 1.5);
const Y = Float64Array.from({ length: ROWS }, (_, i) => Math.cos(0.7 * i) * 0.8);

const fused = compile(def, { lowering: 'unrolled' });
const split = compile(def, { lowering: 'unrolled', chunkSize: 20 }); // kernels split: not fused
const looped = compile(def, { lowering: 'loops' });

function start(mod: GeneratedModule): Params {
  const p = mod.initParams();
  for (const [k, v] of Object.entries(INIT)) (p[k] as Float64Array).set(v);
  return p;
}
/** Every number of a parameter-shaped object, in order. */
const flat = (p: Params | null): number[] => (p ? Object.keys(INIT).flatMap((k) => [...(p[k] as Float64Array)]) : []);

const KINDS: OptimizerOptions[] = [
  { kind: 'sgd', learningRate: 0.1 },
  { kind: 'sgd', learningRate: 0.1, weightDecay: 0.05 },
  { kind: 'momentum', learningRate: 0.05, momentum: 0.9 },
  { kind: 'momentum', learningRate: 0.05, momentum: 0.8, nesterov: true },
  { kind: 'adam', learningRate: 0.02, beta1: 0.9, beta2: 0.99, epsilon: 1e-7 },
  { kind: 'adamw', learningRate: 0.02, weightDecay: 0.1 },
  { kind: 'rmsprop', learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-6 },
  // Small betas: the bias corrections are exactly 1 from step 74 on, where the fused step reads its steady values.
  { kind: 'adam', learningRate: 0.02, beta1: 0.5, beta2: 0.6 },
  { kind: 'adam', learningRate: 0.02, beta1: 0.5, beta2: 0.6, weightDecay: 0.01 },
  { kind: 'adamw', learningRate: 0.02, beta1: 0.5, beta2: 0.6, weightDecay: 0.1 },
  { kind: 'adamw', learningRate: 0.02, beta1: 0.5, beta2: 0.6, weightDecay: 0 },
  { kind: 'adam', learningRate: 0.02, beta1: 0.5, beta2: 0.6, schedule: { kind: 'exponential', gamma: 0.99 } }, // never steady
  { kind: 'momentum', learningRate: 0.05, momentum: 0.9, weightDecay: 0.01 },
  { kind: 'rmsprop', learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-6, weightDecay: 0.01 },
];

describe('fused optimizer steps', () => {
  it('are emitted for a short unrolled module only', () => {
    // A short kernel: each rule's step with and without the decay terms (NO_DECAY in fusedSteps.ts).
    for (const kind of ['sgd', 'momentum', 'adam', 'rmsprop']) for (const variant of ['', '_nodecay']) expect(fused.code).toContain(`function $step_${kind}${variant}(`);
    expect(fused.code).not.toMatch(/\$step_adamw|\$update_adamw/); // adamw shares adam's rule
    expect(split.code).not.toContain('function $step_');
    expect(looped.code).not.toContain('function $step_');
    // The unfused paths update in one pass per parameter (no separate check pass).
    for (const code of [fused.code, split.code, looped.code]) expect(code).not.toMatch(/function \$update\(/);
  });

  for (const options of KINDS) {
    it(`${JSON.stringify(options)}: 100 fused steps equal the unfused path exactly`, () => {
      const runs = [fused, split].map((mod) => {
        const p = start(mod);
        const st = mod.initOptimizer(p, options);
        const losses: number[] = [];
        for (let t = 0; t < 100; t++) losses.push(mod.stepBatch(p, X, Y, 1, st, t % ROWS));
        return { p: flat(p), m: flat(st.m), v: flat(st.v), losses, step: st.step };
      });
      const [a, b] = runs;
      expect(a.step).toBe(100);
      // Parameters and losses bit for bit; the moments === per number (the two paths may differ in the sign of a zero: NO_DECAY).
      for (const key of ['p', 'm', 'v', 'losses'] as const) {
        expect(a[key].length).toBe(b[key].length);
        const same = key === 'p' || key === 'losses' ? Object.is : (x: number, y: number) => x === y;
        a[key].forEach((x, i) => expect(same(x, b[key][i]!), `${key}[${i}]: ${x} fused, ${b[key][i]} unfused`).toBe(true));
      }
      expect(Math.max(...a.p.map((x, i) => Math.abs(x - flat(start(fused))[i])))).toBeGreaterThan(1e-3); // it moved
    });
  }

  // CHECK_ONCE in fusedSteps.ts: the fused step sums its new values; a sum that overflows
  // though every value is finite must not refuse the step (the exact path takes it).
  for (const optimizer of [0.05, { kind: 'adam', learningRate: 0.01 }, { kind: 'momentum', learningRate: 0.05 }] as const) {
    it(`${JSON.stringify(optimizer)}: new values whose sum overflows (biases of 1e308, tanh saturated) are finite: the step is taken, as the unfused path takes it`, () => {
      const runs = [fused, split].map((mod) => {
        const p = start(mod);
        (p.layer1_b as Float64Array).set([1e308, 1e308, 1e308]);
        const st = typeof optimizer === 'number' ? optimizer : mod.initOptimizer(p, optimizer);
        const losses = [0, 1, 2].map((t) => mod.stepBatch(p, X, Y, 1, st, t));
        return { p: flat(p), losses };
      });
      expect(runs[0]!.losses.every(Number.isFinite)).toBe(true);
      expect(runs[0]!.p.slice(6, 9)).toEqual([1e308, 1e308, 1e308]);
      expect(runs[0]).toEqual(runs[1]);
    });
  }

  for (const [name, mod] of [['fused', fused], ['split', split], ['looped', looped]] as const) {
    it(`${name}: an update that overflows part way through leaves parameters, moments and step count as they were`, () => {
      const p = start(mod);
      // A huge L2 term: finite while the weights are small, so two steps are taken and the moments are non-zero.
      const st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.01, weightDecay: 1e150 });
      for (let t = 0; t < 2; t++) mod.stepBatch(p, X, Y, 1, st, t);
      expect(st.step).toBe(2);
      expect(flat(st.v).every((x) => x > 1e200 && Number.isFinite(x))).toBe(true);
      // One large weight: its L2 gradient overflows, after other elements were already updated.
      (p.layer1_W as Float64Array)[5] = 1e160;
      const before = { p: flat(p), m: flat(st.m), v: flat(st.v) };
      expect(() => mod.stepBatch(p, X, Y, 1, st, 3)).toThrow(/step not taken, the parameters are unchanged: the adam update overflows/);
      expect(flat(p)).toEqual(before.p);
      expect(flat(st.m)).toEqual(before.m);
      expect(flat(st.v)).toEqual(before.v);
      expect(st.step).toBe(2);
      // A NaN loss likewise; and the module still trains afterwards.
      const bad = Y.slice();
      bad[4] = NaN;
      (p.layer1_W as Float64Array)[5] = INIT.layer1_W[5]!;
      const again = { p: flat(p), m: flat(st.m), v: flat(st.v) };
      expect(() => mod.stepBatch(p, X, bad, 1, st, 4)).toThrow(/the loss of row 4 is NaN/);
      expect([flat(p), flat(st.m), flat(st.v), st.step]).toEqual([again.p, again.m, again.v, 2]);
      expect(Number.isFinite(mod.stepBatch(p, X, Y, 1, st, 5))).toBe(true);
      expect(st.step).toBe(3);
    });
  }
});
