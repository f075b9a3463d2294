/**
 * Phase 5, lower (looped form): tensor IR as batched loop steps over typed arrays.
 *
 * For models too large to unroll. Each kernel processes a batch of samples (at most
 * `maxBatch`) at once: a per-sample tensor of shape s that depends on the data becomes a
 * buffer of `maxBatch` rows of size(s); values that depend only on parameters stay
 * unbatched. The plan is data (plan.ts: affine indexes, buffer references, no source
 * text); each op's index math comes from the one lowering table (table.ts), what a kernel
 * computes from demand.ts, names and comments from loopNotes.ts. Guarantees:
 * - views cost nothing: transpose, broadcast, index and slice only change an `Access`
 *   (array, base offset, per-sample stride, per-dimension strides), derived from the
 *   table's affine coordinate maps; every other node the kernel needs is materialized
 *   once, into a module-level buffer, by exactly one step;
 * - a matrix-vector product of a parameter matrix with per-sample vectors is one
 *   matrix-matrix product over the batch (`gemm`), and so is the batch sum of per-sample
 *   outer products that makes a weight gradient (dW = G^T X); the emitter blocks every
 *   gemm in 4x4 registers;
 * - per-sample parameter gradients are summed over the batch straight into the gradient
 *   accumulator (scaled by `$scale`), never materialized per sample when they are outer
 *   products or sums of them;
 * - only nodes some result needs are computed (demand-driven), in topological order;
 * - every walk (of the graph and of fused accesses) is iterative or bounded in depth;
 * - an elementwise node used once, by another elementwise node of its shape, is fused
 *   into that node's loop (fused expressions nest at most MAX_FUSION_DEPTH deep); an
 *   elementwise node that is the one use of a batched matrix-vector product is applied in
 *   the gemm's store (bias and activation cost no extra pass);
 * - softmax, logsumexp and log_softmax of one x in one kernel share one step: one
 *   maximum and one sum, every result written from them.
 */
import type { Node } from '../ir/node.js';
import type { Op } from '../ir/ops.js';
import { OPS } from '../ir/ops.js';
import { type Shape, sameShape, sizeOf } from '../ir/shape.js';
import { dependsOn, topoOrder } from '../ir/walk.js';
import type { Derived } from '../model.js';
import type { Layout } from './schedule.js';
import { Names } from '../naming.js';
import { loopNotes } from './loopNotes.js';
import { demandOf } from './demand.js';
import { type Coords, LOWERING, type OpLowering, covers } from './table.js';
import {
  type Access, type BufferRef, type GemmOperand, type Hoist, type LoopKernel, type LoopPlan, type LoopStep, type ScratchBuffer,
  BATCH, GEMM_RESULT, ZERO, constant, constantOf, shift, variable,
} from './plan.js';

export type { Access, LoopKernel, LoopPlan, LoopStep } from './plan.js';

/** `a` with every occurrence of `target` (by identity) replaced by `by` (iterative, shared sub-accesses rebuilt once). */
function substitute(a: Access, target: Access, by: Access): Access {
  const done = new Map<Access, Access>([[target, by]]);
  const stack: Access[] = [a];
  while (stack.length > 0) {
    const x = stack[stack.length - 1];
    if (done.has(x)) { stack.pop(); continue; }
    if (!x.inline) { done.set(x, x); stack.pop(); continue; }
    const pending = x.inline.args.filter((y) => !done.has(y));
    if (pending.length > 0) { stack.push(...pending); continue; }
    stack.pop();
    const args = x.inline.args.map((y) => done.get(y)!);
    done.set(x, args.every((y, i) => y === x.inline!.args[i]) ? x : { ...x, inline: { op: x.inline.op, args } });
  }
  return done.get(a)!;
}

const rowMajor = (s: Shape): number[] => (s.length === 2 ? [s[1], 1] : s.length === 1 ? [1] : []);
const isLeaf = (n: Node) => n.op === 'param' || n.op === 'input' || n.op === 'target' || n.op === 'const';

/**
 * `a` read through a coordinate map: element c of the result (of `shape`) is element
 * `map(c)` of `a`. LOWERING's maps are affine, so evaluating the map at 0 and at each unit
 * vector gives the result's base offset and strides exactly; a scalar stands for every
 * element and only changes shape.
 */
function through(a: Access, shape: Shape, map: (c: Coords) => Coords): Access {
  if (a.scalar !== undefined) return { ...a, shape, strides: shape.map(() => 0) };
  const offsetAt = (c: Coords) => map(c).reduce((n, x, j) => n + x * a.strides[j], 0);
  const zero = shape.map(() => 0);
  const off = offsetAt(zero);
  const strides = shape.map((_, t) => offsetAt(zero.map((_z, u) => (u === t ? 1 : 0))) - off);
  return { ...a, base: shift(a.base, off), shape, strides };
}

/**
 * Per operation, the code shape of its element loop: tensors of at most `unrollElements`
 * elements are unrolled (one statement per element, literal indices), larger ones loop.
 */
export const DEFAULT_UNROLL_ELEMENTS = 16;

/**
 * Fused (inline) elementwise expressions nest at most this deep; a longer chain is
 * materialized every MAX_FUSION_DEPTH ops. This bounds the emitter's walk of an access
 * and the nesting of the emitted expression (a 2000-layer tanh chain would otherwise be
 * one expression 6000 calls deep, past what parsers and the call stack take).
 */
export const MAX_FUSION_DEPTH = 32;

export function planLoops(derived: Derived, layout: Layout, maxBatch: number, unrollElements = DEFAULT_UNROLL_ELEMENTS): LoopPlan {
  const small = (s: Shape) => sizeOf(s) <= unrollElements;
  const { model, grads } = derived;
  const notes = loopNotes(derived);
  const all = topoOrder([model.loss, ...model.outputs.map((o) => o.node), ...grads]);
  const dataLeaf = (n: Node) => n.op === 'input' || n.op === 'target';
  const batched = dependsOn(all, dataLeaf);
  const bufferNames = new Names();
  const buffers: ScratchBuffer[] = [];
  const bufferOf = new Map<Node, Access>();

  const build = (kind: LoopKernel['kind']): LoopKernel => {
    const hoists: Hoist[] = [];
    const hoisted = new Set<string>();
    const hoist = (h: Hoist) => {
      const key = `${h.kind} ${h.name}`;
      if (!hoisted.has(key)) { hoisted.add(key); hoists.push(h); }
    };
    const steps: (LoopStep | null)[] = []; // null: a gemm moved later to carry its epilogue
    const access = new Map<Node, Access>();

    const leafAccess = (n: Node): Access => {
      const name = n.attrs.name!;
      if (n.op === 'const') return { base: ZERO, bs: 0, strides: n.shape.map(() => 0), shape: n.shape, scalar: { kind: 'literal', value: n.attrs.value! } };
      if (n.op === 'param') {
        hoist({ kind: 'param', name });
        return n.shape.length === 0
          ? { base: ZERO, bs: 0, strides: [], shape: n.shape, scalar: { kind: 'param', name } }
          : { buf: { kind: 'param', name }, base: ZERO, bs: 0, strides: rowMajor(n.shape), shape: n.shape };
      }
      const slots = n.op === 'input' ? layout.inputs : layout.targets;
      const slot = slots.find((s) => s.name === name)!;
      const row = n.op === 'input' ? layout.inputSize : layout.targetSize;
      const [buf, row0] = n.op === 'input' ? [{ kind: 'input' } as const, 'inputRow' as const] : [{ kind: 'target' } as const, 'targetRow' as const];
      return { buf, base: shift(variable(row0), slot.offset), bs: row, strides: rowMajor(n.shape), shape: n.shape };
    };

    const materialize = (n: Node): Access => {
      const known = bufferOf.get(n);
      if (known) return known;
      const size = sizeOf(n.shape);
      const isBatched = batched.has(n);
      const name = bufferNames.fresh(`$v_${notes.bufferBase(n)}`);
      const buffer: ScratchBuffer = { name, size: isBatched ? size * maxBatch : size, node: n, batched: isBatched };
      buffers.push(buffer);
      const acc: Access = { buf: { kind: 'scratch', buffer }, base: ZERO, bs: isBatched ? size : 0, strides: rowMajor(n.shape), shape: n.shape };
      bufferOf.set(n, acc);
      return acc;
    };

    /** The step that computes `n` into `out`, as LOWERING states its index math. */
    const computeStep = (n: Node, out: Access, args: Access[], comment: string): LoopStep => {
      const entry = LOWERING[n.op];
      const shapes = n.args.map((a) => a.shape);
      switch (entry.kind) {
        case 'elementwise':
          return { kind: 'elementwise', op: n.op, out, args, unroll: small(out.shape), comment };
        case 'contract': {
          if (n.op === 'matmul') {
            const g = gemmFor(args[0], args[1], out);
            if (g) return { ...g, comment };
          }
          const { red, factors } = entry.of(shapes);
          const dims = n.shape.length;
          const at = [...n.shape, ...red];
          return {
            kind: 'contract', op: n.op, out, red, unroll: dims === 0 && small(red), comment,
            factors: factors.map((f, i) => through(args[i], at, (c) => f(c.slice(0, dims), c.slice(dims)))),
          };
        }
        case 'place': {
          const pieces = entry.pieces(shapes, n.attrs);
          const flatOut: Access = { ...out, shape: [sizeOf(n.shape)], strides: [1] }; // buffers are row-major
          return { kind: 'place', op: n.op, out: flatOut, pieces: pieces.map((p) => ({ at: p.at, arg: args[p.arg] })), covered: covers(pieces, shapes, n.shape), comment };
        }
        case 'shifted': {
          // Every shifted op over the same x that this kernel needs shares one max and one sum.
          const group = (shiftedOver.get(n.args[0]) ?? []).filter((m) => m === n || (!access.has(m) && termOf(m) === entry.rule.term));
          const outs = group.map((m) => {
            const o = m === n ? out : materialize(m);
            access.set(m, o);
            return { op: m.op, rule: (LOWERING[m.op] as Extract<OpLowering, { kind: 'shifted' }>).rule, out: o };
          });
          const said = group.length > 1 ? group.map((m) => stepNoteOf(m)).join('\n') : comment;
          return { kind: 'shifted', x: args[0], outs, unroll: small(shapes[0]), comment: said };
        }
        default: // leaves and views never get here
          throw new Error(`gradc bug: no loop step computes a ${n.op}`);
      }
    };

    // What this kernel computes, and how each gradient term reaches its accumulator (demand.ts).
    const { roots, order, reductions } = demandOf(kind, derived, batched);
    const gradTarget = (i: number): Access => {
      const { name, shape } = model.params[i];
      if (shape.length === 0) return { base: ZERO, bs: 0, strides: [], shape, scalar: { kind: 'grad', name } };
      hoist({ kind: 'grad', name });
      return { buf: { kind: 'grad', name }, base: ZERO, bs: 0, strides: rowMajor(shape), shape };
    };
    const targets = model.params.map((_, i) => (kind === 'gradient' ? gradTarget(i) : undefined));

    // Fusion: an elementwise node whose one use is an elementwise node of the same shape
    // and batching is computed inline in that node's loop; an elementwise node that is
    // the one use of a gemm's result is applied as the gemm stores it.
    const uses = new Map<Node, Node[]>();
    for (const n of order) for (const a of n.args) (uses.get(a) ?? uses.set(a, []).get(a)!).push(n);
    const elementwise = (n: Node) => OPS[n.op].kind === 'elementwise';
    const soleUse = (n: Node): Node | undefined => {
      const u = uses.get(n);
      return !roots.has(n) && u && u.length === 1 && elementwise(u[0]) && sameShape(u[0].shape, n.shape) && batched.has(u[0]) === batched.has(n) ? u[0] : undefined;
    };
    const fusedDepth = new Map<Node, number>(); // inline node -> nesting depth of its fused expression
    const gemmOf = new Map<Node, number>(); // node -> index of the gemm step that computes it
    /** A gemm result read only by `n`'s fused elementwise chain, if there is one. */
    const gemmFeeding = (n: Node): Node | undefined => {
      const stack = [n];
      while (stack.length) {
        const m = stack.pop()!;
        for (const a of m.args) {
          if (gemmOf.has(a) && soleUse(a) === m) return a;
          if (access.get(a)?.inline) stack.push(a);
        }
      }
      return undefined;
    };

    const position = new Map<Node, number>(order.map((n, i) => [n, i]));
    /** `n` and the nodes fused into its step (`extra` and theirs too), in topological order. */
    const chainOf = (n: Node, extra: readonly Node[] = []): Node[] => {
      const seen = new Set<Node>([n, ...extra]);
      const stack = [n, ...extra];
      while (stack.length) {
        const m = stack.pop()!;
        for (const a of m.args) if (!seen.has(a) && access.get(a)?.inline) { seen.add(a); stack.push(a); }
      }
      return [...seen].sort((a, b) => position.get(a)! - position.get(b)!);
    };

    const shiftedOver = new Map<Node, Node[]>(); // x -> the shifted ops over x this kernel needs
    for (const n of order) if (LOWERING[n.op].kind === 'shifted') (shiftedOver.get(n.args[0]) ?? shiftedOver.set(n.args[0], []).get(n.args[0])!).push(n);
    const termOf = (n: Node) => (LOWERING[n.op] as Extract<OpLowering, { kind: 'shifted' }>).rule.term;
    const stepNoteOf = (n: Node) => notes.stepNote(n, chainOf(n));

    for (const n of order) {
      if (access.has(n)) continue;
      if (isLeaf(n)) { access.set(n, leafAccess(n)); continue; }
      const args = n.args.map((a) => access.get(a)!);
      const entry = LOWERING[n.op];
      if (entry.kind === 'view') { access.set(n, through(args[0], n.shape, (c) => entry.source(c, n.args[0].shape, n.attrs))); continue; }
      const depth = elementwise(n) ? 1 + Math.max(0, ...n.args.map((a) => fusedDepth.get(a) ?? 0)) : 0;
      if (elementwise(n) && soleUse(n) && depth <= MAX_FUSION_DEPTH) {
        fusedDepth.set(n, depth);
        access.set(n, { base: ZERO, bs: batched.has(n) ? 1 : 0, strides: n.shape.map(() => 1), shape: n.shape, inline: { op: n.op, args } });
        continue;
      }
      const out = materialize(n);
      access.set(n, out);
      const fromGemm = elementwise(n) && batched.has(n) && n.shape.length === 1 ? gemmFeeding(n) : undefined;
      if (fromGemm) {
        const k = gemmOf.get(fromGemm)!;
        const g = steps[k] as Extract<LoopStep, { kind: 'gemm' }>;
        const value = substitute({ base: ZERO, bs: out.bs, strides: out.strides, shape: out.shape, inline: { op: n.op, args } }, access.get(fromGemm)!, GEMM_RESULT);
        // The gemm moves here, where everything the epilogue reads has been computed (its own
        // operands were ready at k already, and nothing else reads its result).
        steps[k] = null;
        steps.push({ ...g, epilogue: { out, value }, comment: notes.stepNote(n, chainOf(n, [fromGemm])) });
        gemmOf.delete(fromGemm);
        continue;
      }
      const step = computeStep(n, out, args, stepNoteOf(n));
      if (step.kind === 'gemm' && !step.accumulate && constantOf(step.P) === undefined) gemmOf.set(n, steps.length);
      steps.push(step);
    }

    if (kind === 'forward') {
      model.outputs.forEach((o, i) => {
        const slot = layout.outputs[i];
        const out: Access = { buf: { kind: 'output' }, base: shift(variable('outputRow'), slot.offset), bs: layout.outputSize, strides: rowMajor(slot.shape), shape: slot.shape };
        steps.push({ kind: 'elementwise', op: 'copy', out, args: [access.get(o.node)!], unroll: small(out.shape), comment: `output ${o.name}` });
      });
    }
    for (const r of reductions) {
      const target = targets[r.param]!;
      const note = notes.reductionNote(model.params[r.param].name, r.node);
      if (r.how === 'gemm') {
        const [a, b] = r.node.args.map((x) => access.get(x)!);
        // dW(i, j) += $scale * sum_b a(b, i) b(b, j): P = i, Q = j, K = b.
        steps.push({
          kind: 'gemm', P: constant(a.shape[0] ?? 1), Q: b.shape[0] ?? 1, K: BATCH, accumulate: true, scaled: true, comment: note,
          L: { buf: a.buf!, base: a.base, su: a.strides[0] ?? 0, sv: a.bs },
          R: { buf: b.buf!, base: b.base, su: b.bs, sv: b.strides[0] ?? 0 },
          out: { buf: target.buf!, base: ZERO, su: target.strides[0], sv: target.strides[1] },
        });
      } else {
        const v = access.get(r.node)!;
        const value = v.shape.length === target.shape.length ? v : { ...v, shape: target.shape, strides: target.shape.map(() => 0) };
        steps.push({ kind: 'reduce', target, value, shared: r.how === 'shared', unroll: small(target.shape), comment: note });
      }
    }
    if (kind !== 'forward') steps.push({ kind: 'lossSum', value: access.get(model.loss)! });
    const final = steps.filter((x): x is LoopStep => x !== null);
    checkWrittenBeforeRead(final, kind);
    return { kind, hoists, steps: final };
  };

  const kernels = { forward: build('forward'), loss: build('loss'), gradient: build('gradient') };
  // A buffer materialized for a gemm whose result then went to its epilogue is never used.
  const used = new Set<ScratchBuffer>();
  for (const k of Object.values(kernels)) for (const s of k.steps) for (const b of scratchOf(s).writes) used.add(b);
  return { maxBatch, buffers: buffers.filter((b) => used.has(b)), kernels };
}

/** Scratch buffers an access reads (through fused expressions), added to `out`; iterative. */
function readsOf(a: Access, out: Set<ScratchBuffer>): void {
  const stack: Access[] = [a];
  const seen = new Set<Access>();
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    if (x.inline) stack.push(...x.inline.args);
    else if (x.buf?.kind === 'scratch') out.add(x.buf.buffer);
  }
}

/** The scratch buffers step `s` reads and writes. */
export function scratchOf(s: LoopStep): { reads: Set<ScratchBuffer>; writes: ScratchBuffer[] } {
  const reads = new Set<ScratchBuffer>();
  const written: (BufferRef | undefined)[] = [];
  switch (s.kind) {
    case 'elementwise': s.args.forEach((a) => readsOf(a, reads)); written.push(s.out.buf); break;
    case 'contract': s.factors.forEach((a) => readsOf(a, reads)); written.push(s.out.buf); break;
    case 'place': s.pieces.forEach((p) => readsOf(p.arg, reads)); written.push(s.out.buf); break;
    case 'shifted': readsOf(s.x, reads); for (const o of s.outs) written.push(o.out.buf); break;
    case 'gemm':
      for (const o of [s.L, s.R]) if (o.buf.kind === 'scratch') reads.add(o.buf.buffer);
      if (s.epilogue) { readsOf(s.epilogue.value, reads); written.push(s.epilogue.out.buf); } else written.push(s.out.buf);
      break;
    case 'reduce': readsOf(s.value, reads); break;
    case 'lossSum': readsOf(s.value, reads); break;
  }
  return { reads, writes: written.flatMap((b) => (b?.kind === 'scratch' ? [b.buffer] : [])) };
}

/**
 * The plan's invariant, checked: every buffer a step reads was written by an earlier step
 * of the same kernel. A violation is a bug in gradc, reported as such.
 */
function checkWrittenBeforeRead(steps: readonly LoopStep[], kind: string): void {
  const written = new Set<ScratchBuffer>();
  for (const s of steps) {
    const { reads, writes } = scratchOf(s);
    for (const r of reads) {
      if (!written.has(r)) throw new Error(`gradc bug: the ${kind} kernel reads ${r.name} before writing it`);
    }
    for (const w of writes) written.add(w);
  }
}

/** The gemm for a batched matrix-vector product, or null when the operands do not fit one. */
function gemmFor(A: Access, B: Access, out: Access): Extract<LoopStep, { kind: 'gemm' }> | null {
  if (A.scalar !== undefined || B.scalar !== undefined || !out.buf) return null;
  const o: GemmOperand = { buf: out.buf, base: out.base, su: out.bs, sv: out.strides[0] };
  if (A.shape.length === 2 && B.shape.length === 1 && A.bs === 0 && B.bs > 0) {
    // y(b, i) = sum_j B(b, j) A(i, j): P = b, Q = i, K = j.
    return { kind: 'gemm', P: BATCH, Q: A.shape[0], K: constant(A.shape[1]), accumulate: false, scaled: false,
      L: { buf: B.buf!, base: B.base, su: B.bs, sv: B.strides[0] }, R: { buf: A.buf!, base: A.base, su: A.strides[1], sv: A.strides[0] }, out: o };
  }
  if (A.shape.length === 1 && B.shape.length === 2 && A.bs > 0 && B.bs === 0) {
    // y(b, q) = sum_k A(b, k) B(k, q)
    return { kind: 'gemm', P: BATCH, Q: B.shape[1], K: constant(B.shape[0]), accumulate: false, scaled: false,
      L: { buf: A.buf!, base: A.base, su: A.bs, sv: A.strides[0] }, R: { buf: B.buf!, base: B.base, su: B.strides[0], sv: B.strides[1] }, out: o };
  }
  return null;
}

