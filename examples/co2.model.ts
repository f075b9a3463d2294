// CO2 at Mauna Loa: a small recurrent network trained through time. The input is a
// window of CO2_WINDOW monthly changes (each month's CO2 minus the month before, scaled
// by their training standard deviation: differencing removes the trend, the seasonal
// cycle stays); the target is the next month's change. The network is unrolled over
// the window by a TypeScript loop, one definition per time step:
//   h1 = tanh(Wx * x[1] + b)                    (h0 = 0)
//   ht = tanh(Wx * x[t] + Wh * h(t-1) + b)      t = 2 .. CO2_WINDOW
//   yhat = dot(v, h_T) + c,  loss = (yhat - y)^2
// so the gradient is backpropagation through time, derived symbolically.
// Data: vega-datasets data/co2-concentration.csv, read and windowed in datasets.ts.
import { defineModel } from '../src/index.js';

/** Months per input window. */
export const CO2_WINDOW = 12;
/** Hidden units of the recurrent cell. */
export const CO2_HIDDEN = 8;

export function co2Model(window = CO2_WINDOW, hidden = CO2_HIDDEN) {
  return defineModel('co2', (m) => {
    m.input('x', window);
    m.target('y');
    const small = { kind: 'uniform', low: -0.3, high: 0.3 } as const;
    m.param('Wx', { shape: [hidden], init: small });
    m.param('Wh', { shape: [hidden, hidden], init: small });
    m.param('b', { shape: [hidden], init: 0 });
    m.param('v', { shape: [hidden], init: small });
    m.param('c', { init: 0 });
    m.def('h1', 'tanh(Wx * x[1] + b)');
    for (let t = 2; t <= window; t++) m.def(`h${t}`, `tanh(Wx * x[${t}] + Wh * h${t - 1} + b)`);
    m.def('yhat', `dot(v, h${window}) + c`);
    m.loss('(yhat - y)^2');
    m.output('yhat');
  }, { seed: 11 });
}

export default co2Model();
