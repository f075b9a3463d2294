// A small dense classifier (3-4-2, tanh, softmax cross-entropy): 26 parameters, so the
// unrolled lowering; pins the scalarized code of matrix-vector products and softmax.
import { defineModel } from '../../../src/index.js';

export default defineModel('dense', (m) => {
  const x = m.input('x', 3);
  const y = m.target('y', 2);
  const logits = m.mlp(x, [4, 2], 'tanh');
  m.loss(m.call('cross_entropy', logits, y));
});
