/**
 * Phase 6, emit (Wasm): tanh over an array in the kernels' memory, in place, as a
 * WebAssembly SIMD function (the activation of a gemm's store, simd.ts: Math.tanh is a
 * call of 10-15 ns per element, most of a small net's step).
 *
 * `tanhModule(precision, pages)` exports f(n, a) (i32: element count, byte address):
 * a[k] = tanh(a[k]) for k < n, nothing else read or written.
 * Method (f64x2 for both precisions; f32 promoted, computed in f64, demoted as stored,
 * which is what the scalar path does with Math.tanh): with t = 2 min(|x|, 20),
 *   expm1(t) = 2^n (1 + p(r)) - 1,  n = nearest(t / ln 2),  r = t - n ln 2 (ln 2 in two parts),
 *   p(r) = expm1(r) by its Taylor series to r^13 (|r| <= ln(2)/2: truncation < 1e-17),
 *   tanh(|x|) = expm1(t) / (expm1(t) + 2),  sign copied from x.
 * Guarantees: within a few ulps of Math.tanh (relative, small |x| included: no 1 - 2/(e+1)
 * cancellation); tanh(+-0) = +-0, tanh(+-Infinity) = +-1, NaN stays NaN; |x| >= 20 gives +-1
 * exactly, as Math.tanh does in f64 (tanh(20) = 1 - 8e-18). Tested against Math.tanh.
 * In f32 the argument is the stored (rounded) pre-activation, where the scalar path takes
 * Math.tanh of the unrounded sum: the two differ by at most half an f32 ulp of the argument.
 */
import { type Code, I32, V128, type ValType, kernelModule, op, uleb } from './encode.js';

const LN2_HI = 0.6931471803691238; // ln 2 to 31 bits: n * LN2_HI is exact for |n| < 2^21
const LN2_LO = 1.9082149292705877e-10; // ln 2 - LN2_HI
const CLAMP = 20;
/** 1/k! for k = 13 down to 2 (Horner: p = r (1 + r (1/2 + r (1/6 + ...)))). */
const INV_FACT = Array.from({ length: 12 }, (_, i) => 13 - i).map((k) => 1 / Array.from({ length: k }, (_, j) => j + 1).reduce((a, b) => a * b, 1));

/** v128.const of the same f64 in both lanes. */
const splat = (v: number): Code => {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  d.setFloat64(0, v, true);
  d.setFloat64(8, v, true);
  return [0xfd, 0x0c, ...b];
};
const simd = (code: number): Code => [0xfd, ...uleb(code)];
const V = {
  abs: simd(0xec), min: simd(0xf4), nearest: simd(0x94), and: simd(0x4e), or: simd(0x50),
  add: op.f64x2Add, sub: op.f64x2Sub, mul: op.f64x2Mul, div: op.f64x2Div, shl64: simd(0xcb),
};

/** tanh of both f64 lanes of local `x`, left on the stack; `a`, `t`, `n`, `r`, `p`, `s` are v128 scratch locals. */
export function tanhLanes(x: number, a: number, t: number, n: number, r: number, p: number, s: number): Code {
  const c: number[] = [];
  // a = min(|x|, CLAMP) (NaN stays NaN: min propagates it); t = 2a
  c.push(...op.get(x), ...V.abs, ...splat(CLAMP), ...V.min, ...op.tee(a), ...op.get(a), ...V.add, ...op.set(t));
  // n = nearest(t / ln 2); r = t - n LN2_HI - n LN2_LO
  c.push(...op.get(t), ...splat(1 / Math.LN2), ...V.mul, ...V.nearest, ...op.set(n));
  c.push(...op.get(t), ...op.get(n), ...splat(LN2_HI), ...V.mul, ...V.sub, ...op.get(n), ...splat(LN2_LO), ...V.mul, ...V.sub, ...op.set(r));
  // p = expm1(r): Horner from 1/13! to 1/2!, then * r + 1, then * r
  c.push(...splat(INV_FACT[0]!));
  for (const f of INV_FACT.slice(1)) c.push(...op.get(r), ...V.mul, ...splat(f), ...V.add);
  c.push(...op.get(r), ...V.mul, ...splat(1), ...V.add, ...op.get(r), ...V.mul, ...op.set(p));
  // s = 2^n: n + (2^52 + 1023) holds n + 1023 in its low bits; shifted left 52 it is 2^n's bits (0 <= n <= 58)
  c.push(...op.get(n), ...splat(2 ** 52 + 1023), ...V.add, ...op.i32(52), ...V.shl64, ...op.set(s));
  // e = s p + (s - 1) = expm1(t); tanh = e / (e + 2), with x's sign
  c.push(...op.get(s), ...op.get(p), ...V.mul, ...op.get(s), ...splat(1), ...V.sub, ...V.add, ...op.tee(p));
  c.push(...op.get(p), ...splat(2), ...V.add, ...V.div);
  c.push(...op.get(x), ...splat(-0), ...V.and, ...V.or);
  return c;
}

/** The module: f(n, a), tanh in place over n elements at byte address a (see the header). */
export function tanhModule(precision: 'f64' | 'f32', pages: number): Uint8Array {
  const N = 0, A = 1;
  const locals: ValType[] = [I32, V128, V128, V128, V128, V128, V128, V128];
  const end = 2, x = 3, [a, t, n, r, p, s] = [4, 5, 6, 7, 8, 9];
  const e = precision === 'f64' ? 8 : 4;
  const f32 = precision === 'f32';
  // Two elements: f64 a whole vector, f32 8 bytes promoted; one element: lane 0.
  const load2 = f32 ? [...op.get(A), ...op.v128Load64Zero(), ...op.f64x2PromoteLowF32x4] : [...op.get(A), ...op.v128Load()];
  const store2 = (v: Code) => (f32 ? [...op.get(A), ...v, ...op.f32x4DemoteF64x2Zero, ...op.v128Store64Lane(0)] : [...op.get(A), ...v, ...op.v128Store()]);
  const load1 = f32 ? [...op.get(A), ...op.v128Load32Zero(), ...op.f64x2PromoteLowF32x4] : [...op.get(A), ...op.v128Load64Zero()];
  const store1 = (v: Code) => (f32 ? [...op.get(A), ...v, ...op.f32x4DemoteF64x2Zero, ...op.v128Store32Lane(0)] : [...op.get(A), ...v, ...op.v128Store64Lane(0)]);
  const lanes = tanhLanes(x, a, t, n, r, p, s);
  const body: number[] = [];
  // end = a + (n & ~1) * e: the pairs; then the odd one
  body.push(...op.get(N), ...op.i32(-2), ...op.i32And, ...op.i32(e), ...op.i32Mul, ...op.get(A), ...op.i32Add, ...op.set(end));
  body.push(...op.block(op.loop([
    ...op.get(A), ...op.get(end), ...op.i32GeS, ...op.brIf(1),
    ...load2, ...op.set(x), ...store2(lanes),
    ...op.get(A), ...op.i32(2 * e), ...op.i32Add, ...op.set(A), ...op.br(0),
  ])));
  body.push(...op.get(N), ...op.i32(1), ...op.i32And, ...op.if([...load1, ...op.set(x), ...store1(lanes)]));
  return kernelModule([I32, I32], locals, body, pages);
}
