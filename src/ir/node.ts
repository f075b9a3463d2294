/**
 * The IR node and its one interning constructor.
 *
 * Grammar (a DAG, shown here as SSA text by `print.ts`):
 *   node  ::= op[attrs](node, ...) : shape
 *   leaf  ::= const[value] | param[name] | input[name] | target[name]
 *
 * Guarantees:
 * - nodes are immutable (frozen) and built only by `intern`, which hash-conses them: two
 *   calls with the same op, the same argument nodes, the same attributes and the same
 *   shape return the same object, so equal subexpressions are one node and common
 *   subexpression elimination is free;
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

let nextId = 0;
const table = new Map<string, Node>();
/** Every node `intern` made (a look-alike object built by hand is not one). */
const made = new WeakSet<Node>();

function numberKey(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function keyOf(op: Op, args: readonly Node[], attrs: Attrs, shape: Shape): string {
  let k = op;
  if (attrs.value !== undefined) k += `=${numberKey(attrs.value)}`;
  if (attrs.name !== undefined) k += `:${attrs.name}`;
  if (attrs.start !== undefined) k += `@${attrs.start}`;
  k += `(${args.map((a) => a.id).join(',')})`;
  return `${k}${showShape(shape)}`;
}

/** The one constructor of IR nodes. `out` gives the shape of leaves and shape-taking ops. */
export function intern(op: Op, args: readonly Node[], attrs: Attrs = {}, out?: Shape): Node {
  const shape = inferShape(op, args.map((a) => a.shape), attrs, out);
  const key = keyOf(op, args, attrs, shape);
  const found = table.get(key);
  if (found) return found;
  const node: Node = Object.freeze({ id: nextId++, op, args: Object.freeze(args.slice()), shape, attrs: Object.freeze({ ...attrs }) });
  table.set(key, node);
  made.add(node);
  return node;
}

/** True when `x` is a node made by `intern` in this copy of gradc. */
export const isInterned = (x: unknown): x is Node => typeof x === 'object' && x !== null && made.has(x as Node);

/** Number of distinct nodes interned so far (for tests of hash-consing). */
export const internedCount = (): number => table.size;

export const isConst = (n: Node, v?: number): boolean =>
  n.op === 'const' && (v === undefined || n.attrs.value === v);

export const constValue = (n: Node): number | undefined => (n.op === 'const' ? n.attrs.value : undefined);
