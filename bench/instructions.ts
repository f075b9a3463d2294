/**
 * Instructions per training step at 2-2-1 batch 1, counted with callgrind (`npm run
 * bench:instructions`; needs valgrind): gradc's `stepBatch` with plain SGD and with Adam,
 * and the hand-written fused steps of handwritten.ts. Counting instructions, not time,
 * gives figures that hold on a loaded machine.
 *
 * Method: the generated module (JavaScript, as `compile()` loads it) and the hand-written
 * steps are written to a temporary directory; each contender runs alone in
 * `node --single-threaded` under callgrind (one contender per process: the training loop's
 * call site sees one step function, as an app's does) for SHORT and for LONG steps, and the
 * figure is (instructions(LONG) - instructions(SHORT)) / (LONG - SHORT): start-up, loading
 * and compilation cancel out. Adam's state is past its bias-correction steps (37,430 at the
 * default beta2) in the difference, as in any long training run; both runs start from the
 * same parameters. BENCH_INSTR_SHORT / BENCH_INSTR_LONG set the step counts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { generateJavaScript } from '../src/pipeline.js';
import { gradcModel } from './gradc.js';
import { LEARNING_RATE, NETS, initWeights, makeData } from './setup.js';

const SHORT = Number(process.env.BENCH_INSTR_SHORT ?? 100_000);
const LONG = Number(process.env.BENCH_INSTR_LONG ?? 300_000);
export const CONTENDERS = ['gradc-sgd', 'gradc-adam', 'hand-sgd', 'hand-adam'] as const;
type Contender = (typeof CONTENDERS)[number];

/** The script each callgrind run executes: one contender, `steps` steps, in a loop of its own. */
const RUNNER = `
import { readFileSync } from 'node:fs';
const [dir, which, n] = process.argv.slice(2);
const mod = await import(dir + '/gradc.mjs');
const hand = await import(dir + '/hand.mjs');
const d = JSON.parse(readFileSync(dir + '/data.json', 'utf8'));
const X = Float64Array.from(d.X), Y = Float64Array.from(d.Y), rows = d.rows, lr = d.lr;
const w = () => ({ W1: Float64Array.from(d.W1), b1: Float64Array.from(d.b1), W2: Float64Array.from(d.W2), b2: Float64Array.from(d.b2) });
const gradc = () => { const p = mod.initParams(); const q = w(); p.layer1_W.set(q.W1); p.layer1_b.set(q.b1); p.layer2_W.set(q.W2); p.layer2_b.set(q.b2); return p; };
let step;
if (which === 'gradc-sgd') { const p = gradc(); step = (i) => { mod.stepBatch(p, X, Y, 1, lr, i % rows); }; }
else if (which === 'gradc-adam') { const p = gradc(), st = mod.initOptimizer(p, { kind: 'adam', learningRate: 0.001 }); step = (i) => { mod.stepBatch(p, X, Y, 1, st, i % rows); }; }
else if (which === 'hand-sgd') { const p = w(); step = (i) => { hand.sgdStep(p, X, Y, i % rows, lr); }; }
else if (which === 'hand-adam') { const p = w(), st = hand.adamState(); step = (i) => { hand.adamStep(p, st, X, Y, i % rows, 0.001); }; }
else throw new Error('unknown contender ' + which);
function loop(count) { for (let i = 0; i < count; i++) step(i); }
loop(Number(n));
`;

/** Writes the generated module, the hand-written steps, the data and the runner into a fresh directory. */
export function prepare(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-instr-'));
  const net = NETS.find((x) => x.name === '2-2-1')!;
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  writeFileSync(join(dir, 'gradc.mjs'), generateJavaScript(gradcModel(net)));
  const hand = readFileSync(fileURLToPath(new URL('./handwritten.ts', import.meta.url)), 'utf8');
  writeFileSync(join(dir, 'hand.mjs'), transformSync(hand, { loader: 'ts', format: 'esm' }).code);
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ X: [...X], Y: [...Y], rows, lr: LEARNING_RATE, W1: [...w.W1], b1: [...w.b1], W2: [...w.W2], b2: [...w.b2] }));
  writeFileSync(join(dir, 'run.mjs'), RUNNER);
  return dir;
}

/** Instructions executed by one callgrind run of `steps` steps of `who`. */
function instructions(dir: string, who: Contender, steps: number): number {
  const out = join(dir, `${who}-${steps}.out`);
  execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', join(dir, 'run.mjs'), dir, who, String(steps)], { stdio: 'ignore' });
  const summary = /^summary:\s+(\d+)/m.exec(readFileSync(out, 'utf8'));
  if (!summary) throw new Error(`bench/instructions: no summary line in ${out}`);
  return Number(summary[1]);
}

/** Instructions per step of each contender (see the header). */
export function instructionsPerStep(dir: string, who: readonly Contender[] = CONTENDERS): Map<Contender, number> {
  const out = new Map<Contender, number>();
  for (const c of who) out.set(c, (instructions(dir, c, LONG) - instructions(dir, c, SHORT)) / (LONG - SHORT));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const who = (process.argv.slice(2).length ? process.argv.slice(2) : CONTENDERS) as Contender[];
  const dir = prepare();
  try {
    const r = instructionsPerStep(dir, who);
    for (const [c, n] of r) process.stdout.write(`${c}\t${n.toFixed(0)}\n`);
    const g = (c: Contender) => r.get(c);
    if (g('gradc-sgd') && g('gradc-adam')) process.stdout.write(`gradc Adam/SGD\t${(g('gradc-adam')! / g('gradc-sgd')!).toFixed(2)}x\n`);
    if (g('gradc-sgd') && g('hand-sgd')) process.stdout.write(`gradc SGD / hand SGD\t${(g('gradc-sgd')! / g('hand-sgd')!).toFixed(2)}x\n`);
    if (g('gradc-adam') && g('hand-adam')) process.stdout.write(`gradc Adam / hand Adam\t${(g('gradc-adam')! / g('hand-adam')!).toFixed(2)}x\n`);
  } finally {
    if (!process.env.BENCH_INSTR_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
