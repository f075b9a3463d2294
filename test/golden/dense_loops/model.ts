// A dense regressor just over the unroll limit (16-20-4, relu, MSE: 424 parameters), so
// the looped lowering: pins the blocked gemms, the fused epilogues, the batch-summed
// weight gradients and the per-operation unrolling of small element loops.
import { defineModel } from '../../../src/index.js';

export default defineModel('dense_loops', (m) => {
  const x = m.input('x', 16);
  const y = m.target('y', 4);
  const out = m.mlp(x, [20, 4], 'relu');
  m.loss(m.mean(m.call('square', m.sub(out, y))));
});
