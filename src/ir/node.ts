/**
 * The IR node and its one interning constructor.
 *
 * Grammar (a DAG, shown here as SSA text by `print.ts`):
 *   node  ::= op[attrs](node, ...) : shape
 *   leaf  ::= const[value] | param[name] | input[name] | target[name]
 *
 * Guarantees:
 * - nodes are immutable (frozen) and built only by `intern`, which hash-conses them: two
 *   calls in one graph with the same op, the same argument nodes, the same attributes
 *   and the same shape return the same object, so equal subexpressions are one node and
 *   common subexpression elimination is free;
 * - the intern table has an owner, a `Graph`: `generate` and the inspection tools run
 *   each model in a graph of its own (`withGraph`), which dies with the model's results,
 *   so a long-running process (a watcher, a server, a test run) does not keep the nodes
 *   of every model it ever compiled. A Model handed over from another graph is copied
 *   into the current one (`2-build/define.ts`), so one compile never mixes graphs;
 * - every node's shape is inferred and checked when it is built (`inferShape`);
 * - `id` is unique and grows with creation order; it is used for identity only, never
 *   to order or name anything emitted (emitted output must not depend on what else
 *   the process built before).
 * Local algebraic simplification is not done here but in `build.ts`, which every
 * front end calls.
 */
import { type Attrs, type Op, inferShape } from './ops.js';
import { type Shape, showShape } from './shape.js';

export interface Node {
  readonly id: number;
  readonly op: Op;
  readonly args: readonly Node[];
  readonly shape: Shape;
  readonly attrs: Attrs;
}

/**
 * The owner of hash-consing: one intern table. A compile owns one Graph for its whole
 * run (`withGraph`), so its nodes, and the table that finds them, are garbage once its
 * results are dropped; nothing process-wide grows with the number of models compiled.
 */
let graphs = 0;

export class Graph {
  readonly #table = new Map<string, Node>();
  /** Unique per graph in this process: what a node records of the graph it was interned in. */
  readonly serial = ++graphs;

  /** The node interned under `key`, if any. */
  find(key: string): Node | undefined {
    return this.#table.get(key);
  }

  add(key: string, node: Node): void {
    this.#table.set(key, node);
  }

  #bodies = 0;
  /** A fresh id for a recurrence's body (ir/ops.ts Body): per graph, in creation order. */
  nextBody(): number {
    return ++this.#bodies;
  }

  /** Number of distinct nodes interned in this graph. */
  get size(): number {
    return this.#table.size;
  }
}

/** Ids are unique across graphs (so keys never confuse nodes of two graphs); a number, not a table. */
let nextId = 0;
/** Where nodes go outside any `withGraph`: code that builds IR by hand (tests, the exported builders). */
const processGraph = new Graph();
let current = processGraph;
/**
 * A node as `intern` makes it. The private field brands it (a look-alike object built by
 * hand, or a node of another copy of gradc, has none: `#graph in x` is false) and records
 * the graph it was interned in, by number. A field of the node, not a WeakMap or WeakSet beside it:
 * weak tables of 10^5 entries made every garbage collection of a large compile slower.
 */
class InternedNode implements Node {
  readonly #graph: number; // the graph's serial number (not the graph: a node must not keep its intern table alive)
  readonly id: number;
  readonly op: Op;
  readonly args: readonly Node[];
  readonly shape: Shape;
  readonly attrs: Attrs;

  constructor(graph: number, id: number, op: Op, args: readonly Node[], shape: Shape, attrs: Attrs) {
    this.#graph = graph;
    this.id = id;
    this.op = op;
    this.args = args;
    this.shape = shape;
    this.attrs = attrs;
    Object.freeze(this);
  }

  static isInterned(x: unknown): x is Node {
    return typeof x === 'object' && x !== null && #graph in x;
  }

  static graphOf(n: Node): number | undefined {
    return InternedNode.isInterned(n) ? (n as InternedNode).#graph : undefined;
  }
}

/** The attributes of every node that has none (one frozen object, not one per node). */
const NO_ATTRS: Attrs = Object.freeze({});

/**
 * Runs `f` with `graph` (a fresh one by default) as the owner of every node interned
 * meanwhile, then restores the previous owner (also when `f` throws).
 */
export function withGraph<T>(f: () => T, graph: Graph = new Graph()): T {
  const outer = current;
  current = graph;
  try {
    return f();
  } finally {
    current = outer;
  }
}

/** The graph nodes are interned into now. */
export const currentGraph = (): Graph => current;

function numberKey(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** The intern key: equal keys in one graph mean the same node (exported for structural matching across bodies). */
export function keyOf(op: Op, args: readonly Node[], attrs: Attrs, shape: Shape): string {
  let k = op;
  if (attrs.value !== undefined) k += `=${numberKey(attrs.value)}`;
  if (attrs.name !== undefined) k += `:${attrs.name}`;
  if (attrs.start !== undefined) k += `@${attrs.start}`;
  if (attrs.limit !== undefined) k += `<${attrs.limit}`;
  if (attrs.low !== undefined) k += `>=${attrs.low}`;
  if (attrs.body !== undefined) k += `#${attrs.body.id}.${attrs.body.result.id}`;
  k += '(';
  for (let i = 0; i < args.length; i++) k += i === 0 ? `${args[i].id}` : `,${args[i].id}`;
  return `${k})${shape.length === 0 ? 'scalar' : showShape(shape)}`;
}

/**
 * The one constructor of IR nodes, interning into the current graph. `out` gives the
 * shape of leaves and shape-taking ops.
 */
export function intern(op: Op, args: readonly Node[], attrs: Attrs = {}, out?: Shape): Node {
  const shape = inferShape(op, args.map((a) => a.shape), attrs, out);
  const key = keyOf(op, args, attrs, shape);
  const found = current.find(key);
  if (found) return found;
  let own = false;
  for (const _ in attrs) { own = true; break; }
  const node: Node = new InternedNode(current.serial, nextId++, op, Object.freeze(args.slice()), shape, own ? Object.freeze({ ...attrs }) : NO_ATTRS);
  current.add(key, node);
  return node;
}

/** True when `x` is a node made by `intern` in this copy of gradc. */
export const isInterned = (x: unknown): x is Node => InternedNode.isInterned(x);

/** True when `n` was interned in the graph nodes are interned into now. */
export const inCurrentGraph = (n: Node): boolean => InternedNode.graphOf(n) === current.serial;

/** Number of distinct nodes in the current graph (for tests of hash-consing and of memory). */
export const internedCount = (): number => current.size;

export const isConst = (n: Node, v?: number): boolean =>
  n.op === 'const' && (v === undefined || n.attrs.value === v);

export const constValue = (n: Node): number | undefined => (n.op === 'const' ? n.attrs.value : undefined);
