/**
 * The serial-fraction model of a threaded step (`npm run bench:threads-model`): what limits
 * 2 threads at 784-32-10 batch 256, from instruction counts, which a loaded machine does not
 * distort (wall-clock ratios need the quiet machine: `npm run bench:threads`).
 *
 * Method: each part of a step (bench/threadsPart.mjs, which runs the team's own code from
 * team.ts's text) runs single-threaded under callgrind twice, with LOW and HIGH repeats;
 * (instructions(HIGH) - instructions(LOW)) / (HIGH - LOW) is its cost per step, start-up and
 * JIT warm-up cancelled. From them:
 *   T1       = step                      the one-thread step
 *   G(r)     = (step - half) r / (B/2)   the gradient of r rows into fit's accumulator
 *   rest     = teamhalf - G(B/2)         the update pass, the checks and the step's own work,
 *              with the parameters the leader hands fit (teamhalf: half on those)
 *   lead     = lead                      the leader's part of a team step: the parameters
 *              into the shared block, its slice of L rows (LEADER_SHARE times a helper's)
 *              straight into fit's accumulator, the sum with the helper's buffer
 *   helper   = helper                    a helper's step on the other B - L rows
 *   serial   = lead - G(L)               the leader's part outside its slice
 *   T2       = max(lead, serial + helper) + rest   the team step with free cores and no
 *              hand-off cost (the helper's slice runs beside the leader's)
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
import { HELPER_STEP, LEADER_SOURCE, moduleScript } from '../src/train/team.js';
import { gradcModel } from './gradc.js';
import type { Net } from './setup.js';

// 20 steps before the counted ones: with fewer, a JIT tier-up between the two runs moved single parts by up to 2M instructions (7%).
const LOW = Number(process.env.BENCH_MODEL_LOW ?? 20);
const HIGH = Number(process.env.BENCH_MODEL_HIGH ?? 44);
export const PARTS = ['step', 'half', 'teamhalf', 'helper', 'lead'] as const;
export type Part = (typeof PARTS)[number];

/** Instructions per step of each part on net `n` at `batch` rows (f64, the looped lowering, SIMD as 'auto' chooses). */
export function measureParts(n: Net, batch: number): Record<Part, number> {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-threads-model-'));
  writeFileSync(join(dir, 'module.js'), moduleScript(generateJavaScript(gradcModel(n), { lowering: 'loops' })));
  writeFileSync(join(dir, 'leader.js'), LEADER_SOURCE);
  writeFileSync(join(dir, 'helper.js'), HELPER_STEP);
  return measureDir(dir, `${n.name} batch ${batch}`, batch);
}

/** The parts of a directory laid out as measureParts writes it (module.js, leader.js, helper.js). */
export function measureDir(dir: string, label: string, batch: number): Record<Part, number> {
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ count: batch, batch }));
  const per = {} as Record<Part, number>;
  for (const part of PARTS) {
    const low = collected(dir, part, LOW), high = collected(dir, part, HIGH);
    per[part] = (high - low) / (HIGH - LOW);
    process.stderr.write(`  ${label} ${part}: ${(per[part] / 1e6).toFixed(3)}M instructions per step\n`);
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

/** The model's figures (see the header), in instructions per step. */
export function model(batch: number, per: Record<Part, number>, share = LEADER_SHARE) {
  const perRow = (per.step - per.half) / (batch / 2);
  const rest = per.teamhalf - perRow * (batch / 2);
  const lead = Math.floor((batch * share) / (share + 1));
  const serial = per.lead - perRow * lead;
  const t2 = Math.max(per.lead, serial + per.helper) + rest;
  // The leader's share that balances the two (its slice plus its serial part = the helper's step).
  const helperOwn = per.helper - perRow * (batch - lead); // a helper's copies, outside its gradient
  const balanced = (batch + helperOwn / perRow) / 2; // leader rows L with perRow L = perRow (B - L) + helperOwn
  return { t1: per.step, perRow, rest, lead, serial, t2, helperOwn, balancedShare: balanced / (batch - balanced) };
}

export function modelTable(n: Net, batch: number, per: Record<Part, number>): string {
  const f = model(batch, per);
  const M = (x: number) => `${(x / 1e6).toFixed(2)}M`;
  const pct = (x: number) => `${((100 * x) / per.step).toFixed(1)}%`;
  return [
    `Serial-fraction model, ${n.name} batch ${batch}, 2 threads (callgrind instructions per step, single-threaded parts; ${HIGH} - ${LOW} repeats):`,
    '',
    '| part | instructions | of the 1-thread step |',
    '|---|---:|---:|',
    `| 1-thread step (T1) | ${M(per.step)} | 100% |`,
    `| gradient of ${batch / 2} rows into fit's accumulator | ${M(f.perRow * (batch / 2))} | ${pct(f.perRow * (batch / 2))} |`,
    `| update pass, checks and the step's own work (serial) | ${M(f.rest)} | ${pct(f.rest)} |`,
    `| the leader's part of a team step (its ${f.lead} rows, the parameters out, the sum) | ${M(per.lead)} | ${pct(per.lead)} |`,
    `| of which outside its slice (serial) | ${M(f.serial)} | ${pct(f.serial)} |`,
    `| a helper's step (${batch - f.lead} rows, the parameters in, its gradient out) | ${M(per.helper)} | ${pct(per.helper)} |`,
    `| of which outside its slice | ${M(f.helperOwn)} | ${pct(f.helperOwn)} |`,
    `| 2-thread step: max(leader, serial + helper) + update | ${M(f.t2)} | ${pct(f.t2)} |`,
    '',
    `Best case with 2 free cores, no hand-off cost: T1 / T2 = ${(per.step / f.t2).toFixed(2)}x; above half the step: ${pct(f.t2 - per.step / 2)} of T1. LEADER_SHARE is ${LEADER_SHARE}; these parts balance at ${f.balancedShare.toFixed(3)}.`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n: Net = { name: '784-32-10', inputs: 784, hidden: 32, outputs: 10 };
  console.log(modelTable(n, 256, measureParts(n, 256)));
}
