/**
 * Phase 6, emit (kernels): instruction lists as straight-line TypeScript functions.
 *
 * Guarantees: one statement per instruction, in the schedule's order; each group of
 * consecutive backward statements with the same comment is preceded by that
 * `// grad of: ...` comment once (stores in between do not break a group; a new function
 * part repeats it); literals print through literal.ts; a kernel longer than
 * `chunkSize` statements is split into parts of at most `chunkSize` statements (V8
 * optimizes a function only up to about 60 KB of bytecode, and the TypeScript checker
 * slows super-linearly on one huge function), which share the values that cross a part
 * boundary through the module's scratch Float64Array `$t`; output is a pure function of
 * the kernel (no ids, no timestamps). Building is linear in the number of instructions.
 */
import { OPS } from '../ir/ops.js';
import { literal } from './literal.js';
import type { Instr, Kernel, KernelKind, Operand } from '../5-lower/schedule.js';
import { type Param, SIGNATURES, call as callKernel } from './signatures.js';

/** `base + k` as code, or just `base` when k is 0 (k an offset gradc computed; no `at + 0`). */
export const plus = (base: string, k: number): string => (k === 0 ? base : `${base} + ${k}`);

export const DEFAULT_CHUNK_SIZE = 1000;

/** Each kernel's parameters (and `call` between its parts) come from the one signature table. */
const call = (fn: string, kind: KernelKind) => callKernel(kind, {}, fn);

// Array reads carry `!` (erased when compiled): under noUncheckedIndexedAccess a typed-array
// element reads as `number | undefined`, and every index here is in bounds by construction.
const field = (leaf: string, element: number | null) => (element === null ? `.${leaf}` : `.${leaf}[${element}]!`);

/** One instruction as a statement (update stores are written by fusedSteps.ts, per optimizer). */
export function statement(ins: Instr, ref: (o: Operand) => string): string {
  switch (ins.kind) {
    case 'load':
      if (ins.from === 'param') return `const ${ins.name} = $p${field(ins.leaf, ins.element)};`;
      return ins.from === 'input' ? `const ${ins.name} = $x[${plus('$xo', ins.offset)}]!;` : `const ${ins.name} = $y[${plus('$yo', ins.offset)}]!;`;
    case 'op':
      return `const ${ins.name} = ${OPS[ins.op].js!(...ins.args.map(ref))};`;
    case 'store':
      if (ins.into === 'output') return `$o[${plus('$oo', ins.offset)}] = ${ref(ins.value)};`;
      if (ins.into === 'grad') return `$g${field(ins.leaf, ins.element)} += $scale * ${ref(ins.value)};`;
      throw new Error(`internal: the update of ${ins.leaf} is written by fusedSteps.ts, not as a plain statement`);
    case 'gather':
      return `const ${ins.name} = $p.${ins.leaf}[${plus(`${ref(ins.row)} * ${ins.width}`, ins.element)}]!;`;
    case 'scatter': {
      const store = `$g.${ins.leaf}[${plus(`${ref(ins.row)} * ${ins.width}`, ins.element)}]! += $scale * ${ref(ins.value)};`;
      return ins.touch ? `$touch($rows_${ins.leaf}, ${ref(ins.row)});\n${store}` : store;
    }
  }
}

const usesOf = (ins: Instr): Operand[] =>
  ins.kind === 'op' ? [...ins.args] : ins.kind === 'store' ? (ins.old ? [ins.value, ins.old] : [ins.value])
    : ins.kind === 'gather' ? [ins.row] : ins.kind === 'scatter' ? [ins.row, ins.value] : [];

export interface EmittedKernel {
  /** Function declarations, the entry `$<kind>` last. */
  readonly functions: readonly { readonly name: string; readonly parameters: readonly Param[]; readonly returns: string; readonly body: string }[];
  /** Scratch slots the parts need. */
  readonly slots: number;
}

export function emitKernel(kernel: Kernel, chunkSize = DEFAULT_CHUNK_SIZE): EmittedKernel {
  const { kind, instrs } = kernel;
  const name = `$${kind}`;
  const returns = SIGNATURES[kind].returns;
  const nameOf = (k: number) => (instrs[k] as { name: string }).name;
  const named = (ins: Instr) => ins.kind !== 'store' && ins.kind !== 'scatter';
  const refText = (o: Operand) => ('lit' in o ? literal(o.lit) : nameOf(o.ref));
  // Which instructions print their comment: the first op of each run of ops with that
  // comment, counting runs within one function part (loads and stores do not end a run).
  const size = instrs.length <= chunkSize ? Infinity : chunkSize;
  const commented: boolean[] = [];
  let previous: string | undefined;
  instrs.forEach((ins, k) => {
    if (k % size === 0) previous = undefined;
    if (ins.kind !== 'op') return;
    commented[k] = ins.comment !== undefined && ins.comment !== previous;
    previous = ins.comment;
  });
  const lines = (from: number, to: number, ref: (o: Operand) => string): string[] => {
    const out: string[] = [];
    for (let k = from; k < to; k++) {
      const ins = instrs[k];
      if (ins.kind === 'op' && commented[k]) out.push(`// ${ins.comment}`);
      out.push(statement(ins, ref));
    }
    return out;
  };
  const result = kernel.result;

  if (instrs.length <= chunkSize) {
    const body = lines(0, instrs.length, refText);
    if (result) body.push(`return ${refText(result)};`);
    return { functions: [{ name, parameters: SIGNATURES[kind].params, returns, body: body.join('\n') }], slots: 0 };
  }

  // Split: part p holds instructions [p*chunkSize, (p+1)*chunkSize).
  const part = (k: number) => Math.floor(k / chunkSize);
  const parts = part(instrs.length - 1) + 1;
  const slot = new Map<number, number>(); // instruction index -> scratch slot
  const need = (k: number, fromPart: number) => {
    if (part(k) !== fromPart && !slot.has(k)) slot.set(k, slot.size);
  };
  instrs.forEach((ins, k) => usesOf(ins).forEach((o) => 'ref' in o && need(o.ref, part(k))));
  if (result && 'ref' in result) need(result.ref, parts - 1);

  const functions: { name: string; parameters: readonly Param[]; returns: string; body: string }[] = [];
  for (let p = 0; p < parts; p++) {
    const from = p * chunkSize, to = Math.min(instrs.length, from + chunkSize);
    const imported = new Set<number>();
    for (let k = from; k < to; k++) for (const o of usesOf(instrs[k])) if ('ref' in o && part(o.ref) !== p) imported.add(o.ref);
    const last = p === parts - 1;
    if (last && result && 'ref' in result && part(result.ref) !== p) imported.add(result.ref);
    const body = [...imported].sort((a, b) => a - b).map((k) => `const ${nameOf(k)} = $t[${slot.get(k)}]!;`);
    for (let k = from; k < to; k++) {
      body.push(...lines(k, k + 1, refText));
      if (slot.has(k) && named(instrs[k])) body.push(`$t[${slot.get(k)}] = ${nameOf(k)};`);
    }
    if (last && result) body.push(`return ${refText(result)};`);
    functions.push({ name: `${name}_${p}`, parameters: SIGNATURES[kind].params, returns: last ? returns : 'void', body: body.join('\n') });
  }
  const calls = functions.map((f, p) => (p === parts - 1 && returns !== 'void' ? `return ${call(f.name, kind)};` : `${call(f.name, kind)};`));
  functions.push({ name, parameters: SIGNATURES[kind].params, returns, body: calls.join('\n') });
  return { functions, slots: slot.size };
}
