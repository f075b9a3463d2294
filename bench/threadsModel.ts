/**
 * The serial-fraction model of a threaded step (`npm run bench:threads-model`): what limits
 * 2 threads at 784-32-10 batch 256, from instruction counts, which a loaded machine does not
 * distort (wall-clock ratios need the quiet machine: `npm run bench:threads`).
 *
 * Method: each part of a step (bench/threadsPart.mjs) runs single-threaded under callgrind
 * twice, with LOW and HIGH repeats; (instructions(HIGH) - instructions(LOW)) / (HIGH - LOW)
 * is its cost per step, start-up and JIT warm-up cancelled. From them:
 *   T1       = step                         the one-thread step
 *   G/2      = step - half                  the gradient of half the batch (into fit's accumulator)
 *   rest     = half - G/2                   the update pass, the checks and the step's own work
 *   helper   = helper                       a helper's slice (zero fill, copies in and out of the kernels' memory)
 *   sum      = alone - 2 helper             the sum of the slices in slice order, on the leader
 *   T2       = max(leader's slice, a helper's) + sum + rest   the team step with free cores and
 *              no hand-off cost, with the slices LEADER_SOURCE cuts (the leader's LEADER_SHARE
 *              times a helper's; its slice goes straight into fit's accumulator, so the sum
 *              reads the helper's buffer only)
 * so T1 / T2 is the best 2 threads can do; what the hand-offs cost (two per step: waking the
 * helpers, the last helper waking the leader) is time, not instructions, and is measured on
 * the quiet machine by bench/threads.ts. Instructions are not time (a copy retires more per
 * cycle than the SIMD kernels), so the model ranks the parts; it does not predict to 5%.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateJavaScript } from '../src/pipeline.js';
import { LEADER_SOURCE, moduleScript } from '../src/train/team.js';
import { gradcModel } from './gradc.js';
import type { Net } from './setup.js';

const LOW = Number(process.env.BENCH_MODEL_LOW ?? 6);
const HIGH = Number(process.env.BENCH_MODEL_HIGH ?? 18);
const PARTS = ['step', 'half', 'helper', 'alone'] as const;
type Part = (typeof PARTS)[number];

/** Instructions per step of each part on net `n` at `batch` rows (f64, the looped lowering, SIMD as 'auto' chooses). */
export function measureParts(n: Net, batch: number): Record<Part, number> {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-threads-model-'));
  writeFileSync(join(dir, 'module.js'), moduleScript(generateJavaScript(gradcModel(n), { lowering: 'loops' })));
  writeFileSync(join(dir, 'leader.js'), LEADER_SOURCE);
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ count: batch, batch }));
  const per = {} as Record<Part, number>;
  for (const part of PARTS) {
    const low = collected(dir, part, LOW), high = collected(dir, part, HIGH);
    per[part] = (high - low) / (HIGH - LOW);
    process.stderr.write(`  ${n.name} batch ${batch} ${part}: ${(per[part] / 1e6).toFixed(3)}M instructions per step\n`);
  }
  return per;
}

/** Total instructions of one run under callgrind (its "Collected" line). */
function collected(dir: string, part: Part, repeats: number): number {
  const script = fileURLToPath(new URL('./threadsPart.mjs', import.meta.url));
  // Every function compiled by the optimizing tiers at once, on this thread (no Liftoff for
  // the kernels, no background compiles): otherwise a tier-up lands at a different repeat in
  // each run and the difference of two runs counts code that is still warming up.
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--no-liftoff', '--no-concurrent-recompilation', '--no-concurrent-osr', script, dir, part, String(repeats)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const found = /Collected : (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !found) throw new Error(`callgrind failed on ${part}: ${String(r.stderr).slice(-2000)}`);
  return Number(found[1]);
}

/** The leader's share of the batch (LEADER_SHARE in team.ts's LEADER_SOURCE: the leader's slice is that many times a helper's). */
export const LEADER_SHARE = Number(/const LEADER_SHARE = ([\d.]+);/.exec(LEADER_SOURCE)?.[1] ?? 1);

export function modelTable(n: Net, batch: number, per: Record<Part, number>): string {
  const half = per.step - per.half; // the gradient of batch/2 rows
  const rest = per.half - half;
  const sum = per.alone - 2 * per.helper;
  const equal = Math.max(half, per.helper) + sum + rest;
  // With the leader's larger slice: the gradient scales with the rows; a helper's copies and
  // zero fill (helper - half) are per block of rows, the same for its slightly smaller slice.
  const lead = Math.floor((batch * LEADER_SHARE) / (LEADER_SHARE + 1));
  const leader = (half * lead) / (batch / 2), helper = (half * (batch - lead)) / (batch / 2) + (per.helper - half);
  const t2 = Math.max(leader, helper) + sum / 2 + rest; // the leader's own slice is not in the sum: half of it
  const M = (x: number) => `${(x / 1e6).toFixed(2)}M`;
  const pct = (x: number) => `${((100 * x) / per.step).toFixed(1)}%`;
  return [
    `Serial-fraction model, ${n.name} batch ${batch}, 2 threads (callgrind instructions per step, single-threaded parts; ${HIGH} - ${LOW} repeats):`,
    '',
    '| part | instructions | of the 1-thread step |',
    '|---|---:|---:|',
    `| 1-thread step (T1) | ${M(per.step)} | 100% |`,
    `| gradient of ${batch / 2} rows into fit's accumulator (the leader's slice) | ${M(half)} | ${pct(half)} |`,
    `| a helper's slice (zero fill, gradient of ${batch / 2} rows, copies in and out of the kernels' memory) | ${M(per.helper)} | ${pct(per.helper)} |`,
    `| update pass, checks and the step's own work (serial) | ${M(rest)} | ${pct(rest)} |`,
    `| sum of the slices on the leader (serial) | ${M(sum)} | ${pct(sum)} |`,
    `| 2-thread step, equal slices, both through a buffer (before: max(slices) + sum + update) | ${M(equal)} | ${pct(equal)} |`,
    `| 2-thread step now (leader ${lead} rows straight into the accumulator, helper ${batch - lead}; sum over one buffer) | ${M(t2)} | ${pct(t2)} |`,
    '',
    `Best case with 2 free cores, no hand-off cost: T1 / T2 = ${(per.step / equal).toFixed(2)}x before, ${(per.step / t2).toFixed(2)}x now; what stays above half the step: ${pct(t2 - per.step / 2)} of T1 (the update pass and the sum on the leader, a helper's copies).`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n: Net = { name: '784-32-10', inputs: 784, hidden: 32, outputs: 10 };
  console.log(modelTable(n, 256, measureParts(n, 256)));
}
