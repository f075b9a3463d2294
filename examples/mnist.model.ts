// MNIST digits: a 784-32-10 softmax classifier. The 28x28 grey levels (0 to 1) of a
// handwritten digit go through one tanh layer of 32 units to 10 linear logits; the loss
// is softmax cross-entropy against the one-hot digit (gradient softmax(logits) - y).
// With 25,450 parameters gradc picks its looped lowering: batched kernels with 4x4
// register-blocked matrix products. Data: the `mnist` package (10,000 digits), split
// deterministically in datasets.ts; trained in minibatches by `trainMnist`.
import { defineModel, type ModelDefinition } from '../src/index.js';

/** A 784-`hidden`-10 classifier (tanh hidden layer, linear logits, cross-entropy). */
export function mnistModel(hidden = 32): ModelDefinition {
  return defineModel('mnist', (m) => {
    const x = m.input('x', 784);
    const y = m.target('y', 10);
    const logits = m.def('logits', m.mlp(x, [hidden, 10], 'tanh'));
    m.loss(m.call('cross_entropy', logits, y));
    m.output('logits');
  }, { seed: 5 });
}

export default mnistModel(32);
