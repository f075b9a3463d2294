/**
 * Phase 6, emit (SIMD): which of the looped plan's matrix products run as WebAssembly
 * SIMD kernels (wasm/gemm.ts), and where their operands live in the kernels' memory.
 *
 * Option `simd`: 'off' never; 'on' for every gemm a form fits (tests, benchmarks); 'auto'
 * (default) for the same gemms, each called at run time only when its call has at least
 * SIMD_MIN_CALL_WORK multiply-adds (rows of the call x work per row: `minRows`), the
 * scalar loops computing the smaller calls (a call into Wasm and the store pass cost more
 * than they save there); a gemm whose row count is a constant is taken or not at compile
 * time by the same rule.
 * Guarantees:
 * - a gemm is chosen only when each operand is a scratch buffer, a parameter or the
 *   input rows, at a constant offset (the input rows: at `$xo`);
 * - every scratch buffer a chosen gemm reads or writes is resident: in the generated
 *   module it is a typed-array view on the kernels' memory (no copy, ever); a parameter a
 *   chosen gemm reads is read where it is when its array lives in the memory (see
 *   "Parameters and optimizer state" below), else copied in once per kernel call (O(params)
 *   per `maxBatch` rows, one `set`); the input rows the kernel processes are copied in;
 * - a product written to a resident buffer with no epilogue, no scaling and no
 *   accumulation is stored by the kernel itself; so is a weight gradient (`dW += $scale *
 *   G^T X`), into any accumulator whose array lives in the memory (the training step's own
 *   `$acc`, whose array for it is a view on the kernel's output region, or a placed Params
 *   given to `gradientBatch`) in place (no copy), or into any other accumulator copied in
 *   and back out (two `set`s of O(params) per `maxBatch` rows); any other is written to `temp` and stored from there by the scalar
 *   store (epilogue, `$scale`, `+=`) the loops use;
 * - a stored epilogue `out = tanh(x)` whose `out` is a scratch buffer of contiguous rows
 *   has `out` resident, the store writes x and a Wasm SIMD tanh (wasm/tanh.ts) runs over
 *   the rows in place (Math.tanh was most of a small net's step);
 * - every region is 16-byte aligned and the memory never grows (views stay valid);
 * - each kernel is its own Wasm module (each a few hundred bytes, far below the 4 KiB
 *   that browsers compile synchronously on the main thread), importing the one memory.
 *
 * Parameters and optimizer state (`SimdState`, when every parameter is a dense array: no
 * scalar and no embedding-row parameter): the memory also holds parameter-shaped slots
 * (each parameter 16-byte aligned at the same offset in every slot): the training step's
 * gradient accumulator `$acc`, the update pass's old values `$oldP/$oldM/$oldV`, and a pool
 * of `POOL_SLOTS` (fewer for large models: POOL_BYTES in all, but at least three slots, one
 * training run's parameters and moments; no pool when three pass 4 x POOL_BYTES). `initParams`,
 * `loadParams` and `initOptimizer` (the moments) return parameters whose arrays are
 * Float64Array/Float32Array views on the next free pool slot (`$placed`), plain arrays once
 * the pool is used up; a slot is never reused (a view a caller keeps, or a subarray of one,
 * can never come to alias other parameters). The update pass of every optimizer and the
 * global norm for clipping run as Wasm SIMD kernels (wasm/update.ts, bit-identical to the
 * JavaScript pass) when the parameters, the gradient and the moments all live in the
 * memory (a check of each array's buffer per step); otherwise, e.g. for parameters a
 * caller built from plain arrays, the JavaScript pass runs: the API and every result are
 * the same either way, only the speed differs.
 */
import type { Layout } from '../5-lower/schedule.js';
import type { Affine, GemmOperand, LoopPlan, LoopStep, ScratchBuffer } from '../5-lower/plan.js';
import { constantOf } from '../5-lower/plan.js';
import { type GemmShape, gemmForm, gemmModule } from './wasm/gemm.js';
import { simdProbe } from './wasm/encode.js';
import { tanhModule } from './wasm/tanh.js';
import { normModule, ruleFlags, updateArgs, updateModule } from './wasm/update.js';
import { type Syntax } from './flavour.js';
import { distinctRules, hyperNames, readsHyper } from './optimizers.js';

export type SimdOption = 'auto' | 'on' | 'off';

/**
 * Multiply-adds per call from which 'auto' calls a SIMD kernel (rows x work per row). Measured
 * 2026-12-02 (alternated rounds, whole training steps, looped lowering, batch 1): 4-8-3, whose
 * products are 24 and 32 a row, stepped 10-15% slower with every product in Wasm than with
 * none; 8-40-2 (80 and 320) stepped 10% faster with its 40x2 products in Wasm than without.
 */
export const SIMD_MIN_CALL_WORK = 64;

type Gemm = Extract<LoopStep, { kind: 'gemm' }>;

/** How one gemm runs in Wasm: its module, byte addresses of its operands, and where the product goes. */
export interface SimdGemm {
  /** Its module's index in `SimdPlan.modules` (equal kernels share one). */
  readonly index: number;
  /** Byte addresses of L and R as expressions (a parameter's: `$a_<name>`, set at the kernel's start, plus an offset); of C, a number. */
  readonly l: string; readonly r: string; readonly c: number;
  /** Element offset and row stride of the product in the memory when the loops store it (null: the kernel stores it). */
  readonly temp: { readonly at: number; readonly cs: number } | null;
  /**
   * A weight gradient the kernel adds into (`+= $scale * product`): in place when its array
   * lives in the memory (the step's resident accumulator is at `at`, elements), else copied to
   * `copyAt` (a region of its own, so the resident one is never touched) and back out; `c` is
   * then unused.
   */
  readonly grad: { readonly name: string; readonly at: number; readonly size: number; readonly copyAt: number } | null;
  /** The kernel runs when the call's varying row count (P, else K) is at least this; 0: always. */
  readonly minRows: number;
  /**
   * An epilogue `out = tanh(x)` whose `out` is a resident buffer, rows of Q contiguous: the
   * store writes x, then module `index` (wasm/tanh.ts) takes tanh in place over P x Q
   * elements from byte address `at`.
   */
  readonly tanh: { readonly index: number; readonly at: number } | null;
}

export interface SimdPlan {
  readonly pages: number;
  readonly elementBytes: number;
  /** The distinct kernel modules, in the order the generated module instantiates them. */
  readonly modules: readonly Uint8Array[];
  readonly gemms: ReadonlyMap<LoopStep, SimdGemm>;
  /** Element offset of each resident scratch buffer. */
  readonly resident: ReadonlyMap<ScratchBuffer, number>;
  /** Element offset of each parameter copied in, and which kernels copy it. */
  readonly params: ReadonlyMap<string, number>;
  /** Element offset of the input rows' copy (null: no chosen gemm reads the input). */
  readonly input: number | null;
  /** Per kernel: the parameters and whether the input rows are copied in at its start. */
  readonly copies: ReadonlyMap<string, { readonly params: readonly string[]; readonly input: boolean; readonly minRows: number }>;
  /** Parameters, gradient and optimizer state in the memory (null: the model has a scalar or sparse parameter). */
  readonly state: SimdState | null;
}

/** Parameter-shaped slots of the memory (elements) and the update kernels (see the header). */
export interface SimdState {
  /** Each parameter's offset in a slot and size, in `layout.params` order. */
  readonly slot: readonly { readonly name: string; readonly offset: number; readonly size: number }[];
  readonly slotSize: number;
  /** Where `$acc`, `$oldP`, `$oldM`, `$oldV` and the pool's first slot start. */
  readonly acc: number; readonly old: readonly [number, number, number]; readonly pool: number;
  readonly poolSlots: number;
  /** Index in `SimdPlan.modules` of each update kernel, by `<kind>` or `<kind>:<flag>=<0|1>`, and of the sum of squares. */
  readonly updates: ReadonlyMap<string, number>;
  readonly norm: number;
}

/** Pool slots at most, and bytes at most for all of them (large models get fewer; none past three slots at 4x this). */
export const POOL_SLOTS = 64;
export const POOL_BYTES = 2 ** 26;

/** Regions of the memory, in elements, each 16-byte aligned. */
class Regions {
  size = 0;
  constructor(private readonly lanes: number) {}
  take(n: number): number {
    const at = this.size;
    this.size += Math.ceil(Math.max(n, 1) / this.lanes) * this.lanes;
    return at;
  }
}

const at0 = (a: Affine): number | undefined => constantOf(a);

/** The SIMD plan of a looped plan, or null when no gemm is chosen (then the module has no Wasm at all). */
export function planSimd(plan: LoopPlan, layout: Layout, precision: 'f64' | 'f32', option: SimdOption): SimdPlan | null {
  if (option === 'off') return null;
  const e = precision === 'f64' ? 8 : 4;
  const regions = new Regions(16 / e);
  const resident = new Map<ScratchBuffer, number>();
  const params = new Map<string, number>();
  let input: number | null = null;
  const paramSize = new Map(layout.params.map((p) => [p.name, p.size]));
  // Where an operand is, in elements, or undefined when it cannot be in the memory.
  const place = (o: GemmOperand, claim: boolean): number | undefined => {
    const b = o.buf;
    if (b.kind === 'scratch' && at0(o.base) !== undefined) {
      if (claim && !resident.has(b.buffer)) resident.set(b.buffer, regions.take(b.buffer.size));
      return claim ? resident.get(b.buffer)! + at0(o.base)! : 0;
    }
    if (b.kind === 'param' && at0(o.base) !== undefined) {
      if (claim && !params.has(b.name)) params.set(b.name, regions.take(paramSize.get(b.name)!));
      return claim ? params.get(b.name)! + at0(o.base)! : 0;
    }
    const t = o.base.terms;
    if (b.kind === 'input' && t.length === 1 && t[0].v === 'inputRow' && t[0].stride === 1) {
      if (claim && input === null) input = regions.take(plan.maxBatch * layout.inputSize);
      return claim ? input! + o.base.offset : 0;
    }
    return undefined;
  };
  // A tanh epilogue over a block of rows of Q in a scratch buffer: its buffer (see SimdGemm.tanh).
  const tanhOut = (s: Gemm): ScratchBuffer | null => {
    const e = s.epilogue;
    const o = e?.out;
    if (!e || !o || e.value.inline?.op !== 'tanh' || o.buf?.kind !== 'scratch' || at0(o.base) === undefined) return null;
    return o.bs === s.Q && o.shape.length === 1 && o.shape[0] === s.Q && o.strides[0] === 1 ? o.buf.buffer : null;
  };
  const chosen: { step: Gemm; kernel: string; shape: GemmShape; direct: boolean; grad: string | null; rows: number; minRows: number }[] = [];
  for (const [kernel, k] of Object.entries(plan.kernels)) {
    for (const s of k.steps) {
      if (s.kind !== 'gemm') continue;
      const P = constantOf(s.P), K = constantOf(s.K);
      // Work per row of the call: the row count is P (forward, input gradients) or K (weight gradients).
      const work = P === undefined ? s.Q * (K ?? 0) : K === undefined ? P * s.Q : P * s.Q * K;
      if (option === 'auto' && P !== undefined && K !== undefined && work < SIMD_MIN_CALL_WORK) continue;
      const minRows = option === 'auto' && (P === undefined || K === undefined) && work > 0 ? Math.ceil(SIMD_MIN_CALL_WORK / work) : 0;
      if (place(s.L, false) === undefined || place(s.R, false) === undefined) continue;
      const direct = !s.epilogue && !s.accumulate && !s.scaled && s.out.buf.kind === 'scratch' && s.out.sv === 1 && at0(s.out.base) !== undefined;
      const grad = !s.epilogue && s.accumulate && s.scaled && s.out.buf.kind === 'grad' && s.out.sv === 1 && at0(s.out.base) === 0 && P !== undefined ? s.out.buf.name : null;
      const shape: GemmShape = { precision, Q: s.Q, lsP: s.L.su, lsK: s.L.sv, rsK: s.R.su, rsQ: s.R.sv, cs: direct || grad ? s.out.su : s.Q, accumulate: grad !== null };
      if (!gemmForm(shape)) continue;
      chosen.push({ step: s, kernel, shape, direct, grad, rows: P ?? plan.maxBatch, minRows: minRows > 1 ? minRows : 0 });
    }
  }
  if (chosen.length === 0) return null;
  const temp = regions.take(Math.max(...chosen.map((c) => (c.direct || c.grad ? 0 : c.rows * c.shape.Q))));
  // Parameter-shaped slots: only when every parameter is a dense array.
  let slots: { slot: { name: string; offset: number; size: number }[]; slotSize: number; acc: number; old: [number, number, number]; pool: number; poolSlots: number } | null = null;
  if (layout.params.every((p) => p.shape.length > 0 && !p.rows)) {
    const inSlot = new Regions(16 / e);
    const slot = layout.params.map((p) => ({ name: p.name, offset: inSlot.take(p.size), size: p.size }));
    const slotSize = inSlot.size;
    const poolSlots = Math.min(POOL_SLOTS, Math.max(3, Math.floor(POOL_BYTES / (slotSize * e))));
    const acc = regions.take(slotSize);
    const old: [number, number, number] = [regions.take(slotSize), regions.take(slotSize), regions.take(slotSize)];
    const usable = slotSize * e * poolSlots <= 4 * POOL_BYTES;
    const pool = usable ? regions.take(slotSize * poolSlots) : 0;
    slots = { slot, slotSize, acc, old, pool, poolSlots: usable ? poolSlots : 0 };
  }
  const grads = new Map<string, { at: number; copyAt: number }>();
  for (const c of chosen) {
    if (c.grad !== null && !grads.has(c.grad)) {
      const inAcc = slots ? slots.acc + slots.slot.find((x) => x.name === c.grad)!.offset : regions.take(paramSize.get(c.grad)!);
      grads.set(c.grad, { at: inAcc, copyAt: regions.take(paramSize.get(c.grad)!) });
    }
  }
  const copies = new Map<string, { params: string[]; input: boolean; minRows: number }>();
  // A parameter operand's address is its array's own when that lives in the memory (`$a_<name>`, simdCopies).
  const address = (o: GemmOperand, at: number): string => (o.buf.kind === 'param' ? `$a_${o.buf.name} + ${(at - params.get(o.buf.name)!) * e}` : String(at * e));
  const placed = chosen.map((c) => {
    const s = c.step;
    const l = address(s.L, place(s.L, true)!), r = address(s.R, place(s.R, true)!);
    const out = c.direct ? place(s.out, true)! : c.grad !== null ? grads.get(c.grad)!.at : temp;
    const cp = copies.get(c.kernel) ?? { params: [], input: false, minRows: c.minRows };
    cp.minRows = Math.min(cp.minRows, c.minRows);
    for (const o of [s.L, s.R]) {
      if (o.buf.kind === 'param' && !cp.params.includes(o.buf.name)) cp.params.push(o.buf.name);
      if (o.buf.kind === 'input') cp.input = true;
    }
    copies.set(c.kernel, cp);
    // A tanh epilogue's output made resident (placed after the loop's other claims: any order is fine).
    const t = c.direct || c.grad !== null ? null : tanhOut(s);
    if (t && !resident.has(t)) resident.set(t, regions.take(t.size));
    const tanhAt = t ? resident.get(t)! + at0(s.epilogue!.out.base)! : null;
    return { c, l, r, out, tanhAt };
  });
  const pages = Math.max(1, Math.ceil((regions.size * e) / 65536));
  if (pages > 32768) return null; // past 2 GiB: the scalar loops (browsers refuse such memories)
  // One module per distinct kernel (the forward product recurs in the loss and gradient kernels).
  const modules: Uint8Array[] = [];
  const indexOf = new Map<string, number>();
  const moduleIndex = (module: Uint8Array): number => {
    const key = Buffer.from(module).toString('base64');
    if (!indexOf.has(key)) { indexOf.set(key, modules.length); modules.push(module); }
    return indexOf.get(key)!;
  };
  const gemms = new Map<LoopStep, SimdGemm>(placed.map(({ c, l, r, out, tanhAt }) => {
    const index = moduleIndex(gemmModule(c.shape, pages));
    const grad = c.grad === null ? null : { name: c.grad, ...grads.get(c.grad)!, size: paramSize.get(c.grad)! };
    const tanh = tanhAt === null ? null : { index: moduleIndex(tanhModule(precision, pages)), at: tanhAt * e };
    return [c.step, { index, l, r, c: out * e, temp: c.direct || grad ? null : { at: temp, cs: c.shape.Q }, grad, minRows: c.minRows, tanh }];
  }));
  let state: SimdState | null = null;
  if (slots) {
    const updates = new Map<string, number>();
    for (const { kind, rule } of distinctRules()) {
      const flags = ruleFlags(rule);
      if (flags.length > 1) throw new Error('gradc bug: an update rule with more than one flag');
      for (const value of flags.length ? [false, true] : [false]) {
        updates.set(flags.length ? `${kind}:${flags[0]}=${value ? 1 : 0}` : kind, modules.length);
        modules.push(updateModule(rule, new Map(flags.map((f) => [f, value])), precision, pages));
      }
    }
    const norm = modules.length;
    modules.push(normModule(precision, pages));
    state = { ...slots, updates, norm };
  }
  return { pages, elementBytes: e, modules, gemms, resident, params, input, copies, state };
}

/** The module-level declarations: the kernels' memory and functions, null where the engine has no SIMD. */
export function simdDeclarations(s: SimdPlan, S: Syntax): string {
  const b64 = (bytes: Uint8Array) => `'${Buffer.from(bytes).toString('base64')}'`;
  const modules = s.modules.map((m) => `  ${b64(m)},`).join('\n');
  return [
    `/**`,
    ` * WebAssembly SIMD kernels for the large matrix products below (compile option \`simd\`), one`,
    ` * module each, sharing one memory of ${s.pages} pages; null where the engine has no Wasm SIMD`,
    ` * (the feature check validates a probe), and then the scalar loops run instead.`,
    ` */`,
    `const $wasm = $simdKernels(${s.pages}, [`,
    modules,
    `]);`,
    `/** The kernels' memory as one array (empty without SIMD). */`,
    `const $H = $wasm ? new Floats($wasm.memory.buffer) : new Floats(0);`,
    `/** The memory's buffer (null without SIMD): an array whose \`buffer\` is this one lives in the memory. */`,
    `const $B = $wasm ? $wasm.memory.buffer : null;`,
    `/** The byte address of parameter array \`a\` in the kernels' memory: its own when it lives there as this module's element type, else that of a copy made at element \`at\`. */`,
    `function $address(a${S.t(': Floats')}, at${S.t(': number')})${S.t(': number')} {`,
    `  if (a.buffer === $B && a instanceof Floats) return a.byteOffset;`,
    `  $H.set(a, at);`,
    `  return at * $H.BYTES_PER_ELEMENT;`,
    `}`,
    ...(s.state ? stateDeclarations(s, s.state, S) : [...residentGrads(s), placedIdentity(S)]),
  ].join('\n');
}

/** `$placed` where parameters never live in the memory. */
export const placedIdentity = (S: Syntax): string => `/** \`p\` itself (this module keeps its parameters in plain arrays). */\nfunction $placed(p${S.t(': Params')}, _like${S.t('?: Params')})${S.t(': Params')} {\n  return p;\n}`;

/**
 * The slots of SimdState: \`$acc\` and the old values as views on theirs, the pool
 * (\`$placed\`), the residency check (\`$inMemory\`), the update pass of each optimizer kind
 * as Wasm calls (\`$simd_<kind>\`, called by \`$update_<kind>\` of optimizers.ts when every
 * array lives in the memory) and the sum of squares for the clipping norm (\`$sumSquares\`).
 */
function stateDeclarations(s: SimdPlan, st: SimdState, S: Syntax): string[] {
  const { t, nn } = S;
  const e = s.elementBytes;
  const view = (bytes: string, x: SimdState['slot'][number]) => `new Floats($wasm.memory.buffer, ${bytes}${x.offset ? ` + ${x.offset * e}` : ''}, ${x.size})`;
  const lines: string[] = [
    `/** The training step's gradient accumulator and the update pass's old values, as views on their slots (see \`$placed\`). */`,
    `if ($wasm) {`,
  ];
  const fixed: [string, number][] = [['$acc', st.acc], ['$oldP', st.old[0]], ['$oldM', st.old[1]], ['$oldV', st.old[2]]];
  for (const [obj, base] of fixed) for (const x of st.slot) lines.push(`  ${obj}.${x.name} = ${view(String(base * e), x)};`);
  lines.push(`}`);
  lines.push(
    `/** Pool slots handed out so far (of ${st.poolSlots}; never reused, so that no view a caller keeps can alias later parameters). */`,
    `let $slotsUsed = 0;`,
    `/**`,
    ` * \`p\`, or a copy of it whose arrays are views on the next unused slot of the kernels'`,
    ` * memory, where the update pass runs in WebAssembly (\`p\` itself once the ${st.poolSlots} slots are used, or without SIMD;`,
    ` * also when \`like\`, the parameters an optimizer state is made for, are not in the memory: the`,
    ` * update pass runs in WebAssembly only when all are, so the moments would only take slots).`,
    ` */`,
    `function $placed(p${t(': Params')}, like${t('?: Params')})${t(': Params')} {`,
    `  if (!$wasm || $slotsUsed === ${st.poolSlots} || (like !== undefined && !$inMemory(like))) return p;`,
    `  const at = ${st.pool * e} + ${st.slotSize * e} * $slotsUsed++;`,
    `  const q${t(': Params')} = { ${st.slot.map((x) => `${x.name}: ${view('at', x)}`).join(', ')} };`,
    `  $copyInto(q, p);`,
    `  return q;`,
    `}`,
    `/** Whether every array of \`p\` lives in the kernels' memory, as this module's element type (a view of the other float type there is read and written by the JavaScript pass). */`,
    `function $inMemory(p${t(': Params')})${t(': boolean')} {`,
    `  return ${st.slot.map((x) => `p.${x.name}.buffer === $B && p.${x.name} instanceof Floats`).join(' && ')};`,
    `}`,
  );
  for (const { kind, rule, kinds } of distinctRules()) {
    const { m, v } = rule.state;
    const flags = ruleFlags(rule);
    const read = hyperNames(rule).filter((n) => readsHyper(rule, n));
    const f = flags.length ? `${flags[0]} ? ${st.updates.get(`${kind}:${flags[0]}=1`)} : ${st.updates.get(`${kind}:${flags[0]}=0`)}` : String(st.updates.get(kind));
    const state = [...(m ? ['m'] : []), ...(v ? ['v'] : [])];
    const call = (x: SimdState['slot'][number]) => {
      const at = (base: number) => String((base + x.offset) * e);
      const addresses = [`p.${x.name}.byteOffset`, `g.${x.name}.byteOffset`, ...state.map((o) => `${o}.${x.name}.byteOffset`), at(st.old[0]), ...(m ? [at(st.old[1])] : []), ...(v ? [at(st.old[2])] : [])];
      return `  s += f(${x.size}, ${addresses.join(', ')}, c, ${updateArgs(rule).join(', ')});`;
    };
    lines.push(
      `/** The ${kinds.join(' and ')} update pass of \`$update_${kind}\` as WebAssembly SIMD kernels, every array in the kernels' memory: the same values, bits included, and all or nothing likewise. */`,
      `function $simd_${kind}(p${t(': Params')}, g${t(': Params')}, ${state.map((o) => `${o}${t(': Params')}, `).join('')}c${t(': number')}, ${read.map((n) => `${n}${t(': number')}`).join(', ')})${t(': boolean')} {`,
      `  const f = $wasm${nn}.f[${f}]${nn};`,
      `  let s = 0;`,
      ...st.slot.map(call),
      `  if (s !== 0) { // a new value is not finite: put the old values back`,
      `    $copyInto(p, $oldP);`,
      ...(m ? [`    $copyInto(m, $oldM);`] : []),
      ...(v ? [`    $copyInto(v, $oldV);`] : []),
      `    return false;`,
      `  }`,
      `  return true;`,
      `}`,
    );
  }
  lines.push(
    `/** The sum of the squares of every value of \`g\` (in the kernels' memory), in WebAssembly. */`,
    `function $sumSquares(g${t(': Params')})${t(': number')} {`,
    `  const f = $wasm${nn}.f[${st.norm}]${nn};`,
    `  return ${st.slot.map((x) => `f(${x.size}, g.${x.name}.byteOffset)`).join(' + ')};`,
    `}`,
  );
  return lines;
}

/**
 * The step's own gradient accumulator (\`$acc\`), for each weight gradient a kernel adds
 * into, made a view on the kernel's output region: \`stepBatch\` then copies nothing in or
 * out (a caller's own accumulator, as \`gradientBatch\` takes, is copied).
 */
function residentGrads(s: SimdPlan): string[] {
  const grads = new Map<string, { at: number; size: number }>();
  for (const g of s.gemms.values()) if (g.grad) grads.set(g.grad.name, g.grad);
  if (grads.size === 0) return [];
  const lines = [`/** Weight-gradient accumulators of \`$acc\` that live in the kernels' memory (null without SIMD). */`];
  for (const [name, { at, size }] of grads) {
    lines.push(`const $r_${name} = $wasm ? new Floats($wasm.memory.buffer, ${at * s.elementBytes}, ${size}) : null;`);
    lines.push(`if ($r_${name}) $acc.${name} = $r_${name};`);
  }
  return lines;
}

/** A scratch buffer's declaration: a view on the kernels' memory when resident. */
export function scratchDeclaration(s: SimdPlan | null, b: ScratchBuffer): string {
  const at = s?.resident.get(b);
  if (at === undefined) return `const ${b.name} = new Floats(${b.size});`;
  return `const ${b.name} = $wasm ? new Floats($wasm.memory.buffer, ${at * s!.elementBytes}, ${b.size}) : new Floats(${b.size});`;
}

/**
 * What a kernel does at its start: the byte address of each parameter its Wasm products
 * read (`$a_<name>`: the array's own when it lives in the memory, else a copy's), and the
 * copy of its input rows.
 */
export function simdCopies(s: SimdPlan | null, kernel: string, inputSize: number): string {
  const c = s?.copies.get(kernel);
  if (!c) return '';
  // Only when some kernel will run at this row count (see `minRows`).
  const when = c.minRows > 1 ? `$wasm && $nb >= ${c.minRows}` : '$wasm';
  const lines = c.params.map((p) => `const $a_${p} = ${when} ? $address($p_${p}, ${s!.params.get(p)!}) : 0;`);
  if (c.input) lines.push(`if (${when}) $H.set($x.subarray($xo, $xo + $nb * ${inputSize}), ${s!.input!});`);
  return lines.join('\n');
}

/** The run-time half: base64 to bytes, the feature check, and instantiation (generated modules have no imports). */
export const SIMD_RUNTIME = `
/** The few WebAssembly declarations the kernels use (the module type-checks without the DOM library). */
interface $Wasm {
  validate(bytes: Uint8Array): boolean;
  Memory: new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { readonly exports: { readonly f: (...args: number[]) => number } };
}

/** Bytes of a base64 text. */
function $base64(s: string): Uint8Array {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0, n = 0, o = 0;
  for (let i = 0; i < clean.length; i++) {
    bits = ((bits << 6) | digits.indexOf(clean[i]!)) & 0xffffff;
    n += 6;
    if (n >= 8) { n -= 8; out[o++] = (bits >> n) & 255; }
  }
  return out;
}

/** A module using one v128 instruction: the engine's SIMD feature check. */
const $SIMD_PROBE = '${Buffer.from(simdProbe()).toString('base64')}';

/** The kernels' memory and functions, or null when the engine cannot run them (no WebAssembly, no SIMD, or a refused compile). */
function $simdKernels(pages: number, modules: readonly string[]): { memory: { readonly buffer: ArrayBuffer }; f: ((...args: number[]) => number)[] } | null {
  const W = (globalThis as unknown as { WebAssembly?: $Wasm }).WebAssembly;
  try {
    if (!W || !W.validate($base64($SIMD_PROBE))) return null;
    const memory = new W.Memory({ initial: pages, maximum: pages });
    const f = modules.map((m) => new W.Instance(new W.Module($base64(m)), { m: { m: memory } }).exports.f);
    return { memory, f };
  } catch {
    return null;
  }
}`;
