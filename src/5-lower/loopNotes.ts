/**
 * Phase 5, lower (looped form): what the looped code calls its buffers and says in its
 * comments, in the user's words.
 *
 * Guarantees: a node's display name is the user's label, else `d_<label>` (or `d_<param>`) for
 * an adjoint, by the one naming rule of naming.ts (`adjointOwners`), else a leaf's
 * name; a buffer is named `$v_` + the display name of its node, or of its op and its
 * arguments' display names (`$v_logsumexp_layer2_z`), at most NAME_MAX characters; a
 * step's comment states what it computes as `name = formula` (formulas in mathjs syntax,
 * named nodes by name, one level of unnamed ones spelled out, at most COMMENT_MAX
 * characters each), and for backward values the forward statement they differentiate
 * (`grad of: loss = ...`), as the unrolled code does. Everything is linear in the
 * number of nodes; formulas are bounded in depth, so no walk is deep.
 */
import type { Node } from '../ir/node.js';
import { OPS } from '../ir/ops.js';
import { formula } from '../ir/print.js';
import type { Derived } from '../model.js';
import { adjointName, adjointOwners } from '../naming.js';

const NAME_MAX = 40;
const COMMENT_MAX = 100;

export interface LoopNotes {
  /** The base of a buffer name for `n` (without the `$v_` prefix). */
  bufferBase(n: Node): string;
  /** Comment lines for a step that computes `n` with the nodes of `chain` fused into it (in topological order, `n` last). */
  stepNote(n: Node, chain: readonly Node[]): string;
  /** Comment lines for adding `value`, summed over the batch, into the gradient of parameter `param`. */
  reductionNote(param: string, value: Node): string;
}

export function loopNotes(derived: Derived): LoopNotes {
  const { model, origin } = derived;
  const names = new Map<Node, string>(model.labels);
  // Adjoints by the one naming rule (naming.ts adjointOwners), as the unrolled code and the displays name them.
  for (const [a, owner] of adjointOwners(derived)) {
    const name = owner.label ?? owner.param;
    if (name !== undefined && !names.has(a) && a.op !== 'const') names.set(a, adjointName(name));
  }
  const display = (n: Node): string | undefined => names.get(n) ?? n.attrs.name;

  const clip = (s: string) => (s.length > COMMENT_MAX ? `${s.slice(0, COMMENT_MAX)}…` : s);
  const statement = (n: Node): string => {
    const body = formula(n, names, { maxDepth: 2, maxLength: COMMENT_MAX });
    const name = display(n);
    return clip(name ? `${name} = ${body}` : body);
  };
  const gradOf = (chain: readonly Node[]): string[] => {
    const seen = new Set<Node>();
    const lines: string[] = [];
    for (const n of chain) {
      const f = origin.get(n);
      if (f && !seen.has(f)) { seen.add(f); lines.push(`grad of: ${statement(f)}`); }
    }
    return lines;
  };

  return {
    bufferBase(n) {
      const own = display(n);
      if (own) return own.slice(0, NAME_MAX);
      const parts = [OPS[n.op].fn ?? n.op, ...n.args.map(display).filter((x): x is string => x !== undefined)];
      return parts.join('_').slice(0, NAME_MAX);
    },
    stepNote(n, chain) {
      const named = chain.filter((m) => m !== n && names.has(m)).map(statement);
      return [...named, statement(n), ...gradOf(chain)].join('\n');
    },
    reductionNote(param, value) {
      const what = names.get(value) ?? clip(formula(value, names, { maxDepth: 2, maxLength: COMMENT_MAX }));
      return [`${adjointName(param)} += ${what}, summed over the batch`, ...gradOf([value])].join('\n');
    },
  };
}
