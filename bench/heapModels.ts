/**
 * The models of bench/heap.ts (and test/graph.test.ts): the i-th is different from every
 * other, in shapes, activations or constants, so that no two compiles share a node.
 */
import { defineModel } from '../src/index.js';

const ACTS = ['tanh', 'sigmoid', 'relu', 'softplus'] as const;

/** The i-th model: an MLP (tensors) or a scalar net (unrolled), with constants of its own. */
export function nthModel(i: number): ReturnType<typeof defineModel> {
  const c = 1 + Math.abs(i) / 1000;
  if (i % 2 === 0) {
    return defineModel({
      name: `heap${i}`,
      inputs: ['x1', 'x2'],
      targets: ['y'],
      params: { w1: 0.1, w2: -0.2, w3: 0.3, w4: 0.05, b1: 0, b2: 0, v1: 0.5, v2: -0.5, c: 0 },
      formulas: `
        h1 = tanh(w1 * x1 + w2 * x2 + b1)
        h2 = ${ACTS[Math.abs(i / 2) % 4]}(w3 * x1 + w4 * x2 + b2)
        yhat = v1 * h1 + v2 * h2 + c
        loss = ${c} * (yhat - y)^2
      `,
    });
  }
  return defineModel(`heap${i}`, (m) => {
    const x = m.input('x', 3 + (Math.abs(i) % 5));
    const y = m.target('y', 2);
    const out = m.mlp(x, [2 + (Math.abs(i) % 7), 2], ACTS[Math.abs(i) % 4]);
    m.loss(m.mul(c, m.call('sum', m.call('square', m.sub(out, y)))));
  });
}

