/**
 * Phase 6, emit (Wasm): the optimizers' update pass and the gradient's sum of squares as
 * WebAssembly SIMD functions over arrays in the kernels' memory (simd.ts places them).
 *
 * `updateModule(rule, flags, precision, pages)` exports
 *   f(n, w, g, [m,] [v,] w0, [m0,] [v0,] c, ...args) -> f64
 * (i32 byte addresses, then f64 values; `args` are `updateArgs(rule, flags)`, in that order):
 * for k < n, with `$wk = w[k]`, `$gk = c * g[k] + $l2 * $wk`, `$mk = m[k]`, `$vk = v[k]`,
 * the rule's element statements (optimizers.ts `UPDATES`, the very text the JavaScript
 * update pass runs: parsed here, so the two cannot drift apart), then the same stores in
 * the same order as the JavaScript pass: `w0[k] = $wk; w[k] = $p1; g[k] = 0; m0[k] = $mk;
 * m[k] = $m1; v0[k] = $vk; v[k] = $v1`. It returns the sum of `x * 0` over every new value
 * as stored: 0 when all are finite, NaN otherwise (the caller puts the old values back).
 * Guarantees:
 * - the arithmetic is f64 (f64x2, two elements a step, the last odd one alone) for both
 *   precisions; an f32 array is read with promote and written with demote, which is
 *   exactly what the JavaScript pass does (f64 arithmetic, rounded as stored), and Wasm
 *   adds, multiplies, divides and takes roots with IEEE rounding and never fuses: the
 *   results are bit-identical to the JavaScript pass (tested);
 * - a `cond ? a : b` whose condition is a flag (momentum's `$nesterov`) is decided when
 *   the module is made: one module per flag value;
 * - nothing outside [w, w + n), [g, g + n), ... (elements) is read or written.
 * `normModule(precision, pages)` exports f(n, g) -> f64, the sum of g[k]^2 in f64 (two lanes:
 * equal to the sequential sum up to rounding).
 */
import { type Code, F64, I32, V128, type ValType, kernelModule, op } from './encode.js';
import { type UpdateRule, hyperNames, readsHyper } from '../optimizers.js';

/** A parsed element expression. */
type Ex =
  | { readonly k: 'num'; readonly v: number }
  | { readonly k: 'name'; readonly name: string }
  | { readonly k: 'bin'; readonly op: '+' | '-' | '*' | '/'; readonly a: Ex; readonly b: Ex }
  | { readonly k: 'sqrt'; readonly a: Ex };

/** `const $x = <expr>;` statements in the grammar of the rules (numbers, `$names`, + - * /, parentheses, Math.sqrt, `flag ? a : b`). */
function parseStatement(text: string, flags: ReadonlyMap<string, boolean>): { readonly name: string; readonly value: Ex } {
  const tokens = text.match(/\d+(?:\.\d+)?(?:e[+-]?\d+)?|\$?[A-Za-z_][\w$.]*|[-+*/()?:=;]/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string): string => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`gradc bug: update rule '${text}': expected ${want ?? 'more'}, got ${t}`);
    return t;
  };
  const atom = (): Ex => {
    const t = take();
    if (t === '(') { const e = ternary(); take(')'); return e; }
    if (t === 'Math.sqrt') { take('('); const a = ternary(); take(')'); return { k: 'sqrt', a }; }
    if (/^\d/.test(t)) return { k: 'num', v: Number(t) };
    if (t.startsWith('$')) return { k: 'name', name: t };
    throw new Error(`gradc bug: update rule '${text}': the Wasm update cannot read '${t}'`);
  };
  const product = (): Ex => {
    let e = atom();
    while (peek() === '*' || peek() === '/') { const o = take() as '*' | '/'; e = { k: 'bin', op: o, a: e, b: atom() }; }
    return e;
  };
  const sum = (): Ex => {
    let e = product();
    while (peek() === '+' || peek() === '-') { const o = take() as '+' | '-'; e = { k: 'bin', op: o, a: e, b: product() }; }
    return e;
  };
  const ternary = (): Ex => {
    const c = sum();
    if (peek() !== '?') return c;
    take('?');
    const a = ternary();
    take(':');
    const b = ternary();
    if (c.k !== 'name' || !flags.has(c.name)) throw new Error(`gradc bug: update rule '${text}': a condition must be a flag`);
    return flags.get(c.name) ? a : b;
  };
  take('const');
  const name = take();
  take('=');
  const value = ternary();
  take(';');
  if (i !== tokens.length) throw new Error(`gradc bug: update rule '${text}': text after the statement`);
  return { name, value };
}

const names = (e: Ex, out: Set<string>): Set<string> => {
  if (e.k === 'name') out.add(e.name);
  else if (e.k === 'bin') { names(e.a, out); names(e.b, out); } else if (e.k === 'sqrt') names(e.a, out);
  return out;
};

/** Names the rule's ternaries test (their values pick a module: see `updateModule`). */
export function ruleFlags(rule: UpdateRule): string[] {
  return [...new Set(rule.element.flatMap((s) => [...s.matchAll(/(\$\w+)\s*\?/g)].map((m) => m[1]!)))];
}

/** The f64 arguments after `c` of the rule's update function: the hyperparameters it reads ($l2 always), flags left out. */
export function updateArgs(rule: UpdateRule): string[] {
  const flags = new Set(ruleFlags(rule));
  return hyperNames(rule).filter((n) => readsHyper(rule, n) && !flags.has(n));
}

/** How one precision's arrays are read and written, two elements a step or one (the tail). */
interface Access {
  readonly e: number;
  readonly load: (pair: boolean) => Code; // address on the stack -> f64x2
  readonly store: (pair: boolean, value: number, tmp: number) => Code; // [address] -> stores the local `value`; leaves nothing
  readonly stored: (value: number, tmp: number) => Code; // the value as stored, as f64x2 (after `store`)
}
const F64_ACCESS: Access = {
  e: 8,
  load: (pair) => (pair ? op.v128Load() : op.v128Load64Zero()),
  store: (pair, value) => [...op.get(value), ...(pair ? op.v128Store() : op.v128Store64Lane(0))],
  stored: (value) => op.get(value),
};
const F32_ACCESS: Access = {
  e: 4,
  load: (pair) => [...(pair ? op.v128Load64Zero() : op.v128Load32Zero()), ...op.f64x2PromoteLowF32x4],
  store: (pair, value, tmp) => [...op.get(value), ...op.f32x4DemoteF64x2Zero, ...op.tee(tmp), ...(pair ? op.v128Store64Lane(0) : op.v128Store32Lane(0))],
  stored: (_value, tmp) => [...op.get(tmp), ...op.f64x2PromoteLowF32x4],
};
const access = (precision: 'f64' | 'f32'): Access => (precision === 'f64' ? F64_ACCESS : F32_ACCESS);

/** Typed locals after the parameters. */
class Locals {
  readonly types: ValType[] = [];
  constructor(private readonly first: number) {}
  add(t: ValType): number { this.types.push(t); return this.first + this.types.length - 1; }
}

/**
 * `while (i < end) { body(true); i += 2e }` then `if (i < n * e) body(false)`, over byte offset `i`:
 * pairs of elements, then the last odd one.
 */
function pairsThenTail(n: number, i: number, end: number, e: number, body: (pair: boolean) => Code): Code {
  return [
    ...op.get(n), ...op.i32(-2), ...op.i32And, ...op.i32(e), ...op.i32Mul, ...op.set(end),
    ...op.i32(0), ...op.set(i),
    ...op.block(op.loop([...op.get(i), ...op.get(end), ...op.i32GeS, ...op.brIf(1), ...body(true), ...op.get(i), ...op.i32(2 * e), ...op.i32Add, ...op.set(i), ...op.br(0)])),
    ...op.get(i), ...op.get(n), ...op.i32(e), ...op.i32Mul, ...op.i32LtS, ...op.if(body(false)),
  ];
}

/**
 * The element code of an update rule as f64x2 code: `vector(e)` for an expression of the
 * element's locals (`element`) and of invariants; an invariant (numbers and arguments, and
 * expressions of them only) is computed once in scalar f64, as the JavaScript does, and splatted
 * into a local before the loop (`setup`). `argument(name)` is the scalar code of an argument.
 */
class Vectorizer {
  readonly setup: number[] = [];
  private readonly invariant = new Map<string, number>();
  constructor(private readonly loc: Locals, readonly element: Map<string, number>, private readonly argument: (name: string) => Code) {}
  /** The local holding `scalar` in both lanes (one per key). */
  splat(key: string, scalar: Code): number {
    let l = this.invariant.get(key);
    if (l === undefined) {
      l = this.loc.add(V128);
      this.invariant.set(key, l);
      this.setup.push(...scalar, ...op.f64x2Splat, ...op.set(l));
    }
    return l;
  }
  vector(e: Ex): Code {
    if ([...names(e, new Set())].every((n) => !this.element.has(n))) return op.get(this.splat(key(e), this.scalar(e)));
    switch (e.k) {
      case 'num': throw new Error('unreachable');
      case 'name': return op.get(this.element.get(e.name)!);
      case 'sqrt': return [...this.vector(e.a), ...op.f64x2Sqrt];
      case 'bin': return [...this.vector(e.a), ...this.vector(e.b), ...{ '+': op.f64x2Add, '-': op.f64x2Sub, '*': op.f64x2Mul, '/': op.f64x2Div }[e.op]];
    }
  }
  private scalar(e: Ex): Code {
    switch (e.k) {
      case 'num': return op.f64Const(e.v);
      case 'name': return this.argument(e.name);
      case 'sqrt': return [...this.scalar(e.a), ...op.f64Sqrt];
      case 'bin': return [...this.scalar(e.a), ...this.scalar(e.b), ...{ '+': op.f64Add, '-': op.f64Sub, '*': op.f64Mul, '/': op.f64Div }[e.op]];
    }
  }
}
const key = (e: Ex): string => (e.k === 'num' ? String(e.v) : e.k === 'name' ? e.name : e.k === 'sqrt' ? `sqrt(${key(e.a)})` : `(${key(e.a)} ${e.op} ${key(e.b)})`);

/** The update module of `rule` with its flags fixed (see the header). */
export function updateModule(rule: UpdateRule, flags: ReadonlyMap<string, boolean>, precision: 'f64' | 'f32', pages: number): Uint8Array {
  const { m: hasM, v: hasV } = rule.state;
  const a = access(precision);
  const args = updateArgs(rule);
  // Parameters: n, w, g, [m], [v], w0, [m0], [v0], c, ...args.
  const addr: string[] = ['w', 'g', ...(hasM ? ['m'] : []), ...(hasV ? ['v'] : []), 'w0', ...(hasM ? ['m0'] : []), ...(hasV ? ['v0'] : [])];
  const params: ValType[] = [I32, ...addr.map((): ValType => I32), F64, ...args.map((): ValType => F64)];
  const N = 0, at = (x: string) => 1 + addr.indexOf(x), C = 1 + addr.length, argAt = (x: string) => C + 1 + args.indexOf(x);
  const loc = new Locals(params.length);
  const i = loc.add(I32), end = loc.add(I32), chk = loc.add(V128), tmp = loc.add(V128);
  const elementLocals = new Map<string, number>([['$wk', loc.add(V128)], ['$gk', loc.add(V128)], ['$mk', loc.add(V128)], ['$vk', loc.add(V128)]]);
  const argument = (name: string): Code => {
    if (name === 'c') return op.get(C);
    if (!args.includes(name)) throw new Error(`gradc bug: update rule reads '${name}', not an argument`);
    return op.get(argAt(name));
  };
  const vz = new Vectorizer(loc, elementLocals, argument);
  const argLocal = (name: string): number => vz.splat(name, argument(name));
  const statements = rule.element.map((s) => parseStatement(s, flags));
  for (const s of statements) elementLocals.set(s.name, loc.add(V128));
  for (const need of ['$p1', ...(hasM ? ['$m1'] : []), ...(hasV ? ['$v1'] : [])]) {
    if (!statements.some((s) => s.name === need)) throw new Error(`gradc bug: update rule does not define ${need}`);
  }
  const zero = vz.splat('0', op.f64Const(0));
  const ptr = (x: string): Code => [...op.get(at(x)), ...op.get(i), ...op.i32Add];
  const body = (pair: boolean): Code => {
    const c: number[] = [];
    const L = (x: string) => elementLocals.get(x)!;
    c.push(...ptr('w'), ...a.load(pair), ...op.set(L('$wk')));
    // $gk = c * g[k] + $l2 * $wk
    c.push(...op.get(argLocal('c')), ...ptr('g'), ...a.load(pair), ...op.f64x2Mul, ...op.get(argLocal('$l2')), ...op.get(L('$wk')), ...op.f64x2Mul, ...op.f64x2Add, ...op.set(L('$gk')));
    if (hasM) c.push(...ptr('m'), ...a.load(pair), ...op.set(L('$mk')));
    if (hasV) c.push(...ptr('v'), ...a.load(pair), ...op.set(L('$vk')));
    for (const s of statements) c.push(...vz.vector(s.value), ...op.set(L(s.name)));
    // Stores, in the JavaScript pass's order; each new value's `x * 0` (as stored) into the check.
    const store = (where: string, value: number, check: boolean) => {
      c.push(...ptr(where), ...a.store(pair, value, tmp));
      if (check) c.push(...op.get(chk), ...a.stored(value, tmp), ...op.get(zero), ...op.f64x2Mul, ...op.f64x2Add, ...op.set(chk));
    };
    store('w0', L('$wk'), false);
    store('w', L('$p1'), true);
    store('g', zero, false);
    if (hasM) { store('m0', L('$mk'), false); store('m', L('$m1'), true); }
    if (hasV) { store('v0', L('$vk'), false); store('v', L('$v1'), true); }
    return c;
  };
  const loop = pairsThenTail(N, i, end, a.e, body);
  const code: Code = [...vz.setup, ...op.v128Zero, ...op.set(chk), ...loop, ...op.get(chk), ...op.f64x2Extract(0), ...op.get(chk), ...op.f64x2Extract(1), ...op.f64Add];
  return kernelModule(params, loc.types, code, pages, [F64]);
}

/** The sum-of-squares module (see the header). */
export function normModule(precision: 'f64' | 'f32', pages: number): Uint8Array {
  const a = access(precision);
  const N = 0, G = 1;
  const loc = new Locals(2);
  const i = loc.add(I32), end = loc.add(I32), acc = loc.add(V128), x = loc.add(V128);
  const body = (pair: boolean): Code => [...op.get(G), ...op.get(i), ...op.i32Add, ...a.load(pair), ...op.tee(x), ...op.get(x), ...op.f64x2Mul, ...op.get(acc), ...op.f64x2Add, ...op.set(acc)];
  const code: Code = [...op.v128Zero, ...op.set(acc), ...pairsThenTail(N, i, end, a.e, body), ...op.get(acc), ...op.f64x2Extract(0), ...op.get(acc), ...op.f64x2Extract(1), ...op.f64Add];
  return kernelModule([I32, I32], loc.types, code, pages, [F64]);
}

/**
 * The optimizer update of a fused one-row step whose moments live in the kernels' memory
 * (fusedSteps.ts, WASM_UPDATE). Exports
 *   f(m, v, ...args) -> f64
 * (i32 byte addresses of the moments, then the f64 `args` of `fusedUpdateArgs(rule)`): for each
 * of the `n` elements k, with `$gk = g[k]` (the gradient, any L2 term already added), `$mk =
 * m[k]`, `$vk = v[k]`, the rule's element statements but the last, then `m0[k] = $mk; m[k] =
 * $m1; v0[k] = $vk; v[k] = $v1; d[k] = D`, where the rule's last statement is `$p1 = $wk *
 * $keep - D` (the caller computes `$p1` from `d[k]` in JavaScript: the same operations in the
 * same order, so the same number). `g`, `d` (f64 at either precision: `$p1` is computed from
 * the unrounded D, as in the JavaScript step), `m0` and `v0` are fixed addresses (`at`).
 * Returns the sum of `x * 0` over the new moments as stored (0 when all are finite, else NaN).
 * A loop of two elements per f64x2 instruction, the last odd one alone: the module is a few
 * hundred bytes whatever `n` (browsers compile up to 4 KiB synchronously on the main thread;
 * straight-line code measured no faster at n = 9). The rule must keep both moments.
 */
export function fusedUpdateModule(rule: UpdateRule, precision: 'f64' | 'f32', pages: number, n: number, at: { readonly g: number; readonly d: number; readonly m0: number; readonly v0: number }): Uint8Array {
  if (!rule.state.m || !rule.state.v) throw new Error('gradc bug: fusedUpdateModule needs a rule with both moments');
  const a = access(precision);
  const args = fusedUpdateArgs(rule);
  const M = 0, Vv = 1, argAt = (x: string) => 2 + args.indexOf(x);
  const params: ValType[] = [I32, I32, ...args.map((): ValType => F64)];
  const loc = new Locals(params.length);
  const count = loc.add(I32), i = loc.add(I32), end = loc.add(I32), chk = loc.add(V128), tmp = loc.add(V128), dl = loc.add(V128);
  const statements = rule.element.map((s) => parseStatement(s, new Map()));
  const last = statements.at(-1)!;
  const p = last.value;
  if (last.name !== '$p1' || p.k !== 'bin' || p.op !== '-' || p.a.k !== 'bin' || p.a.op !== '*' || p.a.a.k !== 'name' || p.a.a.name !== '$wk' || p.a.b.k !== 'name' || p.a.b.name !== '$keep') {
    throw new Error(`gradc bug: the last statement of a fused Wasm update must be '$p1 = $wk * $keep - ...'`);
  }
  const elementLocals = new Map<string, number>([['$gk', loc.add(V128)], ['$mk', loc.add(V128)], ['$vk', loc.add(V128)]]);
  for (const s of statements.slice(0, -1)) elementLocals.set(s.name, loc.add(V128));
  const vz = new Vectorizer(loc, elementLocals, (name) => {
    if (!args.includes(name)) throw new Error(`gradc bug: fused update reads '${name}', not an argument`);
    return op.get(argAt(name));
  });
  const zero = vz.splat('0', op.f64Const(0));
  const L = (x: string) => elementLocals.get(x)!;
  // i: byte offset of the element in the moment arrays; g and d are f64 at either precision (offset 2i for f32).
  const own = (x: number): Code => [...op.get(x), ...op.get(i), ...op.i32Add];
  const fixed = (base: number): Code => [...op.i32(base), ...op.get(i), ...op.i32Add];
  const f64At = (base: number): Code => [...fixed(base), ...(a.e === 8 ? [] : [...op.get(i), ...op.i32Add])];
  const body = (pair: boolean): Code => {
    const c: number[] = [];
    c.push(...f64At(at.g), ...(pair ? op.v128Load() : op.v128Load64Zero()), ...op.set(L('$gk')));
    c.push(...own(M), ...a.load(pair), ...op.set(L('$mk')), ...own(Vv), ...a.load(pair), ...op.set(L('$vk')));
    for (const s of statements.slice(0, -1)) c.push(...vz.vector(s.value), ...op.set(L(s.name)));
    c.push(...vz.vector(p.b), ...op.set(dl));
    const store = (addr: Code, value: number, check: boolean) => {
      c.push(...addr, ...a.store(pair, value, tmp));
      if (check) c.push(...op.get(chk), ...a.stored(value, tmp), ...op.get(zero), ...op.f64x2Mul, ...op.f64x2Add, ...op.set(chk));
    };
    store(fixed(at.m0), L('$mk'), false);
    store(own(M), L('$m1'), true);
    store(fixed(at.v0), L('$vk'), false);
    store(own(Vv), L('$v1'), true);
    c.push(...f64At(at.d), ...op.get(dl), ...(pair ? op.v128Store() : op.v128Store64Lane(0)));
    return c;
  };
  const code: Code = [...op.i32(n), ...op.set(count), ...op.v128Zero, ...op.set(chk), ...pairsThenTail(count, i, end, a.e, body),
    ...op.get(chk), ...op.f64x2Extract(0), ...op.get(chk), ...op.f64x2Extract(1), ...op.f64Add];
  return kernelModule(params, loc.types, [...vz.setup, ...code], pages, [F64]);
}

/** The f64 arguments of `fusedUpdateModule(rule)`: the hyperparameters its moments and step read ($keep and $l2 are the caller's). */
export function fusedUpdateArgs(rule: UpdateRule): string[] {
  return updateArgs(rule).filter((n) => n !== '$keep' && n !== '$l2');
}
