/**
 * Phase 5, lower (looped form): the data the looped plan is made of.
 *
 * The plan carries structure, never source text: indexes are affine (terms of a kernel
 * variable times a stride, plus a constant offset), arrays are symbolic references to the
 * kernel's arguments, the parameters, the gradient accumulator or a scratch buffer, and
 * scalar values are references too. Only the emitter (6-emit/loopKernels.ts) turns them
 * into TypeScript.
 *
 * Grammar (element (b, coords) of an `Access` is buf[base + b*bs + sum(coords*strides)]):
 *   Affine   ::= sum(KernelVar * stride) + offset
 *   BufferRef::= input | target | output | param(name) | grad(name) | scratch(buffer)
 *   ScalarRef::= literal(value) | param(name) | grad(name) | gemmResult
 *   Access   ::= { buf, base: Affine, bs, strides, shape } | { scalar } | { inline: op(Access...) }
 * Guarantees: every constructor here returns a fresh immutable value; `shift` and `plus`
 * fold constants, so an index never carries `+ 0`.
 */
import type { Op } from '../ir/ops.js';
import type { Node } from '../ir/node.js';
import type { Shape } from '../ir/shape.js';
import type { ShiftedRule } from './table.js';

/** Run-time values a kernel's indexes and loop bounds may mention. */
export type KernelVar = 'inputRow' | 'targetRow' | 'outputRow' | 'batchSize' | 'step';

export interface Term { readonly v: KernelVar; readonly stride: number }
/** sum(terms[i].v * terms[i].stride) + offset. */
export interface Affine { readonly terms: readonly Term[]; readonly offset: number }

export const constant = (offset: number): Affine => ({ terms: [], offset });
export const variable = (v: KernelVar): Affine => ({ terms: [{ v, stride: 1 }], offset: 0 });
/** `a + stride * v`. */
export const plusTerm = (a: Affine, v: KernelVar, stride: number): Affine => (stride === 0 ? a : { terms: [...a.terms, { v, stride }], offset: a.offset });
/** `a + k`. */
export const shift = (a: Affine, k: number): Affine => (k === 0 ? a : { terms: a.terms, offset: a.offset + k });
/** The number `a` stands for, when it mentions no variable. */
export const constantOf = (a: Affine): number | undefined => (a.terms.length === 0 ? a.offset : undefined);
export const isZero = (a: Affine): boolean => a.terms.length === 0 && a.offset === 0;
export const ZERO = constant(0);
/** The number of samples a kernel call processes (`$nb` in the emitted code). */
export const BATCH = variable('batchSize');

/** A loop's trip count: a fixed number, or the batch size. */
export type Extent = Affine;

/** A scratch buffer of the looped module: `size` numbers, for the value of `node`. */
export interface ScratchBuffer {
  readonly name: string;
  readonly size: number;
  /** The node whose value it holds (for comments and the printer). */
  readonly node: Node;
  /** Whether it holds one row per sample. */
  readonly batched: boolean;
}

/** An array the looped code reads or writes. */
export type BufferRef =
  | { readonly kind: 'input' } // the kernel's input rows
  | { readonly kind: 'target' } // the kernel's target rows
  | { readonly kind: 'output' } // the kernel's output rows
  | { readonly kind: 'param'; readonly name: string } // a tensor parameter
  | { readonly kind: 'grad'; readonly name: string } // a tensor parameter's gradient accumulator
  | { readonly kind: 'scratch'; readonly buffer: ScratchBuffer };

/** A scalar that stands for every element of every sample. */
export type ScalarRef =
  | { readonly kind: 'literal'; readonly value: number }
  | { readonly kind: 'param'; readonly name: string } // a scalar parameter
  | { readonly kind: 'grad'; readonly name: string } // a scalar parameter's gradient accumulator
  | { readonly kind: 'gemmResult' }; // inside a gemm's epilogue: the product being stored

/** Where the elements of a value are: element (b, coords) is buf[base + b*bs + sum(coords*strides)]. */
export interface Access {
  readonly buf?: BufferRef;
  readonly base: Affine;
  readonly bs: number;
  readonly strides: readonly number[];
  readonly shape: Shape;
  /** A scalar standing for every element of every sample (a parameter or a literal). */
  readonly scalar?: ScalarRef;
  /** An elementwise op computed where it is read (its only use is another elementwise op). */
  readonly inline?: { readonly op: Op; readonly args: readonly Access[] };
}

/** Elementwise work applied to a gemm's result as it is stored: `value` reads GEMM_RESULT. */
export interface Epilogue { readonly out: Access; readonly value: Access }

/** The access that stands for a gemm's result inside its epilogue. */
export const GEMM_RESULT: Access = { base: ZERO, bs: 0, strides: [], shape: [], scalar: { kind: 'gemmResult' } };

/** A matrix operand of a gemm: element (u, v) at buf[base + u*su + v*sv] (u, v as the gemm names them). */
export interface GemmOperand { readonly buf: BufferRef; readonly base: Affine; readonly su: number; readonly sv: number }

export type LoopStep =
  | { readonly kind: 'elementwise'; readonly op: Op | 'copy'; readonly out: Access; readonly args: readonly Access[]; readonly unroll?: boolean; readonly comment?: string }
  | { readonly kind: 'gemm'; readonly P: Extent; readonly Q: number; readonly K: Extent; readonly L: GemmOperand; readonly R: GemmOperand; readonly out: GemmOperand; readonly accumulate: boolean; readonly scaled: boolean; readonly epilogue?: Epilogue; readonly comment?: string }
  /** out(o) = sum over k of prod_i factors[i](o, k); each factor is read at coordinates (o..., k...). */
  | { readonly kind: 'contract'; readonly op: Op; readonly out: Access; readonly red: readonly number[]; readonly factors: readonly Access[]; readonly unroll?: boolean; readonly comment?: string }
  /** out (flat) = 0 unless `covered`, then out[at + r] = arg(r) for each piece. */
  | { readonly kind: 'place'; readonly op: Op; readonly out: Access; readonly pieces: readonly { readonly at: number; readonly arg: Access }[]; readonly covered: boolean; readonly comment?: string }
  /** m = max(x), s = sum(term(x, m)), then each output from them (outputs over one x share m and s). */
  | { readonly kind: 'shifted'; readonly x: Access; readonly outs: readonly { readonly op: Op; readonly rule: ShiftedRule; readonly out: Access }[]; readonly unroll?: boolean; readonly comment?: string }
  | { readonly kind: 'reduce'; readonly target: Access; readonly value: Access; readonly shared: boolean; readonly unroll?: boolean; readonly comment?: string }
  /** out(l, j) = table(ids(l), j): rows picked by run-time ids (`ids` a scalar: one row). */
  | { readonly kind: 'gather'; readonly out: Access; readonly table: Access; readonly ids: Access; readonly comment?: string }
  /**
   * target(ids(l), j) += value(l, j). Into a scratch buffer (`into: 'value'`, zeroed first: a
   * scatter used as a value), or summed over the batch, scaled by `$scale`, into a parameter's
   * gradient accumulator (`into: 'grad'`: only the looked-up rows are written; with `touch`,
   * each row is noted for the update pass).
   */
  | { readonly kind: 'scatter'; readonly into: 'value' | 'grad'; readonly target: Access; readonly value: Access; readonly ids: Access; readonly touch?: string; readonly comment?: string }
  | { readonly kind: 'lossSum'; readonly value: Access }
  /**
   * A small recurrence's step for each sample, as straight-line scalar code (cell.ts): each
   * read binds a scalar leaf to one element of an access, each value is one scalar op over
   * earlier leaves and values (in order), each write stores one element (`add`: adds to it).
   */
  | { readonly kind: 'cell'; readonly reads: readonly CellRead[]; readonly values: readonly Node[]; readonly writes: readonly CellWrite[]; readonly comment?: string }
  /** for t = from..to (downwards when `reverse`): the steps of a recurrence's body, whose accesses read `step`. */
  | { readonly kind: 'time'; readonly from: number; readonly to: number; readonly reverse: boolean; readonly steps: readonly LoopStep[]; readonly comment?: string };

/** A scalar leaf of a cell step and the element (coordinates `at`) of the access it stands for. */
export interface CellRead { readonly leaf: Node; readonly from: Access; readonly at: readonly number[] }
/** Element `at` of `to` set to (or, with `add`, increased by) the scalar `value`. */
export interface CellWrite { readonly to: Access; readonly at: readonly number[]; readonly value: Node; readonly add: boolean }

/** Arrays a kernel binds to locals before its steps: a parameter's values or its gradient accumulator. */
export type Hoist = Extract<BufferRef, { kind: 'param' | 'grad' }>;

export interface LoopKernel {
  readonly kind: 'forward' | 'loss' | 'gradient';
  /** Parameter (and gradient) arrays and scalars read by the steps, bound once per call. */
  readonly hoists: readonly Hoist[];
  readonly steps: readonly LoopStep[];
}

export interface LoopPlan {
  readonly maxBatch: number;
  readonly buffers: readonly ScratchBuffer[];
  readonly kernels: { readonly forward: LoopKernel; readonly loss: LoopKernel; readonly gradient: LoopKernel };
}
