// XOR with a 2-2-1 sigmoid network, built with the TypeScript builder API (a loop makes
// the hidden neurons) and formula strings inside it. Loss: binary cross-entropy, which
// gradc rewrites into the stable softplus form (log(sigmoid(z)) = -softplus(-z)).
import { defineModel } from '../src/index.js';

export default defineModel('xor', (m) => {
  m.input('x1');
  m.input('x2');
  m.target('y');
  const init = { kind: 'uniform', low: -1, high: 1 } as const;
  for (const j of [1, 2]) {
    m.param(`w${j}1`, { init });
    m.param(`w${j}2`, { init });
    m.param(`b${j}`, { init });
    m.def(`h${j}`, `sigmoid(w${j}1 * x1 + w${j}2 * x2 + b${j})`);
  }
  m.param('v1', { init });
  m.param('v2', { init });
  m.param('c', { init });
  m.def('z', 'v1 * h1 + v2 * h2 + c');
  m.def('yhat', 'sigmoid(z)');
  m.loss('-(y * log(yhat) + (1 - y) * log(1 - yhat))');
  m.output('yhat');
}, { seed: 7 });
