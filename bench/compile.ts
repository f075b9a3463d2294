/**
 * The compile-time table of `npm run bench` (also alone: `npm run bench:compile`; in
 * `npm run bench` only with BENCH_COMPILE=1, since the largest chain takes a while).
 *
 * The model is issue 11's chain of formulas `a[k] = tanh(w * a[k-1] + b)` (two parameters,
 * about 4 graph nodes per line) at 1,000, 10,000 and 25,000 lines (BENCH_COMPILE_LINES
 * picks others). Each row runs in a fresh Node process (a cold start, as a user's script
 * has; no JIT warmth or heap carried from the row before) and reports:
 *   nodes     IR nodes of the derived graph (forward and gradients, after simplification)
 *   generate  `generate()`: the TypeScript module `gradc build` writes (wall clock, and
 *             the process's CPU time over the same call: steadier on a shared machine)
 *   compile   `compile()`: the JavaScript module written directly, loaded (no TypeScript
 *             compile); wall clock and CPU time
 *   load      of which running the JavaScript (`new Function`) and its first gradient call
 *   bytes, lines of the TypeScript module, bytes of the JavaScript `compile()` loads (no
 *             comments in its kernels), and the peak resident memory of the process
 *   old load  the path `compile()` took before issue 11 (`loadModule`: the TypeScript
 *             compiler strips the types of the whole module, then it runs), for comparison;
 *             measured up to 10,000 lines (25,000 took 52 s and 3.1 GB).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compile, defineModel, generate } from '../src/index.js';
import { generateJavaScript } from '../src/pipeline.js';
import { loadModule, runModule } from '../src/load/loader.js';
import { topoOrder } from '../src/ir/walk.js';

const LINES = (process.env.BENCH_COMPILE_LINES ?? '1000,10000,25000').split(',').map(Number);
const OLD_PATH_LIMIT = 10_000;

/** The chain model of `lines` formula lines. */
export function chain(lines: number) {
  const f = ['a1 = tanh(w * x + b)'];
  for (let i = 2; i <= lines; i++) f.push(`a${i} = tanh(w * a${i - 1} + b)`);
  f.push(`loss = (a${lines} - y)^2`);
  return defineModel({ name: `chain${lines}`, inputs: ['x'], targets: ['y'], params: { w: 0.9, b: 0.1 }, formulas: f.join('\n') });
}

interface Row { lines: number; nodes: number; generate: number; generateCpu: number; compile: number; compileCpu: number; load: number; bytes: number; codeLines: number; jsBytes: number; rssMb: number; oldLoad?: number }

const seconds = (since: number) => (performance.now() - since) / 1000;

/** One row, in this process (run by `table` in a child process per row). */
function row(lines: number): Row {
  const def = chain(lines);
  let t = performance.now();
  const cpu = process.cpuUsage();
  const g = generate(def);
  const generateS = seconds(t);
  const used = process.cpuUsage(cpu);
  const generateCpu = (used.user + used.system) / 1e6;
  const nodes = topoOrder([g.derived.model.loss, ...g.derived.grads]).length;
  t = performance.now();
  const compileCpu0 = process.cpuUsage();
  const m = compile(def);
  m.gradient(m.initParams(), { x: 0.3 }, { y: 0.2 });
  const compileS = seconds(t);
  const compileUsed = process.cpuUsage(compileCpu0);
  // The load alone: the JavaScript is written again, then timed from new Function to the first gradient.
  const js = generateJavaScript(def);
  t = performance.now();
  const again = runModule(js);
  again.gradient(again.initParams(), { x: 0.3 }, { y: 0.2 });
  const loadS = seconds(t);
  let oldLoad: number | undefined;
  if (lines <= OLD_PATH_LIMIT) {
    t = performance.now();
    const old = loadModule(g.code);
    old.gradient(old.initParams(), { x: 0.3 }, { y: 0.2 });
    oldLoad = seconds(t);
  }
  return { lines, nodes, generate: generateS, generateCpu, compile: compileS, compileCpu: (compileUsed.user + compileUsed.system) / 1e6, load: loadS, bytes: g.code.length, codeLines: g.code.split('\n').length, jsBytes: js.length, rssMb: process.resourceUsage().maxRSS / 1024, oldLoad };
}

const fmtS = (s: number | undefined) => (s === undefined ? '—' : s < 10 ? s.toFixed(2) : s.toFixed(1));
const fmtN = (n: number) => n.toLocaleString('en-US');

export function compileTimeTable(): string {
  const rows: Row[] = [];
  for (const lines of LINES) {
    process.stderr.write(`compile: chain of ${lines} lines...\n`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--row', String(lines)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    rows.push(JSON.parse(out.trim().split('\n').pop()!) as Row);
  }
  return [
    '### Compile time: a chain of `a[k] = tanh(w * a[k-1] + b)`, cold process per row',
    '',
    '| lines | nodes | generate (s) | generate CPU (s) | compile() (s) | compile() CPU (s) | of which load (s) | TS bytes | TS lines | JS bytes | peak RSS (MB) | old load (s) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${fmtN(r.lines)} | ${fmtN(r.nodes)} | ${fmtS(r.generate)} | ${fmtS(r.generateCpu)} | ${fmtS(r.compile)} | ${fmtS(r.compileCpu)} | ${fmtS(r.load)} | ${fmtN(r.bytes)} | ${fmtN(r.codeLines)} | ${fmtN(r.jsBytes)} | ${r.rssMb.toFixed(0)} | ${fmtS(r.oldLoad)} |`),
    '',
    '`compile()` = generate the JavaScript + load + first gradient; "load" is the `new Function` of that JavaScript and the first gradient call; "old load" is the',
    'path before issue 11 (the TypeScript compiler strips the types of the TypeScript module, then it runs), up to 10,000 lines.',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--row');
  if (at >= 0) process.stdout.write(`${JSON.stringify(row(Number(process.argv[at + 1])))}\n`);
  else process.stdout.write(`${compileTimeTable()}\n`);
}
