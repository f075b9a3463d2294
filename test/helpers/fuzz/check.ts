/**
 * One fuzz case, run through the whole pipeline: build, compile in both lowerings,
 * evaluate on finite and hostile data, train. Returns what it found; never throws
 * (except the generator's own bugs), so a run can collect every finding.
 *
 * Properties (issue 7, section F):
 *   P1 'internal-error'  anything gradc throws for any input is a GradcError (SampleError
 *                        carries the brand); a TypeError, RangeError, SyntaxError from a
 *                        generated module, ... is a finding. An invalid option or value that
 *                        is silently accepted is a finding too ('accepted-bad-input').
 *   P2 'disagree'        on finite data, loss() and gradient() of the 'unrolled' and the
 *                        'loops' module equal the reference interpreter run on the
 *                        unsimplified model with its unsimplified derivative (`differentiate`),
 *                        to a tolerance relative to the largest finite value in that graph;
 *      'not-finite'      where the interpreter's value is finite the lowered one is too.
 *   P3 'bad-params'      step, stepBatch and fit on finite data (and step on hostile data)
 *                        never leave a non-finite parameter: they may throw a SampleError
 *                        or report divergence instead.
 */
import { buildModel, compile, type GeneratedModule } from '../../../src/index.js';
import { GradcError } from '../../../src/errors.js';
import { differentiate } from '../../../src/3-diff/grad.js';
import { evaluate, evaluateScalar } from '../../../src/interp/evaluate.js';
import type { Model } from '../../../src/model.js';
import type { Node } from '../../../src/ir/node.js';
import { Gen, type ModelCase, describeModel, toDefinition } from './models.js';
import { type CompileOptions, type FitOptions, badCompileOption, badFitOptions, finiteValue, hostileValue, validCompileOptions, validFitOptions } from './data.js';
import { isKnownHang } from './known.js';
import { topoOrder } from '../../../src/ir/walk.js';

export type Property = 'internal-error' | 'accepted-bad-input' | 'disagree' | 'not-finite' | 'bad-params';

export interface Finding {
  readonly property: Property;
  /** The call that misbehaved: 'build', 'compile', 'gradient', 'step', 'fit', ... */
  readonly call: string;
  readonly lowering?: string;
  /** One line: what went wrong (an error's class and message, or the two values). */
  readonly what: string;
  /** The model, options and data that reproduce it. */
  readonly reproducer: string;
  readonly model: ModelCase;
  readonly options: CompileOptions;
  /** Set when the data was hostile, with a word for what was hostile. */
  readonly hostile?: string;
  readonly fitOptions?: FitOptions;
}

export interface CaseStats {
  models: number; rejected: number; rejectedValid: number; compiled: number;
  dataCases: number; compared: number; skippedNonFinite: number; hostileCases: number; trainings: number; skippedHang: number;
}
export const newStats = (): CaseStats => ({ models: 0, rejected: 0, rejectedValid: 0, compiled: 0, dataCases: 0, compared: 0, skippedNonFinite: 0, hostileCases: 0, trainings: 0, skippedHang: 0 });

const LOWERINGS = ['unrolled', 'loops'] as const;

/** Mutations (models.ts) that always make a model invalid: building it must be a GradcError. */
const MUST_REJECT = new Set([
  'an unknown or prototype function', 'an undefined name', 'a cycle', 'a bad literal', 'an invalid name',
  'a parameter assigned by a formula', 'a name defined twice', 'a vector index out of range', 'a tensor ^ exponent', 'a wrong argument count', 'a non-scalar loss',
]);

const errorText = (e: unknown): string =>
  e instanceof Error ? `${e instanceof GradcError ? 'GradcError' : e.constructor.name}: ${e.message.split('\n')[0].slice(0, 300)}` : `non-Error thrown: ${String(e)}`;

const show = (v: unknown): string => {
  if (v instanceof Float64Array || v instanceof Float32Array) return `[${Array.from(v).join(', ')}]`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === undefined) return 'undefined';
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
};
const showEnv = (env: Record<string, unknown>): string => `{ ${Object.keys(env).map((k) => `${JSON.stringify(k)}: ${show(env[k])}`).join(', ')} }`;

const allFinite = (p: Record<string, unknown>): boolean =>
  Object.keys(p).every((k) => { const v = p[k]; return typeof v === 'number' ? Number.isFinite(v) : v instanceof Float64Array || v instanceof Float32Array ? v.every(Number.isFinite) : true; });

const copyParams = (p: Record<string, number | Float64Array | Float32Array>): Record<string, number | Float64Array> =>
  Object.fromEntries(Object.keys(p).map((k) => { const v = p[k]; return [k, typeof v === 'number' ? v : Float64Array.from(v)]; }));

/** Not a number (scalar) or an array of numbers of the right length (tensor). */
const malformed = (v: unknown, s: readonly number[]): boolean => {
  const n = s.reduce((a, b) => a * b, 1);
  if (s.length === 0) return typeof v !== 'number';
  return !Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number');
};
const finiteValues = (v: unknown): boolean => (Array.isArray(v) ? v.every((x) => typeof x !== 'number' || Number.isFinite(x)) : typeof v !== 'number' || Number.isFinite(v));

/** The first gradient element that is not finite although the loss has a finite slope there, described. */
function rulesNotFinite(model: Model, grads: readonly Float64Array[], env: Record<string, number | number[]>): string | undefined {
  for (let i = 0; i < model.params.length; i++) {
    const name = model.params[i].name;
    for (let k = 0; k < grads[i].length; k++) {
      if (Number.isFinite(grads[i][k])) continue;
      const at = (t: number) => {
        const e = { ...env };
        const v = e[name];
        e[name] = typeof v === 'number' ? t : v.map((x, j) => (j === k ? t : x));
        return evaluateScalar(model.loss, e as never);
      };
      const x0 = typeof env[name] === 'number' ? env[name] as number : (env[name] as number[])[k];
      const slope = (h: number) => (at(x0 + h) - at(x0 - h)) / (2 * h);
      const a = slope(1e-4), b = slope(1e-6);
      if (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(a))) {
        return `d${name}[${k}] = ${grads[i][k]} (derivative rules, interpreter and lowerings alike) where the loss is finite and its central difference is ${b}`;
      }
    }
  }
  return undefined;
}

export interface CaseOptions {
  /** Finite data cases per model (default 4). */
  readonly dataCases?: number;
  /** Hostile data cases per model (default 1). */
  readonly hostileCases?: number;
}

/** Runs one model case; the model and everything random in the case follow from `seed`. */
export function runCase(m: ModelCase, stats: CaseStats, caseOptions: CaseOptions = {}): Finding[] {
  const g = new Gen(m.seed ^ 0x5bd1e995);
  const findings: Finding[] = [];
  stats.models++;
  let options = validCompileOptions(g);
  let badOption: string | undefined;
  if (g.chance(0.1)) {
    const [k, v] = badCompileOption(g);
    options = { ...options, [k]: v };
    badOption = `${k}: ${show(v)}`;
  }
  const reproHead = () => `${describeModel(m)}\n  compile options ${show(options)}`;
  const add = (f: Omit<Finding, 'model' | 'options' | 'reproducer'> & { data?: string }) =>
    findings.push({ ...f, model: m, options, reproducer: `${reproHead()}${f.data ? `\n  data ${f.data}` : ''}${f.fitOptions ? `\n  fit options ${show(f.fitOptions)}` : ''}` });
  const guard = <T>(call: string, lowering: string | undefined, f: () => T, extra: { data?: string; hostile?: string; fitOptions?: FitOptions } = {}): { ok: true; value: T } | { ok: false; error: unknown } => {
    try {
      return { ok: true, value: f() };
    } catch (e) {
      if (!(e instanceof GradcError)) add({ property: 'internal-error', call, lowering, what: errorText(e), ...extra });
      return { ok: false, error: e };
    }
  };

  // Build (phases 1-2) and the oracle: the unsimplified model and its unsimplified derivative.
  const def = toDefinition(m);
  const built = guard('build', undefined, () => buildModel(def));
  if (!built.ok) {
    stats.rejected++;
    if (!m.mutation && built.error instanceof GradcError) stats.rejectedValid++;
    return findings;
  }
  const model: Model = built.value;
  // (The builder door spells `^` as m.pow, which is elementwise by design.)
  if (m.mutation && MUST_REJECT.has(m.mutation) && !(m.door === 'builder' && m.mutation === 'a tensor ^ exponent')) {
    add({ property: 'accepted-bad-input', call: 'build', what: `accepted a model with ${m.mutation}` });
  }
  const paramNodes = model.params.map((p) => p.node);
  const oracle = guard('differentiate', undefined, () => differentiate(model.loss, paramNodes).grads);
  if (!oracle.ok) return findings;

  const modules: [string, GeneratedModule][] = [];
  for (const lowering of LOWERINGS) {
    // A bad `lowering` option is passed as given (it must be refused); a valid one is replaced by each lowering in turn.
    const o = badOption?.startsWith('lowering:') ? options : { ...options, lowering };
    if (isKnownHang({ options: o })) { stats.skippedHang++; continue; }
    const c = guard('compile', lowering, () => compile(def, o as never));
    if (c.ok) modules.push([lowering, c.value]);
  }
  if (badOption && modules.length > 0) {
    // Item 9: options are validated; today some are accepted. Only a finding when it matters for this lowering.
    add({ property: 'accepted-bad-input', call: 'compile', lowering: modules.map(([l]) => l).join('+'), what: `accepted compile option ${badOption}` });
  }
  if (modules.length === 0) return findings;
  stats.compiled++;
  // Every parameter is an own key of the objects the module makes, of its size (a '__proto__' key must not vanish).
  for (const [lowering, mod] of modules) {
    for (const [call, make] of [['initParams', () => mod.initParams()], ['zeroParams', () => mod.zeroParams()]] as const) {
      const r = guard(call, lowering, make);
      if (!r.ok) continue;
      const missing = model.params.find((p) => {
        if (!Object.hasOwn(r.value, p.name)) return true;
        const v = (r.value as Record<string, unknown>)[p.name];
        const n = p.shape.reduce((a, b) => a * b, 1);
        return p.shape.length === 0 ? typeof v !== 'number' || !Number.isFinite(v) : !(v instanceof Float64Array || v instanceof Float32Array) || v.length !== n || !v.every(Number.isFinite);
      });
      if (missing) add({ property: 'disagree', call, lowering, what: `${call}() has no own finite '${missing.name}' of shape [${missing.shape.join('x')}] (own keys: ${Object.keys(r.value).join(', ')})` });
    }
  }
  const f32 = options.precision === 'f32';

  const leafData = (round: boolean) => {
    // No prototype: a leaf may be called '__proto__' (an own key, as users write it).
    const env: Record<string, number | number[]> = Object.create(null);
    const leaves = [...model.params, ...model.inputs, ...model.targets];
    for (const l of leaves) {
      // Ties (a leaf equal to another of its shape) reach kinks: max/min ties, a - x = 0, sqrt(0).
      const twin = g.chance(0.15) ? leaves.find((o) => o !== l && o.name in env && o.shape.join() === l.shape.join()) : undefined;
      const v = twin ? structuredClone(env[twin.name]) : finiteValue(g, l.shape);
      env[l.name] = round ? (typeof v === 'number' ? Math.fround(v) : v.map(Math.fround)) : v;
    }
    return env;
  };
  const split = (env: Record<string, unknown>) => {
    const pick = (names: readonly { name: string }[]) => Object.fromEntries(names.map((l) => [l.name, env[l.name]]));
    return { params: pick(model.params), inputs: pick(model.inputs), targets: pick(model.targets) };
  };
  const toParams = (p: Record<string, unknown>): Record<string, number | Float64Array> =>
    Object.fromEntries(Object.keys(p).map((k) => { const v = p[k]; return [k, Array.isArray(v) ? Float64Array.from(v as number[]) : v as number]; }));

  // P2: the two lowerings and the interpreter agree on finite data.
  const dataCases = caseOptions.dataCases ?? 4;
  const samples: { inputs: Record<string, unknown>; targets: Record<string, unknown> }[] = [];
  let first: Record<string, unknown> | undefined;
  for (let d = 0; d < dataCases; d++) {
    stats.dataCases++;
    const env = leafData(f32);
    const parts = split(env);
    samples.push({ inputs: parts.inputs, targets: parts.targets });
    first ??= parts.params;
    const data = showEnv(env);
    const ref = guard('interpret', undefined, () => evaluate([model.loss, ...oracle.value, ...model.outputs.map((o) => o.node)], env as never), { data });
    if (!ref.ok) continue;
    const values = ref.value;
    let scale = 1;
    for (const v of values.values()) for (const x of v) if (Number.isFinite(x)) scale = Math.max(scale, Math.abs(x));
    const tol = (f32 ? 1e-4 : 1e-9) * scale;
    const refLoss = values.get(model.loss)![0];
    const refGrads = oracle.value.map((n: Node) => values.get(n)!);
    const refFinite = Number.isFinite(refLoss) && refGrads.every((a) => a.every(Number.isFinite));
    if (!refFinite) stats.skippedNonFinite++;
    // gradc's promise (issue 7, item 13) is a finite gradient where the loss and every value of
    // the forward pass are finite; an infinite intermediate (a division by an exact zero that a
    // later op maps back to a finite loss) makes the chain rule's products 0 * Infinity.
    // Likewise where a local derivative is itself undefined: infinite from finite arguments (a
    // cusp, such as sqrt at 0 reached with a non-zero adjoint) or outside the real domain (log
    // of a negative base in d(a^b)/db). A 0/0 from finite arguments is still a finding.
    const forwardFinite = topoOrder([model.loss]).every((n) => values.get(n)!.every(Number.isFinite));
    const localUndefined = topoOrder(oracle.value).some((n) => {
      const v = values.get(n)!;
      const args = n.args.map((a) => values.get(a)!);
      if (!args.every((a) => a.every(Number.isFinite))) return false;
      if (v.some((x) => x === Infinity || x === -Infinity)) return true;
      return (n.op === 'log' || n.op === 'sqrt' || n.op === 'pow') && v.some(Number.isNaN) && args[0]!.some((x) => x < 0);
    });
    if (Number.isFinite(refLoss) && !refFinite && forwardFinite && !localUndefined) {
      // The rules themselves (interpreter = lowerings): a non-finite gradient element where the
      // loss is finite and central differences at two step sizes agree on a finite slope.
      const bad = rulesNotFinite(model, refGrads, env);
      if (bad) add({ property: 'not-finite', call: 'gradient', lowering: 'interpreter', what: bad, data });
    }
    if (f32 && scale > 1e30) continue;
    for (const [lowering, mod] of modules) {
      // forward(): every output is an own key, equal to the interpreter's value (outputs read no target).
      const fw = guard('forward', lowering, () => mod.forward(toParams(parts.params), parts.inputs as never), { data });
      if (fw.ok) {
        for (const o of model.outputs) {
          const want = values.get(o.node)!;
          const v = Object.hasOwn(fw.value, o.name) ? fw.value[o.name] : undefined;
          const got = typeof v === 'number' ? [v] : v === undefined ? [] : Array.from(v);
          const k = got.length !== want.length ? 0 : got.findIndex((x, j) => Number.isFinite(want[j]) && !(Math.abs(x - want[j]) <= tol));
          if (k !== -1) {
            add({ property: got.length === want.length && !Number.isFinite(got[k]) ? 'not-finite' : 'disagree', call: 'forward', lowering, what: `forward().${o.name} = ${show(v)}, interpreter [${Array.from(want).join(', ')}]`, data });
            break;
          }
        }
      }
      const lo = guard('loss', lowering, () => mod.loss(toParams(parts.params), parts.inputs as never, parts.targets as never), { data });
      const gr = guard('gradient', lowering, () => mod.gradient(toParams(parts.params), parts.inputs as never, parts.targets as never), { data });
      if (!lo.ok || !gr.ok) continue;
      stats.compared++;
      const pairs: [string, number, number][] = [['loss()', lo.value, refLoss], ['gradient().loss', gr.value.loss, refLoss]];
      model.params.forEach((p, i) => {
        const got = Object.hasOwn(gr.value.grad, p.name) ? gr.value.grad[p.name] : undefined;
        const arr = typeof got === 'number' ? [got] : got === undefined ? [] : Array.from(got);
        if (arr.length !== refGrads[i].length) { pairs.push([`d${p.name} (length)`, arr.length, refGrads[i].length]); return; }
        arr.forEach((x, k) => pairs.push([`d${p.name}[${k}]`, x, refGrads[i][k]]));
      });
      for (const [what, got, want] of pairs) {
        if (Number.isFinite(want) && !Number.isFinite(got)) {
          add({ property: 'not-finite', call: what.startsWith('d') ? 'gradient' : what, lowering, what: `${what} = ${got}, interpreter ${want}`, data });
          break;
        }
        if (Number.isFinite(want) && Number.isFinite(got) && Math.abs(got - want) > tol) {
          add({ property: 'disagree', call: what.startsWith('d') ? 'gradient' : what, lowering, what: `${what} = ${got}, interpreter ${want} (tolerance ${tol.toExponential(1)})`, data });
          break;
        }
      }
    }
  }

  if (first === undefined) return findings;
  // P3: training on finite data never leaves a non-finite parameter.
  for (const [lowering, mod] of modules) {
    stats.trainings++;
    const p0 = toParams(first!);
    const lr = g.pick([1e-3, 0.1, 1, 10, 1e3]);
    const p = copyParams(p0);
    const s0 = samples[0];
    const data = `${showEnv({ ...p0, ...s0.inputs, ...s0.targets })}, learningRate ${lr}`;
    const st = guard('step', lowering, () => mod.step(p, s0.inputs as never, s0.targets as never, lr), { data });
    if (st.ok && !allFinite(p)) add({ property: 'bad-params', call: 'step', lowering, what: `step left parameters ${showEnv(p)}`, data });
    const packed = guard('packSamples', lowering, () => mod.packSamples(samples as never), { data });
    if (packed.ok) {
      const pb = copyParams(p0);
      const { X, Y, count } = packed.value;
      const sb = guard('stepBatch', lowering, () => mod.stepBatch(pb, X, Y, count, lr), { data });
      if (sb.ok && !allFinite(pb)) add({ property: 'bad-params', call: 'stepBatch', lowering, what: `stepBatch over ${count} rows left parameters ${showEnv(pb)}`, data });
    }
    const fo = validFitOptions(g);
    const ft = guard('fit', lowering, () => mod.fit(samples as never, { ...fo, params: copyParams(p0) } as never), { data, fitOptions: fo });
    if (ft.ok && !allFinite(ft.value.params as never)) add({ property: 'bad-params', call: 'fit', lowering, what: `fit (${ft.value.stopped}) returned parameters ${showEnv(ft.value.params as never)}`, data, fitOptions: fo });
    // fit on finite data from a good start never returns parameters worse than the start when it says 'diverged'.
  }

  // P1 on hostile data and options: every failure is a SampleError; bad options are refused.
  const hostileCases = caseOptions.hostileCases ?? 1;
  for (let h = 0; h < hostileCases; h++) {
    stats.hostileCases++;
    const env: Record<string, unknown> = leafData(false);
    const leaves = [...model.params, ...model.inputs, ...model.targets];
    const victim = g.pick(leaves);
    const [bad, word] = hostileValue(g, victim.shape);
    env[victim.name] = bad;
    const hostile = `${victim.name} = ${word}`;
    const parts = split(env);
    const data = showEnv(env);
    const kind = model.params.some((l) => l.name === victim.name) ? 'param' : 'data';
    for (const [lowering, mod] of modules) {
      const params = kind === 'param' ? toParams(parts.params) : toParams(parts.params);
      const calls: [string, () => unknown][] = [
        ['loss', () => mod.loss(params, parts.inputs as never, parts.targets as never)],
        ['gradient', () => mod.gradient(params, parts.inputs as never, parts.targets as never)],
        ['forward', () => mod.forward(params, parts.inputs as never)],
        ['evaluate', () => mod.evaluate(params, [{ inputs: parts.inputs, targets: parts.targets }] as never)],
      ];
      for (const [call, f] of calls) {
        const r = guard(call, lowering, f, { data, hostile });
        const read = call !== 'forward' || model.inputs.some((l) => l.name === victim.name); // forward reads no targets
        if (r.ok && kind === 'data' && read && (malformed(bad, victim.shape) || (call === 'evaluate' && !finiteValues(bad)))) {
          add({ property: 'accepted-bad-input', call, lowering, what: `accepted ${hostile} and returned ${show(call === 'gradient' ? (r.value as { loss: number }).loss : call === 'forward' ? '(outputs)' : r.value)}`, data, hostile });
        }
      }
      // A step on hostile data must throw or leave finite parameters finite.
      if (kind === 'data') {
        const p = toParams(parts.params);
        const st = guard('step', lowering, () => mod.step(p, parts.inputs as never, parts.targets as never, 0.1), { data, hostile });
        if (st.ok && !allFinite(p)) add({ property: 'bad-params', call: 'step', lowering, what: `step on ${hostile} returned ${st.value} and left parameters ${showEnv(p)}`, data, hostile });
      }
      // Bad training options: a SampleError, never silent NaN parameters.
      const [fo, foWord] = badFitOptions(g);
      const clean = samples.slice(0, 2);
      const ft = guard('fit', lowering, () => mod.fit(clean as never, { ...fo, params: toParams(first!) } as never), { data: `(finite samples) with ${foWord}`, fitOptions: fo, hostile: foWord });
      if (ft.ok) {
        const finite = allFinite(ft.value.params as never);
        add({ property: finite ? 'accepted-bad-input' : 'bad-params', call: 'fit', lowering, what: `fit accepted ${foWord} (stopped: ${ft.value.stopped}${finite ? '' : ', parameters not finite'})`, fitOptions: fo, hostile: foWord });
      }
      // Batch calls with counts outside the rows.
      const packed = guard('packSamples', lowering, () => mod.packSamples(clean as never));
      if (packed.ok) {
        const { X, Y } = packed.value;
        const [count, firstRow] = g.pick([[-1, 0], [0, 0], [1.5, 0], [3, 0], [1, 2], [1, -1], [NaN, 0]]);
        const pb = toParams(first!);
        const sb = guard('stepBatch', lowering, () => mod.stepBatch(pb, X, Y, count, 0.1, firstRow), { hostile: `count ${count}, first ${firstRow} of 2 rows` });
        // A model with no inputs and no targets has empty rows: any row range is in the data.
        const emptyRows = mod.INPUT_SIZE === 0 && mod.TARGET_SIZE === 0 && Number.isInteger(count) && count > 0 && firstRow >= 0;
        if (sb.ok && !(emptyRows && allFinite(pb))) add({ property: allFinite(pb) ? 'accepted-bad-input' : 'bad-params', call: 'stepBatch', lowering, what: `stepBatch(count ${count}, first ${firstRow}) over 2 rows returned ${sb.value}${allFinite(pb) ? '' : ' and left non-finite parameters'}`, hostile: `count ${count}, first ${firstRow}` });
      }
    }
  }
  return findings;
}
