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
import { type LoopPlan, planLoops } from './loops.js';
import { printProgram } from './print.js';
import { debugPhase } from '../debug.js';

export type Operand = { readonly ref: number } | { readonly lit: number };

export type Instr =
  | { readonly kind: 'load'; readonly name: string; readonly from: 'param' | 'input' | 'target'; readonly leaf: string; readonly element: number | null; readonly offset: number }
  | { readonly kind: 'op'; readonly name: string; readonly op: Op; readonly args: readonly Operand[]; readonly comment?: string }
  | { readonly kind: 'store'; readonly into: 'output' | 'grad' | 'update'; readonly leaf: string; readonly element: number | null; readonly offset: number; readonly value: Operand; readonly old?: Operand };

export type KernelKind = 'forward' | 'loss' | 'gradient' | 'step';

export interface Kernel {
  readonly kind: KernelKind;
  readonly instrs: readonly Instr[];
  /** The loss, for kernels that return it. */
  readonly result?: Operand;
}

export interface Slot { readonly name: string; readonly shape: Shape; readonly size: number; readonly offset: number }
export interface ParamSlot extends Slot { readonly init: Init }

export interface Layout {
  readonly params: readonly ParamSlot[];
  readonly inputs: readonly Slot[];
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

export interface Program {
  readonly model: Model;
  readonly layout: Layout;
  readonly lowering: Lowering;
  /** Per-sample straight-line kernels (lowering 'unrolled'). */
  readonly kernels?: { readonly [K in KernelKind]: Kernel };
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
  const inputs = slots(model.inputs.map((p) => ({ name: p.name, shape: p.shape })));
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

export function schedule(derived: Derived, options: LowerOptions = {}): Program {
  const { model, grads } = derived;
  const layout = layoutOf(model);
  const choice = options.lowering ?? 'auto';
  const lowering: Lowering = choice === 'auto' ? (layout.paramSize <= (options.unrollLimit ?? DEFAULT_UNROLL_LIMIT) ? 'unrolled' : 'loops') : choice;
  if (lowering === 'loops') {
    return printed({ model, layout, lowering, loops: planLoops(derived, layout, options.maxBatch ?? DEFAULT_MAX_BATCH, options.unrollElements) });
  }
  const labels = model.labels;
  const tensorRoots = [model.loss, ...model.outputs.map((o) => o.node), ...grads];
  const elements = scalarize(tensorRoots);

  // Names for scalar element nodes: user labels, and element labels of labelled tensors.
  const elementLabels = new Map<Node, string>();
  for (const [tensorNode, els] of elements) {
    const l = labels.get(tensorNode);
    if (!l) continue;
    els.forEach((e, k) => {
      if (e.op === 'const' || e.op === 'param' || e.op === 'input' || e.op === 'target' || e.op === 'index' && e.args[0].args.length === 0) return;
      if (!elementLabels.has(e)) elementLabels.set(e, tensorNode.shape.length === 0 ? l : elementName(l, k));
    });
  }
  // Elements of forward values: one the loss does not read (the stability rewrite took the
  // user's yhat out of it) is computed in the backward pass, and its comment says so.
  const forwardEls = new Set<Node>();
  for (const f of forwardNodes(model)) for (const e of elements.get(f) ?? []) forwardEls.add(e);
  // Adjoint element -> the forward element it is named after (naming.ts adjointOwners):
  // `d_<that element's name in the kernel>`, so a parameter's gradient that is really the
  // adjoint of z is `d_z`, and one that is the adjoint of an unnamed sum is `d_t3`.
  // When that element has no name in a kernel (a parameter the kernel never reads), the
  // owner's label or parameter name gives it: `d_b`, `d_W_3`.
  const ownerOf = new Map<Node, { readonly el: Node; readonly fallback?: string }>();
  for (const [a, owner] of adjointOwners(derived)) {
    const fEls = elements.get(owner.of) ?? scalarize([owner.of]).get(owner.of)!;
    const base = owner.label ?? owner.param;
    (elements.get(a) ?? []).forEach((e, k) => {
      if (e.op === 'const' || e.args.length === 0 || forwardEls.has(e) || ownerOf.has(e)) return; // a forward value keeps its own name
      ownerOf.set(e, { el: fEls[k], fallback: base === undefined ? undefined : adjointName(owner.of.shape.length ? elementName(base, k) : base) });
    });
  }
  // Backward element -> the forward node whose rule created it (comments are printed per kernel).
  const originOf = new Map<Node, Node>();
  for (const [b, f] of derived.origin) for (const e of elements.get(b) ?? []) if (!originOf.has(e)) originOf.set(e, f);

  const leafOffset = (leaf: Node): number => {
    const table = leaf.op === 'param' ? layout.params : leaf.op === 'input' ? layout.inputs : layout.targets;
    return table.find((s) => s.name === leaf.attrs.name)!.offset;
  };

  const build = (kind: KernelKind): Kernel => {
    const names = new Names();
    const instrs: Instr[] = [];
    const index = new Map<Node, number>();
    const named = new Map<Node, string>(labels); // node -> its name in this kernel (else the user's label)
    const operand = (n: Node): Operand => (n.op === 'const' ? { lit: n.attrs.value! } : { ref: index.get(n)! });
    const backward = kind === 'gradient' || kind === 'step'; // only these kernels differentiate

    const lossEl = elements.get(model.loss)![0];
    const outputEls = model.outputs.map((o) => elements.get(o.node)!);
    const gradEls = grads.map((g) => elements.get(g)!);
    const roots = kind === 'forward' ? outputEls.flat() : kind === 'loss' ? [lossEl] : [lossEl, ...gradEls.flat()];
    const order = topoOrder(roots);
    // For the step kernel every parameter element is loaded (its old value is needed by the update).
    const paramEls = kind === 'step' ? model.params.flatMap((p) => elements.get(p.node) ?? scalarize([p.node]).get(p.node)!) : [];
    // A load reads one number: a scalar leaf, or one element of a tensor leaf (never the tensor itself).
    const isLeafLoad = (n: Node) =>
      ((n.op === 'param' || n.op === 'input' || n.op === 'target') && n.shape.length === 0) ||
      (n.op === 'index' && n.args[0].args.length === 0 && n.args[0].op !== 'const');
    const isTensorLeaf = (n: Node) => (n.op === 'param' || n.op === 'input' || n.op === 'target') && n.shape.length > 0;
    const leavesUsed = new Set<Node>([...order.filter(isLeafLoad), ...paramEls]);
    // Loads first, in layout order: params, inputs, targets; each by element.
    const leafOrder = [...leavesUsed].sort((a, b) => loadKey(a) - loadKey(b));
    function loadKey(n: Node): number {
      const leaf = n.op === 'index' ? n.args[0] : n;
      const group = leaf.op === 'param' ? 0 : leaf.op === 'input' ? 1 : 2;
      return group * 1e9 + leafOffset(leaf) + (n.op === 'index' ? n.attrs.start! : 0);
    }
    for (const n of leafOrder) {
      const leaf = n.op === 'index' ? n.args[0] : n;
      const element = n.op === 'index' ? n.attrs.start! : null;
      const name = names.fresh(element === null ? leaf.attrs.name! : elementName(leaf.attrs.name!, element));
      index.set(n, instrs.length);
      named.set(n, name);
      instrs.push({ kind: 'load', name, from: leaf.op as 'param' | 'input' | 'target', leaf: leaf.attrs.name!, element, offset: leafOffset(leaf) + (element ?? 0) });
    }
    // Stores, keyed by the node whose value they store.
    const stores = new Map<Node, Instr[]>();
    const lateStores: Instr[] = [];
    const addStore = (value: Node, make: (v: Operand) => Instr) => {
      if (value.op === 'const' || leavesUsed.has(value)) lateStores.push(make(operand(value)));
      else (stores.get(value) ?? stores.set(value, []).get(value)!).push(make({ ref: -1 }));
    };
    if (kind === 'forward') {
      model.outputs.forEach((o, i) => {
        const slot = layout.outputs[i];
        outputEls[i].forEach((e, k) => addStore(e, (v) => ({ kind: 'store', into: 'output', leaf: o.name, element: slot.shape.length ? k : null, offset: slot.offset + k, value: v })));
      });
    }
    if (kind === 'gradient' || kind === 'step') {
      model.params.forEach((p, i) => {
        const slot = layout.params[i];
        const pEls = kind === 'step' ? elements.get(p.node) ?? scalarize([p.node]).get(p.node)! : [];
        gradEls[i].forEach((e, k) =>
          addStore(e, (v) => ({
            kind: 'store', into: kind === 'gradient' ? 'grad' : 'update', leaf: p.name, element: slot.shape.length ? k : null,
            offset: slot.offset + k, value: v, old: kind === 'step' ? operand(pEls[k]) : undefined,
          })),
        );
      });
    }
    for (const n of order) {
      if (n.op === 'const' || leavesUsed.has(n) || isTensorLeaf(n)) continue;
      const owner = ownerOf.get(n);
      const ownerName = owner && named.get(owner.el);
      const label = labels.get(n) ?? (ownerName !== undefined ? adjointName(ownerName) : owner?.fallback ?? elementLabels.get(n));
      const name = label ? names.fresh(label) : names.temp();
      index.set(n, instrs.length);
      named.set(n, name);
      const f = originOf.get(n);
      const comment = !f || !backward ? undefined : (forwardEls.has(n) ? `forward value, for the grad of: ${forwardStatement(f, named)}` : `grad of: ${forwardStatement(f, named)}`);
      instrs.push({ kind: 'op', name, op: n.op, args: n.args.map(operand), comment });
      for (const s of stores.get(n) ?? []) instrs.push({ ...s, value: { ref: index.get(n)! } } as Instr);
    }
    instrs.push(...lateStores);
    return { kind, instrs, result: kind === 'forward' ? undefined : operand(lossEl) };
  };

  return printed({
    model,
    layout,
    lowering,
    kernels: { forward: build('forward'), loss: build('loss'), gradient: build('gradient'), step: build('step') },
  });
}

/** The program, printed under DEBUG=2 (print.ts). */
function printed(program: Program): Program {
  debugPhase('lower', () => printProgram(program));
  return program;
}
