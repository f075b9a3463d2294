/**
 * Phase 6, emit (fused steps): the optimizer's update written into the unrolled backward pass.
 *
 * Takes the unrolled `step` kernel (5-lower/schedule.ts: parameters loaded first, each
 * parameter element's update store placed right after its gradient is complete) and the
 * update rules of optimizers.ts; gives, per distinct rule, one function
 * `$step_<kind>($p, $x, $xo, $y, $yo, [$m], [$v], $h)` that takes one
 * training step on one row, plus `$stepRow` (plain SGD with a learning rate) and
 * `$optimizerRow` (an OptimizerState's step, dispatched on its kind). Guarantees:
 * - each element's update is the rule's element code (the same text as the update pass),
 *   written where its gradient is complete: no gradient buffer, no second pass;
 * - the parameter arrays and the state arrays are loaded into locals once per call, and
 *   the hyperparameters are run-time values computed once per step by the caller, handed
 *   over in a Float64Array `$h` ($lr, $keep, $l2, then the rule's args: as numbers they
 *   would be boxed, the kernels being too large for V8 to inline);
 * - all or nothing: every new value is checked as stored (`$s` stays 0 while all are
 *   finite); the old values are still locals (parameters are loaded before anything is
 *   written, state elements just before their update), so when the loss or a new value is
 *   not finite they are written back and the result is NaN. No copy of the parameters or of
 *   the state is made per step.
 * - only kernels that fit in one function (at most `chunkSize` instructions) are fused: a
 *   split kernel would carry every old value across its parts. For those (and for the looped
 *   lowering) `emitUnfusedRows` gives the same two entry points as the gradient, then the
 *   update pass of optimizers.ts (one pass per parameter).
 * One row only: a minibatch sums its rows' gradients first, then takes the update pass;
 * clipping by global norm needs the whole gradient, so it never comes here (optimizers.ts).
 */
import { literal } from './literal.js';
import type { Instr, Kernel, Operand, ParamSlot } from '../5-lower/schedule.js';
import { statement } from './kernels.js';
import type { Syntax } from './flavour.js';
import { call as callKernel, declaration, type Param, parameterList, SIGNATURES } from './signatures.js';
import { type UpdateRule, dispatch, distinctRules, hyperNames, hyperValues, readsHyper } from './optimizers.js';

type Update = Extract<Instr, { kind: 'store' }>;

/** `$step_<kind>` for one rule: the step kernel with the rule's update at each update store. */
function fusedStep(kernel: Kernel, params: readonly ParamSlot[], kind: string, kinds: readonly string[], rule: UpdateRule, stored: (v: string) => string, S: Syntax): string {
  const { t, nn } = S;
  const { m, v } = rule.state;
  const { instrs } = kernel;
  const ref = (o: Operand) => ('lit' in o ? literal(o.lit) : (instrs[o.ref] as { name: string }).name);
  const arrays = params.filter((s) => s.shape.length);
  const body: string[] = [`const ${hyperNames(rule).flatMap((n, i) => (readsHyper(rule, n) ? [`${n} = $h[${i}]${nn}`] : [])).join(', ')};`];
  // The arrays of the parameters and of the state, loaded once per call.
  const hoist = (prefix: string, from: string) => arrays.length && body.push(`const ${arrays.map((s) => `${prefix}${s.name} = ${from}.${s.name}`).join(', ')};`);
  hoist('$w_', '$p');
  if (m) hoist('$m_', '$m');
  if (v) hoist('$v_', '$v');
  body.push('let $s = 0; // 0 while every new value is finite');
  const at = (prefix: string, obj: string, u: Update) => (u.element === null ? `${obj}.${u.leaf}` : `${prefix}${u.leaf}[${u.element}]`);
  const read = (x: string, u: Update) => (u.element === null ? x : `${x}${nn}`);
  const restore: string[] = [];
  let k = 0;
  let lastComment: string | undefined;
  for (const ins of instrs) {
    if (ins.kind === 'load' && ins.from === 'param') {
      body.push(`const ${ins.name} = ${ins.element === null ? `$p.${ins.leaf}` : `$w_${ins.leaf}[${ins.element}]${nn}`};`);
    } else if (ins.kind === 'store' && ins.into === 'update') {
      const w = at('$w_', '$p', ins), M = at('$m_', '$m', ins), V = at('$v_', '$v', ins);
      const old = [...(m ? [`$mo${k} = ${read(M, ins)}`] : []), ...(v ? [`$vo${k} = ${read(V, ins)}`] : [])];
      if (old.length) body.push(`const ${old.join(', ')};`);
      body.push(
        `{ // ${kinds.join(' and ')} update of ${ins.leaf}${ins.element === null ? '' : `[${ins.element}]`}`,
        `  const $wk = ${ref(ins.old!)}, $gk = ${ref(ins.value)} + $l2 * $wk${m ? `, $mk = $mo${k}` : ''}${v ? `, $vk = $vo${k}` : ''};`,
        ...rule.element.map((l) => `  ${l}`),
        `  ${w} = $p1;${m ? ` ${M} = $m1;` : ''}${v ? ` ${V} = $v1;` : ''}`,
        `  $s += ${[stored('$p1'), ...(m ? [stored('$m1')] : []), ...(v ? [stored('$v1')] : [])].map((x) => `${x} * 0`).join(' + ')};`,
        `}`,
      );
      restore.push(`${w} = ${ref(ins.old!)};${m ? ` ${M} = $mo${k};` : ''}${v ? ` ${V} = $vo${k};` : ''}`);
      k++;
    } else {
      if (ins.kind === 'op' && ins.comment && ins.comment !== lastComment) body.push(`// ${ins.comment}`); // once per run, as kernels.ts does
      if (ins.kind === 'op' && ins.comment) lastComment = ins.comment;
      body.push(statement(ins, ref, S.flavour));
    }
  }
  const loss = ref(kernel.result!);
  body.push(
    `if ($s === 0 && ${loss} - ${loss} === 0) return ${loss};`,
    '// Refused (the loss or a new value is not finite): the old values back, all or nothing.',
    ...restore,
    'return NaN;',
  );
  const text = body.join('\n');
  const state: Param[] = [...(m ? [{ name: '$m', type: 'Params' }] : []), ...(v ? [{ name: '$v', type: 'Params' }] : [])];
  const signature = parameterList([...SIGNATURES.step.params, ...state, { name: '$h', type: 'Float64Array' }], text, S.flavour === 'ts');
  return `/** One ${kinds.join(' or ')} step on one row, the update fused into the backward pass, all or nothing: the loss, or NaN with the parameters and state unchanged. */
function $step_${kind}(${signature})${t(': number')} {
${text.split('\n').map((l) => `  ${l}`).join('\n')}
}`;
}

/** The fused steps of `kernel` and the entry points on them, or null when the kernel is too long to fuse (see the header). */
export function emitFusedSteps(kernel: Kernel, params: readonly ParamSlot[], stored: (v: string) => string, chunkSize: number, S: Syntax): string | null {
  if (kernel.instrs.length > chunkSize) return null;
  const { t, nn } = S;
  const rules = distinctRules();
  const steps = rules.map((r) => fusedStep(kernel, params, r.kind, r.kinds, r.rule, stored, S));
  const call = (r: (typeof rules)[number]) =>
    `$step_${r.kind}(p, X, xo, Y, yo, ${r.rule.state.m ? `st.m${nn}, ` : ''}${r.rule.state.v ? `st.v${nn}, ` : ''}$hyperInto(${hyperValues(r.rule).join(', ')}))`;
  const slots = Math.max(...rules.map((r) => hyperNames(r.rule).length));
  const inputs = Array.from({ length: slots }, (_, i) => `a${i} = 0`);
  return [
    ...steps,
    `/**
 * The hyperparameters of a fused step, written into one Float64Array that the step reads
 * (numbers passed as arguments to a function too large to inline are boxed; these are not).
 */
const $H = new Float64Array(${slots});
function $hyperInto(${inputs.join(', ')})${t(': Float64Array')} {
${inputs.map((_, i) => `  $H[${i}] = a${i};`).join('\n')}
  return $H;
}`,
    `/** One plain SGD step on one row, all or nothing: the loss, or NaN with \`$p\` unchanged. */
${declaration('stepRow', `return ${callKernel('step', {}, '$step_sgd').slice(0, -1)}, $hyperInto($lr, 1, 0));`, S.flavour === 'ts')}`,
    `/** One step of \`st\`'s kind on one row (rate \`lr\`, step \`t\` from 1, no clipping), fused into the backward pass: the loss, or NaN with nothing changed. */
function $optimizerRow(p${t(': Params')}, X${t(': Floats')}, xo${t(': number')}, Y${t(': Floats')}, yo${t(': number')}, st${t(': OptimizerState')}, h${t(': $Hyper')}, lr${t(': number')}, t${t(': number')})${t(': number')} {
  switch (h.kind) {
${dispatch(rules, call)}
  }
}`,
  ].join('\n\n');
}

/**
 * `$stepRow` and `$optimizerRow` without fusion (the looped lowering, or an unrolled kernel
 * too long to fuse): the gradient of the row into `$acc`, then the update pass.
 */
export function emitUnfusedRows(S: Syntax): string {
  const { t } = S;
  return `/** One plain SGD step on one row, all or nothing: the loss, or NaN with \`$p\` unchanged. */
${declaration('stepRow', `const value = ${callKernel('gradient', { $g: '$acc', $scale: '1' })};\nreturn $update_sgd($p, $acc, 1, value, $lr, 1, 0) ? value : NaN;`, S.flavour === 'ts')}

/** One step of \`st\`'s kind on one row (rate \`lr\`, step \`t\` from 1, no clipping): the gradient, then the update pass; the loss, or NaN with nothing changed. */
function $optimizerRow(p${t(': Params')}, X${t(': Floats')}, xo${t(': number')}, Y${t(': Floats')}, yo${t(': number')}, st${t(': OptimizerState')}, h${t(': $Hyper')}, lr${t(': number')}, t${t(': number')})${t(': number')} {
  const value = $gradient(p, X, xo, Y, yo, $acc, 1);
  return $optimizerUpdate(p, $acc, st, h, lr, t, 1, value) ? value : NaN;
}`;
}
