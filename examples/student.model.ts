// The student regression: CGPA and IQ -> placement package, one hidden layer of two
// linear neurons and one linear output, weights started at 1 and biases at 0, MSE.
// Data: examples/data/students.csv (synthetic, see examples/data/README.md); the demo
// standardizes both inputs before training.
import { defineModel } from '../src/index.js';

export default defineModel({
  name: 'student',
  inputs: ['cgpa', 'iq'],
  targets: ['package'],
  params: { w11: 1, w12: 1, b1: 0, w21: 1, w22: 1, b2: 0, v1: 1, v2: 1, c: 0 },
  formulas: `
    h1 = w11 * cgpa + w12 * iq + b1      # hidden neuron 1 (linear)
    h2 = w21 * cgpa + w22 * iq + b2      # hidden neuron 2 (linear)
    yhat = v1 * h1 + v2 * h2 + c         # output (linear)
    loss = (yhat - package)^2            # squared error of one student
  `,
});
