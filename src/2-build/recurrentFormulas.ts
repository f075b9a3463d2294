/**
 * Phase 2, build: recurrences written as formulas, in the textbooks' notation.
 *
 *   h[0] = 0
 *   h[t] = tanh(Wx * x[t] + Wh * h[t-1] + b)
 *   yhat = dot(v, h[T]) + c
 *
 * Guarantees: the lines `s[0] = ...` and `s[t] = ...` of one formulas block define one
 * recurrence (2-build/recurrent.ts) whose states are every such s (an LSTM's h and c
 * together), over the one sequence read as `x[t]` (a [T x V] input, or T numbers). In a
 * step, `s[t-1]` (or `s` alone) is a state at the step before and `x[t]` the sequence's
 * row; elsewhere `s[T]` (or `s` alone) is the state after the last step and `s[k]` after
 * step k. A state whose initial value is a scalar constant while the step makes it a
 * vector takes its length from the step: the first length among the parameters'
 * dimensions for which the step's shapes agree. A state without both lines, a step that
 * reads no sequence or two of them, and a state whose shape the step changes are
 * GradcErrors naming the line.
 */
import { GradcError, type SourceLocation } from '../errors.js';
import { constant } from '../ir/build.js';
import type { Node } from '../ir/node.js';
import { shape as mkShape, showShape } from '../ir/shape.js';
import type { Assignment } from '../1-parse/formula.js';
import { formulaToNode } from './fromFormula.js';
import { type Host, type Recurrence, type ScanOptions, scan } from './recurrent.js';

type Any = Record<string, any>;

/** Assignments of lengths tried for scalar initial values, at most. */
const MAX_TRIALS = 256;

export interface StateLines { readonly name: string; readonly init: Assignment; readonly step: Assignment }

export interface FormulaScope {
  readonly host: Host;
  readonly resolve: (name: string) => Node | undefined;
  readonly known: () => readonly string[];
  readonly access: (name: string, index: unknown) => Node | undefined;
  /** Vector lengths among the parameters' dimensions, in order of first appearance. */
  readonly lengths: () => readonly number[];
  readonly at: (a: Assignment) => SourceLocation;
}

/** `t - 1` as written in `h[t-1]`. */
const isPrevious = (d: Any): boolean =>
  d.type === 'OperatorNode' && d.fn === 'subtract' && d.args.length === 2 && d.args[0].type === 'SymbolNode' && d.args[0].name === 't' && d.args[1].type === 'ConstantNode' && d.args[1].value === 1;
const isStep = (d: Any): boolean => d.type === 'SymbolNode' && d.name === 't';

/** The names read as `name[t]` in `expr` that are not states. */
function sequencesRead(expr: Any, states: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const stack: Any[] = [expr];
  while (stack.length) {
    const n = stack.pop()!;
    n.forEach((c: Any) => stack.push(c));
    if (n.type === 'AccessorNode' && n.object.type === 'SymbolNode' && !states.has(n.object.name) && n.index.dimensions.length === 1 && isStep(n.index.dimensions[0]) && !out.includes(n.object.name)) out.push(n.object.name);
  }
  return out;
}

/** The first `name[...]` in `expr` (not a state) whose index mentions t other than as `t` itself (`x[t+1]`, `x[2*t]`), as written. */
function shiftedRead(expr: Any, states: ReadonlySet<string>): string | undefined {
  const stack: Any[] = [expr];
  while (stack.length) {
    const n = stack.pop()!;
    n.forEach((c: Any) => stack.push(c));
    if (n.type !== 'AccessorNode' || n.object.type !== 'SymbolNode' || states.has(n.object.name) || n.index.dimensions.length !== 1) continue;
    const d = n.index.dimensions[0];
    let mentions = false;
    d.traverse((c: Any) => { if (c.type === 'SymbolNode' && c.name === 't') mentions = true; });
    if (mentions && !isStep(d)) return n.toString();
  }
  return undefined;
}

/** The recurrence of `group`'s lines; returns it with its state names. */
export function defineRecurrence(group: readonly StateLines[], s: FormulaScope, options: ScanOptions = {}): Recurrence<string> {
  const states = new Set(group.map((g) => g.name));
  const seqNames = [...new Set(group.flatMap((g) => sequencesRead(g.step.expr, states)))];
  const first = group[0].step;
  if (seqNames.length !== 1) {
    const shifted = seqNames.length === 0 ? group.map((g) => shiftedRead(g.step.expr, states)).find((r) => r !== undefined) : undefined;
    if (shifted !== undefined) throw new GradcError(`the step of ${[...states].join(', ')} reads '${shifted}': a step reads its sequence as x[t] only, the row of step t (for another row, shift the input: give the recurrence a sequence whose row t is the one you want)`, s.at(first));
    throw new GradcError(seqNames.length === 0 ? `the recurrence of ${[...states].join(', ')} reads no sequence (write x[t] for the row of an input x at step t)` : `a recurrence reads one sequence, this one reads ${seqNames.join(', ')}`, s.at(first));
  }
  const seq = s.resolve(seqNames[0]);
  if (!seq) throw new GradcError(`unknown sequence '${seqNames[0]}'`, { ...s.at(first), symbol: seqNames[0] });
  const convert = (a: Assignment, resolve: (n: string) => Node | undefined, access: (n: string, i: Any) => Node | undefined) =>
    formulaToNode(a.expr, { where: s.at(a), lineText: a.lineText, columns: a.columns, resolve, known: s.known, access });
  // An initial value reading a state of this recurrence (h[T] in g[0] = h[T]): the states of one
  // block are one recurrence, so it has no value yet.
  const notAState = (g: StateLines) => (n: string): void => {
    if (states.has(n)) {
      throw new GradcError(`'${g.name}[0]' reads '${n}', a state of the same recurrence (the lines s[0] = ... and s[t] = ... of one formulas block are one recurrence); start it from a value known before the recurrence, or define a second recurrence in a formulas block of its own`, { ...s.at(g.init), symbol: n });
    }
  };
  // Steps reading each other's new values (n[t]) in a cycle are refused here, before the
  // lengths of scalar initial values are tried (a trial's shape errors would hide the cycle).
  const readsAtT = (g: StateLines): string[] => {
    const out: string[] = [];
    g.step.expr.traverse((n: Any) => {
      if (n.type !== 'AccessorNode' || n.object.type !== 'SymbolNode' || !states.has(n.object.name)) return;
      const name: string = n.object.name, d = n.index.dimensions;
      if (d.length === 1 && isStep(d[0])) { if (!out.includes(name)) out.push(name); return; }
      if (d.length === 1 && isPrevious(d[0])) return;
      throw new GradcError(`in the step of a recurrence, the state '${name}' is read as ${name}[t-1] (its value at the step before) or ${name} alone, or as ${name}[t] (its new value, in another state's step); ${n.toString()} is not one of them (${name}[T] and ${name}[k] are read outside the recurrence)`, { ...s.at(g.step), symbol: name });
    });
    return out;
  };
  {
    const path: string[] = [], finished = new Set<string>();
    const visit = (g: StateLines): void => {
      if (finished.has(g.name)) return;
      if (path.includes(g.name)) {
        throw new GradcError(`the steps of ${[...path.slice(path.indexOf(g.name)), g.name].join(' -> ')} read each other at step t (as ${g.name}[t]): one of them must read the other at t-1`, { ...s.at(g.step), symbol: g.name });
      }
      path.push(g.name);
      for (const n of readsAtT(g)) {
        if (n === g.name) throw new GradcError(`in the step of a recurrence, the state '${n}' is read as ${n}[t-1] (its value at the step before) or ${n} alone; ${n}[t] is its new value, the one this step computes`, { ...s.at(g.step), symbol: n });
        visit(group.find((h) => h.name === n)!);
      }
      path.pop();
      finished.add(g.name);
    };
    group.forEach(visit);
  }
  const inits = group.map((g) => convert(g.init, (n) => (notAState(g)(n), s.resolve(n)), (n, i) => (notAState(g)(n), s.access(n, i))));
  // One step: each state's new value from the carry (the states at t-1). A step may read
  // another state's new value as n[t] (a per-step output o[t] = o[t-1] + f(h[t])): that state's
  // step is computed first, once; steps that read each other at t are a cycle, refused.
  const stepAll = (carry: Readonly<Record<string, Node>>, x: Node): Record<string, Node> => {
    const done = new Map<string, Node>();
    const busy: string[] = [];
    const one = (g: StateLines): Node => {
      const got = done.get(g.name);
      if (got) return got;
      if (busy.includes(g.name)) {
        throw new GradcError(`the steps of ${[...busy.slice(busy.indexOf(g.name)), g.name].join(' -> ')} read each other at step t (as ${g.name}[t]): one of them must read the other at t-1`, { ...s.at(g.step), symbol: g.name });
      }
      busy.push(g.name);
      const v = convert(g.step, (n) => (states.has(n) ? carry[n] : s.resolve(n)), (n, i) => {
        if (states.has(n) && isPrevious(i)) return carry[n];
        if (states.has(n) && isStep(i) && n !== g.name) return one(group.find((h) => h.name === n)!);
        if (states.has(n)) throw new GradcError(`in the step of a recurrence, the state '${n}' is read as ${n}[t-1] (its value at the step before) or ${n} alone${n === g.name ? '' : `, or as ${n}[t] (its new value, in another state's step)`}; ${n}[T] and ${n}[k] are read outside the recurrence`, { ...s.at(g.step), symbol: n });
        if (n === seqNames[0] && isStep(i)) return x;
        return s.access(n, i);
      });
      busy.pop();
      done.set(g.name, v);
      return v;
    };
    return Object.fromEntries(group.map((g) => [g.name, one(g)]));
  };
  // Scalar constant initial values take their length from the step (see the header): the
  // first assignment of lengths, in order (a scalar first), for which every state keeps its shape.
  const open = group.map((_, k) => (inits[k].op === 'const' && inits[k].shape.length === 0 ? k : -1)).filter((k) => k >= 0);
  if (open.length > 0) {
    const rowOf = seq.shape.length === 2 ? mkShape(seq.shape[1]) : mkShape();
    const choices = [0, ...s.lengths()];
    const total = Math.min(choices.length ** open.length, MAX_TRIALS);
    for (let c = 0; c < total; c++) {
      const trial = inits.slice();
      open.forEach((k, i) => {
        const len = choices[Math.floor(c / choices.length ** (open.length - 1 - i)) % choices.length];
        trial[k] = constant(inits[k].attrs.value!, len === 0 ? mkShape() : mkShape(len));
      });
      try {
        const carry = Object.fromEntries(group.map((h, j) => [h.name, trial[j]]));
        const next = stepAll(carry, constant(0, rowOf));
        if (group.every((g, j) => showShape(next[g.name].shape) === showShape(trial[j].shape))) {
          trial.forEach((t, j) => { inits[j] = t; });
          break;
        }
      } catch (e) {
        if (!(e instanceof GradcError)) throw e;
      }
    }
  }
  const init = Object.fromEntries(group.map((g, k) => [g.name, inits[k]]));
  return scan(s.host, init, seq, (carry, x) => stepAll(carry, x), options);
}
