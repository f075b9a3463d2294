/**
 * The ceiling table of `npm run bench` (alone: `npm run bench:ceiling`): this machine's
 * GFLOP/s for a matrix product at the large net's sizes, in plain JavaScript and in
 * WebAssembly SIMD, and the fraction of it gradc's training step reaches.
 *
 * 1. Ceilings, one thread, at 784-32-10 batch-256 sizes, both shapes of its training step:
 *    `fwd`: C[256 x 32] = X[256 x 784] W^T (k contiguous in both, as `W x`);
 *    `dW`:  C[32 x 784] = G^T[32 x 256] X[256 x 784] (the weight gradient).
 *    - scalar JS: a 4x4 register-blocked loop over Float64Array (16 accumulators, the
 *      block gradc's scalar loops use), written here by hand;
 *    - Wasm SIMD f64 (f64x2) and f32 (f32x4): the kernel generator gradc emits from
 *      (src/6-emit/wasm/gemm.ts) at each of several register blocks; the best is the ceiling.
 * 2. gradc on 784-32-10 (the benchmark's MLP, SGD), f64 and f32, simd 'auto' and 'off', at
 *    batch 32 and 256: samples/s, GFLOP/s (FLOPS_PER_SAMPLE below) and the fraction of the
 *    ceiling of its element type (SIMD rows against the Wasm ceiling; scalar rows against
 *    the scalar JS one). Ceilings: the best window of `measure` (setup.ts); gradc: 'auto'
 *    and 'off' alternated, median of BENCH_CEILING_ROUNDS (5) rounds (`gradcRates`).
 */
import { fileURLToPath } from 'node:url';
import { compile } from '../src/index.js';
import { gemmModule, type Blocking, type GemmShape } from '../src/6-emit/wasm/gemm.js';
import { gradcModel, gradcParams } from './gradc.js';
import { LEARNING_RATE, NETS, initWeights, makeData, measure } from './setup.js';

/** The WebAssembly API (the project's TypeScript library settings declare its types only). */
const Wasm = (globalThis as unknown as { WebAssembly: {
  Memory: new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { readonly exports: { readonly f: (...a: number[]) => void } };
} }).WebAssembly;
const log = (s: string) => process.stderr.write(s + '\n');
const NET = NETS.find((n) => n.name === '784-32-10')!;
const M = 256, N = 32, K = 784;
const GEMM_FLOPS = 2 * M * N * K;
/** Multiply-adds x 2 of one training sample of 784-H-10: forward W1 x, W2 a; backward dW2, W2^T dz, dW1. */
const FLOPS_PER_SAMPLE = 2 * (2 * NET.inputs * NET.hidden + 3 * NET.hidden * NET.outputs);
const BLOCKS: readonly Blocking[] = [{ mr: 4, nr: 2 }, { mr: 2, nr: 4 }, { mr: 2, nr: 2 }, { mr: 1, nr: 4 }];
const TIMING = { warmupMs: 300, windowMs: 200, windows: 5 };

/** C[i, j] = sum_k A[i*K + k] B[j*K + k], blocked 4x4 (m, n multiples of 4). */
function scalarGemm(A: Float64Array, B: Float64Array, C: Float64Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i += 4) {
    for (let j = 0; j < n; j += 4) {
      const a0 = i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k, b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0, c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let t = 0; t < k; t++) {
        const x0 = A[a0 + t]!, x1 = A[a1 + t]!, x2 = A[a2 + t]!, x3 = A[a3 + t]!;
        const w0 = B[b0 + t]!, w1 = B[b1 + t]!, w2 = B[b2 + t]!, w3 = B[b3 + t]!;
        c00 += x0 * w0; c01 += x0 * w1; c02 += x0 * w2; c03 += x0 * w3;
        c10 += x1 * w0; c11 += x1 * w1; c12 += x1 * w2; c13 += x1 * w3;
        c20 += x2 * w0; c21 += x2 * w1; c22 += x2 * w2; c23 += x2 * w3;
        c30 += x3 * w0; c31 += x3 * w1; c32 += x3 * w2; c33 += x3 * w3;
      }
      const c = i * n + j;
      C[c] = c00; C[c + 1] = c01; C[c + 2] = c02; C[c + 3] = c03;
      C[c + n] = c10; C[c + n + 1] = c11; C[c + n + 2] = c12; C[c + n + 3] = c13;
      C[c + 2 * n] = c20; C[c + 2 * n + 1] = c21; C[c + 2 * n + 2] = c22; C[c + 2 * n + 3] = c23;
      C[c + 3 * n] = c30; C[c + 3 * n + 1] = c31; C[c + 3 * n + 2] = c32; C[c + 3 * n + 3] = c33;
    }
  }
}

/** GFLOP/s of `run` (one product of `flops`), best window. */
async function gflops(run: () => void, flops: number): Promise<number> {
  return (await measure(run, flops, TIMING)) / 1e9;
}

async function scalarCeiling(): Promise<{ fwd: number; dW: number }> {
  const A = Float64Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float64Array.from({ length: N * K }, (_, i) => Math.cos(i));
  const C = new Float64Array(M * N);
  const fwd = await gflops(() => scalarGemm(A, B, C, M, N, K), GEMM_FLOPS);
  // dW: C[32 x 784] = G^T X, with G^T stored [32 x 256] and X transposed [784 x 256]: the same loop, k = 256.
  const G = Float64Array.from({ length: N * M }, (_, i) => Math.sin(i)), Xt = Float64Array.from({ length: K * M }, (_, i) => Math.cos(i));
  const D = new Float64Array(N * K);
  const dW = await gflops(() => scalarGemm(G, Xt, D, N, K, M), GEMM_FLOPS);
  return { fwd, dW };
}

/** The Wasm kernel at `b` for one shape: GFLOP/s. */
async function wasmRate(shape: GemmShape, P: number, Kn: number, b: Blocking): Promise<number> {
  const e = shape.precision === 'f64' ? 8 : 4;
  const pages = Math.ceil((3 * M * K * e) / 65536) + 1;
  const memory = new Wasm.Memory({ initial: pages, maximum: pages });
  const f = new Wasm.Instance(new Wasm.Module(gemmModule(shape, pages, b)), { m: { m: memory } }).exports.f;
  const H = shape.precision === 'f64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
  for (let i = 0; i < H.length; i++) H[i] = Math.sin(i);
  const r = M * K * e, c = 2 * M * K * e; // L, R and C apart for both shapes
  return gflops(() => f(P, Kn, 0, r, c), GEMM_FLOPS);
}

async function wasmCeiling(precision: 'f64' | 'f32'): Promise<{ fwd: number; dW: number; fwdBlock: Blocking; dWBlock: Blocking }> {
  const fwdShape: GemmShape = { precision, Q: N, lsP: K, lsK: 1, rsK: 1, rsQ: K, cs: N };
  const dWShape: GemmShape = { precision, Q: K, lsP: 1, lsK: N, rsK: K, rsQ: 1, cs: K };
  let best = { fwd: 0, dW: 0, fwdBlock: BLOCKS[0]!, dWBlock: BLOCKS[0]! };
  for (const b of BLOCKS) {
    log(`ceiling: wasm ${precision} ${b.mr}x${b.nr}`);
    const fwd = await wasmRate(fwdShape, M, K, b), dW = await wasmRate(dWShape, N, M, b);
    if (fwd > best.fwd) best = { ...best, fwd, fwdBlock: b };
    if (dW > best.dW) best = { ...best, dW, dWBlock: b };
  }
  return best;
}

/** gradc's SGD step on 784-32-10 at `batch`, as a Stepper. */
function gradcStepper(precision: 'f64' | 'f32', simd: 'auto' | 'off', batch: number): (i: number) => void {
  const mod = compile(gradcModel(NET), { precision, simd });
  const p = gradcParams(mod, initWeights(NET));
  const d = makeData(NET);
  const T = precision === 'f64' ? Float64Array : Float32Array;
  const X = T.from(d.X), Y = T.from(d.Y);
  const batches = d.rows / batch;
  return (i) => { mod.stepBatch(p, X as Float64Array, Y as Float64Array, batch, LEARNING_RATE, (i % batches) * batch); };
}

/**
 * samples/s of simd 'auto' and 'off', and their ratio: the two alternate for ROUNDS
 * rounds (best window of a short `measure` each) and each figure is the median over
 * rounds (the ratio: the median of the per-round ratios), so a burst of load on a
 * shared machine lands on both or is voted out.
 */
async function gradcRates(precision: 'f64' | 'f32', batch: number): Promise<{ auto: number; off: number; ratio: number }> {
  const auto = gradcStepper(precision, 'auto', batch), off = gradcStepper(precision, 'off', batch);
  const a: number[] = [], o: number[] = [], r: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    a.push(await measure(auto, batch, ROUND));
    o.push(await measure(off, batch, ROUND));
    r.push(a[a.length - 1]! / o[o.length - 1]!);
  }
  return { auto: median(a), off: median(o), ratio: median(r) };
}
const ROUNDS = Number(process.env.BENCH_CEILING_ROUNDS ?? 5);
const ROUND = { warmupMs: 200, windowMs: 150, windows: 3 };
const median = (xs: readonly number[]) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

const g = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const fmt = (n: number) => (n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : `${(n / 1e3).toFixed(1)}k`);

/** The ceiling table and gradc's fraction of it, as markdown. */
export async function ceilingTable(): Promise<string> {
  log('ceiling: scalar JS GEMM');
  const scalar = await scalarCeiling();
  const wasm = { f64: await wasmCeiling('f64'), f32: await wasmCeiling('f32') };
  const ceiling = (precision: 'f64' | 'f32', simd: 'auto' | 'off') =>
    simd === 'off' ? (scalar.fwd + scalar.dW) / 2 : (wasm[precision].fwd + wasm[precision].dW) / 2;
  const out: string[] = [];
  out.push(`Ceiling: GFLOP/s of one matrix product at 784-32-10 batch-256 sizes on one thread (fwd: [256 x 784] x [784 x 32]; dW: [32 x 256] x [256 x 784]); Wasm: gradc's kernel generator, best of the register blocks ${BLOCKS.map((b) => `${b.mr}x${b.nr}`).join(', ')}:`, '');
  out.push('| GEMM | fwd GFLOP/s | dW GFLOP/s | block (fwd / dW) |', '|---|---:|---:|---|');
  out.push(`| scalar JS, f64, 4x4 registers | ${g(scalar.fwd)} | ${g(scalar.dW)} | 4x4 |`);
  for (const p of ['f64', 'f32'] as const) {
    const w = wasm[p];
    out.push(`| Wasm SIMD ${p} (${p === 'f64' ? 'f64x2' : 'f32x4'}) | ${g(w.fwd)} | ${g(w.dW)} | ${w.fwdBlock.mr}x${w.fwdBlock.nr} / ${w.dWBlock.mr}x${w.dWBlock.nr} |`);
  }
  out.push('', `gradc on 784-32-10 (SGD step, ${FLOPS_PER_SAMPLE.toLocaleString('en-US')} flops per sample), one thread; "ceiling" is the mean of fwd and dW above for the row's element type (Wasm SIMD rows against the Wasm ceiling, scalar rows against the scalar JS one):`, '');
  out.push('| precision | simd | batch | samples/s | GFLOP/s | of ceiling | simd / off |', '|---|---|---:|---:|---:|---:|---:|');
  for (const precision of ['f64', 'f32'] as const) {
    for (const batch of [32, 256]) {
      log(`ceiling: gradc ${precision} batch ${batch}, simd auto and off`);
      const rates = await gradcRates(precision, batch);
      for (const simd of ['auto', 'off'] as const) {
        const r = rates[simd], gf = (r * FLOPS_PER_SAMPLE) / 1e9;
        out.push(`| ${precision} | ${simd} | ${batch} | ${fmt(r)} | ${g(gf)} | ${pct(gf / ceiling(precision, simd))} | ${simd === 'auto' ? `${rates.ratio.toFixed(2)}x` : ''} |`);
      }
    }
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${await ceilingTable()}\n`);
