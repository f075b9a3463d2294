// Golden case beyond the examples: a small softmax classifier written with matrices, so
// the golden files cover tensor shapes, matrix products and the stability rewrite of
// log(softmax(z)) into log_softmax(z).
import { defineModel } from '../../../src/index.js';

export default defineModel({
  name: 'softmax',
  inputs: { x: 2 },
  targets: { y: 3 },
  params: {
    W: { shape: [3, 2], init: [0.1, -0.2, 0.3, 0.4, -0.5, 0.6] },
    b: { shape: 3, init: 'zeros' },
  },
  formulas: `
    logits = W * x + b
    p = softmax(logits)
    loss = -sum(y .* log(p))
  `,
});
