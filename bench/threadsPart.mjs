/**
 * One part of a threaded step, repeated, single-threaded: the process that
 * bench/threadsModel.ts runs under callgrind (plain JavaScript, so that valgrind runs node
 * itself, not a TypeScript loader). Usage: node bench/threadsPart.mjs <dir> <part> <repeats>,
 * where <dir> holds module.js (the generated module's JavaScript), leader.js (team.ts's
 * LEADER_SOURCE) and meta.json ({ count, inputs, outputs, batch }) written by the driver.
 *
 * Parts (batch B rows from a fixed data set; each repeat does exactly the same work):
 *   step       stepBatch(B rows, SGD): the whole one-thread step (gradient into the module's
 *              accumulator, update, checks)
 *   half       stepBatch(B/2 rows, SGD): the same with half the rows (the difference is the
 *              gradient of B/2 rows; the rest, the update and the checks, is the same)
 *   helper     what a helper does per step: zero its gradient buffer, gradientBatch(B/2 rows)
 *              into it (a Params that is not the module's accumulator: copied in and out of
 *              the kernels' memory per block of rows), as HELPER_SOURCE does
 *   alone      the leader's team step with no helper (LEADER_SOURCE, adaptive, helpers
 *              never ready): both slices as a helper does them, then the sum in slice order;
 *              minus 2 x helper, the sum
 *   none       nothing (the start-up of the process and the module)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, part, repeatsText] = process.argv.slice(2);
const repeats = Number(repeatsText);
const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
const module = { exports: {} };
new Function('exports', 'module', readFileSync(join(dir, 'module.js'), 'utf8'))(module.exports, module);
const m = module.exports;
const { count, batch } = meta;
let s = 7;
const rand = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
const X = Float64Array.from({ length: count * m.INPUT_SIZE }, () => 2 * rand() - 1), Y = Float64Array.from({ length: count * m.TARGET_SIZE }, () => 2 * rand() - 1);
const p = m.initParams();
let sink = 0;
if (part === 'step' || part === 'half') {
  const rows = part === 'step' ? batch : batch / 2;
  for (let i = 0; i < repeats; i++) sink += m.stepBatch(p, X, Y, rows, 0, 0); // learning rate 0: the same work every repeat
} else if (part === 'helper') {
  const g = m.zeroParams();
  for (let i = 0; i < repeats; i++) {
    for (const v of Object.values(g)) v.fill(0);
    sink += m.gradientBatch(p, X, Y, batch / 2, batch / 2, g).loss;
  }
} else if (part === 'alone') {
  // The team's memory as team.ts's teamMemory makes it, for 2 threads; no helper ever starts.
  const layout = [];
  let size = 0;
  for (const [name, v] of Object.entries(m.zeroParams())) { layout.push([name, size, v.length, false]); size += v.length; }
  const dataX = X.length, dataY = Y.length;
  const memory = {
    arena: new SharedArrayBuffer((dataX + dataY) * 8), params: new SharedArrayBuffer(size * 8), grads: new SharedArrayBuffer(2 * size * 8),
    control: new SharedArrayBuffer(10 * 4), numbers: new SharedArrayBuffer(10 * 8), message: new SharedArrayBuffer(4096),
    layout, paramSize: size, f32: false, dataX, dataY, count, capacity: dataX + dataY,
  };
  const leader = new Function('m', 'memory', 'threads', 'adaptive', readFileSync(join(dir, 'leader.js'), 'utf8'))(m, memory, 2, true);
  leader.X.set(X); leader.Y.set(Y);
  const grad = m.zeroParams();
  for (let i = 0; i < repeats; i++) { // grad is not zeroed (fit's update pass does that, counted in step)
    sink += leader.batchGradient.gradient(leader.params, leader.X, leader.Y, batch, 0, grad, 1 / batch);
  }
}
if (!Number.isFinite(sink)) throw new Error('not finite');
