/**
 * Model definitions: what a `*.model.ts` file default-exports, and what `compile` takes.
 *
 * A definition is lazy: it is built when a phase needs the Model, with the file it came
 * from, so errors can name that file. Two forms, one result:
 *   defineModel({ name, inputs, targets, params, formulas })    formulas only
 *   defineModel('name', (m) => { ...builder calls... })         TypeScript builder
 * Guarantees: `buildModel` returns a checked Model (builder.ts) or throws a GradcError.
 * Its nodes are interned by this copy of gradc, in the current graph (ir/node.ts): a
 * definition is built there; a built Model from another graph is copied into it; a
 * definition made by another copy (a model file that imports gradc from elsewhere than
 * the CLI runs) is rebuilt from its recipe with this copy's builder, and a built Model
 * from another copy is refused, because its nodes carry ids and invariants of another
 * intern constructor.
 */
import { GradcError } from '../errors.js';
import { type Node, inCurrentGraph, intern, isInterned } from '../ir/node.js';
import type { Model } from '../model.js';
import { topoOrder } from '../ir/walk.js';
import { ModelBuilder, type ParamOptions, type ShapeSpec } from './builder.js';

export interface ModelSpec {
  readonly name: string;
  /**
   * Input names, or names with shapes (`{ x: 4 }` is a vector of 4); `{ tokens: { shape: 20, ids: 5000 } }` is an integer
   * input of 20 ids in 0..4999; `{ len: { lengthOf: 'x' } }` (after x) the length of each sample's sequence x, 1..T (m.lengthInput).
   */
  readonly inputs: readonly string[] | Readonly<Record<string, ShapeSpec | { readonly shape?: ShapeSpec; readonly ids: number } | { readonly lengthOf: string }>>;
  readonly targets: readonly string[] | Readonly<Record<string, ShapeSpec>>;
  /** Parameter names with their initial value (a number, values, rows of a matrix) or options. */
  readonly params: Readonly<Record<string, number | readonly number[] | readonly (readonly number[])[] | ParamOptions>>;
  /** Assignment lines; one of them defines `loss`. */
  readonly formulas: string;
  readonly outputs?: readonly string[];
  readonly seed?: number;
  /** Bound on the elements of a tensor and of all parameters together (default 1e7; see options.ts). */
  readonly maxElements?: number;
  /** How `gradc build` compiles this model, unless its flags or config file say otherwise. */
  readonly compile?: ModelCompileOptions;
}

/**
 * Compile options a model file gives for itself. Building the model ignores them;
 * `generate`/`compile` apply them under the options they are called with, and `gradc
 * build` layers them under its config file and flags (`compileOptionsOf` reads them).
 */
export interface ModelCompileOptions {
  readonly lowering?: 'auto' | 'unrolled' | 'loops';
  readonly precision?: 'f64' | 'f32';
  readonly unrollLimit?: number;
  readonly maxBatch?: number;
  readonly unrollElements?: number;
  readonly chunkSize?: number;
}

/** The compile options a definition gives for itself (`defineModel(..., { compile })`), unchecked. */
export function compileOptionsOf(def: unknown): unknown {
  if (typeof def !== 'object' || def === null || (def as { kind?: unknown }).kind !== 'gradc-model') return undefined;
  const recipe = (def as ModelDefinition).recipe;
  return recipe === undefined ? undefined : 'spec' in recipe ? recipe.spec?.compile : recipe.options?.compile;
}

/** Options of a definition built from a body function. */
export interface BodyOptions { readonly seed?: number; readonly maxElements?: number; readonly compile?: ModelCompileOptions }

export type ModelBody = (m: ModelBuilder) => Node | void;

/** What `defineModel` was called with: enough for any copy of gradc to build the model. */
export type ModelRecipe =
  | { readonly spec: ModelSpec }
  | { readonly name: string; readonly body: ModelBody; readonly options: BodyOptions };

export interface ModelDefinition {
  readonly kind: 'gradc-model';
  readonly name: string;
  readonly recipe?: ModelRecipe;
  /** `maxElements`, when given, overrides the definition's own. */
  build(options?: { source?: string; maxElements?: number }): Model;
}

/** Definitions made by this copy of gradc. */
const made = new WeakSet<ModelDefinition>();
const ours = (d: ModelDefinition): ModelDefinition => {
  made.add(d);
  return d;
};

function entries<S>(x: readonly string[] | Readonly<Record<string, S>>): [string, S | undefined][] {
  return Array.isArray(x) ? x.map((n) => [n, undefined]) : Object.entries(x as Readonly<Record<string, S>>);
}

/** A parameter entry of a spec as `param` options: a number, values (flat or rows), or { shape, init }. */
function paramEntry(p: unknown): unknown {
  if (typeof p === 'number') return { init: p };
  if (Array.isArray(p)) {
    const rows = p.length > 0 && p.every((r) => Array.isArray(r));
    return { init: p, shape: rows ? [p.length, (p[0] as unknown[]).length] : [p.length] };
  }
  return p;
}

export function defineModel(spec: ModelSpec): ModelDefinition;
export function defineModel(name: string, body: ModelBody, options?: BodyOptions): ModelDefinition;
export function defineModel(a: ModelSpec | string, body?: ModelBody, options: BodyOptions = {}): ModelDefinition {
  if (typeof a === 'string') {
    return ours({
      kind: 'gradc-model',
      name: a,
      recipe: { name: a, body: body!, options },
      build: ({ source, maxElements } = {}) => {
        const m = new ModelBuilder(a, { source, seed: options?.seed, maxElements: maxElements ?? options?.maxElements });
        if (typeof body !== 'function') throw new GradcError(`defineModel('${a}', body): the body must be a function (m) => { ... }`, { file: m.source });
        const result = body(m);
        if (result && typeof result === 'object' && 'op' in result && !m.has('loss')) m.loss(result);
        return m.build();
      },
    });
  }
  const spec = a;
  return ours({
    kind: 'gradc-model',
    name: spec?.name,
    recipe: { spec },
    build: ({ source, maxElements } = {}) => {
      checkSpec(spec, source ?? `<inline model '${String(spec?.name)}'>`);
      const m = new ModelBuilder(spec.name, { source, seed: spec.seed, maxElements: maxElements ?? spec.maxElements });
      for (const [n, s] of entries(spec.inputs ?? [])) {
        if (isIdsSpec(s)) m.intInput(n, s.shape, s.ids); // { shape, ids }: an integer input
        else if (isLengthSpec(s)) m.lengthInput(n, s.lengthOf); // { lengthOf }: a length input
        else m.input(n, s);
      }
      for (const [n, s] of entries(spec.targets ?? [])) m.target(n, s);
      for (const [n, p] of Object.entries(spec.params)) m.param(n, paramEntry(p) as ParamOptions);
      m.formulas(spec.formulas);
      if (spec.outputs) m.output(...spec.outputs);
      return m.build();
    },
  });
}

/** `{ lengthOf }`: a length input's entry in `inputs`. */
function isLengthSpec(s: unknown): s is { readonly lengthOf: string } {
  return typeof s === 'object' && s !== null && !Array.isArray(s) && Object.hasOwn(s, 'lengthOf');
}

/** `{ shape?, ids }`: an integer input's entry in `inputs`. */
function isIdsSpec(s: unknown): s is { readonly shape?: ShapeSpec; readonly ids: number } {
  return typeof s === 'object' && s !== null && !Array.isArray(s) && Object.hasOwn(s, 'ids');
}

/** The fields of a spec have the right types (a model file is not type-checked when it is loaded). */
function checkSpec(spec: ModelSpec, file: string): void {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new GradcError(`defineModel({ ... }): '${field}' must be ${expected}, got ${got === null ? 'null' : Array.isArray(got) ? 'an array' : typeof got}`, { file, symbol: field });
  };
  if (typeof spec !== 'object' || spec === null) bad('spec', 'an object { name, inputs, targets, params, formulas }', spec);
  if (typeof spec.name !== 'string' || spec.name === '') bad('name', 'a non-empty string', spec.name);
  if (typeof spec.formulas !== 'string') bad('formulas', "a string of lines 'name = formula'", spec.formulas);
  if (typeof spec.params !== 'object' || spec.params === null || Array.isArray(spec.params)) bad('params', 'an object { name: initial value }', spec.params);
  for (const f of ['inputs', 'targets'] as const) {
    if (spec[f] !== undefined && (typeof spec[f] !== 'object' || spec[f] === null)) bad(f, 'a list of names or an object { name: shape }', spec[f]);
  }
  // `{ __proto__: ... }` in an object literal sets the prototype instead of adding a key:
  // the name would silently vanish, so say so.
  for (const f of ['params', 'inputs', 'targets'] as const) {
    const o = spec[f];
    if (o !== undefined && !Array.isArray(o) && Object.getPrototypeOf(o) !== Object.prototype && Object.getPrototypeOf(o) !== null) {
      throw new GradcError(`defineModel({ ... }): '${f}' is not a plain object; was '__proto__' used as a name? (it cannot be one: in an object literal it sets the prototype)`, { file, symbol: f });
    }
  }
  if (spec.outputs !== undefined && (!Array.isArray(spec.outputs) || !spec.outputs.every((o) => typeof o === 'string'))) bad('outputs', 'a list of names', spec.outputs);
}

export function isModelDefinition(x: unknown): x is ModelDefinition {
  return typeof x === 'object' && x !== null && (x as ModelDefinition).kind === 'gradc-model';
}

/** A Model from a definition or a Model, its nodes interned by this copy of gradc. */
export function buildModel(x: ModelDefinition | Model, source?: string, options: { maxElements?: number } = {}): Model {
  if (isModelDefinition(x)) {
    let def = x;
    if (!made.has(def) && def.recipe) {
      const r = def.recipe;
      def = 'spec' in r ? defineModel(r.spec) : defineModel(r.name, r.body, r.options);
    }
    return checkOurs(def.build({ source, maxElements: options.maxElements }), source);
  }
  if (typeof x === 'object' && x !== null && 'loss' in x && 'params' in x) return checkOurs(x, source);
  throw new GradcError(`expected a model (defineModel(...)), got ${typeof x}`, { file: source });
}

const isLeafList = (v: unknown): boolean =>
  Array.isArray(v) && v.every((l) => typeof l === 'object' && l !== null && typeof l.name === 'string' && Array.isArray(l.shape));

/**
 * The model, if it is a Model whose nodes this copy of gradc made, with its nodes in the
 * current graph: the same object when they already are, else a copy whose every node is
 * re-interned here (a Model built in another graph, e.g. before `generate` opened its
 * own), so that one compile never mixes the nodes of two graphs.
 */
function checkOurs(model: Model, source?: string): Model {
  // A foreign object claiming to be a definition (`kind: 'gradc-model'`) can return anything from build().
  const m = model as unknown as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null || !isLeafList(m.params) || !isLeafList(m.inputs) || !isLeafList(m.targets) || typeof m.loss !== 'object' || m.loss === null || !Array.isArray(m.defs) || !Array.isArray(m.outputs) || !(m.labels instanceof Map)) {
    throw new GradcError(
      `expected a model built by defineModel(...), got ${m === null ? 'null' : typeof m === 'object' ? 'an object that is not a gradc model (no params, inputs, targets, defs, outputs, labels and loss)' : typeof m}`,
      { file: source },
    );
  }
  const foreign = (what: string): never => {
    throw new GradcError(
      `model '${model.name}' was built by another copy of gradc than the one compiling it (its ${what} is not this copy's node); ` +
        'export the definition (defineModel(...)) rather than a built model, or import gradc from the same place as the compiler',
      { file: source ?? model.source },
    );
  };
  const leaves = [...model.params, ...model.inputs, ...model.targets];
  for (const l of leaves) if (!isInterned(l.node)) foreign(`'${l.name}'`);
  const roots = [model.loss, ...model.defs.map((d) => d.node), ...model.outputs.map((d) => d.node), ...leaves.map((l) => l.node), ...model.labels.keys()];
  // Every node reachable must be this copy's before its arguments are followed.
  const seen = new Set<Node>();
  const stack = [...roots];
  let here = true; // every node already in the current graph
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    if (!isInterned(n)) foreign(`node ${model.labels.has(n) ? `'${model.labels.get(n)}'` : 'of an expression'}`);
    here &&= inCurrentGraph(n);
    seen.add(n);
    for (const a of n.args) if (!seen.has(a)) stack.push(a);
  }
  return here ? model : intoCurrentGraph(model, roots);
}

/** `model` with each node re-interned in the current graph (the same object when none changes). */
function intoCurrentGraph(model: Model, roots: readonly Node[]): Model {
  const copy = new Map<Node, Node>();
  let changed = false;
  for (const n of topoOrder(roots)) {
    const c = intern(n.op, n.args.map((a) => copy.get(a)!), n.attrs, n.shape);
    if (c !== n) changed = true;
    copy.set(n, c);
  }
  if (!changed) return model;
  const at = (n: Node): Node => copy.get(n)!;
  return Object.freeze({
    ...model,
    params: model.params.map((p) => ({ ...p, node: at(p.node) })),
    inputs: model.inputs.map((l) => ({ ...l, node: at(l.node) })),
    targets: model.targets.map((l) => ({ ...l, node: at(l.node) })),
    defs: model.defs.map((d) => ({ ...d, node: at(d.node) })),
    outputs: model.outputs.map((d) => ({ ...d, node: at(d.node) })),
    loss: at(model.loss),
    labels: new Map([...model.labels].map(([n, name]) => [at(n), name])),
  });
}
