/**
 * Memory over many compiles in one process: does the heap come back after 1,000 models?
 *
 * Run with gc exposed: `node --expose-gc --import tsx bench/heap.ts [count] [compileEvery]`
 * (`npm run bench:heap`). Generates `count` different models (default 1,000: MLPs of
 * varying widths and activations, each with its own constants, so no two share nodes),
 * runs `compile()` (generate + transpile + load) on every `compileEvery`-th one (default
 * 10), and prints the heap used after a full gc before, after and (for the nodes)
 * the intern table's size. A process that keeps nodes of finished compiles alive shows
 * the heap growing with the count; a flat one shows a small constant difference.
 */
import { compile, generate } from '../src/index.js';
import { internedCount } from '../src/ir/node.js';
import { nthModel } from './heapModels.js';


const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (see the header)');

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1000);
  const compileEvery = Number(process.argv[3] ?? 10);
  // Warm up: the first compile loads TypeScript, mathjs and the emitter's tables.
  compile(nthModel(-1));
  await new Promise((r) => setImmediate(r));
  const before = heapMb();
  const nodesBefore = internedCount();
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    if (i % compileEvery === 0) compile(nthModel(i));
    else generate(nthModel(i));
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  const ms = Date.now() - t0;
  await new Promise((r) => setImmediate(r));
  const after = heapMb();
  const nodesAfter = internedCount();
  console.log(`${count} models (${Math.ceil(count / compileEvery)} of them compiled and loaded) in ${(ms / 1000).toFixed(1)} s`);
  console.log(`heap used: ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after (${(after - before >= 0 ? '+' : '')}${(after - before).toFixed(1)} MB)`);
  console.log(`intern table: ${nodesBefore} nodes before, ${nodesAfter} after`);
}

await main();
