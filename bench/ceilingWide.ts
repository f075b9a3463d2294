/**
 * `npx tsx bench/ceilingWide.ts`: the Wasm SIMD GEMM ceiling at the scaling table's widths
 * (784-N-10, batch 256: fwd [256 x 784] x [784 x N], dW [N x 256] x [256 x 784]), against
 * the ceiling table's 784-32 sizes, f32 and f64. Each width is timed alternately with N = 32
 * in every round and the ratio is the median of the per-round ratios, so the machine's load
 * lands on both sides. It answers: is the scaling table's fall at N = 1024 gradc's, or the
 * product's own (operands past the caches)?
 */
import { gemmModule, type Blocking, type GemmShape } from '../src/6-emit/wasm/gemm.js';
import { Wasm, median } from './ceiling.js';
import { measure } from './setup.js';

const M = 256, K = 784;
const BLOCKS: readonly Blocking[] = [{ mr: 4, nr: 2 }, { mr: 2, nr: 4 }];
const ROUND = { warmupMs: 150, windowMs: 150, windows: 3 };
const ROUNDS = Number(process.env.BENCH_CEILING_ROUNDS ?? 5);

/** One product of `shape` with N hidden units, as a runner; returns its flops too. */
function runner(precision: 'f64' | 'f32', N: number, which: 'fwd' | 'dW', b: Blocking): () => void {
  const shape: GemmShape = which === 'fwd'
    ? { precision, Q: N, lsP: K, lsK: 1, rsK: 1, rsQ: K, cs: N }
    : { precision, Q: K, lsP: 1, lsK: N, rsK: K, rsQ: 1, cs: K };
  const e = precision === 'f64' ? 8 : 4;
  const big = Math.max(M * K, N * K, M * N);
  const pages = Math.ceil((3 * big * e) / 65536) + 1;
  const memory = new Wasm.Memory({ initial: pages, maximum: pages });
  const f = new Wasm.Instance(new Wasm.Module(gemmModule(shape, pages, b)), { m: { m: memory } }).exports.f;
  const H = precision === 'f64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
  for (let i = 0; i < H.length; i++) H[i] = Math.sin(i);
  const r = big * e, c = 2 * big * e;
  const [P, Kn] = which === 'fwd' ? [M, K] : [N, M];
  return () => f(P, Kn, 0, r, c);
}

async function gflops(precision: 'f64' | 'f32', N: number): Promise<number> {
  let best = 0;
  for (const b of BLOCKS) {
    const fwd = (await measure(runner(precision, N, 'fwd', b), 2 * M * N * K, ROUND)) / 1e9;
    const dW = (await measure(runner(precision, N, 'dW', b), 2 * M * N * K, ROUND)) / 1e9;
    best = Math.max(best, (fwd + dW) / 2);
  }
  return best;
}

const lines = ['| precision | N | GEMM GFLOP/s at N | at N = 32 | N / 32 |', '|---|---:|---:|---:|---:|'];
for (const precision of ['f32', 'f64'] as const) {
  for (const N of [64, 256, 1024]) {
    const at: number[] = [], base: number[] = [], q: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const a = await gflops(precision, N), b = await gflops(precision, 32);
      at.push(a); base.push(b); q.push(a / b);
    }
    lines.push(`| ${precision} | ${N} | ${median(at).toFixed(1)} | ${median(base).toFixed(1)} | ${(median(q) * 100).toFixed(0)}% |`);
    process.stderr.write(`${lines[lines.length - 1]}\n`);
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
