/**
 * The ceiling table of `npm run bench` (alone: `npm run bench:ceiling`): this machine's
 * GFLOP/s for a matrix product at the large net's sizes, in plain JavaScript and in
 * WebAssembly SIMD, and the fraction of it gradc's training step reaches.
 *
 * - Shapes, one thread, at 784-32-10 batch-256 sizes, the two large products of its step:
 *   `fwd`: C[256 x 32] = X[256 x 784] W^T (k contiguous in both, as `W x`);
 *   `dW`:  C[32 x 784] = G^T[32 x 256] X[256 x 784] (the weight gradient).
 * - Scalar JS ceiling: a 4x4 register-blocked loop over Float64Array (16 accumulators, the
 *   block gradc's scalar loops use), written here by hand.
 * - Wasm SIMD ceilings, f64 (f64x2) and f32 (f32x4): the kernel generator gradc emits from
 *   (src/6-emit/wasm/gemm.ts) at its fastest register block on this machine (each of
 *   BLOCKS timed once first), so the fraction measures what gradc's surroundings cost
 *   (copies, epilogues, the scalar rest of the step), not the micro-kernel.
 * - gradc on 784-32-10 (the benchmark's MLP, SGD), f64 and f32, simd 'auto' and 'off', at
 *   batch 32 and 256: samples/s, GFLOP/s (FLOPS_PER_SAMPLE) and the fraction of the ceiling
 *   of its kind. Ceilings and gradc are timed in each of BENCH_CEILING_ROUNDS (5) rounds and
 *   every figure is a median over rounds (`rounds`), so that the machine's load moves both
 *   sides of each fraction together.
 */
import { fileURLToPath } from 'node:url';
import { compile } from '../src/index.js';
import { gemmModule, type Blocking, type GemmShape } from '../src/6-emit/wasm/gemm.js';
import { gradcModel, gradcParams } from './gradc.js';
import { LEARNING_RATE, NETS, initWeights, makeData, measure } from './setup.js';

/** The WebAssembly API (the project's TypeScript library settings declare its types only). */
export const Wasm = (globalThis as unknown as { WebAssembly: {
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

/** The scalar JS product of each shape, as a runner (one product per call). */
function scalarRunners(): { fwd: () => void; dW: () => void } {
  const A = Float64Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float64Array.from({ length: N * K }, (_, i) => Math.cos(i));
  const C = new Float64Array(M * N);
  // dW: C[32 x 784] = G^T X, with G^T stored [32 x 256] and X transposed [784 x 256]: the same loop, k = 256.
  const G = Float64Array.from({ length: N * M }, (_, i) => Math.sin(i)), Xt = Float64Array.from({ length: K * M }, (_, i) => Math.cos(i));
  const D = new Float64Array(N * K);
  return { fwd: () => scalarGemm(A, B, C, M, N, K), dW: () => scalarGemm(G, Xt, D, N, K, M) };
}

const fwdShape = (precision: 'f64' | 'f32'): GemmShape => ({ precision, Q: N, lsP: K, lsK: 1, rsK: 1, rsQ: K, cs: N });
const dWShape = (precision: 'f64' | 'f32'): GemmShape => ({ precision, Q: K, lsP: 1, lsK: N, rsK: K, rsQ: 1, cs: K });

/** gradc's Wasm kernel for `shape` at block `b`, as a runner (one product per call). */
function wasmRunner(shape: GemmShape, b: Blocking): () => void {
  const e = shape.precision === 'f64' ? 8 : 4;
  const pages = Math.ceil((3 * M * K * e) / 65536) + 1;
  const memory = new Wasm.Memory({ initial: pages, maximum: pages });
  const f = new Wasm.Instance(new Wasm.Module(gemmModule(shape, pages, b)), { m: { m: memory } }).exports.f;
  const H = shape.precision === 'f64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
  for (let i = 0; i < H.length; i++) H[i] = Math.sin(i);
  const r = M * K * e, c = 2 * M * K * e; // L, R and C apart for both shapes
  const [P, Kn] = shape.Q === N ? [M, K] : [N, M];
  return () => f(P, Kn, 0, r, c);
}

const gflops = async (run: () => void, timing = TIMING) => (await measure(run, GEMM_FLOPS, timing)) / 1e9;

/** The fastest register block of gradc's kernels for each shape (each block timed once). */
async function bestBlocks(precision: 'f64' | 'f32'): Promise<{ fwd: Blocking; dW: Blocking }> {
  const best = { fwd: { b: BLOCKS[0]!, rate: 0 }, dW: { b: BLOCKS[0]!, rate: 0 } };
  for (const b of BLOCKS) {
    log(`ceiling: wasm ${precision} ${b.mr}x${b.nr}`);
    const fwd = await gflops(wasmRunner(fwdShape(precision), b)), dW = await gflops(wasmRunner(dWShape(precision), b));
    if (fwd > best.fwd.rate) best.fwd = { b, rate: fwd };
    if (dW > best.dW.rate) best.dW = { b, rate: dW };
  }
  return { fwd: best.fwd.b, dW: best.dW.b };
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

const ROUNDS = Number(process.env.BENCH_CEILING_ROUNDS ?? 5);
const ROUND = { warmupMs: 150, windowMs: 150, windows: 3 };
export const median = (xs: readonly number[]) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

interface Round { readonly scalar: number; readonly wasm: number; readonly auto: number; readonly off: number }

/**
 * One row's figures: the ceilings (mean of fwd and dW, GFLOP/s) and gradc 'auto' and 'off'
 * (samples/s), all timed in each of ROUNDS rounds one after the other (best window of a
 * short `measure` each); each figure and each ratio is the median over rounds of that
 * round's value, so a burst of load on the shared machine lands on both sides of a ratio
 * or is voted out.
 */
async function rounds(precision: 'f64' | 'f32', batch: number, blocks: { fwd: Blocking; dW: Blocking }): Promise<Round[]> {
  const sc = scalarRunners();
  const wf = wasmRunner(fwdShape(precision), blocks.fwd), wd = wasmRunner(dWShape(precision), blocks.dW);
  const auto = gradcStepper(precision, 'auto', batch), off = gradcStepper(precision, 'off', batch);
  const out: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const wasm = ((await gflops(wf, ROUND)) + (await gflops(wd, ROUND))) / 2;
    const a = await measure(auto, batch, ROUND), o = await measure(off, batch, ROUND);
    const scalar = ((await gflops(sc.fwd, ROUND)) + (await gflops(sc.dW, ROUND))) / 2;
    out.push({ scalar, wasm, auto: a, off: o });
  }
  return out;
}

const g = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const fmt = (n: number) => (n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : `${(n / 1e3).toFixed(1)}k`);

/** The ceiling table and gradc's fraction of it, as markdown. */
export async function ceilingTable(): Promise<string> {
  const blocks = { f64: await bestBlocks('f64'), f32: await bestBlocks('f32') };
  const rows: { precision: 'f64' | 'f32'; batch: number; r: Round[] }[] = [];
  for (const precision of ['f64', 'f32'] as const) {
    for (const batch of [32, 256]) {
      log(`ceiling: ${precision} batch ${batch}: ceilings and gradc simd auto / off, ${ROUNDS} rounds`);
      rows.push({ precision, batch, r: await rounds(precision, batch, blocks[precision]) });
    }
  }
  const gf = (samples: number) => (samples * FLOPS_PER_SAMPLE) / 1e9;
  const med = (r: Round[], f: (x: Round) => number) => median(r.map(f));
  const out: string[] = [];
  out.push(`Ceilings: GFLOP/s of one matrix product at 784-32-10 batch-256 sizes on one thread, the mean of fwd ([256 x 784] x [784 x 32]) and dW ([32 x 256] x [256 x 784]); scalar JS: a 4x4 register-blocked loop over Float64Array; Wasm SIMD: gradc's own kernels at their fastest register block here (f64 ${blocks.f64.fwd.mr}x${blocks.f64.fwd.nr} / ${blocks.f64.dW.mr}x${blocks.f64.dW.nr}, f32 ${blocks.f32.fwd.mr}x${blocks.f32.fwd.nr} / ${blocks.f32.dW.mr}x${blocks.f32.dW.nr}, fwd / dW). gradc: the SGD step on 784-32-10 (${FLOPS_PER_SAMPLE.toLocaleString('en-US')} flops per sample), simd 'auto' against the Wasm SIMD ceiling of its element type, 'off' against the scalar JS one. Medians of ${ROUNDS} rounds, every figure of a row timed in each round:`, '');
  out.push('| precision | batch | scalar JS ceiling | Wasm SIMD ceiling | gradc simd | gradc scalar | simd / scalar | simd: GFLOP/s, of ceiling | scalar: GFLOP/s, of ceiling |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { precision, batch, r } of rows) {
    out.push(`| ${precision} | ${batch} | ${g(med(r, (x) => x.scalar))} | ${g(med(r, (x) => x.wasm))} | ${fmt(med(r, (x) => x.auto))} | ${fmt(med(r, (x) => x.off))} | ${med(r, (x) => x.auto / x.off).toFixed(2)}x | ${g(gf(med(r, (x) => x.auto)))}, ${pct(med(r, (x) => gf(x.auto) / x.wasm))} | ${g(gf(med(r, (x) => x.off)))}, ${pct(med(r, (x) => gf(x.off) / x.scalar))} |`);
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${await ceilingTable()}\n`);
