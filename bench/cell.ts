/**
 * What the scalar cell body (5-lower/cell.ts) gains: the SGD training step of each model
 * with its time loops' steps as straight-line scalar code (`scalarCell: Infinity`) against
 * the looped body (`scalarCell: 0`), in interleaved alternating rounds (the ratio of the
 * medians, looped / scalar: above 1 the scalar body is faster). Models: the CO2 recurrence
 * (examples/co2.model.ts, 8 units, T = 12), the names GRU (examples/names.model.ts, 16 units
 * over 27 symbols, T = 15, with lengths), and Elman and LSTM nets (T = 50, 16 inputs, 32
 * units), at batch 1 and 32.
 *
 *   npx tsx bench/cell.ts [rounds]
 */
import { compile, defineModel, type ModelDefinition } from '../src/index.js';
import { co2Model } from '../examples/co2.model.js';
import { NAME_LENGTH, NAME_SYMBOLS, namesModel } from '../examples/names.model.js';
import { rng } from './setup.js';

const net = (cell: 'rnn' | 'lstm' | 'gru', H: number, V = 16): ModelDefinition => defineModel(`${cell}${H}`, (m) => {
  m.input('x', [50, V]);
  m.target('y');
  const r = cell === 'rnn' ? m.rnn('x', H, 'tanh') : cell === 'gru' ? m.gru('x', H) : m.lstm('x', H);
  m.loss(m.mean(m.call('square', m.sub(m.dense(r.last.h, 1), 'y'))));
});

const CASES: { name: string; def: ModelDefinition; row: (rand: () => number) => number[] }[] = [
  { name: 'co2 (8 units)', def: co2Model(), row: (r) => Array.from({ length: 12 }, () => 2 * r() - 1) },
  {
    name: 'names GRU (16 units)', def: namesModel(),
    row: (r) => [...Array.from({ length: NAME_LENGTH * NAME_SYMBOLS }, (_, i) => ((i * 7 + Math.floor(r() * 3)) % NAME_SYMBOLS === 0 ? 1 : 0)), 1 + Math.floor(r() * NAME_LENGTH)],
  },
  { name: 'Elman 16-32', def: net('rnn', 32), row: (r) => Array.from({ length: 800 }, () => 2 * r() - 1) },
  { name: 'Elman 16-8', def: net('rnn', 8), row: (r) => Array.from({ length: 800 }, () => 2 * r() - 1) },
  { name: 'Elman 16-16', def: net('rnn', 16), row: (r) => Array.from({ length: 800 }, () => 2 * r() - 1) },
  { name: 'GRU 4-4', def: net('gru', 4, 4), row: (r) => Array.from({ length: 200 }, () => 2 * r() - 1) },
  { name: 'GRU 8-8', def: net('gru', 8, 8), row: (r) => Array.from({ length: 400 }, () => 2 * r() - 1) },
  { name: 'LSTM 4-4', def: net('lstm', 4, 4), row: (r) => Array.from({ length: 200 }, () => 2 * r() - 1) },
  { name: 'LSTM 16-8', def: net('lstm', 8), row: (r) => Array.from({ length: 800 }, () => 2 * r() - 1) },
  { name: 'LSTM 16-32', def: net('lstm', 32), row: (r) => Array.from({ length: 800 }, () => 2 * r() - 1) },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rounds = Number(process.argv[2] ?? 7);
const only = process.argv[3];
for (const c of CASES.filter((x) => !only || x.name.startsWith(only))) {
  const scalar = compile(c.def, { lowering: 'loops', scalarCell: Number(process.env.SCALAR_CELL ?? 32) });
  const looped = compile(c.def, { lowering: 'loops', scalarCell: 0 });
  for (const B of [1, 32]) {
    const rand = rng(5);
    const X = Float64Array.from({ length: 0 }), rowsX: number[] = [];
    for (let b = 0; b < B; b++) rowsX.push(...c.row(rand));
    const XX = Float64Array.from(rowsX.length ? rowsX : X);
    const Y = Float64Array.from({ length: B * scalar.TARGET_SIZE }, () => (rand() < 0.5 ? 0 : 1));
    const p = scalar.initParams(1), q = scalar.copyParams(p);
    const time = (m: typeof scalar, params: typeof p) => {
      const steps = Math.max(5, Math.round(4000 / B / (c.def === CASES[0].def ? 1 : 10)));
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) m.stepBatch(params, XX, Y, B, 1e-4);
      return (performance.now() - t0) / steps;
    };
    time(scalar, p); time(looped, q); // warm up
    const a: number[] = [], b: number[] = [];
    for (let r = 0; r < rounds; r++) { a.push(time(scalar, p)); b.push(time(looped, q)); }
    console.log(`${c.name.padEnd(22)} batch ${String(B).padStart(2)}: scalar ${median(a).toFixed(4)} ms/step, looped ${median(b).toFixed(4)} ms/step, looped/scalar ${(median(b) / median(a)).toFixed(2)}x`);
  }
}
