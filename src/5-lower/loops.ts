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
 *   maximum and one sum, every result written from them;
 * - a time loop's step of small operations is one `cell` step instead (cell.ts): per
 *   sample, straight-line scalar code, with the same values to rounding.
 */
import type { Node } from '../ir/node.js';
import type { Op } from '../ir/ops.js';
import { OPS } from '../ir/ops.js';
import { type Shape, sameShape, sizeOf } from '../ir/shape.js';
import { dependsOn, topoOrder } from '../ir/walk.js';
import type { Derived } from '../model.js';
import type { Layout } from './schedule.js';
import { Names } from '../naming.js';
import { type LoopNotes, loopNotes } from './loopNotes.js';
import { type Demand, type Reduction, demandOf } from './demand.js';
import { stashPlan } from './stash.js';
import { type CellOutput, DEFAULT_SCALAR_CELL, cellExpands, cellFits, cellStep } from './cell.js';
import { type Coords, LOWERING, type OpLowering, covers } from './table.js';
import {
  type Access, type BufferRef, type GemmOperand, type Hoist, type LoopKernel, type LoopPlan, type LoopStep, type ScratchBuffer,
  type Affine, BATCH, GEMM_RESULT, ZERO, constant, constantOf, plusTerm, shift, variable,
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

/**
 * The loop plan of a derived model: its forward, loss and gradient kernels over batches of
 * at most `maxBatch` samples, and the scratch buffers they use (only those some step writes).
 */
export function planLoops(derived: Derived, layout: Layout, maxBatch: number, unrollElements = DEFAULT_UNROLL_ELEMENTS, scalarCell = DEFAULT_SCALAR_CELL): LoopPlan {
  const plan = newPlanner(derived, layout, maxBatch, unrollElements, scalarCell);
  const kernels = { forward: buildKernel(plan, 'forward'), loss: buildKernel(plan, 'loss'), gradient: buildKernel(plan, 'gradient') };
  return { maxBatch, buffers: usedBuffers(plan.buffers, kernels), kernels };
}

/**
 * What the kernels of one plan share: the model, its layout, which nodes are batched
 * (depend on the data), and the scratch buffers, each node's materialized at most once.
 */
interface Planner {
  readonly derived: Derived;
  readonly layout: Layout;
  readonly maxBatch: number;
  /** Whether an element loop over a tensor of shape `s` is unrolled. */
  readonly small: (s: Shape) => boolean;
  /** The bound on a time loop step's mean work per operation up to which it is straight-line scalar code (cell.ts cellFits). */
  readonly scalarCell: number;
  readonly notes: LoopNotes;
  /** Nodes that depend on the data (a recurrence's body nodes are added when it is planned). */
  readonly batched: Set<Node>;
  readonly bufferNames: Names;
  readonly buffers: ScratchBuffer[];
  readonly bufferOf: Map<Node, Access>;
}

/** A planner with no buffers yet; batching is decided once, over every node any result needs. */
function newPlanner(derived: Derived, layout: Layout, maxBatch: number, unrollElements: number, scalarCell: number): Planner {
  const { model, grads } = derived;
  const all = topoOrder([model.loss, ...model.outputs.map((o) => o.node), ...grads]);
  const dataLeaf = (n: Node) => n.op === 'input' || n.op === 'target';
  return {
    derived, layout, maxBatch, small: (s: Shape) => sizeOf(s) <= unrollElements, scalarCell, notes: loopNotes(derived),
    batched: dependsOn(all, dataLeaf), bufferNames: new Names(), buffers: [], bufferOf: new Map(),
  };
}

/**
 * One kernel being built: its demand (demand.ts), the access of each node planned so far,
 * its steps (null where a gemm was moved later to carry its epilogue), its hoists (each
 * once), and the fusion facts the steps are chosen by.
 */
interface KernelBuild extends Demand {
  readonly plan: Planner;
  readonly kind: LoopKernel['kind'];
  readonly hoists: Hoist[];
  readonly hoisted: Set<string>;
  readonly steps: (LoopStep | null)[];
  readonly access: Map<Node, Access>;
  /** node -> the nodes of this kernel that read it. */
  readonly uses: Map<Node, Node[]>;
  /** node -> its index in `order`. */
  readonly position: Map<Node, number>;
  /** x -> the shifted ops over x this kernel needs. */
  readonly shiftedOver: Map<Node, Node[]>;
  /** inline node -> nesting depth of its fused expression. */
  readonly fusedDepth: Map<Node, number>;
  /** node -> index of the gemm step that computes it (while it could still take an epilogue). */
  readonly gemmOf: Map<Node, number>;
  /** Gradient accumulators by parameter index (gradient kernel), and the reductions a time loop already did. */
  readonly targets?: readonly (Access | undefined)[];
  readonly reduced?: Set<Node>;
  /** Nodes of gradient bodies whose value a forward time loop of this kernel stored (stash.ts), and where. */
  readonly stored: Map<Node, Access>;
}

/**
 * The kernel of `kind`: every demanded node in topological order (leaves and views as
 * accesses, fused nodes inline, the rest one step each), then the output copies (forward),
 * the gradient reductions and the loss sum; checked to write every buffer before reading it.
 */
function buildKernel(plan: Planner, kind: LoopKernel['kind']): LoopKernel {
  const k0 = newKernelBuild(plan, kind);
  const targets = plan.derived.model.params.map((_, i) => (kind === 'gradient' ? gradTarget(k0, i) : undefined));
  const k: KernelBuild = { ...k0, targets, reduced: new Set() };
  for (const n of k.order) lowerNode(k, n);
  if (kind === 'forward') k.steps.push(...outputSteps(k));
  for (const r of k.reductions) if (!k.reduced!.has(r.node)) k.steps.push(reductionStep(k, r, targets[r.param]!));
  if (kind !== 'forward') k.steps.push({ kind: 'lossSum', value: k.access.get(plan.derived.model.loss)! });
  const final = k.steps.filter((x): x is LoopStep => x !== null);
  checkWrittenBeforeRead(final, kind);
  return { kind, hoists: k.hoists, steps: final };
}

/** A kernel with nothing planned yet: what it computes (demand.ts), who uses what, and the shifted groups. */
function newKernelBuild(plan: Planner, kind: LoopKernel['kind']): KernelBuild {
  const demand = demandOf(kind, plan.derived, plan.batched);
  const uses = new Map<Node, Node[]>();
  for (const n of demand.order) for (const a of n.args) (uses.get(a) ?? uses.set(a, []).get(a)!).push(n);
  const shiftedOver = new Map<Node, Node[]>();
  for (const n of demand.order) if (LOWERING[n.op].kind === 'shifted') (shiftedOver.get(n.args[0]) ?? shiftedOver.set(n.args[0], []).get(n.args[0])!).push(n);
  return {
    ...demand, plan, kind, hoists: [], hoisted: new Set(), steps: [], access: new Map(), uses,
    position: new Map(demand.order.map((n, i) => [n, i])), shiftedOver, fusedDepth: new Map(), gemmOf: new Map(), stored: new Map(),
  };
}

/** Adds `h` to the kernel's hoists unless it is there already. */
function hoist(k: KernelBuild, h: Hoist): void {
  const key = `${h.kind} ${h.name}`;
  if (!k.hoisted.has(key)) { k.hoisted.add(key); k.hoists.push(h); }
}

/** The gradient accumulator of parameter `i` (hoisted unless it is a scalar). */
function gradTarget(k: KernelBuild, i: number): Access {
  const { name, shape } = k.plan.derived.model.params[i];
  if (shape.length === 0) return { base: ZERO, bs: 0, strides: [], shape, scalar: { kind: 'grad', name } };
  hoist(k, { kind: 'grad', name });
  return { buf: { kind: 'grad', name }, base: ZERO, bs: 0, strides: rowMajor(shape), shape };
}

/**
 * Plans node `n`: a leaf or view becomes an access; an elementwise node becomes inline
 * (fused) when it can; otherwise it is materialized, by a gemm's epilogue when a gemm
 * result feeds it alone, else by its own step.
 */
function lowerNode(k: KernelBuild, n: Node): void {
  if (k.access.has(n)) return;
  if (isLeaf(n)) { k.access.set(n, leafAccess(k, n)); return; }
  const args = n.args.map((a) => k.access.get(a)!);
  const entry = LOWERING[n.op];
  if (entry.kind === 'view') { k.access.set(n, through(args[0], n.shape, (c) => entry.source(c, n.args[0].shape, n.attrs))); return; }
  if (entry.kind === 'time') { lowerTime(k, n, args); return; }
  if (fuseInline(k, n, args)) return;
  const out = materialize(k.plan, n);
  k.access.set(n, out);
  if (moveGemmWithEpilogue(k, n, out, args)) return;
  const step = computeStep(k, n, out, args, stepNoteOf(k, n));
  if (step.kind === 'gemm' && !step.accumulate && constantOf(step.P) === undefined) k.gemmOf.set(n, k.steps.length);
  k.steps.push(step);
}

/** The access of a leaf: a literal, a parameter (hoisted), or a slot of the sample's input or target row. */
function leafAccess(k: KernelBuild, n: Node): Access {
  const name = n.attrs.name!;
  if (n.op === 'const') return { base: ZERO, bs: 0, strides: n.shape.map(() => 0), shape: n.shape, scalar: { kind: 'literal', value: n.attrs.value! } };
  if (n.op === 'param') {
    hoist(k, { kind: 'param', name });
    return n.shape.length === 0
      ? { base: ZERO, bs: 0, strides: [], shape: n.shape, scalar: { kind: 'param', name } }
      : { buf: { kind: 'param', name }, base: ZERO, bs: 0, strides: rowMajor(n.shape), shape: n.shape };
  }
  const { layout } = k.plan;
  const slots = n.op === 'input' ? layout.inputs : layout.targets;
  const slot = slots.find((s) => s.name === name)!;
  const row = n.op === 'input' ? layout.inputSize : layout.targetSize;
  const [buf, row0] = n.op === 'input' ? [{ kind: 'input' } as const, 'inputRow' as const] : [{ kind: 'target' } as const, 'targetRow' as const];
  return { buf, base: shift(variable(row0), slot.offset), bs: row, strides: rowMajor(n.shape), shape: n.shape };
}

/** The scratch buffer of `n`, created (and named) the first time any kernel needs it. */
function materialize(plan: Planner, n: Node): Access {
  const known = plan.bufferOf.get(n);
  if (known) return known;
  const size = sizeOf(n.shape);
  const isBatched = plan.batched.has(n);
  const name = plan.bufferNames.fresh(`$v_${plan.notes.bufferBase(n)}`);
  const buffer: ScratchBuffer = { name, size: isBatched ? size * plan.maxBatch : size, node: n, batched: isBatched };
  plan.buffers.push(buffer);
  const acc: Access = { buf: { kind: 'scratch', buffer }, base: ZERO, bs: isBatched ? size : 0, strides: rowMajor(n.shape), shape: n.shape };
  plan.bufferOf.set(n, acc);
  return acc;
}

const elementwise = (n: Node) => OPS[n.op].kind === 'elementwise';

/**
 * The one use of `n` when `n` can be fused into it: `n` is no root and its one use is an
 * elementwise node of the same shape and batching.
 */
function soleUse(k: KernelBuild, n: Node): Node | undefined {
  const u = k.uses.get(n);
  const { batched } = k.plan;
  return !k.roots.has(n) && u && u.length === 1 && elementwise(u[0]) && sameShape(u[0].shape, n.shape) && batched.has(u[0]) === batched.has(n) ? u[0] : undefined;
}

/**
 * Fusion: makes elementwise `n` an inline access, computed in its one use's loop, when it
 * has a sole use and its fused expression stays within MAX_FUSION_DEPTH; says whether it did.
 */
function fuseInline(k: KernelBuild, n: Node, args: Access[]): boolean {
  const depth = elementwise(n) ? 1 + Math.max(0, ...n.args.map((a) => k.fusedDepth.get(a) ?? 0)) : 0;
  if (!(elementwise(n) && soleUse(k, n) && depth <= MAX_FUSION_DEPTH)) return false;
  k.fusedDepth.set(n, depth);
  k.access.set(n, { base: ZERO, bs: k.plan.batched.has(n) ? 1 : 0, strides: n.shape.map(() => 1), shape: n.shape, inline: { op: n.op, args } });
  return true;
}

/** A gemm result read only by `n`'s fused elementwise chain, if there is one. */
function gemmFeeding(k: KernelBuild, n: Node): Node | undefined {
  const stack = [n];
  while (stack.length) {
    const m = stack.pop()!;
    for (const a of m.args) {
      if (k.gemmOf.has(a) && soleUse(k, a) === m) return a;
      if (k.access.get(a)?.inline) stack.push(a);
    }
  }
  return undefined;
}

/**
 * Epilogue choice: when batched vector `n` (elementwise, into `out`) is the one use of a
 * gemm's result, that gemm moves here and computes `n` as it stores; says whether it did.
 */
function moveGemmWithEpilogue(k: KernelBuild, n: Node, out: Access, args: Access[]): boolean {
  const fromGemm = elementwise(n) && k.plan.batched.has(n) && n.shape.length === 1 ? gemmFeeding(k, n) : undefined;
  if (!fromGemm) return false;
  const at = k.gemmOf.get(fromGemm)!;
  const g = k.steps[at] as Extract<LoopStep, { kind: 'gemm' }>;
  const value = substitute({ base: ZERO, bs: out.bs, strides: out.strides, shape: out.shape, inline: { op: n.op, args } }, k.access.get(fromGemm)!, GEMM_RESULT);
  // The gemm moves here, where everything the epilogue reads has been computed (its own
  // operands were ready at `at` already, and nothing else reads its result).
  k.steps[at] = null;
  k.steps.push({ ...g, epilogue: { out, value }, comment: k.plan.notes.stepNote(n, chainOf(k, n, [fromGemm])) });
  k.gemmOf.delete(fromGemm);
  return true;
}

/** `n` and the nodes fused into its step (`extra` and theirs too), in topological order. */
function chainOf(k: KernelBuild, n: Node, extra: readonly Node[] = []): Node[] {
  const seen = new Set<Node>([n, ...extra]);
  const stack = [n, ...extra];
  while (stack.length) {
    const m = stack.pop()!;
    for (const a of m.args) if (!seen.has(a) && k.access.get(a)?.inline) { seen.add(a); stack.push(a); }
  }
  return [...seen].sort((a, b) => k.position.get(a)! - k.position.get(b)!);
}

/** The comment of the step that computes `n` and what is fused into it. */
const stepNoteOf = (k: KernelBuild, n: Node) => k.plan.notes.stepNote(n, chainOf(k, n));

/** The step that computes `n` into `out`, as LOWERING states its index math. */
function computeStep(k: KernelBuild, n: Node, out: Access, args: Access[], comment: string): LoopStep {
  const entry = LOWERING[n.op];
  const shapes = n.args.map((a) => a.shape);
  const { small } = k.plan;
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
    case 'shifted':
      return shiftedStep(k, n, out, args[0], comment);
    case 'gather':
      return { kind: 'gather', out, table: args[0], ids: args[1], comment };
    case 'scatter':
      return { kind: 'scatter', into: 'value', target: out, value: args[0], ids: args[1], comment };
    default: // leaves, views and time loops never get here
      throw new Error(`gradc bug: no loop step computes a ${n.op}`);
  }
}

const shiftedRule = (n: Node) => (LOWERING[n.op] as Extract<OpLowering, { kind: 'shifted' }>).rule;

/**
 * The one step of shifted op `n` over `x` (into `out`) and of every other shifted op over
 * the same x of its term that this kernel needs and has not planned: one max, one sum.
 */
function shiftedStep(k: KernelBuild, n: Node, out: Access, x: Access, comment: string): LoopStep {
  const term = shiftedRule(n).term;
  const group = (k.shiftedOver.get(n.args[0]) ?? []).filter((m) => m === n || (!k.access.has(m) && shiftedRule(m).term === term));
  const outs = group.map((m) => {
    const o = m === n ? out : materialize(k.plan, m);
    k.access.set(m, o);
    return { op: m.op, rule: shiftedRule(m), out: o };
  });
  const said = group.length > 1 ? group.map((m) => stepNoteOf(k, m)).join('\n') : comment;
  return { kind: 'shifted', x, outs, unroll: k.plan.small(n.args[0].shape), comment: said };
}

/** Every element of `shape` is the literal `value`. */
const literalAccess = (shape: Shape, value: number): Access => ({ base: ZERO, bs: 0, strides: shape.map(() => 0), shape, scalar: { kind: 'literal', value } });

/** Row (t-1)*stride+shift of a sequence `a` at the time loop's step t (a vector's element, a matrix's row). */
function rowAtStep(a: Access, shift: number, stride: number, shape: Shape): Access {
  if (a.scalar !== undefined) return { ...a, shape, strides: shape.map(() => 0) };
  if (a.inline) throw new Error('gradc bug: a sequence of a recurrence was fused away');
  const s0 = a.strides[0];
  return { buf: a.buf, base: shift0(plusTerm(a.base, 'step', s0 * stride), (shift - stride) * s0), bs: a.bs, strides: a.strides.slice(1), shape };
}
const shift0 = (a: Affine, k: number): Affine => ({ terms: a.terms, offset: a.offset + k });

/**
 * A scan or tsum (ir/ops.ts Body): its body planned as a kernel of its own, run once per
 * step inside one time loop, every sample of the batch advanced together (so a
 * matrix-vector product of the step is one gemm over the batch). Slots are accesses: the
 * carry is a row of the scan's history buffer (row t-1, or row t going backwards), a
 * sequence's slot its row at t, a constant's slot the constant itself; a scan's step
 * result is written straight into its row of the history. Buffers of the body hold one
 * step, so the code and every buffer but the history are the same size whatever T is.
 */
function lowerTime(k: KernelBuild, n: Node, args: Access[]): void {
  const b = n.attrs.body!;
  const { plan } = k;
  const scan = n.op === 'scan';
  const first = scan ? 1 : 0;
  const nS = b.seqs.length;
  // Sums over time of one body (the gradients of one recurrence's constants) share one loop.
  const group = scan ? [n] : k.order.filter((m) => m.op === 'tsum' && m.attrs.body!.id === b.id && !k.access.has(m));
  const outs = group.map((m) => { const o = materialize(plan, m); k.access.set(m, o); return o; });
  const out = outs[0];
  const W = scan ? n.shape[1] : 0;
  const rowOfOut = (offset: number): Access => ({ buf: out.buf, base: { terms: [{ v: 'step', stride: W }], offset: offset * W }, bs: out.bs, strides: [1], shape: b.carry!.shape });
  const slots = new Map<Node, Access>();
  const slotBatched = new Map<Node, boolean>();
  b.seqs.forEach((s, i) => {
    slots.set(s, rowAtStep(args[first + i], b.shifts[i], b.strides?.[i] ?? 1, s.shape));
    slotBatched.set(s, plan.batched.has(n.args[first + i]));
  });
  b.consts.forEach((c, j) => { slots.set(c, args[first + nS + j]); slotBatched.set(c, plan.batched.has(n.args[first + nS + j])); });
  // Values this body's forward loop stored for it (stash.ts) are read at row t, not recomputed.
  for (const m of topoOrder(group.map((x) => x.attrs.body!.result))) {
    const at = k.stored.get(m);
    if (at) { slots.set(m, at); slotBatched.set(m, true); }
  }
  if (scan) { slots.set(b.carry!, rowOfOut(b.reverse ? 0 : -1)); slotBatched.set(b.carry!, plan.batched.has(n)); }
  const results = group.map((m) => m.attrs.body!.result);
  for (const m of topoOrder(results)) if (slotBatched.get(m) ?? m.args.some((a) => plan.batched.has(a))) plan.batched.add(m);
  // A sum over time of outer products of per-sample vectors (or of a sum of them: a
  // checkpointed step's k cell steps) that only feeds its parameter's gradient is added
  // straight into the accumulator, one gemm over the batch per product and step
  // (dW += $scale * sum_b a(b) b(b)^T), never materialized per sample.
  const direct = new Map<Node, { red: Reduction; terms: Node[] }>();
  if (!scan && k.targets && k.reduced) {
    group.forEach((m, i) => {
      const terms = outerTerms(results[i], plan.batched);
      const red = k.reductions.find((x) => x.node === m && x.how === 'sum');
      if (red && terms && !(k.uses.get(m)?.length) && k.targets![red.param]?.buf) direct.set(m, { red, terms });
    });
  }
  // A forward scan stores, in buffers of T rows, the step values its gradient loops would recompute.
  const stash = scan ? stashPlan(n, k.order).filter((s) => plan.batched.has(s.forward)) : [];
  const storedAt = stash.map((s) => storedRow(plan, s.forward, b.steps));
  stash.forEach((s, i) => { for (const r of s.readers) k.stored.set(r, storedAt[i]); });
  const roots = [...group.flatMap((m, i) => (direct.has(m) ? direct.get(m)!.terms.flatMap((x) => x.args) : [results[i]])), ...stash.map((s) => s.forward)];
  const order = topoOrder(roots, { has: (m) => slots.has(m) });
  const inner = order.filter((m) => !slots.has(m));
  // A scan's step result goes straight into its row of the history (unless it is a leaf or a view of one).
  const target = scan ? rowOfOut(b.reverse ? -1 : 0) : undefined;
  if (target && !isLeaf(b.result) && !slots.has(b.result) && !plan.bufferOf.has(b.result)) plan.bufferOf.set(b.result, target);
  const uses = new Map<Node, Node[]>();
  for (const m of inner) for (const a of m.args) (uses.get(a) ?? uses.set(a, []).get(a)!).push(m);
  const shiftedOver = new Map<Node, Node[]>();
  for (const m of inner) if (LOWERING[m.op].kind === 'shifted') (shiftedOver.get(m.args[0]) ?? shiftedOver.set(m.args[0], []).get(m.args[0])!).push(m);
  const sub: KernelBuild = {
    demanded: new Set(inner), roots: new Set(roots), order: inner, reductions: [],
    plan, kind: k.kind, hoists: k.hoists, hoisted: k.hoisted, steps: [], access: new Map(slots), uses,
    position: new Map(inner.map((m, i) => [m, i])), shiftedOver, fusedDepth: new Map(), gemmOf: new Map(), stored: k.stored,
  };
  stash.forEach((s, i) => { if (!plan.bufferOf.has(s.forward)) plan.bufferOf.set(s.forward, storedAt[i]); });
  const note = group.map((m) => plan.notes.stepNote(m, [m])).join('\n');
  // A small step: straight-line scalar code per sample (cell.ts), else one kernel-like plan.
  const cell = cellExpands(inner) && cellFits(inner, plan.scalarCell)
    ? scalarStep(plan, slots, [
      ...(scan ? [{ value: b.result, to: target!, add: false }] : []),
      ...stash.map((s, i) => ({ value: s.forward, to: storedAt[i], add: false })),
      ...(scan ? [] : group.flatMap((m, i) => (direct.has(m) ? [] : [{ value: results[i], to: outs[i], add: true }]))),
    ], [...direct.values()].flatMap((d) => d.terms.flatMap((x) => x.args)), 'the step, per sample, as scalars')
    : undefined;
  if (cell) for (const [m, a] of cell.access) sub.access.set(m, a);
  else for (const m of inner) lowerNode(sub, m);
  const steps = cell ? [cell.step] : sub.steps.filter((x): x is LoopStep => x !== null);
  if (!cell) {
    stash.forEach((s, i) => {
      const value = sub.access.get(s.forward)!;
      if (value !== storedAt[i]) steps.push({ kind: 'elementwise', op: 'copy', out: storedAt[i], args: [value], unroll: plan.small(s.forward.shape), comment: 'stored for the gradient' });
    });
  }
  if (scan) {
    const result = sub.access.get(b.result)!;
    if (!cell && result !== plan.bufferOf.get(b.result)) {
      steps.push({ kind: 'elementwise', op: 'copy', out: target!, args: [result], unroll: plan.small(target!.shape), comment: 'the step\'s result into its row' });
    }
    const initRow: Access = { ...rowOfOut(0), base: constant((b.reverse ? b.steps : 0) * W) };
    k.steps.push({ kind: 'elementwise', op: 'copy', out: initRow, args: [args[0]], unroll: plan.small(initRow.shape), comment: `${b.reverse ? `row ${b.steps}` : 'row 0'} of the recurrence: its initial state` });
  } else {
    group.forEach((m, i) => {
      const d = direct.get(m);
      if (d) {
        // Roots are never fused, so each product's factors are buffers.
        const t = k.targets![d.red.param]!;
        k.reduced!.add(m);
        for (const term of d.terms) {
          const [a, c] = term.args.map((x) => sub.access.get(x)!);
          if (!a.buf || !c.buf || a.inline || c.inline) throw new Error('gradc bug: a factor of a gradient\'s outer product was fused away');
          steps.push({
            kind: 'gemm', P: constant(a.shape[0] ?? 1), Q: c.shape[0] ?? 1, K: BATCH, accumulate: true, scaled: true,
            comment: plan.notes.reductionNote(plan.derived.model.params[d.red.param].name, m),
            L: { buf: a.buf, base: a.base, su: a.strides[0] ?? 0, sv: a.bs }, R: { buf: c.buf, base: c.base, su: c.bs, sv: c.strides[0] ?? 0 },
            out: { buf: t.buf!, base: ZERO, su: t.strides[0], sv: t.strides[1] },
          });
        }
        return;
      }
      const o = outs[i];
      if (!cell) steps.push({ kind: 'elementwise', op: 'add', out: o, args: [o, sub.access.get(results[i])!], unroll: plan.small(o.shape), comment: 'summed over t' });
      k.steps.push({ kind: 'elementwise', op: 'copy', out: o, args: [literalAccess(m.shape, 0)], unroll: plan.small(o.shape), comment: 'a sum over time starts at 0' });
    });
  }
  k.steps.push({ kind: 'time', from: b.first, to: b.steps, reverse: b.reverse, steps, comment: note });
}

/**
 * A time loop's step as one cell step (cell.ts), with `factors` (the gradient's outer
 * products' factors, read by the gemms after it) written to buffers unless they are slots;
 * the accesses of those factors come back with it. Undefined when cell.ts declines.
 */
function scalarStep(plan: Planner, slots: ReadonlyMap<Node, Access>, outputs: CellOutput[], factors: readonly Node[], note: string): { step: LoopStep; access: Map<Node, Access> } | undefined {
  const access = new Map<Node, Access>();
  for (const x of factors) {
    if (access.has(x)) continue;
    const a = slots.get(x) ?? materialize(plan, x);
    access.set(x, a);
    if (!slots.has(x)) outputs.push({ value: x, to: a, add: false });
  }
  const step = cellStep(slots, outputs, note);
  return step && { step, access };
}

/** The outer products of per-sample vectors whose sum `r` is (r itself, or an add tree of them), else undefined. */
function outerTerms(r: Node, batched: ReadonlySet<Node>): Node[] | undefined {
  const terms: Node[] = [];
  const stack = [r];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.op === 'add' && sameShape(x.args[0].shape, x.shape) && sameShape(x.args[1].shape, x.shape)) stack.push(x.args[1], x.args[0]);
    else if (x.op === 'outer' && x.args.every((a) => batched.has(a))) terms.push(x);
    else return undefined;
  }
  return terms;
}

/**
 * The buffer a forward loop stores `n` in at every step for its gradient loops (stash.ts):
 * T rows per sample, row t-1 written and read at step t.
 */
function storedRow(plan: Planner, n: Node, steps: number): Access {
  const size = sizeOf(n.shape);
  const name = plan.bufferNames.fresh(`$v_stored_${plan.notes.bufferBase(n)}`);
  const buffer: ScratchBuffer = { name, size: size * steps * plan.maxBatch, node: n, batched: true };
  plan.buffers.push(buffer);
  return { buf: { kind: 'scratch', buffer }, base: { terms: [{ v: 'step', stride: size }], offset: -size }, bs: size * steps, strides: rowMajor(n.shape), shape: n.shape };
}

/** The forward kernel's copies of each output into its slot of the sample's output row. */
function outputSteps(k: KernelBuild): LoopStep[] {
  const { layout, derived, small } = k.plan;
  return derived.model.outputs.map((o, i) => {
    const slot = layout.outputs[i];
    const out: Access = { buf: { kind: 'output' }, base: shift(variable('outputRow'), slot.offset), bs: layout.outputSize, strides: rowMajor(slot.shape), shape: slot.shape };
    return { kind: 'elementwise', op: 'copy', out, args: [k.access.get(o.node)!], unroll: small(out.shape), comment: `output ${o.name}` };
  });
}

/**
 * Gradient reduction: the step that adds gradient term `r` (summed over the batch, scaled
 * by `$scale`) into `target`; a batch sum of outer products is one gemm.
 */
function reductionStep(k: KernelBuild, r: Reduction, target: Access): LoopStep {
  const note = k.plan.notes.reductionNote(k.plan.derived.model.params[r.param].name, r.node);
  if (r.how === 'scatter') {
    const [value, ids] = r.node.args.map((x) => k.access.get(x)!);
    const p = k.plan.layout.params[r.param];
    return { kind: 'scatter', into: 'grad', target, value, ids, ...(p.rows === 'sparse' ? { touch: p.name } : {}), comment: note };
  }
  if (r.how === 'gemm') {
    const [a, b] = r.node.args.map((x) => k.access.get(x)!);
    // dW(i, j) += $scale * sum_b a(b, i) b(b, j): P = i, Q = j, K = b.
    return {
      kind: 'gemm', P: constant(a.shape[0] ?? 1), Q: b.shape[0] ?? 1, K: BATCH, accumulate: true, scaled: true, comment: note,
      L: { buf: a.buf!, base: a.base, su: a.strides[0] ?? 0, sv: a.bs },
      R: { buf: b.buf!, base: b.base, su: b.bs, sv: b.strides[0] ?? 0 },
      out: { buf: target.buf!, base: ZERO, su: target.strides[0], sv: target.strides[1] },
    };
  }
  const v = k.access.get(r.node)!;
  const value = v.shape.length === target.shape.length ? v : { ...v, shape: target.shape, strides: target.shape.map(() => 0) };
  return { kind: 'reduce', target, value, shared: r.how === 'shared', unroll: k.plan.small(target.shape), comment: note };
}

/** The buffers some kernel's step writes (one materialized for a gemm whose result went to its epilogue never is). */
function usedBuffers(buffers: readonly ScratchBuffer[], kernels: Record<string, LoopKernel>): ScratchBuffer[] {
  const used = new Set<ScratchBuffer>();
  for (const k of Object.values(kernels)) for (const s of k.steps) for (const b of scratchOf(s).writes) used.add(b);
  return buffers.filter((b) => used.has(b));
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
    case 'gather': readsOf(s.table, reads); readsOf(s.ids, reads); written.push(s.out.buf); break;
    case 'scatter': readsOf(s.value, reads); readsOf(s.ids, reads); if (s.into === 'value') written.push(s.target.buf); break;
    case 'lossSum': readsOf(s.value, reads); break;
    case 'cell':
      s.reads.forEach((r) => readsOf(r.from, reads));
      for (const w of s.writes) { if (w.add) readsOf(w.to, reads); written.push(w.to.buf); }
      break;
    case 'time':
      for (const x of s.steps) {
        const inner = scratchOf(x);
        for (const r of inner.reads) reads.add(r);
        for (const w of inner.writes) written.push({ kind: 'scratch', buffer: w });
      }
      break;
  }
  return { reads, writes: written.flatMap((b) => (b?.kind === 'scratch' ? [b.buffer] : [])) };
}

/**
 * The plan's invariant, checked: every buffer a step reads was written by an earlier step
 * of the same kernel. A violation is a bug in gradc, reported as such.
 */
function checkWrittenBeforeRead(steps: readonly LoopStep[], kind: string): void {
  const written = new Set<ScratchBuffer>();
  const flat: LoopStep[] = [];
  const stack = [...steps].reverse();
  while (stack.length) {
    const s = stack.pop()!;
    if (s.kind === 'time') stack.push(...[...s.steps].reverse());
    else flat.push(s);
  }
  for (const s of flat) {
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

