/**
 * Phase 6, emit: the signature of every kernel function a generated module has, in one
 * table.
 *
 * Guarantees: `SIGNATURES` has one entry per kernel function (typed `{ [K in
 * KernelFunction]: ... }`): the per-sample kernels of the unrolled lowering (`$forward`,
 * `$loss`, `$gradient`, `$step`), the batched ones (`$forwardRows`, `$lossRows`,
 * `$gradientRows`) and the all-or-nothing one-row step `$stepRow`. Every declaration
 * (`declaration`) and every call between kernels (`call`) is written from it, so a
 * parameter added here reaches all of them. Parameters start with `$`, which user names
 * cannot contain, so they never shadow a user's name, and a mention of one in a body is
 * exact; a parameter a body never mentions is declared `_name` (exempt from
 * noUnusedParameters; callers pass arguments by position).
 */

export type Param = { readonly name: string; readonly type: string };
export type KernelFunction = 'forward' | 'loss' | 'gradient' | 'step' | 'forwardRows' | 'lossRows' | 'gradientRows' | 'stepRow';
export interface Signature { readonly params: readonly Param[]; readonly returns: 'void' | 'number' }

const P = (name: string, type: string): Param => ({ name, type });
/** `$p` parameters, `$x`/`$xo` the input rows (from offset `$xo`), `$y`/`$yo` the target rows, `$nb` the row count. */
const ROW = [P('$p', 'Params'), P('$x', 'Floats'), P('$xo', 'number')];
const TARGET_ROW = [P('$y', 'Floats'), P('$yo', 'number')];
const ROWS = P('$nb', 'number');
const OUTPUT_ROW = [P('$o', 'Floats'), P('$oo', 'number')];
/** `$g` the gradient accumulator, `$scale` the factor on what is added into it. */
const ACCUMULATE = [P('$g', 'Params'), P('$scale', 'number')];

/** Every variable a batched kernel's code may read (a time loop shared between kernels takes those it mentions). */
export const KERNEL_VARIABLES: readonly Param[] = [...ROW, ...TARGET_ROW, ROWS, ...ACCUMULATE];

export const SIGNATURES: { readonly [K in KernelFunction]: Signature } = {
  forward: { params: [...ROW, ...OUTPUT_ROW], returns: 'void' },
  loss: { params: [...ROW, ...TARGET_ROW], returns: 'number' },
  gradient: { params: [...ROW, ...TARGET_ROW, ...ACCUMULATE], returns: 'number' },
  step: { params: [...ROW, ...TARGET_ROW], returns: 'number' }, // then the optimizer's state and hyperparameters (fusedSteps.ts)
  forwardRows: { params: [...ROW, ROWS, ...OUTPUT_ROW], returns: 'void' },
  lossRows: { params: [...ROW, ...TARGET_ROW, ROWS], returns: 'number' },
  gradientRows: { params: [...ROW, ...TARGET_ROW, ROWS, ...ACCUMULATE], returns: 'number' },
  stepRow: { params: [...ROW, ...TARGET_ROW, P('$lr', 'number')], returns: 'number' },
};

/** Whether UTF-16 code `c` is one of [A-Za-z0-9_$] (what `\\w` and `$` match). */
const isWordChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;

/**
 * Whether `code` mentions the identifier `name` (not as part of a longer one): a scan with
 * indexOf (a regular expression built per call cost a tenth of emitting a large kernel).
 */
export function mentions(code: string, name: string): boolean {
  if (name === '') return true;
  for (let at = code.indexOf(name); at >= 0; at = code.indexOf(name, at + 1)) {
    if (at > 0 && isWordChar(code.charCodeAt(at - 1))) continue;
    if (at + name.length < code.length && isWordChar(code.charCodeAt(at + name.length))) continue;
    return true;
  }
  return false;
}

/** `name: type` for each parameter, joined (`name` alone when not `typed`); one that `body` never mentions is written `_name`. */
export function parameterList(params: readonly Param[], body: string, typed = true): string {
  return params.map((p) => `${mentions(body, p.name) ? '' : '_'}${p.name}${typed ? `: ${p.type}` : ''}`).join(', ');
}

/** `function $<kind>(...): <returns> {` with `body` indented (without the types when not `typed`: the JavaScript flavour). */
export function declaration(kind: KernelFunction, body: string, typed = true): string {
  const indented = body.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');
  return `function $${kind}(${parameterList(SIGNATURES[kind].params, body, typed)})${typed ? `: ${SIGNATURES[kind].returns}` : ''} {\n${indented}\n}`;
}

/**
 * A call of kernel `kind` (by `name`) from a function whose parameters have the same names:
 * each argument is the parameter of that name, or the expression `given` for it.
 */
export function call(kind: KernelFunction, given: Readonly<Partial<Record<string, string>>> = {}, name = `$${kind}`): string {
  return `${name}(${SIGNATURES[kind].params.map((p) => given[p.name] ?? p.name).join(', ')})`;
}
