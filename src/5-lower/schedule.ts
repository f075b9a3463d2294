/**
 * Phase 5, lower: the derived model as flat instruction lists, one per kernel.
 *
 * Takes a `Derived` model; returns a `Program`: the data layout (where each input,
 * target and output sits in a sample's row of a Float64Array, each parameter's shape
 * and initializer) and four kernels (forward, loss, gradient, step). Guarantees:
 * - each kernel is a list of instructions in topological order: loads of every leaf it
 *   reads first (so a fused update can never be read back), then one instruction per
 *   scalar operation, then stores placed right after the value they store is computed;
 * - every instruction has a unique name (naming.ts): the user's label, `<label>_<k>` for
 *   elements, `d_<name>` for an adjoint, after the forward value it belongs to (naming.ts
 *   `adjointOwners`; a parameter's gradient is `d_<param>` only when it is no other
 *   node's adjoint), else `t<k>`;
 * - every backward instruction carries a comment naming the forward statement whose
 *   derivative rule produced it (`grad of: ...`); a forward value first computed in the
 *   backward pass (the loss, as simplified, does not read it) says so
 *   (`forward value, for the grad of: ...`);
 * - constants are operands (literals), never instructions;
 * - the order depends only on the model, never on node ids.
 */
import type { Node } from '../ir/node.js';
import type { Op } from '../ir/ops.js';
import { formula } from '../ir/print.js';
import { type Shape, sizeOf } from '../ir/shape.js';
import { topoOrder } from '../ir/walk.js';
import { type Derived, forwardNodes, type Init, type Model } from '../model.js';
import { Names, adjointName, adjointOwners, elementName } from '../naming.js';
import { scalarize } from './scalarize.js';
import { type GradientTerms, gradientTerms, isSparse } from './sparse.js';
import { type LoopPlan, planLoops } from './loops.js';
import { printProgram } from './print.js';
import { debugPhase } from '../debug.js';
import { GradcError } from '../errors.js';

export type Operand = { readonly ref: number } | { readonly lit: number };

export type Instr =
  | { readonly kind: 'load'; readonly name: string; readonly from: 'param' | 'input' | 'target'; readonly leaf: string; readonly element: number | null; readonly offset: number }
  | { readonly kind: 'op'; readonly name: string; readonly op: Op; readonly args: readonly Operand[]; readonly comment?: string }
  | { readonly kind: 'store'; readonly into: 'output' | 'grad' | 'update'; readonly leaf: string; readonly element: number | null; readonly offset: number; readonly value: Operand; readonly old?: Operand }
  /** name = param[row * width + element]: one element of an embedding row picked at run time. */
  | { readonly kind: 'gather'; readonly name: string; readonly leaf: string; readonly row: Operand; readonly width: number; readonly element: number }
  /** grad[row * width + element] += scale * value (a scatter term: only touched rows; `touch` notes the row for the update pass). */
  | { readonly kind: 'scatter'; readonly leaf: string; readonly row: Operand; readonly width: number; readonly element: number; readonly value: Operand; readonly touch: boolean };

export type KernelKind = 'forward' | 'loss' | 'gradient' | 'step';

export interface Kernel {
  readonly kind: KernelKind;
  readonly instrs: readonly Instr[];
  /** The loss, for kernels that return it. */
  readonly result?: Operand;
  /**
   * The gradient kernel of a model split into parts (longer than `chunkSize`): its first
   * `lossPrefix` instructions (loads and forward ops, ending with the loss) are the loss
   * kernel, so the module emits the forward pass once and both entry points share it.
   */
  readonly lossPrefix?: number;
}

export interface Slot { readonly name: string; readonly shape: Shape; readonly size: number; readonly offset: number }
export interface ParamSlot extends Slot {
  readonly init: Init;
  /**
   * How the gradient reaches the accumulator (5-lower/sparse.ts): 'sparse' when every term
   * is a scatter (the update pass visits only the rows the gradient kernel touched),
   * 'mixed' when some are, undefined when none is (dense).
   */
  readonly rows?: 'sparse' | 'mixed';
}
/** An input slot; `limit` on an integer input (ids in 0 .. limit - 1, checked when rows are packed or passed in). */
export interface InputSlot extends Slot { readonly limit?: number; readonly low?: number }

export interface Layout {
  readonly params: readonly ParamSlot[];
  readonly inputs: readonly InputSlot[];
  readonly targets: readonly Slot[];
  readonly outputs: readonly Slot[];
  readonly inputSize: number;
  readonly targetSize: number;
  readonly outputSize: number;
  readonly paramSize: number;
}

export type Lowering = 'unrolled' | 'loops';

export interface LowerOptions {
  /** 'auto' (default) unrolls models with at most `unrollLimit` parameters and loops over the rest. */
  readonly lowering?: Lowering | 'auto';
  /** Parameters up to which 'auto' unrolls (default 300, measured: see DEFAULT_UNROLL_LIMIT). */
  readonly unrollLimit?: number;
  /** Samples a looped kernel processes per call (default 64). */
  readonly maxBatch?: number;
  /** In looped kernels, element loops over at most this many elements are unrolled (default 16). */
  readonly unrollElements?: number;
  /** In looped kernels, a recurrence's step whose operations do at most this much scalar work each on average (and 64 times it in all) is straight-line scalar code (default 32; 0 never, Infinity always; 5-lower/cell.ts). */
  readonly scalarCell?: number;
  /** Statements per generated function before it is split (default 1000). */
  readonly chunkSize?: number;
}

/**
 * Measured by training the bench MLPs (tanh MLPs, MSE, steady state after
 * JIT warm-up, 2026-11-23, 2-core EPYC, Node 20), samples/s unrolled vs loops:
 *   batch 1:  8-8-4 (108 params) 1340k vs 730k; 16-16-4 (340) 335k vs 360k; 32-32-4 (1188) 74k vs 72k
 *   batch 32: 8-16-4 (212) 808k vs 726k; 16-16-4 (340) 341k vs 634k; 16-32-4 (676) 258k vs 339k
 * so unrolling pays up to about 250-300 parameters; loops also compile 3-5x faster there.
 */
export const DEFAULT_UNROLL_LIMIT = 300;
export const DEFAULT_MAX_BATCH = 64;
/** Statements per generated function before it is split (V8 optimizes functions up to about 60 KB of bytecode). */
export const DEFAULT_CHUNK_SIZE = 1000;

export interface Program {
  readonly model: Model;
  readonly layout: Layout;
  readonly lowering: Lowering;
  /**
   * Per-sample straight-line kernels (lowering 'unrolled'). A gradient kernel longer than
   * `chunkSize` has a `lossPrefix` when it can share the loss kernel (see `sharedLoss`);
   * the step kernel is built only when the gradient kernel fits one function (else the
   * step is never fused: 6-emit/fusedSteps.ts).
   */
  readonly kernels?: { readonly forward: Kernel; readonly loss: Kernel; readonly gradient: Kernel; readonly step?: Kernel };
  /** Batched loop kernels (lowering 'loops'). */
  readonly loops?: LoopPlan;
}

function slots<T extends { name: string; shape: Shape }>(xs: readonly T[]): (Slot & T)[] {
  let offset = 0;
  return xs.map((x) => {
    const size = sizeOf(x.shape);
    const s = { ...x, size, offset };
    offset += size;
    return s;
  });
}
const total = (xs: readonly Slot[]) => xs.reduce((n, s) => n + s.size, 0);

export function layoutOf(model: Model): Layout {
  const params = slots(model.params.map((p) => ({ name: p.name, shape: p.shape, init: p.init })));
  const inputs = slots(model.inputs.map((p) => ({ name: p.name, shape: p.shape, ...(p.node.attrs.limit === undefined ? {} : { limit: p.node.attrs.limit }), ...(p.node.attrs.low === undefined ? {} : { low: p.node.attrs.low }) })));
  const targets = slots(model.targets.map((p) => ({ name: p.name, shape: p.shape })));
  const outputs = slots(model.outputs.map((p) => ({ name: p.name, shape: p.node.shape })));
  return { params, inputs, targets, outputs, inputSize: total(inputs), targetSize: total(targets), outputSize: total(outputs), paramSize: total(params) };
}

const COMMENT_MAX = 100;

/**
 * `name = formula` of a forward node, one level deep: its arguments print by their names
 * in the kernel (or the user's labels), so this costs O(1) per statement.
 */
function forwardStatement(f: Node, names: ReadonlyMap<Node, string>): string {
  const body = formula(f, names, { maxDepth: 2, maxLength: COMMENT_MAX });
  const name = names.get(f);
  const text = name ? `${name} = ${body}` : body;
  return text.length > COMMENT_MAX ? `${text.slice(0, COMMENT_MAX)}…` : text;
}

/** How the program will be emitted (not a user option): what only the readable flavour needs. */
export interface ScheduleEmit {
  /**
   * Whether backward instructions of the straight-line kernels carry their `grad of:`
   * comment (default true). The JavaScript `compile()` loads is read by no one: its
   * program is built without them (computing them was a sixth of lowering a large chain).
   */
  readonly comments?: boolean;
}

/**
 * The program of a derived model: its layout, then either batched loop kernels (loops.ts)
 * or the four straight-line kernels over its scalarized elements, printed under DEBUG=2.
 */
export function schedule(derived: Derived, options: LowerOptions = {}, emit: ScheduleEmit = {}): Program {
  const { model } = derived;
  const layout = withGradientRows(layoutOf(model), derived);
  // One walk over everything the module computes: it finds recurrences, and it is the
  // scalarizer's walk (and the gradient kernel's) when their roots are the same.
  const walk = { roots: [model.loss, ...model.outputs.map((o) => o.node), ...derived.grads] };
  const order = topoOrder(walk.roots);
  const lowering = loweringFor(layout, options, order.some((n) => n.op === 'scan' || n.op === 'tsum'));
  if (lowering === 'loops') {
    return printed({ model, layout, lowering, loops: planLoops(derived, layout, options.maxBatch ?? DEFAULT_MAX_BATCH, options.unrollElements, options.scalarCell) });
  }
  const s = scalarized(derived, layout, { ...walk, order }, emit.comments ?? true);
  const gradient = buildKernel(s, 'gradient');
  const fits = gradient.instrs.length <= (options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const shared = fits ? undefined : sharedLoss(gradient);
  // With scatter terms the update is never fused (module.ts): no step kernel to build.
  const scatters = s.terms.some((t) => t.scatters.length > 0);
  return printed({
    model,
    layout,
    lowering,
    kernels: {
      forward: buildKernel(s, 'forward'),
      loss: shared?.loss ?? buildKernel(s, 'loss'),
      gradient: shared?.gradient ?? gradient,
      ...(fits && !scatters ? { step: buildKernel(s, 'step') } : {}),
    },
  });
}

/**
 * A long gradient kernel's forward part as the loss kernel: its instructions up to the
 * loss, when they are only loads and ops (the topological order lists everything the loss
 * reads first; a gradient store placed among them, of a gradient that is a forward value,
 * leaves the kernels apart). Undefined when they cannot be shared.
 */
function sharedLoss(gradient: Kernel): { loss: Kernel; gradient: Kernel } | undefined {
  const result = gradient.result;
  if (!result || !('ref' in result)) return undefined;
  const prefix = gradient.instrs.slice(0, result.ref + 1);
  if (prefix.some((ins) => ins.kind === 'store')) return undefined;
  return { loss: { kind: 'loss', instrs: prefix, result }, gradient: { ...gradient, lossPrefix: prefix.length } };
}

/** The layout with each parameter's `rows`: whether its gradient has scatter terms, and whether it has only those. */
function withGradientRows(layout: Layout, derived: Derived): Layout {
  const params = layout.params.map((p, i) => {
    const terms = gradientTerms(derived.grads[i]);
    if (terms.scatters.length === 0) return p;
    return { ...p, rows: isSparse(derived.grads[i]) ? 'sparse' as const : 'mixed' as const };
  });
  return { ...layout, params };
}

/**
 * The lowering asked for; 'auto' unrolls models with at most `unrollLimit` parameters. A
 * recurrence is always a time loop (the looped lowering): unrolling it would copy its
 * step T times, which is what it is there to avoid.
 */
function loweringFor(layout: Layout, options: LowerOptions, recurrent: boolean): Lowering {
  const choice = options.lowering ?? 'auto';
  if (recurrent) {
    if (choice === 'unrolled') throw new GradcError("lowering 'unrolled' cannot take a recurrence (it would copy the step once per time step): use 'loops' or 'auto'", { symbol: 'lowering' });
    return 'loops';
  }
  return choice === 'auto' ? (layout.paramSize <= (options.unrollLimit ?? DEFAULT_UNROLL_LIMIT) ? 'unrolled' : 'loops') : choice;
}

/**
 * The derived model as scalar elements, with what naming and comments need, shared by
 * every kernel: each tensor node's elements, their labels, which are forward values,
 * the forward element each adjoint element is named after, and each backward element's origin.
 */
interface Scalarized {
  readonly derived: Derived;
  readonly layout: Layout;
  readonly elements: ReadonlyMap<Node, Node[]>;
  readonly elementLabels: ReadonlyMap<Node, string>;
  readonly forwardEls: ReadonlySet<Node>;
  readonly ownerOf: ReadonlyMap<Node, AdjointOwnerEl>;
  readonly originOf: ReadonlyMap<Node, Node>;
  /** Each parameter's gradient split into scatter terms and the dense rest (sparse.ts). */
  readonly terms: readonly GradientTerms[];
  /** A walk already made: `order` is `topoOrder(roots)`. */
  readonly walk: Walk;
  /** Whether backward instructions carry comments (ScheduleEmit). */
  readonly comments: boolean;
}

/** `order` = topoOrder(roots). */
interface Walk { readonly roots: readonly Node[]; readonly order: readonly Node[] }

const sameList = (a: readonly Node[], b: readonly Node[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * `topoOrder(roots)`, reusing `walk` when the roots are its roots, or its roots without
 * some that the first root's graph holds (the outputs, read by the loss): those add
 * nothing to the walk, so the order is the same.
 */
function orderOf(roots: readonly Node[], walk: Walk): readonly Node[] {
  if (sameList(roots, walk.roots)) return walk.order;
  const first = walk.roots[0];
  if (roots[0] === first && roots.length < walk.roots.length) {
    const end = walk.order.indexOf(first); // the first root's graph is order[0 .. end]
    const inFirst = (r: Node) => { const at = walk.order.indexOf(r); return at >= 0 && at <= end; };
    if (sameList(roots, walk.roots.filter((r, i) => i === 0 || !inFirst(r)))) return walk.order;
  }
  return topoOrder(roots);
}

/** The forward element an adjoint element is named after, and its name when that element has none in a kernel. */
interface AdjointOwnerEl { readonly el: Node; readonly fallback?: string }

/** Scalarizes every result of `derived` and gathers the naming facts of Scalarized. */
function scalarized(derived: Derived, layout: Layout, walk: Walk, comments: boolean): Scalarized {
  const { model, grads } = derived;
  const terms = grads.map(gradientTerms);
  const scatterArgs = terms.flatMap((t) => t.scatters.flatMap((x) => x.args));
  const roots = [model.loss, ...model.outputs.map((o) => o.node), ...terms.map((t) => t.dense), ...scatterArgs];
  const elements = scalarize(roots, new Map(), sameList(roots, walk.roots) ? walk.order : undefined);
  const elementLabels = elementLabelsOf(model.labels, elements);
  const forwardEls = forwardElementsOf(model, elements);
  const ownerOf = adjointOwnerElements(derived, elements, forwardEls);
  // Backward element -> the forward node whose rule created it (comments are printed per kernel).
  const originOf = new Map<Node, Node>();
  for (const [b, f] of derived.origin) for (const e of elements.get(b) ?? []) if (!originOf.has(e)) originOf.set(e, f);
  return { derived, layout, elements, elementLabels, forwardEls, ownerOf, originOf, terms, walk, comments };
}

/** Names for scalar element nodes: user labels, and element labels of labelled tensors. */
function elementLabelsOf(labels: ReadonlyMap<Node, string>, elements: ReadonlyMap<Node, Node[]>): Map<Node, string> {
  const elementLabels = new Map<Node, string>();
  for (const [tensorNode, els] of elements) {
    const l = labels.get(tensorNode);
    if (!l) continue;
    els.forEach((e, k) => {
      if (e.op === 'const' || e.op === 'param' || e.op === 'input' || e.op === 'target' || e.op === 'index' && e.args[0].args.length === 0) return;
      if (!elementLabels.has(e)) elementLabels.set(e, tensorNode.shape.length === 0 ? l : elementName(l, k));
    });
  }
  return elementLabels;
}

/**
 * Elements of forward values: one the loss does not read (the stability rewrite took the
 * user's yhat out of it) is computed in the backward pass, and its comment says so.
 */
function forwardElementsOf(model: Model, elements: ReadonlyMap<Node, Node[]>): Set<Node> {
  const forwardEls = new Set<Node>();
  for (const f of forwardNodes(model)) for (const e of elements.get(f) ?? []) forwardEls.add(e);
  return forwardEls;
}

/**
 * Adjoint element -> the forward element it is named after (naming.ts adjointOwners):
 * `d_<that element's name in the kernel>`, so a parameter's gradient that is really the
 * adjoint of z is `d_z`, and one that is the adjoint of an unnamed sum is `d_t3`.
 * When that element has no name in a kernel (a parameter the kernel never reads), the
 * owner's label or parameter name gives it: `d_b`, `d_W_3`.
 */
function adjointOwnerElements(derived: Derived, elements: ReadonlyMap<Node, Node[]>, forwardEls: ReadonlySet<Node>): Map<Node, AdjointOwnerEl> {
  const ownerOf = new Map<Node, AdjointOwnerEl>();
  // Owners the kernels do not compute are scalarized into a map of their own, each node once
  // (scalarizing each from scratch walked its whole graph per owner: quadratic on a chain).
  let more: Map<Node, Node[]> | undefined;
  for (const [a, owner] of adjointOwners(derived)) {
    const fEls = elements.get(owner.of) ?? scalarize([owner.of], (more ??= new Map(elements))).get(owner.of)!;
    const base = owner.label ?? owner.param;
    (elements.get(a) ?? []).forEach((e, k) => {
      if (e.op === 'const' || e.args.length === 0 || forwardEls.has(e) || ownerOf.has(e)) return; // a forward value keeps its own name
      ownerOf.set(e, { el: fEls[k], fallback: base === undefined ? undefined : adjointName(owner.of.shape.length ? elementName(base, k) : base) });
    });
  }
  return ownerOf;
}

/** The offset of a leaf's slot in its layout table (params, inputs or targets). */
function leafOffset(layout: Layout, leaf: Node): number {
  const table = leaf.op === 'param' ? layout.params : leaf.op === 'input' ? layout.inputs : layout.targets;
  return table.find((s) => s.name === leaf.attrs.name)!.offset;
}

/**
 * One kernel being built: its instructions so far, each node's instruction index and
 * name (else the user's label), and the leaves it loads.
 */
interface KernelBuild {
  readonly s: Scalarized;
  readonly kind: KernelKind;
  readonly names: Names;
  readonly instrs: Instr[];
  readonly index: Map<Node, number>;
  /** One operand object per instruction referred to (operands are immutable: shared, not made per use). */
  readonly refs: Operand[];
  readonly named: Map<Node, string>;
  readonly leavesUsed: ReadonlySet<Node>;
  /** `forwardStatement` of forward nodes whose text can no longer change (see `commentOf`). */
  readonly statements: Map<Node, string>;
}

/** Stores, keyed by the node whose value they store; a store of a constant or a loaded leaf goes last. */
interface Stores { readonly byValue: Map<Node, Instr[]>; readonly late: Instr[] }

/**
 * The kernel of `kind`: loads of the leaves it reads, then one instruction per element
 * its results need, in topological order, each followed by the stores of its value.
 */
function buildKernel(s: Scalarized, kind: KernelKind): Kernel {
  const { model } = s.derived;
  const lossEl = s.elements.get(model.loss)![0];
  const outputEls = model.outputs.map((o) => s.elements.get(o.node)!);
  const gradEls = s.terms.map((t) => s.elements.get(t.dense)!);
  const scatterEls = kind === 'gradient' ? s.terms.flatMap((t) => t.scatters.flatMap((x) => x.args.flatMap((a) => s.elements.get(a)!))) : [];
  const roots = kind === 'forward' ? outputEls.flat() : kind === 'loss' ? [lossEl] : [lossEl, ...gradEls.flat(), ...scatterEls];
  const order = orderOf(roots, s.walk);
  // For the step kernel every parameter element is loaded (its old value is needed by the update).
  const paramEls = kind === 'step' ? model.params.flatMap((p) => s.elements.get(p.node) ?? scalarize([p.node]).get(p.node)!) : [];
  const k: KernelBuild = {
    s, kind, names: new Names(), instrs: [], index: new Map(), refs: [], named: new Map<Node, string>(model.labels),
    leavesUsed: new Set<Node>([...order.filter(isLeafLoad), ...paramEls]),
    statements: new Map(),
  };
  emitLoads(k);
  const stores: Stores = { byValue: new Map(), late: [] };
  if (kind === 'forward') planOutputStores(k, stores, outputEls);
  if (kind === 'gradient' || kind === 'step') planParamStores(k, stores, gradEls);
  for (const n of order) emitOp(k, n, stores);
  k.instrs.push(...stores.late);
  if (kind === 'gradient') emitScatters(k);
  return { kind, instrs: k.instrs, result: kind === 'forward' ? undefined : operand(k, lossEl) };
}

/** A load reads one number: a scalar leaf, or one element of a tensor leaf (never the tensor itself). */
const isLeafLoad = (n: Node) =>
  ((n.op === 'param' || n.op === 'input' || n.op === 'target') && n.shape.length === 0) ||
  (n.op === 'index' && n.args[0].args.length === 0 && n.args[0].op !== 'const');
const isTensorLeaf = (n: Node) => (n.op === 'param' || n.op === 'input' || n.op === 'target') && n.shape.length > 0;

/** `n` as an operand: a literal for a constant, else a reference to its instruction. */
const operand = (k: KernelBuild, n: Node): Operand => (n.op === 'const' ? { lit: n.attrs.value! } : refTo(k, k.index.get(n)!));
const refTo = (k: KernelBuild, i: number): Operand => (i === undefined ? { ref: i } : (k.refs[i] ??= { ref: i }));

/** Loads first, in layout order: params, inputs, targets; each by element. */
function emitLoads(k: KernelBuild): void {
  const { layout } = k.s;
  const loadKey = (n: Node): number => {
    const leaf = n.op === 'index' ? n.args[0] : n;
    const group = leaf.op === 'param' ? 0 : leaf.op === 'input' ? 1 : 2;
    return group * 1e9 + leafOffset(layout, leaf) + (n.op === 'index' ? n.attrs.start! : 0);
  };
  for (const n of [...k.leavesUsed].sort((a, b) => loadKey(a) - loadKey(b))) {
    const leaf = n.op === 'index' ? n.args[0] : n;
    const element = n.op === 'index' ? n.attrs.start! : null;
    const name = k.names.fresh(element === null ? leaf.attrs.name! : elementName(leaf.attrs.name!, element));
    k.index.set(n, k.instrs.length);
    k.named.set(n, name);
    k.instrs.push({ kind: 'load', name, from: leaf.op as 'param' | 'input' | 'target', leaf: leaf.attrs.name!, element, offset: leafOffset(layout, leaf) + (element ?? 0) });
  }
}

/** Adds the store `make` builds for `value`: after the value's instruction, or last. */
function addStore(k: KernelBuild, stores: Stores, value: Node, make: (v: Operand) => Instr): void {
  if (value.op === 'const' || k.leavesUsed.has(value)) stores.late.push(make(operand(k, value)));
  else (stores.byValue.get(value) ?? stores.byValue.set(value, []).get(value)!).push(make({ ref: -1 }));
}

/** The forward kernel's stores of each output element into its slot. */
function planOutputStores(k: KernelBuild, stores: Stores, outputEls: readonly Node[][]): void {
  k.s.derived.model.outputs.forEach((o, i) => {
    const slot = k.s.layout.outputs[i];
    outputEls[i].forEach((e, j) => addStore(k, stores, e, (v) => ({ kind: 'store', into: 'output', leaf: o.name, element: slot.shape.length ? j : null, offset: slot.offset + j, value: v })));
  });
}

/** The gradient kernel's stores of each gradient element; the step kernel's updates (with the old value). */
function planParamStores(k: KernelBuild, stores: Stores, gradEls: readonly Node[][]): void {
  const { kind } = k;
  k.s.derived.model.params.forEach((p, i) => {
    const slot = k.s.layout.params[i];
    const pEls = kind === 'step' ? k.s.elements.get(p.node) ?? scalarize([p.node]).get(p.node)! : [];
    // A parameter with scatter terms gets no `+= 0` stores: its rows are written by the scatters (emitScatters).
    gradEls[i].forEach((e, j) =>
      !(slot.rows && e.op === 'const' && e.attrs.value === 0) && addStore(k, stores, e, (v) => ({
        kind: 'store', into: kind === 'gradient' ? 'grad' : 'update', leaf: p.name, element: slot.shape.length ? j : null,
        offset: slot.offset + j, value: v, old: kind === 'step' ? operand(k, pEls[j]) : undefined,
      })),
    );
  });
}

/**
 * The gradient kernel's scatter terms, last (every operand is computed by then): each row
 * g(l) added into row ids(l) of the accumulator, element by element; the first element of
 * a row of a 'sparse' parameter notes the row for the update pass.
 */
function emitScatters(k: KernelBuild): void {
  k.s.terms.forEach((t, i) => {
    const slot = k.s.layout.params[i];
    for (const x of t.scatters) {
      const [g, ids] = x.args.map((a) => k.s.elements.get(a)!);
      const width = x.shape[1];
      ids.forEach((id, l) => {
        for (let j = 0; j < width; j++) {
          k.instrs.push({ kind: 'scatter', leaf: slot.name, row: operand(k, id), width, element: j, value: operand(k, g[l * width + j]), touch: j === 0 && slot.rows === 'sparse' });
        }
      });
    }
  });
}

/** An element of a parameter's row picked at run time: `index(gather(E, id), j)` (scalarize.ts). */
const isGatherElement = (n: Node) => n.op === 'index' && n.args[0].op === 'gather' && n.args[0].args[0].op === 'param';

/** The instruction of element `n` (none for constants and leaves), named and commented, then its stores. */
function emitOp(k: KernelBuild, n: Node, stores: Stores): void {
  if (n.op === 'const' || k.leavesUsed.has(n) || isTensorLeaf(n) || n.op === 'gather') return;
  const name = nameOf(k, n);
  k.index.set(n, k.instrs.length);
  k.named.set(n, name);
  if (isGatherElement(n)) {
    const [table, id] = n.args[0].args;
    k.instrs.push({ kind: 'gather', name, leaf: table.attrs.name!, row: operand(k, id), width: table.shape[1], element: n.attrs.start! });
  } else k.instrs.push({ kind: 'op', name, op: n.op, args: n.args.map((a) => operand(k, a)), comment: commentOf(k, n) });
  const own = stores.byValue.get(n);
  if (own) for (const s of own) k.instrs.push({ ...s, value: refTo(k, k.index.get(n)!) } as Instr);
}

/** A fresh name for `n`: its label, else `d_<owner's name>`, else its element label, else `t<k>`. */
function nameOf(k: KernelBuild, n: Node): string {
  const owner = k.s.ownerOf.get(n);
  const ownerName = owner && k.named.get(owner.el);
  const label = k.s.derived.model.labels.get(n) ?? (ownerName !== undefined ? adjointName(ownerName) : owner?.fallback ?? k.s.elementLabels.get(n));
  return label ? k.names.fresh(label) : k.names.temp();
}

/** In a backward kernel (gradient, step), the forward statement whose rule produced `n`. */
function commentOf(k: KernelBuild, n: Node): string | undefined {
  if (!k.s.comments) return undefined;
  const f = k.s.originOf.get(n);
  const backward = k.kind === 'gradient' || k.kind === 'step'; // only these kernels differentiate
  if (!f || !backward) return undefined;
  const statement = statementOf(k, f);
  return k.s.forwardEls.has(n) ? `forward value, for the grad of: ${statement}` : `grad of: ${statement}`;
}

/**
 * `forwardStatement(f, k.named)`, kept once it is final: a node's name in `named` is final
 * once the kernel has its instruction (the user's label stands in before), and a leaf's or
 * a constant's never changes; when `f` and every argument are final, the one-level text
 * is too. (A rule makes several backward nodes per forward node: each needs this text.)
 */
function statementOf(k: KernelBuild, f: Node): string {
  const kept = k.statements.get(f);
  if (kept !== undefined) return kept;
  const text = forwardStatement(f, k.named);
  const final = (x: Node) => x.args.length === 0 || k.index.has(x);
  if (final(f) && f.args.every(final)) k.statements.set(f, text);
  return text;
}

/** The program, printed under DEBUG=2 (print.ts). */
function printed(program: Program): Program {
  debugPhase('lower', () => printProgram(program));
  return program;
}
