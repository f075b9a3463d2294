/**
 * Phase 6, emit (kernels): instruction lists as straight-line functions, in TypeScript or
 * directly in JavaScript.
 *
 * Guarantees: one statement per instruction, in the schedule's order; each group of
 * consecutive backward statements with the same comment is preceded by that
 * `// grad of: ...` comment once (stores in between do not break a group; a new function
 * part repeats it); literals print through literal.ts; a kernel longer than
 * `chunkSize` statements is split into parts of at most `chunkSize` statements (V8
 * optimizes a function only up to about 60 KB of bytecode, and the TypeScript checker
 * slows super-linearly on one huge function), which share the values that cross a part
 * boundary through the module's scratch array `$t`. A gradient kernel with a `lossPrefix`
 * (5-lower/schedule.ts) is emitted once for both entry points: its forward part as the
 * parts of `$loss`, its backward part as the parts of `$gradient`, which calls `$loss`
 * first, so the module holds one copy of the forward pass and one of the backward pass.
 * The JavaScript flavour is the TypeScript text with its type syntax left out (parameter
 * and return types, the `!` of array reads), token for token (test/compile.test.ts checks
 * it against the TypeScript compiler's output). Output is a pure function of the kernel
 * (no ids, no timestamps); building is linear in the number of instructions.
 */
import { OPS } from '../ir/ops.js';
import { literal } from './literal.js';
import type { Instr, Kernel, KernelKind, Operand } from '../5-lower/schedule.js';
import { type Param, SIGNATURES, call as callKernel } from './signatures.js';
import type { Flavour } from './flavour.js';

export { DEFAULT_CHUNK_SIZE } from '../5-lower/schedule.js';

/** `base + k` as code, or just `base` when k is 0 (k an offset gradc computed; no `at + 0`). */
export const plus = (base: string, k: number): string => (k === 0 ? base : `${base} + ${k}`);

export type { Flavour } from './flavour.js';

/** Each kernel's parameters (and `call` between its parts) come from the one signature table. */
const call = (fn: string, kind: KernelKind) => callKernel(kind, {}, fn);

// Array reads carry `!` in TypeScript (erased when compiled): under noUncheckedIndexedAccess a
// typed-array element reads as `number | undefined`, and every index here is in bounds by construction.
const bang = (flavour: Flavour) => (flavour === 'ts' ? '!' : '');
const field = (leaf: string, element: number | null, nn: string) => (element === null ? `.${leaf}` : `.${leaf}[${element}]${nn}`);

/** One instruction as a statement (update stores are written by fusedSteps.ts, per optimizer). */
export function statement(ins: Instr, ref: (o: Operand) => string, flavour: Flavour = 'ts'): string {
  const nn = bang(flavour);
  switch (ins.kind) {
    case 'load':
      if (ins.from === 'param') return `const ${ins.name} = $p${field(ins.leaf, ins.element, nn)};`;
      return ins.from === 'input' ? `const ${ins.name} = $x[${plus('$xo', ins.offset)}]${nn};` : `const ${ins.name} = $y[${plus('$yo', ins.offset)}]${nn};`;
    case 'op':
      return `const ${ins.name} = ${OPS[ins.op].js!(...ins.args.map(ref))};`;
    case 'store':
      if (ins.into === 'output') return `$o[${plus('$oo', ins.offset)}] = ${ref(ins.value)};`;
      if (ins.into === 'grad') return `$g${field(ins.leaf, ins.element, nn)} += $scale * ${ref(ins.value)};`;
      throw new Error(`internal: the update of ${ins.leaf} is written by fusedSteps.ts, not as a plain statement`);
    case 'gather':
      return `const ${ins.name} = $p.${ins.leaf}[${plus(`${ref(ins.row)} * ${ins.width}`, ins.element)}]${nn};`;
    case 'scatter': {
      const store = `$g.${ins.leaf}[${plus(`${ref(ins.row)} * ${ins.width}`, ins.element)}]${nn} += $scale * ${ref(ins.value)};`;
      return ins.touch ? `$touch($rows_${ins.leaf}, ${ref(ins.row)});\n${store}` : store;
    }
  }
}

/** The instruction indices `ins` reads, written into `out` (one array reused: no array per instruction). */
function refsInto(ins: Instr, out: number[]): number[] {
  out.length = 0;
  switch (ins.kind) {
    case 'op': for (const a of ins.args) if ('ref' in a) out.push(a.ref); break;
    case 'store': if ('ref' in ins.value) out.push(ins.value.ref); if (ins.old && 'ref' in ins.old) out.push(ins.old.ref); break;
    case 'gather': if ('ref' in ins.row) out.push(ins.row.ref); break;
    case 'scatter': if ('ref' in ins.row) out.push(ins.row.ref); if ('ref' in ins.value) out.push(ins.value.ref); break;
    case 'load': break;
  }
  return out;
}

export interface KernelFunctionText { readonly name: string; readonly parameters: readonly Param[]; readonly returns: string; readonly body: string }

export interface EmittedKernel {
  /** Function declarations, each entry `$<kind>` after its parts. */
  readonly functions: readonly KernelFunctionText[];
  /** Scratch slots the parts need. */
  readonly slots: number;
}

/** A run of instructions [from, to) emitted as the parts of the entry point of `kind`. */
interface Segment { readonly kind: KernelKind; readonly from: number; readonly to: number }

/**
 * The functions of `kernel`: one `$<kind>` when it fits `chunkSize`, else its parts and an
 * entry calling them; a gradient kernel with a `lossPrefix` gives `$loss` and `$gradient`
 * (see the header).
 */
export function emitKernel(kernel: Kernel, chunkSize: number, flavour: Flavour = 'ts'): EmittedKernel {
  const { kind, instrs } = kernel;
  const nn = bang(flavour);
  const nameOf = (k: number) => (instrs[k] as { name: string }).name;
  const named = (ins: Instr) => ins.kind !== 'store' && ins.kind !== 'scatter';
  const refText = (o: Operand) => ('lit' in o ? literal(o.lit) : nameOf(o.ref));
  const result = kernel.result;
  const segments: Segment[] = kernel.lossPrefix === undefined
    ? [{ kind, from: 0, to: instrs.length }]
    : [{ kind: 'loss', from: 0, to: kernel.lossPrefix }, { kind, from: kernel.lossPrefix, to: instrs.length }];
  // Part of each instruction: each segment cut into pieces of at most chunkSize.
  const partOf = new Int32Array(instrs.length);
  const parts: { segment: Segment; from: number; to: number }[] = [];
  for (const segment of segments) {
    for (let from = segment.from; from < segment.to || from === segment.from; from += chunkSize) {
      const to = Math.min(segment.to, from + chunkSize);
      for (let k = from; k < to; k++) partOf[k] = parts.length;
      parts.push({ segment, from, to });
      if (to === segment.to) break;
    }
  }
  // Which instructions print their comment: the first op of each run of ops with that
  // comment, counting runs within one function part (loads and stores do not end a run).
  const commented = new Uint8Array(instrs.length);
  let previous: string | undefined;
  let part = -1;
  instrs.forEach((ins, k) => {
    if (partOf[k] !== part) { part = partOf[k]; previous = undefined; }
    if (ins.kind !== 'op') return;
    commented[k] = ins.comment !== undefined && ins.comment !== previous ? 1 : 0;
    previous = ins.comment;
  });
  const lines = (out: string[], k: number): void => {
    const ins = instrs[k];
    if (ins.kind === 'op' && commented[k]) out.push(`// ${ins.comment}`);
    out.push(statement(ins, refText, flavour));
  };
  const returns = (kindOf: KernelKind) => SIGNATURES[kindOf].returns;

  if (parts.length === 1) {
    const body: string[] = [];
    for (let k = 0; k < instrs.length; k++) lines(body, k);
    if (result) body.push(`return ${refText(result)};`);
    return { functions: [{ name: `$${kind}`, parameters: SIGNATURES[kind].params, returns: returns(kind), body: body.join('\n') }], slots: 0 };
  }

  // Values used in a later part go through a scratch slot of `$t`.
  const slot = new Map<number, number>(); // instruction index -> scratch slot
  const need = (k: number, fromPart: number) => {
    if (partOf[k] !== fromPart && !slot.has(k)) slot.set(k, slot.size);
  };
  // The loss is returned by the last part of the first segment.
  const resultPart = parts.filter((p) => p.segment === segments[0]).length - 1;
  const refs: number[] = [];
  for (let k = 0; k < instrs.length; k++) for (const r of refsInto(instrs[k], refs)) need(r, partOf[k]);
  if (result && 'ref' in result) need(result.ref, resultPart);

  const functions: KernelFunctionText[] = [];
  for (const segment of segments) {
    const own = parts.map((p, i) => ({ ...p, index: i })).filter((p) => p.segment === segment);
    const kindOf = segment.kind;
    const split = own.length > 1 || segment !== segments[0]; // the gradient's entry calls `$loss` first
    const names = own.map((_, i) => (split ? `$${kindOf}_${i}` : `$${kindOf}`));
    own.forEach((p, i) => {
      const imported = new Set<number>();
      for (let k = p.from; k < p.to; k++) for (const r of refsInto(instrs[k], refs)) if (partOf[r] !== p.index) imported.add(r);
      const returnsResult = p.index === resultPart && result !== undefined;
      if (returnsResult && 'ref' in result && partOf[result.ref] !== p.index) imported.add(result.ref);
      const body = [...imported].sort((a, b) => a - b).map((k) => `const ${nameOf(k)} = $t[${slot.get(k)}]${nn};`);
      for (let k = p.from; k < p.to; k++) {
        lines(body, k);
        if (slot.has(k) && named(instrs[k])) body.push(`$t[${slot.get(k)}] = ${nameOf(k)};`);
      }
      if (returnsResult) body.push(`return ${refText(result)};`);
      functions.push({ name: names[i], parameters: SIGNATURES[kindOf].params, returns: returnsResult ? returns(kindOf) : 'void', body: body.join('\n') });
    });
    if (!split) continue;
    // The entry point: its parts in order (the gradient's after the shared `$loss`).
    const calls = own.map((p, i) => (p.index === resultPart && returns(kindOf) !== 'void' ? `return ${call(names[i], kindOf)};` : `${call(names[i], kindOf)};`));
    if (segment !== segments[0]) calls.unshift(`const $value = ${call('$loss', 'loss')};`), calls.push('return $value;');
    functions.push({ name: `$${kindOf}`, parameters: SIGNATURES[kindOf].params, returns: returns(kindOf), body: calls.join('\n') });
  }
  return { functions, slots: slot.size };
}
