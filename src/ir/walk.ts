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
  const state = new Map<Node, 1 | 2>(); // 1 = on the stack, 2 = emitted
  const stack: { node: Node; next: number }[] = [];
  for (const root of roots) {
    if (state.has(root) || done?.has(root)) continue;
    stack.push({ node: root, next: 0 });
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.args.length) {
        const arg = top.node.args[top.next++];
        if (!state.has(arg) && !done?.has(arg)) {
          state.set(arg, 1);
          stack.push({ node: arg, next: 0 });
        }
      } else {
        stack.pop();
        state.set(top.node, 2);
        order.push(top.node);
      }
    }
  }
  return order;
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
