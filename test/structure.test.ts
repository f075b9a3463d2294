/**
 * Structure of the derived code: cost and scale.
 *
 * 1. The backward pass costs at most 3 times the forward pass (the cheap-gradient
 *    principle of reverse mode), for every example, the test corpus and a 10-layer
 *    sigmoid chain. Counted in the IR (`derive`): the forward graph is everything the
 *    loss reads; the backward graph is what the gradients read that the forward graph
 *    does not (so reused forward values, such as sigmoid's y, are free). Every op counts,
 *    one per element, except leaves and pure data movement (MOVES: transpose, index,
 *    concat, ...), which cost no arithmetic. The bound is asserted on the scalar
 *    IR (`scalarize`, the element-by-element graph the unrolled emitter writes one
 *    statement per node of), where a matrix product costs its multiplications and
 *    additions; the tensor-level count (one per output element, which counts a forward
 *    matmul [m x n] * [n] as m but its gradient outer(g, x) as m*n) is only logged. For
 *    unrolled models the emitted kernels are counted too: ops of the gradient kernel
 *    beyond the loss kernel vs the loss kernel.
 * 2. Scale: a 100,000-node chain goes through `generate()` without overflowing the
 *    stack, and a ~100,000-statement model is emitted in seconds (the time is logged;
 *    the bound is generous).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, defineModel, generate } from '../src/index.js';
import type { ModelDefinition } from '../src/2-build/define.js';
import { add, constant, make, mul } from '../src/ir/build.js';
import type { Node } from '../src/ir/node.js';
import type { Op } from '../src/ir/ops.js';
import { sizeOf } from '../src/ir/shape.js';
import { topoOrder } from '../src/ir/walk.js';
import { derive } from '../src/pipeline.js';
import { gradientTerms } from '../src/5-lower/sparse.js';
import { scalarize } from '../src/5-lower/scalarize.js';
import { CORPUS, type NamedModel, exampleModels } from './helpers/models.js';
import { co2UnrolledModel } from '../examples/co2.model.js';

const report: string[] = [];
afterAll(() => console.log(`structure.test:\n${report.join('\n')}`));

/** Ops that move or select elements without arithmetic. */
const MOVES: ReadonlySet<Op> = new Set<Op>(['transpose', 'broadcast', 'index', 'unindex', 'concat', 'slice', 'pad']);
const arithmetic = (nodes: Iterable<Node>): number => {
  let n = 0;
  for (const x of nodes) if (x.args.length > 0 && !MOVES.has(x.op)) n += sizeOf(x.shape);
  return n;
};
/** How many nodes of each op, one per element. */
const byOp = (nodes: Iterable<Node>): Map<Op, number> => {
  const m = new Map<Op, number>();
  for (const x of nodes) m.set(x.op, (m.get(x.op) ?? 0) + sizeOf(x.shape));
  return m;
};

interface Costs {
  readonly forward: number;
  readonly backward: number;
  readonly ratio: number;
  /** Ops of each kind in the forward graph and in the backward graph beyond it. */
  readonly forwardOps: ReadonlyMap<Op, number>;
  readonly backwardOps: ReadonlyMap<Op, number>;
}

/** Arithmetic in the loss graph, and in the gradient graphs beyond it. */
function costs(loss: readonly Node[], grads: readonly Node[]): Costs {
  const forward = topoOrder(loss);
  const seen = new Set(forward);
  const backward = topoOrder(grads).filter((n) => !seen.has(n));
  const f = arithmetic(forward), b = arithmetic(backward);
  return { forward: f, backward: b, ratio: b / f, forwardOps: byOp(forward), backwardOps: byOp(backward) };
}

function measure(def: ModelDefinition): { tensor: Costs; scalar: Costs } {
  const d = derive(buildModel(def));
  const tensor = costs([d.model.loss], d.grads);
  // An embedding's gradient is scattered into the looked-up rows (5-lower/sparse.ts), never
  // scalarized as a dense matrix: count its values (the adjoint rows) and one add per element.
  const terms = d.grads.map(gradientTerms);
  const scatterArgs = terms.flatMap((t) => t.scatters.flatMap((x) => x.args));
  const el = scalarize([d.model.loss, ...terms.map((t) => t.dense), ...scatterArgs]);
  const scalar = costs(el.get(d.model.loss)!, [...terms.map((t) => t.dense), ...scatterArgs].flatMap((g) => el.get(g)!));
  const adds = terms.reduce((n, t) => n + t.scatters.reduce((m, x) => m + sizeOf(x.args[0].shape), 0), 0);
  return { tensor, scalar: { ...scalar, backward: scalar.backward + adds, ratio: (scalar.backward + adds) / scalar.forward } };
}

/** h_{k+1} = sigmoid(w_k h_k + b_k), h_0 = x, loss = (h_L - y)^2: scalar, L layers. */
function sigmoidChain(layers: number): ModelDefinition {
  return defineModel(`sigmoid_chain_${layers}`, (m) => {
    m.input('x');
    m.target('y');
    let h = 'x';
    for (let k = 1; k <= layers; k++) {
      m.param(`w${k}`, 0.5);
      m.param(`b${k}`, 0);
      m.def(`h${k}`, `sigmoid(w${k} * ${h} + b${k})`);
      h = `h${k}`;
    }
    m.loss(`(${h} - y)^2`);
  });
}

// A recurrence (co2) has no scalar form (its body runs T times in a loop): the same net
// unrolled by hand stands in for it.
const recurrent = (def: ModelDefinition) => topoOrder([buildModel(def).loss]).some((n) => n.op === 'scan');
const examples = (await exampleModels()).filter((e) => !recurrent(e.def));
const models: NamedModel[] = [...examples, { name: 'co2 unrolled by hand', def: co2UnrolledModel() }, ...CORPUS, { name: 'sigmoid chain, 10 layers', def: sigmoidChain(10) }];

describe('the backward pass costs at most 3 times the forward pass', () => {
  for (const { name, def } of models) {
    it(name, () => {
      const { tensor, scalar } = measure(def);
      const line = `  ${name.padEnd(26)} scalar IR: forward ${String(scalar.forward).padStart(6)}, backward ${String(scalar.backward).padStart(6)}, ratio ${scalar.ratio.toFixed(2)}   tensor IR: ${tensor.forward} / ${tensor.backward} = ${tensor.ratio.toFixed(2)}`;
      report.push(line);
      expect(scalar.forward).toBeGreaterThan(0);
      expect(scalar.ratio, line).toBeLessThanOrEqual(3);
    });
  }

  it('the sigmoid chain reuses the forward sigmoid: no exp in the backward pass, about 5 ops per layer', () => {
    const layers = 10;
    const { scalar } = measure(sigmoidChain(layers));
    const count = (ops: ReadonlyMap<Op, number>, ...kinds: Op[]) => kinds.reduce((n, k) => n + (ops.get(k) ?? 0), 0);
    // Forward: one sigmoid per layer, computed once (hash-consing), and a handful of ops each.
    expect(count(scalar.forwardOps, 'sigmoid')).toBe(layers);
    expect(scalar.forward).toBeGreaterThanOrEqual(3 * layers);
    expect(scalar.forward).toBeLessThanOrEqual(3 * layers + 3);
    // Backward: sigmoid' = y (1 - y) reuses the forward y, so nothing transcendental is
    // recomputed; per layer g y (1 - y) (3 ops), dw = g' h, dh = g' w (2 ops).
    expect(count(scalar.backwardOps, 'sigmoid', 'exp', 'log', 'tanh', 'softplus')).toBe(0);
    expect(scalar.backward).toBeLessThanOrEqual(5 * layers + 2);
    expect(count(scalar.backwardOps, 'mul')).toBeLessThanOrEqual(4 * layers + 1);
  });

  it('emitted kernels: the gradient kernel adds at most 3 times the loss kernel', () => {
    let checked = 0;
    for (const { name, def } of models) {
      const { program } = generate(def);
      const k = (program as { kernels?: Record<string, { instrs: readonly { kind: string }[] }> }).kernels;
      if (!k) continue; // looped lowering: no per-sample straight-line kernels
      const ops = (kind: string) => k[kind].instrs.filter((i) => i.kind === 'op').length;
      const forward = ops('loss'), backward = ops('gradient') - forward;
      report.push(`  ${name.padEnd(26)} emitted: loss kernel ${forward} ops, gradient kernel ${ops('gradient')} ops, ratio ${(backward / forward).toFixed(2)}`);
      expect(backward / forward, name).toBeLessThanOrEqual(3);
      // The step kernel is built where it is fused: when the gradient kernel fits one function.
      if (k.step) expect(ops('step'), `${name}: the step kernel is the gradient kernel with the update fused`).toBe(ops('gradient'));
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });
});

describe('scale', () => {
  it('a 100,000-node chain goes through generate() without overflowing the stack', () => {
    const N = 100_000;
    // yhat = w * sin(sin(...sin(x))) with 100,000 sines: every phase walks the chain.
    const def = defineModel('deep_chain', (m) => {
      const x = m.input('x');
      const y = m.target('y');
      const w = m.param('w', 1);
      let h: Node = x;
      for (let k = 0; k < N; k++) h = make('sin', [h]);
      m.def('yhat', mul(w, h));
      m.loss(make('square', [make('sub', [mul(w, h), y])]));
      m.output('yhat');
    });
    const t0 = performance.now();
    const g = generate(def);
    const ms = performance.now() - t0;
    expect(topoOrder([g.derived.model.loss]).length).toBeGreaterThan(N);
    const sines = (g.code.match(/Math\.sin\(/g) ?? []).length;
    expect(sines).toBe(2 * N); // the forward kernel, and the pass the loss and gradient kernels share (issue 11)
    report.push(`  generate() of a ${N.toLocaleString('en')}-node chain: ${(ms / 1000).toFixed(1)} s, ${(g.code.length / 1e6).toFixed(1)} MB of code`);
    expect(ms).toBeLessThan(120_000);
  });

  it('a ~100,000-statement model is emitted in seconds', () => {
    // x_{k+1} = w x_k + 1 with no labels: a full backward pass through every step.
    const steps = 10_000; // about 7 statements per step (the forward kernel, and the pass loss and gradient share)
    const def = defineModel('long_chain', (m) => {
      const x = m.input('x');
      const y = m.target('y');
      const w = m.param('w', 0.5);
      let h: Node = x;
      for (let k = 0; k < steps; k++) h = add(mul(h, w), constant(1));
      m.loss(make('square', [make('sub', [h, y])]));
    });
    const t0 = performance.now();
    const g = generate(def);
    const ms = performance.now() - t0;
    const statements = g.code.split('\n').filter((l) => /^\s*(const |\$)/.test(l)).length;
    report.push(`  emission of a ${statements.toLocaleString('en')}-statement model (${steps} unlabelled steps): ${(ms / 1000).toFixed(1)} s`);
    expect(statements).toBeGreaterThan(65_000);
    expect(ms).toBeLessThan(60_000);
  });
});
