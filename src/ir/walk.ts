/**
 * Graph walks.
 *
 * Guarantees: every walk is iterative (an explicit stack, never recursion), so a chain
 * of any depth is walked without growing the JavaScript call stack. `topoOrder` lists
 * each node reachable from the roots exactly once, every node after all of its
 * arguments, in an order that depends only on the graph's structure (argument order
 * and root order), never on node ids.
 */
import type { Node } from './node.js';

/**
 * `done`: nodes already listed by an earlier walk, neither listed again nor walked
 * through (so walks from many roots over one graph cost its size once, not once per root).
 */
export function topoOrder(roots: readonly Node[], done?: { has(n: Node): boolean }): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>(); // on the stack or listed
  // The stack as two parallel arrays (a node, and the index of its next argument to visit):
  // no object per visit, which keeps walks over 10^5-node graphs cheap.
  const nodes: Node[] = [];
  const next: number[] = [];
  for (const root of roots) {
    if (seen.has(root) || done?.has(root)) continue;
    seen.add(root);
    nodes[0] = root;
    next[0] = 0;
    let top = 0;
    while (top >= 0) {
      const node = nodes[top];
      const k = next[top];
      if (k < node.args.length) {
        next[top] = k + 1;
        const arg = node.args[k];
        if (!seen.has(arg) && !done?.has(arg)) {
          seen.add(arg);
          top++;
          nodes[top] = arg;
          next[top] = 0;
        }
      } else {
        order.push(node);
        top--;
      }
    }
  }
  return order;
}

/** Whether at most `limit` nodes are reachable from `roots` (a walk that stops as soon as it finds more). */
export function reachesAtMost(roots: readonly Node[], limit: number): boolean {
  const seen = new Set<Node>();
  const stack = roots.slice();
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (seen.size > limit) return false;
    for (const a of n.args) if (!seen.has(a)) stack.push(a);
  }
  return true;
}

/** For each node reachable from `roots`, the nodes that use it (in topological order). */
export function consumers(order: readonly Node[]): Map<Node, Node[]> {
  const users = new Map<Node, Node[]>();
  for (const n of order) users.set(n, []);
  for (const n of order) for (const a of n.args) users.get(a)!.push(n);
  return users;
}

/** Nodes of `order` from which some node of `sources` is reachable (sources included). */
export function dependsOn(order: readonly Node[], sources: (n: Node) => boolean): Set<Node> {
  const deps = new Set<Node>();
  for (const n of order) if (sources(n) || n.args.some((a) => deps.has(a))) deps.add(n);
  return deps;
}
