/**
 * The derivative rule of a recurrence: backpropagation through time, as IR.
 *
 * For H = scan(init, seqs, k) (row t = h[t] = f(h[t-1], x[t], k), h[0] = init) and the
 * adjoint D = dL/dH (one row per h[t], most of them zero when only h[T] is read):
 *   G[T]   = D[T]
 *   G[t-1] = D[t-1] + (df/dh)(h[t-1], x[t], k)^T G[t]          t = T .. first
 *   dL/dinit = G[0]
 *   dL/dk    = sum over t = first..T of (df/dk)(h[t-1], x[t], k)^T G[t]
 * The first line is a reverse `scan` (its carry is G[t]; it reads D, H and the sequences
 * row by row), the last one `tsum` per constant: both are loops over t in the generated
 * code, so the backward pass is as long as the forward one whatever T is. The step's
 * vector-Jacobian products are the rule table's own (grad.ts on the body, with the
 * cotangent a slot); the body's result node stands for h[t] in them (so tanh's rule reads
 * the stored state instead of recomputing it). Truncated BPTT over the last k steps
 * (`truncate`) runs these loops over t = T-k+1..T only: G stops there and dL/dinit is 0.
 * Memory per sample: the forward history (T+1) x C and G, (T+1) x C, plus one step's
 * temporaries, plus the step values the looped lowering stores for these loops instead of
 * recomputing them (5-lower/stash.ts). A checkpointed recurrence (2-build/recurrent.ts) is a
 * scan whose step is k cell steps over k rows of the sequence (strides k): this rule then
 * recomputes each stretch of k steps from the state before it, and its histories hold
 * floor(T/k) + 1 rows. Gradients of the sequences themselves (a sequence computed from
 * parameters) are not derived: the builder refuses such a sequence.
 */
import { constant, make, row } from '../ir/build.js';
import { type Node, currentGraph } from '../ir/node.js';
import type { Body } from '../ir/ops.js';
import { slot, substitute, timeNode } from '../ir/scan.js';
import { dependsOn, topoOrder } from '../ir/walk.js';
import { GradcError } from '../errors.js';
import { differentiate } from './grad.js';

export function scanRule(y: Node, g: Node): (Node | null)[] {
  const b = y.attrs.body!;
  if (b.reverse) throw new GradcError('a recurrence that comes from a gradient cannot be differentiated again (no second derivatives through time)');
  const nS = b.seqs.length;
  const init = y.args[0];
  const seqArgs = y.args.slice(1, 1 + nS);
  const constArgs = y.args.slice(1 + nS);
  const T = b.steps;
  const first = b.truncate === undefined ? 1 : Math.max(1, T - b.truncate + 1);

  // The gradient bodies read the histories a row a step and the sequences as the step did.
  const strides = b.strides ? { strides: [1, 1, 1, ...b.strides] } : {};

  // The step's vector-Jacobian products, over the body's own slots and a cotangent slot.
  const vid = currentGraph().nextBody();
  const cot = slot(`~${vid}.g`, init.shape);
  const vjp = differentiate(make('dot', [b.result, cot]), [b.carry!, ...b.consts]).grads;

  // The reverse scan: carry G[t]; reads D[t-1], h[t-1], h[t] and the sequences' rows at t.
  const rid = currentGraph().nextBody();
  const gCarry = slot(`~${rid}.c`, init.shape);
  const [dRow, hPrev, hNext] = [0, 1, 2].map((i) => slot(`~${rid}.s${i}`, init.shape));
  const rSeqs = b.seqs.map((s, i) => slot(`~${rid}.s${i + 3}`, s.shape));
  const rConsts = b.consts.map((k, j) => slot(`~${rid}.k${j}`, k.shape));
  const kept = keptStates(b);
  const inStep = (cotangent: Node, seqs: readonly Node[], consts: readonly Node[], prev: Node, next: Node) => new Map<Node, Node>([
    [b.carry!, prev], [b.result, next], [cot, cotangent],
    ...kept.map(({ value, view }) => [value, make(view.op, [next], view.attrs, view.shape)] as [Node, Node]),
    ...b.seqs.map((s, i) => [s, seqs[i]] as [Node, Node]), ...b.consts.map((k, j) => [k, consts[j]] as [Node, Node]),
  ]);
  const [dCarry] = substitute([vjp[0]], inStep(gCarry, rSeqs, rConsts, hPrev, hNext));
  const G = timeNode('scan', [row(g, T), g, y, y, ...seqArgs, ...constArgs], {
    steps: T, first, reverse: true, carry: gCarry, seqs: [dRow, hPrev, hNext, ...rSeqs], shifts: [0, 0, 1, ...b.shifts], ...strides,
    consts: rConsts, result: make('add', [dRow, dCarry]),
  }, rid);
  const dInit = first === 1 ? row(G, 0) : constant(0, init.shape);

  // One sum over time per constant, over one set of slots (reads G[t], h[t-1], h[t] and the
  // sequences' rows at t), so their bodies share every common node and the looped lowering
  // runs them in one time loop.
  const sid = currentGraph().nextBody();
  const [gNext, sPrev, sNext] = [0, 1, 2].map((i) => slot(`~${sid}.s${i}`, init.shape));
  const sSeqs = b.seqs.map((s, i) => slot(`~${sid}.s${i + 3}`, s.shape));
  const sConsts = b.consts.map((c, i) => slot(`~${sid}.k${i}`, c.shape));
  const terms = substitute(vjp.slice(1), inStep(gNext, sSeqs, sConsts, sPrev, sNext));
  const dConsts = constArgs.map((k, j) => {
    if (k.op === 'const') return null;
    const term = terms[j];
    if (term.op === 'const') return make('mul', [constant(T - first + 1), term]);
    return timeNode('tsum', [G, y, y, ...seqArgs, ...constArgs], {
      steps: T, first, reverse: false, seqs: [gNext, sPrev, sNext, ...sSeqs], shifts: [1, 0, 1, ...b.shifts], ...strides, consts: sConsts, result: term,
    }, sid);
  });
  return [dInit, ...seqArgs.map(() => null), ...dConsts];
}

/**
 * The states of a step that keeps them under one condition (a recurrence with lengths,
 * 2-build/recurrent.ts): result = concat(..., select(c, v_i, view_i(carry)), ...), every
 * other part reading no v_i, and c reading none. Each v_i, where the rules read it, may be
 * read from the stored row h[t] instead (view_i(h[t])), so the backward pass does not
 * recompute the step: where c holds, view_i(h[t]) = v_i; where it does not, every adjoint
 * reaching a v_i is 0 (the selects send 0 to their v branch and nothing else reads the
 * v_i), so what the rules multiply it by does not matter as long as it is finite, and
 * view_i(h[t]) = view_i(h[t-1]) is a state.
 */
function keptStates(b: Body): { value: Node; view: Node }[] {
  const r = b.result;
  if (r.op !== 'concat' || !b.carry) return [];
  const kept = r.args.filter((a) => a.op === 'select');
  if (kept.length === 0) return [];
  const cond = kept[0].args[0];
  let at = 0;
  const out: { value: Node; view: Node }[] = [];
  for (const a of r.args) {
    const size = a.shape.length === 0 ? 1 : a.shape[0];
    if (a.op === 'select') {
      const [c, v, view] = a.args;
      const isView = view.args[0] === b.carry && view.attrs.start === at && (view.op === 'index' ? a.shape.length === 0 : view.op === 'slice' && view.shape[0] === size);
      if (c !== cond || !isView || v.shape.length !== a.shape.length || v.op === 'slot' || v.op === 'const') return [];
      out.push({ value: v, view });
    }
    at += size;
  }
  const values = new Set(out.map((o) => o.value));
  const readsValue = dependsOn(topoOrder([r]), (n) => values.has(n));
  if (readsValue.has(cond) || r.args.some((a) => a.op !== 'select' && readsValue.has(a))) return [];
  return out;
}

/** A sum over time appears only in gradients: differentiating it again is not supported. */
export function tsumRule(): never {
  throw new GradcError('a sum over time comes from a gradient and cannot be differentiated again (no second derivatives through time)');
}
