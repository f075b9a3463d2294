/**
 * What lengths cost: the training step of an Elman net and an LSTM (T = 50 steps of 16
 * inputs, 32 hidden units, one output from the last state, SGD, batch 32) with a length
 * input (every state kept past each sample's length) against the same net without.
 *
 *   npx tsx bench/varlen.ts write DIR        writes the four generated modules (JavaScript) and DIR/run.mjs
 *   npx tsx bench/varlen.ts rounds           interleaved alternating rounds, ms per step (ratios; npm run bench:varlen)
 *
 * Instruction counts (robust on a loaded machine): for each module, run
 *   valgrind --tool=callgrind node DIR/run.mjs <module> <steps>
 * at two step counts; the difference over the difference in steps is the instructions of
 * one step, without loading or start-up (run.mjs draws lengths 1..T; `full` as a third
 * argument gives every sample length T). Measured 2026-12-02 (README, Recurrences): Elman
 * 1.05x, LSTM 1.12x the instructions of the net without lengths.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, defineModel, type ModelDefinition } from '../src/index.js';
import { generateJavaScript } from '../src/pipeline.js';
import { rng } from './setup.js';

const T = 50, V = 16, H = 32, B = 32, LR = 0.01;

const model = (cell: 'rnn' | 'lstm', lengths: boolean): ModelDefinition => defineModel(`${cell}${lengths ? '_len' : ''}`, (m) => {
  m.input('x', [T, V]);
  if (lengths) m.lengthInput('len', 'x');
  m.target('y');
  const r = cell === 'rnn' ? m.rnn('x', H, 'tanh', { name: 'cell' }) : m.lstm('x', H, { name: 'cell' });
  m.param('v', { shape: [H], init: { kind: 'uniform', low: -0.3, high: 0.3 } });
  m.param('c', 0);
  m.def('yhat', m.add(m.dot('v', r.last.h), 'c'));
  m.loss('(yhat - y)^2');
});

const CASES = (['rnn', 'lstm'] as const).flatMap((cell) => [false, true].map((lengths) => ({ name: `${cell}${lengths ? '_len' : ''}`, def: model(cell, lengths), lengths })));

/** Rows for a batch: random inputs, and (with lengths) lengths 1..T spread over the batch. */
function rows(lengths: boolean): { X: Float64Array; Y: Float64Array } {
  const rand = rng(77);
  const size = T * V + (lengths ? 1 : 0);
  const X = new Float64Array(B * size), Y = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    for (let k = 0; k < T * V; k++) X[i * size + k] = 2 * rand() - 1;
    if (lengths) X[i * size + T * V] = LENGTHS === 'full' ? T : 1 + Math.floor(rand() * T);
    Y[i] = 2 * rand() - 1;
  }
  return { X, Y };
}
const LENGTHS = process.env.VARLEN_LENGTHS === 'full' ? 'full' : 'mixed';

const RUNNER = `// Runs a generated module's stepBatch: node run.mjs <module> <steps> [full]
import { readFileSync } from 'node:fs';
const [name, steps, full] = process.argv.slice(2);
const mod = await import(new URL('./' + name + '.mjs', import.meta.url));
const T = ${T}, V = ${V}, B = ${B};
const lengths = name.endsWith('_len');
const size = T * V + (lengths ? 1 : 0);
let s = 77;
const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const X = new Float64Array(B * size), Y = new Float64Array(B);
for (let i = 0; i < B; i++) {
  for (let k = 0; k < T * V; k++) X[i * size + k] = 2 * rand() - 1;
  if (lengths) X[i * size + T * V] = full ? T : 1 + Math.floor(rand() * T);
  Y[i] = 2 * rand() - 1;
}
const p = mod.initParams();
for (let i = 0; i < Number(steps); i++) mod.stepBatch(p, X, Y, B, ${LR});
`;

const [cmd, dir] = process.argv.slice(2);
if (cmd === 'write') {
  mkdirSync(dir, { recursive: true });
  for (const c of CASES) writeFileSync(join(dir, `${c.name}.mjs`), generateJavaScript(c.def));
  writeFileSync(join(dir, 'run.mjs'), RUNNER);
  console.log(`wrote ${CASES.map((c) => c.name).join(', ')} and run.mjs to ${dir}`);
} else if (cmd === 'rounds') {
  const mods = CASES.map((c) => ({ ...c, mod: compile(c.def), data: rows(c.lengths) }));
  const ms = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
  for (let round = 0; round < 7; round++) {
    for (const c of round % 2 ? [...mods].reverse() : mods) {
      const p = c.mod.initParams();
      c.mod.stepBatch(p, c.data.X, c.data.Y, B, LR);
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) c.mod.stepBatch(p, c.data.X, c.data.Y, B, LR);
      ms.get(c.name)!.push((performance.now() - t0) / 10);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  for (const cell of ['rnn', 'lstm']) {
    const a = median(ms.get(cell)!), b = median(ms.get(`${cell}_len`)!);
    console.log(`${cell}: ${a.toFixed(2)} ms/step without lengths, ${b.toFixed(2)} with (${LENGTHS}): ${(b / a).toFixed(3)}x`);
  }
} else {
  console.log('usage: npx tsx bench/varlen.ts write DIR | rounds');
}
