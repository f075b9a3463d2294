/**
 * Phase 6, emit (Wasm): one matrix product C = L R as a WebAssembly SIMD function,
 * specialized to the operands' strides and to the element type.
 *
 * `f(P, K, l, r, c)` (i32: row count, contraction length, byte addresses of L, R, C)
 * computes C(p, q) = sum_k L(p, k) R(k, q) for p < P, q < Q (with `accumulate`,
 * `f(P, K, l, r, c, scale)` computes C(p, q) += scale * sum_k ...), with
 *   L(p, k) at l + (p*lsP + k*lsK)*e, R(k, q) at r + (k*rsK + q*rsQ)*e, C(p, q) at c + (p*cs + q)*e
 * (e = 8 bytes for f64, 4 for f32). Two forms, chosen by the strides:
 * - `dot`   (lsK = rsK = 1: both operands contiguous along k; the forward `W x` and any
 *   product whose inner dimension is the rows' last): vectors along k, an MR x NR block
 *   of v128 accumulators, summed across lanes at the end, k's remainder scalar;
 * - `outer` (rsQ = 1: R contiguous along q; weight gradients `G^T X`, input gradients
 *   `W^T G`): vectors along q, L(p, k) splatted, an MR x NV block of v128 accumulators,
 *   q's remainder in scalar code.
 * Guarantees: every element of C (p < P, q < Q) is written exactly once and nothing
 * else is; any P >= 0 and K >= 0 are correct (the blocks have edges down to 1 x 1); the
 * order of the sum differs from the scalar path's only by lane splitting, so results
 * agree to rounding (f64: ~1e-15 relative to sum |L R|). The block shape is data
 * (`Blocking`), so the ceiling benchmark measures the very kernels gradc emits.
 */
import { type Code, F32, F64, I32, V128, type ValType, kernelModule, op } from './encode.js';

export interface GemmShape {
  readonly precision: 'f64' | 'f32';
  readonly Q: number;
  readonly lsP: number; readonly lsK: number;
  readonly rsK: number; readonly rsQ: number;
  readonly cs: number;
  /** C(p, q) += scale * sum instead of C(p, q) = sum; the function takes `scale` as a sixth parameter. */
  readonly accumulate?: boolean;
}

/** Register block: MR rows of C by NR columns (dot form) or NR vectors of columns (outer form). */
export interface Blocking { readonly mr: number; readonly nr: number }

export type GemmForm = 'dot' | 'outer';

/** The form a product's strides allow, or null (then the scalar loops compute it). */
export function gemmForm(s: GemmShape): GemmForm | null {
  if (s.lsK === 1 && s.rsK === 1) return 'dot';
  if (s.rsQ === 1) return 'outer';
  return null;
}

/** The blocks gradc uses: 4x2 was the fastest or within noise of it in most runs of the ceiling benchmark (bench/ceiling.ts times the others too). */
export const BLOCKING: { readonly [F in GemmForm]: Blocking } = { dot: { mr: 4, nr: 2 }, outer: { mr: 4, nr: 2 } };

// Parameters of every kernel function (S, the scale, only when it accumulates).
const P = 0, K = 1, L = 2, R = 3, C = 4, S = 5;

/** The locals of one function: typed slots after the parameters. */
class Locals {
  readonly types: ValType[] = [];
  constructor(private readonly params: number) {}
  add(t: ValType): number { this.types.push(t); return this.params + this.types.length - 1; }
}

/** `while (!exit) body`: exit is an i32 expression, nonzero to leave. */
const whileNot = (exit: Code, body: Code): Code => op.block(op.loop([...exit, ...op.brIf(1), ...body, ...op.br(0)]));
const addTo = (local: number, n: number): Code => (n === 0 ? [] : [...op.get(local), ...op.i32(n), ...op.i32Add, ...op.set(local)]);
/** local = a*m + b (i32). */
const mulAdd = (a: number, m: number, b: number): Code => [...op.get(a), ...op.i32(m), ...op.i32Mul, ...op.get(b), ...op.i32Add];

interface Ops {
  readonly e: number; readonly lanes: number; readonly s: ValType;
  readonly load: (o?: number) => Code; readonly store: (o?: number) => Code;
  readonly add: Code; readonly mul: Code; readonly zero: Code;
  readonly vadd: Code; readonly vmul: Code; readonly splat: Code; readonly extract: (lane: number) => Code;
}
const F64OPS: Ops = { e: 8, lanes: 2, s: F64, load: op.f64Load, store: op.f64Store, add: op.f64Add, mul: op.f64Mul, zero: op.f64Const0,
  vadd: op.f64x2Add, vmul: op.f64x2Mul, splat: op.f64x2Splat, extract: op.f64x2Extract };
const F32OPS: Ops = { e: 4, lanes: 4, s: F32, load: op.f32Load, store: op.f32Store, add: op.f32Add, mul: op.f32Mul, zero: op.f32Const0,
  vadd: op.f32x4Add, vmul: op.f32x4Mul, splat: op.f32x4Splat, extract: op.f32x4Extract };

/** The kernel's module (importing the memory `m.m` of at least `pages` pages; exporting `f`). */
export function gemmModule(shape: GemmShape, pages: number, blocking?: Blocking): Uint8Array {
  const form = gemmForm(shape);
  if (!form) throw new Error('gradc bug: no SIMD form for these strides');
  const b = blocking ?? BLOCKING[form];
  const o = shape.precision === 'f64' ? F64OPS : F32OPS;
  const params: ValType[] = [I32, I32, I32, I32, I32, ...(shape.accumulate ? [o.s] : [])];
  const loc = new Locals(params.length);
  const body = form === 'dot' ? dotBody(shape, b, o, loc) : outerBody(shape, b, o, loc);
  return kernelModule(params, loc.types, body, pages);
}

/**
 * The p and q loops around a micro-kernel: blocks of `mr` rows, then single rows; in each,
 * blocks of `qStep(n)` columns for n in `qBlocks` (largest first), each as long as it fits.
 */
function tiles(shape: GemmShape, mr: number, qBlocks: readonly number[], qStep: (n: number) => number, micro: (rows: number, n: number, p: number, j: number) => Code, loc: Locals): Code {
  const p = loc.add(I32), j = loc.add(I32);
  const rowsLoop = (rows: number): Code => {
    const cols = qBlocks.flatMap((n) => whileNot([...op.get(j), ...op.i32(qStep(n)), ...op.i32Add, ...op.i32(shape.Q), 0x4a /* i32.gt_s */], [...micro(rows, n, p, j), ...addTo(j, qStep(n))]));
    return whileNot([...op.get(p), ...op.i32(rows), ...op.i32Add, ...op.get(P), 0x4a /* i32.gt_s */], [...op.i32(0), ...op.set(j), ...cols, ...addTo(p, rows)]);
  };
  return [...op.i32(0), ...op.set(p), ...(mr > 1 ? rowsLoop(mr) : []), ...rowsLoop(1)];
}

/** Dot form: C(p..p+rows, j..j+n) from vectors along k. */
function dotBody(shape: GemmShape, b: Blocking, o: Ops, loc: Locals): Code {
  const { e, lanes } = o;
  const la = loc.add(I32), rb = loc.add(I32), kk = loc.add(I32), kv = loc.add(I32), ke = loc.add(I32), cp = loc.add(I32);
  const acc = Array.from({ length: b.mr * b.nr }, () => loc.add(V128));
  const sum = Array.from({ length: b.mr * b.nr }, () => loc.add(o.s));
  const av = Array.from({ length: b.mr }, () => loc.add(V128));
  const bv = loc.add(V128);
  const at = (i: number, jj: number, n: number) => i * n + jj;
  const micro = (rows: number, n: number, p: number, j: number): Code => {
    const c: number[] = [];
    c.push(...mulAdd(p, shape.lsP * e, L), ...op.set(la)); // row p of L
    c.push(...mulAdd(j, shape.rsQ * e, R), ...op.set(rb)); // column j of R
    for (let x = 0; x < rows * n; x++) c.push(...op.v128Zero, ...op.set(acc[x]));
    c.push(...op.i32(0), ...op.set(kk));
    const vectorStep: number[] = [];
    for (let i = 0; i < rows; i++) vectorStep.push(...op.get(la), ...op.get(kk), ...op.i32Add, ...op.v128Load(i * shape.lsP * e), ...op.set(av[i]));
    for (let jj = 0; jj < n; jj++) {
      vectorStep.push(...op.get(rb), ...op.get(kk), ...op.i32Add, ...op.v128Load(jj * shape.rsQ * e), ...op.set(bv));
      for (let i = 0; i < rows; i++) {
        vectorStep.push(...op.get(acc[at(i, jj, n)]), ...op.get(av[i]), ...op.get(bv), ...o.vmul, ...o.vadd, ...op.set(acc[at(i, jj, n)]));
      }
    }
    c.push(...whileNot([...op.get(kk), ...op.get(kv), ...op.i32GeS], [...vectorStep, ...addTo(kk, lanes * e)]));
    for (let x = 0; x < rows * n; x++) {
      c.push(...op.get(acc[x]), ...o.extract(0));
      for (let lane = 1; lane < lanes; lane++) c.push(...op.get(acc[x]), ...o.extract(lane), ...o.add);
      c.push(...op.set(sum[x]));
    }
    const scalarStep: number[] = [];
    for (let i = 0; i < rows; i++) {
      for (let jj = 0; jj < n; jj++) {
        const x = at(i, jj, n);
        scalarStep.push(...op.get(sum[x]), ...op.get(la), ...op.get(kk), ...op.i32Add, ...o.load(i * shape.lsP * e), ...op.get(rb), ...op.get(kk), ...op.i32Add, ...o.load(jj * shape.rsQ * e), ...o.mul, ...o.add, ...op.set(sum[x]));
      }
    }
    c.push(...whileNot([...op.get(kk), ...op.get(ke), ...op.i32GeS], [...scalarStep, ...addTo(kk, e)]));
    c.push(...op.get(p), ...op.i32(shape.cs * e), ...op.i32Mul, ...op.get(j), ...op.i32(e), ...op.i32Mul, ...op.i32Add, ...op.get(C), ...op.i32Add, ...op.set(cp));
    for (let i = 0; i < rows; i++) {
      for (let jj = 0; jj < n; jj++) {
        const off = (i * shape.cs + jj) * e;
        const value = op.get(sum[at(i, jj, n)]);
        c.push(...op.get(cp), ...(shape.accumulate ? [...op.get(cp), ...o.load(off), ...op.get(S), ...value, ...o.mul, ...o.add] : value), ...o.store(off));
      }
    }
    return c;
  };
  // kv: bytes of k covered by whole vectors; ke: bytes of k.
  const setup = [...op.get(K), ...op.i32(-lanes), 0x71 /* i32.and */, ...op.i32(e), ...op.i32Mul, ...op.set(kv), ...op.get(K), ...op.i32(e), ...op.i32Mul, ...op.set(ke)];
  const qBlocks = b.nr > 1 ? [b.nr, 1] : [1];
  return [...setup, ...tiles(shape, b.mr, qBlocks, (n) => n, micro, loc)];
}

/** Outer form: C(p..p+rows, j..j+n*lanes) from splats of L and vectors of R along q (n = 0: one scalar column). */
function outerBody(shape: GemmShape, b: Blocking, o: Ops, loc: Locals): Code {
  const { e, lanes } = o;
  const la = loc.add(I32), rb = loc.add(I32), k = loc.add(I32), cp = loc.add(I32);
  const vacc = Array.from({ length: b.mr * b.nr }, () => loc.add(V128));
  const sacc = Array.from({ length: b.mr }, () => loc.add(o.s));
  const av = Array.from({ length: b.mr }, () => loc.add(V128));
  const bv = Array.from({ length: b.nr }, () => loc.add(V128));
  const as = loc.add(o.s);
  const vs = loc.add(V128); // the scale in every lane (accumulating kernels)
  const micro = (rows: number, n: number, p: number, j: number): Code => {
    const scalar = n === 0;
    const c: number[] = [];
    c.push(...mulAdd(p, shape.lsP * e, L), ...op.set(la));
    c.push(...mulAdd(j, e, R), ...op.set(rb));
    if (scalar) for (let i = 0; i < rows; i++) c.push(...o.zero, ...op.set(sacc[i]));
    else for (let x = 0; x < rows * n; x++) c.push(...op.v128Zero, ...op.set(vacc[x]));
    c.push(...op.i32(0), ...op.set(k));
    const s: number[] = [];
    if (scalar) {
      s.push(...op.get(rb), ...o.load(), ...op.set(as));
      for (let i = 0; i < rows; i++) s.push(...op.get(sacc[i]), ...op.get(la), ...o.load(i * shape.lsP * e), ...op.get(as), ...o.mul, ...o.add, ...op.set(sacc[i]));
    } else {
      for (let jj = 0; jj < n; jj++) s.push(...op.get(rb), ...op.v128Load(jj * lanes * e), ...op.set(bv[jj]));
      for (let i = 0; i < rows; i++) {
        s.push(...op.get(la), ...o.load(i * shape.lsP * e), ...o.splat, ...op.set(av[i]));
        for (let jj = 0; jj < n; jj++) {
          const x = i * n + jj;
          s.push(...op.get(vacc[x]), ...op.get(av[i]), ...op.get(bv[jj]), ...o.vmul, ...o.vadd, ...op.set(vacc[x]));
        }
      }
    }
    s.push(...addTo(la, shape.lsK * e), ...addTo(rb, shape.rsK * e), ...addTo(k, 1));
    c.push(...whileNot([...op.get(k), ...op.get(K), ...op.i32GeS], s));
    c.push(...op.get(p), ...op.i32(shape.cs * e), ...op.i32Mul, ...op.get(j), ...op.i32(e), ...op.i32Mul, ...op.i32Add, ...op.get(C), ...op.i32Add, ...op.set(cp));
    for (let i = 0; i < rows; i++) {
      for (let jj = 0; jj < (scalar ? 1 : n); jj++) {
        const off = (i * shape.cs + jj * lanes) * e;
        if (scalar) {
          const value = op.get(sacc[i]);
          c.push(...op.get(cp), ...(shape.accumulate ? [...op.get(cp), ...o.load(off), ...op.get(S), ...value, ...o.mul, ...o.add] : value), ...o.store(off));
        } else {
          const value = op.get(vacc[i * n + jj]);
          c.push(...op.get(cp), ...(shape.accumulate ? [...op.get(cp), ...op.v128Load(off), ...op.get(vs), ...value, ...o.vmul, ...o.vadd] : value), ...op.v128Store(off));
        }
      }
    }
    return c;
  };
  const qBlocks = b.nr > 1 ? [b.nr, 1, 0] : [1, 0];
  const setup = shape.accumulate ? [...op.get(S), ...o.splat, ...op.set(vs)] : [];
  return [...setup, ...tiles(shape, b.mr, qBlocks, (n) => (n === 0 ? 1 : n * lanes), micro, loc)];
}
