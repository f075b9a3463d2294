/**
 * Phase 6, emit (Wasm): the binary encoding of the few WebAssembly instructions gradc's
 * SIMD kernels use, and of a module around one exported function.
 *
 * Why our own encoder and not binaryen or wabt: the kernels need about forty opcodes
 * (i32 arithmetic, loops and branches, scalar and v128 loads and stores, f64x2/f32x4
 * mul/add/splat/extract); this file is their whole encoding, with no dependency, no
 * start-up cost and the same bytes on every run. Guarantees: integers are LEB128
 * (signed for i32.const, unsigned for indexes and sizes); `kernelModule` returns a
 * module importing one memory (`m.m`) and exporting its one function as `f`, with
 * sections in the order the spec requires; nothing here checks types: the caller
 * validates every module it emits (`WebAssembly.validate`, gemm.ts).
 */

/** One instruction (or a run of them) as bytes. */
export type Code = readonly number[];

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7; // arithmetic shift: i32 values only
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

export const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

const simd = (op: number): number[] => [0xfd, ...uleb(op)];
/** memarg: alignment as log2 bytes, then a constant byte offset. */
const mem = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];

/** The instructions, each a function of its immediates. */
export const op = {
  block: (body: Code): Code => [0x02, 0x40, ...body, 0x0b],
  loop: (body: Code): Code => [0x03, 0x40, ...body, 0x0b],
  if: (body: Code): Code => [0x04, 0x40, ...body, 0x0b],
  br: (depth: number): Code => [0x0c, ...uleb(depth)],
  brIf: (depth: number): Code => [0x0d, ...uleb(depth)],
  get: (local: number): Code => [0x20, ...uleb(local)],
  set: (local: number): Code => [0x21, ...uleb(local)],
  tee: (local: number): Code => [0x22, ...uleb(local)],
  i32: (v: number): Code => [0x41, ...sleb(v)],
  i32Add: [0x6a] as Code,
  i32Sub: [0x6b] as Code,
  i32Mul: [0x6c] as Code,
  i32LtS: [0x48] as Code,
  i32GeS: [0x4e] as Code,
  i32LeS: [0x4c] as Code,
  f64Load: (offset = 0): Code => [0x2b, ...mem(3, offset)],
  f32Load: (offset = 0): Code => [0x2a, ...mem(2, offset)],
  f64Store: (offset = 0): Code => [0x39, ...mem(3, offset)],
  f32Store: (offset = 0): Code => [0x38, ...mem(2, offset)],
  f64Add: [0xa0] as Code,
  f64Mul: [0xa2] as Code,
  f32Add: [0x92] as Code,
  f32Mul: [0x94] as Code,
  f64Const0: [0x44, 0, 0, 0, 0, 0, 0, 0, 0] as Code,
  f32Const0: [0x43, 0, 0, 0, 0] as Code,
  v128Load: (offset = 0): Code => [...simd(0x00), ...mem(4, offset)],
  v128Store: (offset = 0): Code => [...simd(0x0b), ...mem(4, offset)],
  v128Zero: [...simd(0x0c), ...new Array<number>(16).fill(0)] as Code, // v128.const 0
  f64x2Splat: simd(0x14) as Code,
  f32x4Splat: simd(0x13) as Code,
  f64x2Extract: (lane: number): Code => [...simd(0x21), lane],
  f32x4Extract: (lane: number): Code => [...simd(0x1f), lane],
  f64x2Add: simd(0xf0) as Code,
  f64x2Mul: simd(0xf2) as Code,
  f32x4Add: simd(0xe4) as Code,
  f32x4Mul: simd(0xe6) as Code,
  // The optimizer update kernels (update.ts): f64 arithmetic on f64 or f32 storage.
  i32And: [0x71] as Code,
  return: [0x0f] as Code,
  f64Const: (v: number): Code => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return [0x44, ...b]; },
  f64Sub: [0xa1] as Code,
  f64Div: [0xa3] as Code,
  f64Sqrt: [0x9f] as Code,
  f64x2Sub: simd(0xf1) as Code,
  f64x2Div: simd(0xf3) as Code,
  f64x2Sqrt: simd(0xef) as Code,
  /** Loads 4 (8) bytes into lane 0 of a zero vector. */
  v128Load32Zero: (offset = 0): Code => [...simd(0x5c), ...mem(2, offset)],
  v128Load64Zero: (offset = 0): Code => [...simd(0x5d), ...mem(3, offset)],
  /** Stores lane `lane` of 32 (64) bits. */
  v128Store32Lane: (lane: number, offset = 0): Code => [...simd(0x5a), ...mem(2, offset), lane],
  v128Store64Lane: (lane: number, offset = 0): Code => [...simd(0x5b), ...mem(3, offset), lane],
  f32x4DemoteF64x2Zero: simd(0x5e) as Code,
  f64x2PromoteLowF32x4: simd(0x5f) as Code,
} as const;

const section = (id: number, body: readonly number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: readonly (readonly number[])[]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

/**
 * A module importing memory `m.m` (at least `pages` 64 KiB pages) and exporting `f`:
 * a function of `params` and `results` (none by default), with extra `locals` and `body` (its final `end` added here).
 */
export function kernelModule(params: readonly ValType[], locals: readonly ValType[], body: Code, pages: number, results: readonly ValType[] = []): Uint8Array {
  const type = section(1, vec([[0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))]]));
  const imports = section(2, vec([[...name('m'), ...name('m'), 0x02, 0x00, ...uleb(pages)]]));
  const funcs = section(3, vec([uleb(0)]));
  const exports = section(7, vec([[...name('f'), 0x00, 0]]));
  const groups = locals.map((t) => [1, t]); // one local per group: simple, and a few bytes at most
  const fn = [...vec(groups), ...body, 0x0b];
  const code = section(10, vec([[...uleb(fn.length), ...fn]]));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...type, ...imports, ...funcs, ...exports, ...code]);
}

/** The smallest module that uses a v128 instruction: `WebAssembly.validate` of it is the engine's SIMD feature check. */
export function simdProbe(): Uint8Array {
  const type = section(1, vec([[0x60, 0, 0]]));
  const funcs = section(3, vec([uleb(0)]));
  const fn = [0, ...op.v128Zero, 0x1a, 0x0b]; // no locals; v128.const 0; drop; end
  const code = section(10, vec([[...uleb(fn.length), ...fn]]));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...type, ...funcs, ...code]);
}
