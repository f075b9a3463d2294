// CO2 at Mauna Loa: a small recurrent network trained through time. The input is a
// window of CO2_WINDOW monthly changes (each month's CO2 minus the month before, scaled
// by their training standard deviation: differencing removes the trend, the seasonal
// cycle stays); the target is the next month's change. The network is one recurrence,
// written once whatever the window's length:
//   h[0] = 0
//   h[t] = tanh(Wx * x[t] + Wh * h[t-1] + b)      t = 1 .. CO2_WINDOW
//   yhat = dot(v, h[T]) + c,  loss = (yhat - y)^2
// and its gradient is backpropagation through time, derived symbolically and emitted as
// a loop over t (so the generated module is the same size for any window).
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
    co2Params(m, hidden);
    m.formulas(`
      h[0] = 0
      h[t] = tanh(Wx * x[t] + Wh * h[t-1] + b)
      yhat = dot(v, h[T]) + c
      loss = (yhat - y)^2
    `);
    m.output('yhat');
  }, { seed: 11 });
}

/**
 * The same network unrolled by hand, one definition per time step, as this example was
 * written before recurrences: its code grows with the window (test/realdata.test.ts
 * checks that both give the same gradients).
 */
export function co2UnrolledModel(window = CO2_WINDOW, hidden = CO2_HIDDEN) {
  return defineModel('co2', (m) => {
    m.input('x', window);
    m.target('y');
    co2Params(m, hidden);
    m.def('h1', 'tanh(Wx * x[1] + b)');
    for (let t = 2; t <= window; t++) m.def(`h${t}`, `tanh(Wx * x[${t}] + Wh * h${t - 1} + b)`);
    m.def('yhat', `dot(v, h${window}) + c`);
    m.loss('(yhat - y)^2');
    m.output('yhat');
  }, { seed: 11 });
}

function co2Params(m: Parameters<Parameters<typeof defineModel>[1]>[0], hidden: number): void {
  const small = { kind: 'uniform', low: -0.3, high: 0.3 } as const;
  m.param('Wx', { shape: [hidden], init: small });
  m.param('Wh', { shape: [hidden, hidden], init: small });
  m.param('b', { shape: [hidden], init: 0 });
  m.param('v', { shape: [hidden], init: small });
  m.param('c', { init: 0 });
}

export default co2Model();
