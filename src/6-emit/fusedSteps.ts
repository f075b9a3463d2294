/**
 * Phase 6, emit (fused steps): the optimizer's update written into the unrolled backward pass.
 *
 * Takes the unrolled `step` kernel (5-lower/schedule.ts: parameters loaded first, each
 * parameter element's update store placed right after its gradient is complete) and the
 * update rules of optimizers.ts; gives, per distinct rule, one function
 * `$step_<kind>($p, $x, $xo, $y, $yo, $st, $hy, $t)` that takes one training step on one
 * row (plain SGD's `$step_sgd($p, $x, $xo, $y, $yo, $h)`, see `takesNumbers`), plus
 * `$stepRow` (plain SGD with a learning rate) and `$ROW_STEPS` (the steps by rule index,
 * `$Hyper.rule`, for an OptimizerState). A short kernel's rules have a second step,
 * `$step_<kind>_nodecay`, without the L2 and decoupled-decay terms, taken when both are 0
 * (and by `$stepRow`), with the same results (NO_DECAY below). Guarantees:
 * - each element's update is the rule's element code (the same text as the update pass),
 *   written where its gradient is complete: no gradient buffer, no second pass;
 * - the parameter arrays and the state arrays are loaded into locals once per call (the
 *   state checked by one comparison per moment object when it is the module's own frozen
 *   one checked last, else array by array (`stateCheck`): a bad one refuses the step before
 *   anything is written), and the hyperparameters are run-time values computed once per step
 *   in the step's first lines from `$hy` (the $Hyper of the state's options) and `$t` (the step
 *   number from 1), or read from `$hy` once they no longer change (`hyperLines`, Adam past its
 *   bias corrections with a constant schedule): the small entry points (`stepBatch`, `step`), which V8 inlines into the
 *   caller, hand over two values that need no boxing and call nothing else per step (V8
 *   never inlines a step kernel itself: its bytecode is over the 460-byte limit even at 2-2-1);
 * - all or nothing: every new value is added into `$s` as stored, with the loss (finite only
 *   when all are); the old values are still locals (parameters are loaded before anything is
 *   written, state elements just before their update), so when `$s` is not finite they are
 *   written back and the exact path (gradient, then the update pass) decides the step
 *   (CHECK_ONCE below). No copy of the parameters or of the state is made per step.
 * - only kernels that fit in one function (at most `chunkSize` instructions) are fused: a
 *   split kernel would carry every old value across its parts. For those (and for the looped
 *   lowering) `emitUnfusedRows` gives the same entry points (`$stepRow`, `$ROW_STEPS`) as the gradient, then the
 *   update pass of optimizers.ts (one pass per parameter).
 * - the rules that keep both moments (adam, adamw, rmsprop) also get a step whose update
 *   runs in WebAssembly SIMD on moments that live in its memory (WASM_UPDATE below), with the
 *   same results; it is taken for the moments this module placed there, the JavaScript step
 *   for any other.
 * One row only: a minibatch sums its rows' gradients first, then takes the update pass;
 * clipping by global norm needs the whole gradient, so it never comes here (optimizers.ts).
 */
import { literal } from './literal.js';
import type { Instr, Kernel, Operand, ParamSlot } from '../5-lower/schedule.js';
import { statement } from './kernels.js';
import type { Syntax } from './flavour.js';
import { call as callKernel, declaration, type Param, parameterList, SIGNATURES } from './signatures.js';
import { type UpdateRule, dispatch, distinctRules, hyperNames, hyperValues, readsHyper } from './optimizers.js';
import { fusedUpdateArgs, fusedUpdateModule } from './wasm/update.js';
import { SIMD_RUNTIME } from './simd.js';
import { RUNTIME_JS } from './runtimeJs.js';

type Update = Extract<Instr, { kind: 'store' }>;

/** The parameters of a one-row step after the row's (`$st` null for plain SGD with a learning rate, which keeps no state). */
const ROW_STEP: readonly Param[] = [{ name: '$st', type: 'OptimizerState | null' }, { name: '$hy', type: '$Hyper' }, { name: '$t', type: 'number' }];
const ROW_STEP_TYPE = 'p: Params, X: Floats, xo: number, Y: Floats, yo: number, st: OptimizerState | null, h: $Hyper, t: number';

/**
 * A rule without run-time args of its own (plain SGD) takes $lr, $keep and $l2 written into
 * one Float64Array `$h` (`$hyperInto`): `stepBatch(p, X, Y, n, lr)` then hands over the rate
 * it was given with three stores and the step reads nothing else. Measured at 2-2-1 (callgrind,
 * instructions per step): reading them from a $Hyper with the rate stored into it per call
 * cost about 190 more, passing them as three number arguments about 100 more.
 */
const takesNumbers = (rule: UpdateRule): boolean => rule.args.length === 0 && !rule.prelude;

/**
 * UNCHECKED_M1: why a float64 fused step checks `$p1` (and `$v1`) but not `$m1`. In every rule
 * with a first moment, a non-finite `$m1` reaches `$p1` through operations that keep it non-finite:
 * - adam/adamw: `$p1 = $wk * $keep - $a * $m1 / (Math.sqrt($v1) + $e)` with `$a` in [0, Infinity]
 *   ($a = 0 gives 0 * Infinity = NaN) and a divisor that is >= $e > 0, +Infinity or NaN: the
 *   quotient is +-Infinity or NaN, and so is `$p1` (finite - Infinity, Infinity - Infinity, NaN);
 * - momentum: `$lr * $m1` or `$lr * ($gk + $mu * $m1)` with `$lr`, `$mu` >= 0 (0 * Infinity = NaN);
 * - rmsprop: `$p1 = $wk * $keep - $m1`.
 * So `$p1` finite implies `$m1` finite and its check is redundant. `$v1` is not covered that way
 * (a gradient of 1e200 gives `$v1` = Infinity and a finite `$p1`), so it stays checked. With
 * float32 storage `$m1` is rounded as stored (`Math.fround` of a finite value can be Infinity)
 * while `$p1` is computed from the unrounded value, so there all three are checked.
 */

/** Whether every parameter is an array (no scalar stored in the Params object itself). */
const arraysOnly = (params: readonly ParamSlot[]): boolean => params.every((s) => s.shape.length > 0);

/**
 * The check of the state a fused step is about to read (`$m`, `$v`), one comparison per slot
 * while training: when `$m` is the moment object checked last (module variable `$okm`, `$okv`
 * for `$v`), its arrays are the ones checked then (`$okm_<name>`), which the step reads;
 * otherwise `$moments_m($m)` loads each array once (through `?.`: a state slot that is not an
 * object gives undefined), checks it is a Floats of the parameter's size (the arrays checked
 * last by identity, the rest by kind and size) and remembers it, before anything is written;
 * a bad one refuses the step (NaN).
 *
 * `$okm` is only ever a moment object this module made (`$MOMENTS`, optimizers.ts: frozen,
 * own data properties), so its arrays cannot have changed since they were checked; any other
 * object (a state built by hand, or by another module) is checked array by array at every
 * step, as before. The step reads the remembered arrays, never the object a second time (a
 * getter could answer differently). Sound because a typed array stays a typed array whose
 * length can only drop (a detached or shrunk buffer), and a step reading past the end gets
 * NaN and is refused. Measured at 2-2-1 with Adam (callgrind): the old per-step `$isParams`
 * of m and v cost about 250 instructions, a per-array identity check about 70.
 * Models with a scalar parameter keep `$isParams` per step (the scalar lives in the Params
 * object, which must not be frozen).
 */
function stateCheck(slots: readonly string[]): string[] {
  return [
    `if (${slots.map((q) => `($${q} !== $ok${q} && !$moments_${q}($${q}))`).join(' || ')}) return NaN; // not the moments checked last, and bad: refused before anything is written`,
  ];
}

/** `$okm`, `$okm_<name>` (and for v) and `$moments_m` (`$moments_v`): see stateCheck. */
function stateChecked(arrays: readonly ParamSlot[], slots: readonly string[], S: Syntax, wasm: boolean): string[] {
  const { t } = S;
  return ['/** What `$okm` and `$okv` hold when no moment object is remembered (a fresh object: never a state\'s). */\nconst $NO_MOMENTS = {};', ...slots.map((q) => {
    const all = arrays.map((s) => ({ local: `a_${s.name}`, ok: `$ok${q}_${s.name}`, size: s.size }));
    return `/** The ${q === 'm' ? 'first' : 'second'} moments a fused step checked last, and their arrays (stateCheck in gradc's fusedSteps.ts). */
let $ok${q}${t(': unknown')} = $NO_MOMENTS, ${all.map((a) => `${a.ok}${t(': Floats | null')} = null`).join(', ')};${wasm ? `
/** The byte address of \`$ok${q}\`'s slot in the update kernels' memory, or -1 when it has none (WASM_UPDATE in gradc's fusedSteps.ts). */
let $ok${q}At = -1;` : ''}
/** Whether \`x\` holds this model's arrays (then remembered in \`$ok${q}_<name>\`, and \`x\` in \`$ok${q}\` when this module made it). */
function $moments_${q}(x${t(': unknown')})${t(': boolean')} {
  const q = x${t(' as Params | null | undefined')};
  const ${all.map((a) => `${a.local} = q?.${a.local.slice(2)}`).join(', ')};
  if (${all.map((a) => `${a.local} !== ${a.ok}`).join(' || ')}) { // not the arrays checked last
    if (!(${all.map((a) => `${a.local} instanceof Floats && ${a.local}.length === ${a.size}`).join(' && ')})) return false;
    ${all.map((a) => `${a.ok} = ${a.local};`).join(' ')}
  }
  $ok${q} = $MOMENTS.has(x${t(' as object')}) ? x : $NO_MOMENTS;${wasm ? `
  $ok${q}At = $ok${q} === x ? $MOMENT_AT.get(x${t(' as object')}) ?? -1 : -1;` : ''}
  return true;
}`;
  })];
}

/**
 * NO_DECAY: why `$step_<kind>_nodecay`, taken when the state's options have no L2 penalty and
 * no decoupled decay ($l2 = 0, $keep = 1), may drop both terms and give the same results.
 * - `$wk * $keep` with `$keep` = 1 is `$wk` exactly, for every value (NaN, infinities and -0
 *   included): the variant declares `const $keep = 1` and the JIT folds the product.
 * - `$gk = g + $l2 * $wk` with `$l2` = 0 adds +0 when `$wk` >= +0, -0 when `$wk` <= -0, NaN when
 *   `$wk` is NaN or infinite. So the variant's `$gk = g` is the same number, except that a
 *   gradient of exactly -0 becomes +0 when `$wk` >= +0 (x + (+0) = x otherwise). A non-finite
 *   `$wk` makes `$p1 = $wk - ...` non-finite in both forms: refused either way.
 * - That zero's sign never reaches a parameter: every rule subtracts from `$wk` a term that is
 *   then +-0, and `$wk` >= +0 there, so `$p1` is `$wk` (+0 - +-0 = +0). A parameter that is -0
 *   never took that path (the case needs `$wk` >= +0, and x - y is -0 only when x is -0 and y
 *   +0), so its moments hold no flipped zero either. A moment may hold +0 where the full step
 *   would hold -0 (both are 0: every later value is the same number), and the loss and every
 *   parameter are bit-identical (tested against the unfused path in test/fused.test.ts).
 *
 * Measured at 2-2-1 (callgrind): about 40 instructions fewer per step, of about 690 (SGD)
 * and 1,220 (Adam). The variant is a second copy of each fused step, so it is emitted only
 * for kernels of at most NODECAY_LIMIT instructions (the smallest nets, where it pays most
 * and costs least); a longer kernel's `$ROW_STEPS` names its full step twice.
 */
const NODECAY_LIMIT = 256;

/**
 * CHECK_ONCE: how a fused step stays all or nothing with one addition per checked value. It
 * adds every new value it writes and the loss into `$s`, and keeps the old values in locals.
 * A sum is finite only if every term is (a NaN or infinite term makes it NaN or infinite:
 * x + NaN is NaN, x + Inf is Inf or NaN), so a finite `$s` means every written value is
 * finite and the step stands. The converse does not hold (finite values of about 1e308 can
 * overflow the sum), so a non-finite `$s` refuses nothing by itself: the step writes the old
 * values back and hands the row to the exact path (`$optimizerRow`, `$exactSgd`: the
 * gradient, then the update pass, which checks each new value and is all or nothing), whose
 * result is the step's. Both compute the same numbers (test/fused.test.ts), so the outcome is
 * the exact path's whenever the fused one does not stand. Against `$s += x * 0 + y * 0`: one
 * multiplication per value fewer.
 */
/**
 * The lines of a fused step's kernel: each parameter loaded into its local (from the hoisted
 * `$w_<name>` arrays, a scalar from `$p`), each operation with its comment once per run (as
 * kernels.ts does), and at each update store the lines `update` gives.
 */
function kernelLines(kernel: Kernel, ref: (o: Operand) => string, S: Syntax, update: (ins: Update) => string[]): string[] {
  const out: string[] = [];
  let lastComment: string | undefined;
  for (const ins of kernel.instrs) {
    if (ins.kind === 'load' && ins.from === 'param') {
      out.push(`const ${ins.name} = ${ins.element === null ? `$p.${ins.leaf}` : `$w_${ins.leaf}[${ins.element}]${S.nn}`};`);
    } else if (ins.kind === 'store' && ins.into === 'update') {
      out.push(...update(ins));
    } else {
      if (ins.kind === 'op' && ins.comment && ins.comment !== lastComment) out.push(`// ${ins.comment}`);
      if (ins.kind === 'op' && ins.comment) lastComment = ins.comment;
      out.push(statement(ins, ref, S.flavour));
    }
  }
  return out;
}

/**
 * `$step_<kind>` for one rule (`$step_<kind>_nodecay` without the decay terms, see NO_DECAY):
 * the step kernel with the rule's update at each update store.
 */
function fusedStep(kernel: Kernel, params: readonly ParamSlot[], kind: string, kinds: readonly string[], rule: UpdateRule, stored: (v: string) => string, f64: boolean, decay: boolean, S: Syntax): string {
  const { t, nn } = S;
  const { m, v } = rule.state;
  const { instrs } = kernel;
  const ref = (o: Operand) => ('lit' in o ? literal(o.lit) : (instrs[o.ref] as { name: string }).name);
  const arrays = params.filter((s) => s.shape.length);
  const names = hyperNames(rule), values = hyperValues(rule);
  const reads = (n: string) => readsHyper(rule, n) && (decay || (n !== '$keep' && n !== '$l2'));
  const noKeep = !decay && readsHyper(rule, '$keep') ? ['const $keep = 1; // no decoupled decay (NO_DECAY in gradc\'s fusedSteps.ts)'] : [];
  const cached = (m || v) && arraysOnly(params);
  const body: string[] = [
    ...(m || v ? [
      `const ${[...(m ? [`$m = $st${nn}.m${nn}`] : []), ...(v ? [`$v = $st${nn}.v${nn}`] : [])].join(', ')};`,
      ...(cached ? [] : [`if (${[...(m ? ['!$isParams($m)'] : []), ...(v ? ['!$isParams($v)'] : [])].join(' || ')}) return NaN; // a bad state array: refused before anything is written`]),
    ] : []),
    ...(takesNumbers(rule) ? [`const ${names.flatMap((n, i) => (reads(n) ? [`${n} = $h[${i}]${nn}`] : [])).join(', ')};`] : hyperLines(rule, names.flatMap((n, i) => (n !== values[i] && reads(n) ? [[n, values[i]!] as const] : [])), reads('$lr'))),
    ...noKeep,
  ];
  // The arrays of the parameters and of the state, loaded once per call.
  const hoist = (prefix: string, from: string) => arrays.length && body.push(`const ${arrays.map((s) => `${prefix}${s.name} = ${from}.${s.name}`).join(', ')};`);
  hoist('$w_', '$p');
  if (cached) { // the state's arrays as checked (see stateCheck)
    const slots = [...(m ? ['m'] : []), ...(v ? ['v'] : [])];
    body.push(...stateCheck(slots));
    for (const q of slots) body.push(`const ${arrays.map((s) => `$${q}_${s.name} = $ok${q}_${s.name}${nn}`).join(', ')};`);
  } else {
    if (m) hoist('$m_', '$m');
    if (v) hoist('$v_', '$v');
  }
  body.push('let $s = 0; // the sum of the new values and the loss: finite only when every one is (CHECK_ONCE)');
  // The new values checked as stored: $p1, and $v1 when kept; $m1 too only when stored in
  // float32 (see UNCHECKED_M1 for why float64 needs no check of $m1).
  const checked = [stored('$p1'), ...(m && !f64 ? [stored('$m1')] : []), ...(v ? [stored('$v1')] : [])];
  const at = (prefix: string, obj: string, u: Update) => (u.element === null ? `${obj}.${u.leaf}` : `${prefix}${u.leaf}[${u.element}]`);
  const read = (x: string, u: Update) => (u.element === null ? x : `${x}${nn}`);
  const restore: string[] = [];
  let k = 0;
  body.push(...kernelLines(kernel, ref, S, (ins) => {
    const w = at('$w_', '$p', ins), M = at('$m_', '$m', ins), V = at('$v_', '$v', ins);
    const old = [...(m ? [`$mo${k} = ${read(M, ins)}`] : []), ...(v ? [`$vo${k} = ${read(V, ins)}`] : [])];
    restore.push(`${w} = ${ref(ins.old!)};${m ? ` ${M} = $mo${k};` : ''}${v ? ` ${V} = $vo${k};` : ''}`);
    k++;
    return [
      ...(old.length ? [`const ${old.join(', ')};`] : []),
      `{ // ${kinds.join(' and ')} update of ${ins.leaf}${ins.element === null ? '' : `[${ins.element}]`}`,
      `  const $wk = ${ref(ins.old!)}, $gk = ${ref(ins.value)}${decay ? ' + $l2 * $wk' : ''}${m ? `, $mk = $mo${k - 1}` : ''}${v ? `, $vk = $vo${k - 1}` : ''};`,
      ...rule.element.map((l) => `  ${l}`),
      `  ${w} = $p1;${m ? ` ${M} = $m1;` : ''}${v ? ` ${V} = $v1;` : ''}`,
      `  $s += ${checked.join(' + ')};`,
      `}`,
    ];
  }));
  const loss = ref(kernel.result!);
  body.push(
    `$s += ${loss};`,
    `if ($s - $s === 0) return ${loss};`,
    '// The loss or a new value is not finite, or their sum overflowed: the old values back, and the exact path decides (CHECK_ONCE).',
    ...restore,
    `return ${takesNumbers(rule) ? '$exactSgd($p, $x, $xo, $y, $yo, $h)' : '$optimizerRow($p, $x, $xo, $y, $yo, $st, $hy, $t)'};`,
  );
  const text = body.join('\n');
  const signature = parameterList([...SIGNATURES.step.params, ...(takesNumbers(rule) ? [{ name: '$h', type: 'Float64Array' }] : ROW_STEP)], text, S.flavour === 'ts');
  return `/** One ${kinds.join(' or ')} step on one row${decay ? '' : ' without weight decay (NO_DECAY)'}, the update fused into the backward pass, all or nothing: the loss, or NaN with the parameters and state unchanged. */
function $step_${kind}${decay ? '' : NODECAY}(${signature})${t(': number')} {
${text.split('\n').map((l) => `  ${l}`).join('\n')}
}`;
}

/** The name suffix of a rule's step without the decay terms (NO_DECAY). */
const NODECAY = '_nodecay';

/**
 * The first lines of a fused step that takes an OptimizerState: its hyperparameters `wanted`
 * (`[name, value]`, values computed from `$hy`, `$lr` and `$t`; `$lr` itself when `lr`). For a
 * rule with `steady` values, the values of the step `$hy.steady` and every later one (a constant
 * schedule, bias corrections of exactly 1) are read from `$hy` and computed only before that.
 */
function hyperLines(rule: UpdateRule, wanted: readonly (readonly [string, string])[], lr: boolean): string[] {
  const declare = (xs: readonly (readonly [string, string])[], keyword: string) => (xs.length ? [`${keyword} ${xs.map(([n, e]) => `${n} = ${e}`).join(', ')};`] : []);
  if (!rule.steady) return ['const $lr = $rate($hy, $t - 1);', ...(rule.prelude ? [rule.prelude] : []), ...declare(wanted, 'const')];
  const steady = new Map<string, string>([['$lr', '$hy.lr'], ['$keep', '$hy.keep'], ...rule.steady]);
  const late = wanted.filter(([n]) => steady.has(n));
  return [
    ...declare([...(lr ? [['$lr', '$hy.lr'] as const] : []), ...late.map(([n]) => [n, steady.get(n)!] as const)], 'let'),
    `if ($t < $hy.steady) { // a scheduled rate or a bias correction below 1: computed (the same values from $hy.steady on, see UpdateRule.steady)`,
    `  ${lr ? '' : 'const '}$lr = $rate($hy, $t - 1);`,
    ...(rule.prelude ? [`  ${rule.prelude}`] : []),
    ...(late.length ? [`  ${late.map(([n, e]) => `${n} = ${e};`).join(' ')}`] : []),
    '}',
    ...declare(wanted.filter(([n]) => !steady.has(n)), 'const'),
  ];
}

/**
 * WASM_UPDATE: the fused step of a rule that keeps both moments (adam, adamw, rmsprop), with
 * its update in WebAssembly SIMD. Adam's update is a root and a division per weight, which
 * in scalar JavaScript cost as much as the rest of a small net's step (measured at 2-2-1:
 * bench/adamFloor.ts); f64x2 takes two weights per instruction.
 * - Where: one memory per module (`$fw`, made at load; null without Wasm SIMD, and then only
 *   the JavaScript steps exist) holds the gradient `$G` and the step `$D` of each parameter
 *   element (f64), the old moments (to put back), and a pool of `slots` moment slots, each
 *   parameter's elements at a fixed offset (`offset`, the parameters in layout order). Moment
 *   objects this module makes (`$ownMoments`: initOptimizer, loadParams) get the next free slot
 *   (`$placeMoments`): their arrays are views on it, so the JavaScript sees and saves them as
 *   before. A slot is never reused (no view a caller keeps can come to alias another state's
 *   moments): once the pool is used up, moments are plain arrays and take the JavaScript step.
 * - The step (`$wstep_<kind>`): the same kernel, each update store writing the element's
 *   gradient (with the L2 term) into `$G`; then one Wasm call updates every moment in place
 *   (keeping the old ones) and writes each element's step into `$D` (wasm/update.ts
 *   `fusedUpdateModule`: the rule's element code, the same operations in the same order);
 *   then each parameter is `$wk * $keep - $D[k]`, as the JavaScript step computes it. So
 *   every loss, parameter and moment is bit-identical to the JavaScript step's (tested).
 * - All or nothing as CHECK_ONCE: the new parameters and the loss go into `$s`, the Wasm call
 *   returns 0 when every new moment is finite (NaN otherwise); when the sum is not finite the
 *   parameters come back from locals, the moments from their old values, and the exact path
 *   decides.
 * - Taken when the state's moment objects are the ones checked last and both have a slot
 *   (`$okmAt`, `$okvAt`, set where the moments are checked: see stateCheck); otherwise it
 *   hands the row to the JavaScript step, which checks and remembers them. `$ROW_STEPS` holds
 *   these steps when `$fw` exists.
 * Only when every parameter element has exactly one update store in the kernel (every
 * element's moments are updated each step, as the update pass does): otherwise no Wasm step.
 */
interface WasmLayout {
  /** Parameter elements; bytes per element of the parameters and moments. */
  readonly n: number;
  readonly e: number;
  /** Element offset of each parameter in a slot (and in `$G`, `$D`). */
  readonly offset: ReadonlyMap<string, number>;
  /** Byte addresses: gradient, step, old first and second moments, the pool. */
  readonly g: number;
  readonly d: number;
  readonly m0: number;
  readonly v0: number;
  readonly pool: number;
  readonly slotBytes: number;
  readonly slots: number;
  readonly pages: number;
}

/** At most this many moment slots per module, and at most MOMENT_POOL_BYTES of them. */
const MOMENT_SLOTS = 64;
const MOMENT_POOL_BYTES = 4 << 20;

function wasmLayout(kernel: Kernel, params: readonly ParamSlot[], f64: boolean): WasmLayout | null {
  const offset = new Map<string, number>();
  let n = 0;
  for (const s of params) { offset.set(s.name, n); n += s.size; }
  const seen = new Set<number>();
  for (const ins of kernel.instrs) {
    if (ins.kind !== 'store' || ins.into !== 'update') continue;
    const at = (offset.get(ins.leaf) ?? NaN) + (ins.element ?? NaN);
    if (!Number.isInteger(at) || seen.has(at)) return null;
    seen.add(at);
  }
  if (seen.size !== n || n === 0) return null;
  const e = f64 ? 8 : 4;
  const align = (bytes: number) => Math.ceil(bytes / 16) * 16;
  const g = 0, d = align(8 * n), m0 = d + align(8 * n), v0 = m0 + align(e * n), pool = v0 + align(e * n);
  const slotBytes = align(e * n);
  const slots = Math.max(2, Math.min(MOMENT_SLOTS, Math.floor(MOMENT_POOL_BYTES / slotBytes)));
  return { n, e, offset, g, d, m0, v0, pool, slotBytes, slots, pages: Math.ceil((pool + slots * slotBytes) / 65536) };
}

/** The memory, its views, the pool and `$placeMoments` (see WASM_UPDATE). */
function wasmDeclarations(L: WasmLayout, params: readonly ParamSlot[], modules: readonly Uint8Array[], S: Syntax): string {
  const { t } = S;
  const b64 = (bytes: Uint8Array) => `'${Buffer.from(bytes).toString('base64')}'`;
  return `/** The fused steps' update kernels (WASM_UPDATE in gradc's fusedSteps.ts), one per rule with two moments, sharing one memory of ${L.pages} pages; null without Wasm SIMD. */
const $fw = $simdKernels(${L.pages}, [${modules.map(b64).join(', ')}]);
/** The memory as one array of the parameters' element type (empty without Wasm SIMD): the moment slots and the old moments. */
const $FB = $fw ? new Floats($fw.memory.buffer) : new Floats(0);
/** Each parameter element's gradient and step in the step being taken (f64 at either precision). */
const $G = $fw ? new Float64Array($fw.memory.buffer, ${L.g}, ${L.n}) : new Float64Array(0), $D = $fw ? new Float64Array($fw.memory.buffer, ${L.d}, ${L.n}) : new Float64Array(0);
/** Moment slots handed out (of ${L.slots}; never reused), and each placed moment object's byte address. */
let $momentSlots = 0;
const $MOMENT_AT = new WeakMap${t('<object, number>')}();
/** Moments \`p\` as this module keeps them: a copy on the next free slot of \`$fw\`'s memory (\`p\` itself when it has one, without Wasm SIMD, or once the ${L.slots} slots are used). */
function $placeMoments(p${t(': Params')})${t(': Params')} {
  if (!$fw || $momentSlots === ${L.slots} || $MOMENT_AT.has(p)) return p;
  const at = ${L.pool} + ${L.slotBytes} * $momentSlots++;
  const q${t(': Params')} = { ${params.map((s) => `${s.name}: new Floats($fw.memory.buffer, at${L.offset.get(s.name)! ? ` + ${L.offset.get(s.name)! * L.e}` : ''}, ${s.size})`).join(', ')} };
  $copyInto(q, p);
  $MOMENT_AT.set(q, at);
  return q;
}`;
}

/** `$wstep_<kind>` (see WASM_UPDATE): the rule's fused step with its update in module `index` of `$fw`. */
function wasmStep(kernel: Kernel, params: readonly ParamSlot[], kind: string, kinds: readonly string[], rule: UpdateRule, stored: (v: string) => string, decay: boolean, index: number, L: WasmLayout, S: Syntax): string {
  const { t, nn } = S;
  const { instrs } = kernel;
  const ref = (o: Operand) => ('lit' in o ? literal(o.lit) : (instrs[o.ref] as { name: string }).name);
  const names = hyperNames(rule), values = hyperValues(rule);
  const reads = (n: string) => readsHyper(rule, n) && (decay || (n !== '$keep' && n !== '$l2'));
  const suffix = decay ? '' : NODECAY;
  const body: string[] = [
    `const $m = $st${nn}.m, $v = $st${nn}.v;`,
    `if ($m !== $okm || $v !== $okv || $okmAt < 0 || $okvAt < 0) return $step_${kind}${suffix}($p, $x, $xo, $y, $yo, $st, $hy, $t); // moments not in a slot, or not the ones checked last: the JavaScript step checks them`,
    ...hyperLines(rule, names.flatMap((n, i) => (n !== values[i] && reads(n) ? [[n, values[i]!] as const] : [])), reads('$lr')),
    ...(!decay && readsHyper(rule, '$keep') ? ['const $keep = 1; // no decoupled decay (NO_DECAY)'] : []),
  ];
  if (params.length) body.push(`const ${params.map((s) => `$w_${s.name} = $p.${s.name}`).join(', ')};`);
  body.push('let $s = 0; // the sum of the new parameters and the loss (CHECK_ONCE); the Wasm call checks the moments');
  const updates: { w: string; old: string; at: number }[] = [];
  body.push(...kernelLines(kernel, ref, S, (ins) => {
    const at = L.offset.get(ins.leaf)! + ins.element!;
    updates.push({ w: `$w_${ins.leaf}[${ins.element}]`, old: ref(ins.old!), at });
    return [`$G[${at}] = ${ref(ins.value)}${decay ? ` + $l2 * ${ref(ins.old!)}` : ''}; // ${kinds.join(' and ')} update of ${ins.leaf}[${ins.element}]: its gradient`];
  }));
  const loss = ref(kernel.result!);
  const E = Math.log2(L.e);
  body.push(
    `$s += $fw${nn}.f[${index}]${nn}($okmAt, $okvAt, ${fusedUpdateArgs(rule).join(', ')}); // the moments updated in place, each element's step into $D`,
    ...updates.map((u) => `{ const $p1 = ${u.old} * $keep - $D[${u.at}]${nn}; ${u.w} = $p1; $s += ${stored('$p1')}; }`),
    `$s += ${loss};`,
    `if ($s - $s === 0) return ${loss};`,
    '// The loss or a new value is not finite, or their sum overflowed: the old values back, and the exact path decides (CHECK_ONCE).',
    ...updates.map((u) => `${u.w} = ${u.old};`),
    `$FB.copyWithin($okmAt >> ${E}, ${L.m0 / L.e}, ${L.m0 / L.e + L.n});`,
    `$FB.copyWithin($okvAt >> ${E}, ${L.v0 / L.e}, ${L.v0 / L.e + L.n});`,
    `return $optimizerRow($p, $x, $xo, $y, $yo, $st, $hy, $t);`,
  );
  const text = body.join('\n');
  const signature = parameterList([...SIGNATURES.step.params, ...ROW_STEP], text, S.flavour === 'ts');
  return `/** One ${kinds.join(' or ')} step on one row${decay ? '' : ' without weight decay (NO_DECAY)'}, its update in WebAssembly (WASM_UPDATE), all or nothing: the loss, or NaN with the parameters and state unchanged. */
function $wstep_${kind}${suffix}(${signature})${t(': number')} {
${text.split('\n').map((l) => `  ${l}`).join('\n')}
}`;
}

/**
 * The fused steps of `kernel` and the entry points on them (`text`), or null when the kernel is
 * too long to fuse (see the header). With `wasm` (compile option simd not 'off'), the rules with
 * two moments also get their WASM_UPDATE steps; `placesMoments` then says the module defines
 * `$placeMoments`, which `$ownMoments` (optimizers.ts) calls.
 */
export function emitFusedSteps(kernel: Kernel, params: readonly ParamSlot[], stored: (v: string) => string, f64: boolean, chunkSize: number, S: Syntax, wasm = false): { readonly text: string; readonly placesMoments: boolean } | null {
  if (kernel.instrs.length > chunkSize) return null;
  const { t } = S;
  const rules = distinctRules();
  const variants = kernel.instrs.length <= NODECAY_LIMIT ? ['', NODECAY] : ['']; // name suffixes (NO_DECAY)
  const steps = rules.flatMap((r) => variants.map((x) => fusedStep(kernel, params, r.kind, r.kinds, r.rule, stored, f64, x === '', S)));
  const noDecay = variants.at(-1)!;
  const slots = [...new Set(rules.flatMap((r) => [...(r.rule.state.m ? ['m'] : []), ...(r.rule.state.v ? ['v'] : [])]))];
  const twoMoments = rules.filter((r) => r.rule.state.m && r.rule.state.v);
  const L = wasm && arraysOnly(params) && twoMoments.length ? wasmLayout(kernel, params, f64) : null;
  const modules = L ? twoMoments.map((r) => fusedUpdateModule(r.rule, f64 ? 'f64' : 'f32', L.pages, L.n, L)) : [];
  const wasmSteps = L ? twoMoments.flatMap((r, i) => variants.map((x) => wasmStep(kernel, params, r.kind, r.kinds, r.rule, stored, x === '', i, L, S))) : [];
  const rowStep = (r: (typeof rules)[number], x: string, inWasm: boolean) => `$${takesNumbers(r.rule) ? 'row' : inWasm && L && twoMoments.includes(r) ? 'wstep' : 'step'}_${r.kind}${x}`;
  const text = [
    ...(L ? [S.flavour === 'ts' ? SIMD_RUNTIME.trimStart() : RUNTIME_JS.simd, wasmDeclarations(L, params, modules, S)] : []),
    ...(arraysOnly(params) && slots.length ? stateChecked(params, slots, S, L !== null) : []),
    ...steps,
    ...wasmSteps,
    `/** What \`$step_sgd\` falls back to (CHECK_ONCE): the row's gradient, then the update pass with the rate, \`$keep\` and \`$l2\` of \`$h\`. */
function $exactSgd(p${t(': Params')}, X${t(': Floats')}, xo${t(': number')}, Y${t(': Floats')}, yo${t(': number')}, h${t(': Float64Array')})${t(': number')} {
  const value = $gradient(p, X, xo, Y, yo, $acc, 1);
  return $update_sgd(p, $acc, 1, value, h[0]${S.nn}, h[1]${S.nn}, h[2]${S.nn}) ? value : NaN;
}`,
    optimizerRow(S),
    `/** One plain SGD step on one row, all or nothing: the loss, or NaN with \`$p\` unchanged. */
${declaration('stepRow', `return ${callKernel('step', {}, `$step_sgd${noDecay}`).slice(0, -1)}, $hyperInto($lr, 1, 0));`, S.flavour === 'ts')}`,
    `/** The hyperparameters of plain SGD's fused step ($lr, $keep, $l2), written into one Float64Array that it reads. */
const $H = new Float64Array(3);
function $hyperInto(a0${t(': number')}, a1${t(': number')}, a2${t(': number')})${t(': Float64Array')} {
  $H[0] = a0;
  $H[1] = a1;
  $H[2] = a2;
  return $H;
}`,
    ...rules.filter((r) => takesNumbers(r.rule)).flatMap((r) => variants.map((x) => `/** \`$step_${r.kind}${x}\` for an OptimizerState (the \`$ROW_STEPS\` signature): its hyperparameters computed here. */
function $row_${r.kind}${x}(${S.flavour === 'ts' ? ROW_STEP_TYPE.replace('st:', '_st:').replace('h:', '$hy:').replace('t: number', '$t: number') : 'p, X, xo, Y, yo, _st, $hy, $t'})${t(': number')} {
  const $lr = $rate($hy, $t - 1);
  return $step_${r.kind}${x}(p, X, xo, Y, yo, $hyperInto(${hyperValues(r.rule).join(', ')}));
}`)),
    rowSteps(rules.flatMap((r) => ['', noDecay].map((x) => rowStep(r, x, false))), S, L ? rules.flatMap((r) => ['', noDecay].map((x) => rowStep(r, x, true))) : null),
  ].join('\n\n');
  return { text, placesMoments: L !== null };
}

/**
 * `$stepRow` and `$optimizerRow` without fusion (the looped lowering, or an unrolled kernel
 * too long to fuse): the gradient of the row into `$acc`, then the update pass.
 */
export function emitUnfusedRows(S: Syntax): string {
  const { t, nn } = S;
  return `/** One plain SGD step on one row, all or nothing: the loss, or NaN with \`$p\` unchanged. */
${declaration('stepRow', `const value = ${callKernel('gradient', { $g: '$acc', $scale: '1' })};\nreturn $update_sgd($p, $acc, 1, value, $lr, 1, 0) ? value : NaN;`, S.flavour === 'ts')}

${optimizerRow(S)}

${rowSteps(distinctRules().flatMap(() => ['$optimizerRow', '$optimizerRow']), S)}`;
}

/** `$optimizerRow`: the unfused one-row step of an OptimizerState (its gradient, then the update pass). */
function optimizerRow(S: Syntax): string {
  const { t, nn } = S;
  return `/** One step of \`st\`'s kind on one row (step \`t\` from 1, no clipping): the gradient, then the update pass; the loss, or NaN with nothing changed. */
function $optimizerRow(${S.flavour === 'ts' ? ROW_STEP_TYPE : 'p, X, xo, Y, yo, st, h, t'})${t(': number')} {
  if (!$stateOk(st${nn}, h)) return NaN;
  const value = $gradient(p, X, xo, Y, yo, $acc, 1);
  return $optimizerUpdate(p, $acc, st${nn}, h, $rate(h, t - 1), t, 1, value) ? value : NaN;
}`;
}

/**
 * `$ROW_STEPS`: the one-row steps of each distinct rule, in `distinctRules` order, with and
 * without the decay terms (NO_DECAY): rule i at 2i and 2i + 1 (`$Hyper.rule` indexes it).
 */
function rowSteps(steps: readonly string[], S: Syntax, wasmSteps: readonly string[] | null = null): string {
  return `/** The one-row step of each optimizer rule (with the decay terms, then without), by \`$Hyper.rule\`${wasmSteps ? ' (the WASM_UPDATE steps where their kernels loaded)' : ''}: the loss, or NaN with nothing changed. */
const $ROW_STEPS${S.t(`: readonly ((${ROW_STEP_TYPE}) => number)[]`)} = ${wasmSteps ? `$fw ? [${wasmSteps.join(', ')}] : ` : ''}[${steps.join(', ')}];`;
}
