/**
 * One part of a threaded step, repeated, single-threaded: the process that
 * bench/threadsModel.ts runs under callgrind (plain JavaScript, so that valgrind runs node
 * itself, not a TypeScript loader). Usage: node bench/threadsPart.mjs <dir> <part> <repeats>,
 * where <dir> holds module.js (the generated module's JavaScript), leader.js (team.ts's
 * LEADER_SOURCE), helper.js (team.ts's HELPER_STEP) and meta.json ({ count, batch }) written
 * by the driver. The team's code runs as the threads run it, from the same text.
 *
 * Parts (batch B rows from a fixed data set; each repeat does exactly the same work):
 *   step       stepBatch(B rows, SGD): the whole one-thread step (gradient into the module's
 *              accumulator, update, checks), parameters from initParams() (in the kernels'
 *              memory when the module keeps them there, as fitRows' are)
 *   half       stepBatch(B/2 rows, SGD): the same with half the rows (the difference is the
 *              gradient of B/2 rows; the rest, the update and the checks, is the same)
 *   helper     a helper's step on its slice of a 2-thread team (HELPER_STEP): parameters in
 *              from the shared block, its gradient, copied out
 *   teamhalf   half, with the parameters the leader hands fit (in the kernels' memory when the
 *              module keeps them there, else views on the shared block: the update pass then
 *              runs in JavaScript and the kernels copy the parameters in per block)
 *   lead       the leader's part of a 2-thread team step (LEADER_SOURCE's gradient, the helper
 *              marked done beforehand): the parameters into the shared block, its own slice
 *              straight into the accumulator, the sum with the helper's buffer; plus a zero
 *              fill of the accumulator (the update pass does it in fit)
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
/** The team's memory as team.ts's teamMemory makes it, for 2 threads, with the rows and p in it. */
function teamMemory() {
  const layout = [];
  let size = 0;
  for (const [name, v] of Object.entries(m.zeroParams())) { layout.push([name, size, v.length, false]); size += v.length; }
  const dataX = X.length, dataY = Y.length;
  const memory = {
    arena: new SharedArrayBuffer((dataX + dataY) * 8), params: new SharedArrayBuffer(size * 8), grads: new SharedArrayBuffer(2 * size * 8),
    control: new SharedArrayBuffer(10 * 4), numbers: new SharedArrayBuffer(10 * 8), message: new SharedArrayBuffer(4096),
    layout, paramSize: size, f32: false, dataX, dataY, count, capacity: dataX + dataY,
  };
  const A = new Float64Array(memory.arena), P = new Float64Array(memory.params);
  A.set(X); A.set(Y, dataX);
  for (const [name, offset] of layout) P.set(p[name], offset);
  return memory;
}
/** The leader of a 2-thread team on `memory` (LEADER_SOURCE), not adaptive. */
const makeLeader = (memory) => new Function('m', 'memory', 'threads', 'adaptive', 'start', readFileSync(join(dir, 'leader.js'), 'utf8'))(m, memory, 2, false, undefined);
const leaderRows = () => Number(/LEADER_SHARE = ([\d.]+)/.exec(readFileSync(join(dir, 'leader.js'), 'utf8'))[1]);
if (part === 'step' || part === 'half') {
  const rows = part === 'step' ? batch : batch / 2;
  for (let i = 0; i < repeats; i++) sink += m.stepBatch(p, X, Y, rows, 0, 0); // learning rate 0: the same work every repeat
} else if (part === 'helper') {
  const memory = teamMemory();
  const N = new Float64Array(memory.numbers);
  N[0] = 0; N[1] = X.length; N[2] = X.length; N[3] = Y.length; // X_AT, X_LENGTH, Y_AT, Y_LENGTH (team.ts's LAYOUT)
  const share = leaderRows(), lead = Math.floor((batch * share) / (share + 1));
  const step = new Function(`return (${readFileSync(join(dir, 'helper.js'), 'utf8')});`)()(m, memory, 1);
  for (let i = 0; i < repeats; i++) sink += step(lead, batch - lead);
} else if (part === 'teamhalf') {
  const leader = makeLeader(teamMemory());
  for (let i = 0; i < repeats; i++) sink += m.stepBatch(leader.params, X, Y, batch / 2, 0, 0);
} else if (part === 'lead') {
  const memory = teamMemory();
  const I = new Int32Array(memory.control);
  Atomics.store(I, 2, 1); // READY: the helper has joined
  const leader = makeLeader(memory);
  const grad = m.initParams(); // fit's accumulator lives in the kernels' memory too
  for (let i = 0; i < repeats; i++) {
    for (const v of Object.values(grad)) v.fill(0); // fit's update pass leaves it zero
    Atomics.store(I, 8 + 1, Atomics.load(I, 0) + 1); // DONE + 1: the helper has done the coming step
    sink += leader.batchGradient.gradient(leader.params, leader.X, leader.Y, batch, 0, grad, 1 / batch);
  }
}
if (!Number.isFinite(sink)) throw new Error('not finite');
