// The linear-regression walkthrough of the backpropagation tutorial:
// yhat = w*x, s = yhat - y, loss = s^2. At x=1, y=2, w=1: yhat=1, s=-1, loss=1,
// dloss/ds=-2, dloss/dyhat=-2, dloss/dw=-2.
import { defineModel } from '../src/index.js';

export default defineModel({
  name: 'linreg',
  inputs: ['x'],
  targets: ['y'],
  params: { w: 1 },
  formulas: `
    yhat = w * x
    s = yhat - y
    loss = s^2
  `,
});
