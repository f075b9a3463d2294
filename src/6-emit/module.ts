/**
 * Phase 6, emit (module): a Program as one self-contained TypeScript module.
 *
 * Guarantees: the module has no imports and no runtime dependency; it exports typed
 * `Params`, `Inputs`, `Targets`, `Outputs` (names as the user wrote them), `initParams`,
 * `forward`, `loss`, `gradient` (its doc comment gives each derived formula), `step`
 * (every optimizer's update fused into the backward pass in the unrolled lowering, where
 * the kernel fits in one function: fusedSteps.ts), minibatch
 * `gradientBatch`/`stepBatch`, the optimizers of optimizers.ts (`initOptimizer`, an
 * OptimizerState accepted by `step`, `stepBatch` and `fit`), a trainer (`fit`,
 * `predict`, `evaluate`), and `saveParams`/`loadParams` (saveParams.ts); every entry
 * point checks its arguments (runtime.ts) and every training step is all or nothing: a
 * step whose loss or any new parameter is not finite leaves the parameters unchanged; it starts with a header naming its source and
 * saying it must not be edited (and the generated-file markers that tools honour);
 * identical input gives byte-identical output; it type-checks with zero diagnostics under
 * every option of @tsconfig/strictest plus verbatimModuleSyntax (no unused declaration or
 * parameter, typed-array reads asserted with `!`, which compiles away). The file is built once from ts-morph structures (one
 * `createSourceFile` call), so emission stays linear in the model's size.
 */
import { createRequire } from 'node:module';
import type * as TsMorph from 'ts-morph';
import type { StatementStructures, WriterFunction } from 'ts-morph';
import { debugLevel } from '../debug.js';
import type { LowerOptions, Program, Slot } from '../5-lower/schedule.js';
import { emitLoopBuffers, emitLoopKernel } from './loopKernels.js';
import { DEFAULT_CHUNK_SIZE, emitKernel, plus, type EmittedKernel } from './kernels.js';
import { call, declaration, parameterList } from './signatures.js';
import { emitFusedSteps, emitUnfusedRows } from './fusedSteps.js';
import { OPTIMIZER_RUNTIME, emitOptimizerUpdates } from './optimizers.js';
import { RUNTIME, optionalRuntime } from './runtime.js';
import { emitSaveParams } from './saveParams.js';
import { structureHash } from './structureHash.js';

export interface EmitOptions extends LowerOptions {
  /** Element type of every array: 'f64' (default) or 'f32'. */
  readonly precision?: 'f64' | 'f32';
  /** Statements per generated function before it is split (default 1000). */
  readonly chunkSize?: number;
  /** Path shown in the header (the model file). */
  readonly sourcePath?: string;
}

// ts-morph (which bundles its own TypeScript) loads on the first emission, not on import:
// model files and the inspection commands import gradc without emitting anything.
let tsMorph: typeof TsMorph | undefined;
const morph = (): typeof TsMorph => (tsMorph ??= createRequire(import.meta.url)('ts-morph') as typeof TsMorph);

const text = (s: string): WriterFunction => (w) => { w.write(s); };
const fieldType = (s: Slot, input = false) => (s.shape.length === 0 ? 'number' : input ? 'ArrayLike<number>' : 'Floats');
const shapeText = (s: Slot) => `[${s.shape.join(', ')}]`;

function iface(name: string, doc: string, slots: readonly Slot[], input = false): StatementStructures {
  return {
    kind: morph().StructureKind.Interface,
    name,
    isExported: true,
    docs: [doc],
    properties: slots.map((s) => ({ name: s.name, type: fieldType(s, input), docs: s.shape.length ? [`shape ${shapeText(s)}, row-major`] : undefined })),
  };
}

/**
 * The one formatter for numbers that model definitions put into the generated code
 * (initial values, initializer bounds, the seed): a finite number, printed so that it
 * reads back exactly (`String` round-trips every double; -0 keeps its sign). Anything
 * else is refused here, so no value a user wrote is ever pasted in as code.
 */
export function numberText(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`internal: ${typeof v === 'number' ? v : typeof v} is not a finite number and cannot be emitted`);
  return Object.is(v, -0) ? '-0' : String(v);
}

/** Where each input and target sits in its row: \`x1 at 0, x2 at 1; targets: y at 0\`. */
const rowLayout = (layout: Program['layout']): string =>
  [layout.inputs, layout.targets].map((slots) => slots.map((s) => `${s.name} at ${s.offset}`).join(', ') || 'none').join('; targets: ');

function initExpr(s: Program['layout']['params'][number]): string {
  const i = s.init;
  const n = numberText(s.size);
  const fanIn = s.shape.length === 2 ? s.shape[1] : s.shape.length === 1 ? s.shape[0] : 1;
  const fanOut = s.shape.length === 2 ? s.shape[0] : 1;
  const scalar = s.shape.length === 0;
  switch (i.kind) {
    case 'constant': return scalar ? numberText(i.value) : `new Floats(${n}).fill(${numberText(i.value)})`;
    case 'values': return scalar ? numberText(i.values[0]) : `Floats.of(${i.values.map(numberText).join(', ')})`;
    case 'uniform': {
      const u = `$uniform(rand, ${numberText(i.low)}, ${numberText(i.high)})`;
      return scalar ? u : `$fill(${n}, () => ${u})`;
    }
    case 'normal': return scalar ? `${numberText(i.std)} * $normal(rand)` : `$fill(${n}, () => ${numberText(i.std)} * $normal(rand))`;
    case 'glorot': {
      const r = `Math.sqrt(6 / ${numberText(fanIn + fanOut)})`;
      return scalar ? `$uniform(rand, -${r}, ${r})` : `$fill(${n}, () => $uniform(rand, -${r}, ${r}))`;
    }
    case 'he': {
      const r = `Math.sqrt(2 / ${numberText(fanIn)})`;
      return scalar ? `${r} * $normal(rand)` : `$fill(${n}, () => ${r} * $normal(rand))`;
    }
  }
}

function packer(kind: 'input' | 'target', slots: readonly Slot[]): string {
  const lines = slots.map((s) => (s.shape.length === 0
    ? `$packNumber(src.${s.name}, into, ${plus('at', s.offset)}, where, '${kind}', '${s.name}');`
    : `$packArray(src.${s.name}, ${s.size}, '${shapeText(s)}', into, ${plus('at', s.offset)}, where, '${kind}', '${s.name}');`));
  return lines.map((l) => `  ${l}`).join('\n');
}

/**
 * `$gradientRows` and `$lossRows` for the unrolled lowering (loops over the per-sample
 * kernels), then `$stepRow` and `$optimizerRow`: the steps fused into the backward pass
 * when the kernel is short enough (`fused`, fusedSteps.ts), else gradient then update pass.
 */
function unrolledRows(fused: string | null): string {
  const row = { $xo: '$xo + $b * INPUT_SIZE', $yo: '$yo + $b * TARGET_SIZE' };
  return [
    `/** Rows per \`$gradientRows\` / \`$lossRows\` call. */`,
    `const $MAX_ROWS = Infinity;`,
    '',
    `/** Sum of the loss over \`$nb\` rows, adding \`$scale\` times their gradients into \`$g\`. */`,
    declaration('gradientRows', `let $total = 0;\nfor (let $b = 0; $b < $nb; $b++) $total += ${call('gradient', row)};\nreturn $total;`),
    '',
    `/** Sum of the loss over \`$nb\` rows. */`,
    declaration('lossRows', `let $total = 0;\nfor (let $b = 0; $b < $nb; $b++) $total += ${call('loss', row)};\nreturn $total;`),
    '',
    fused ?? emitUnfusedRows(),
  ].join('\n');
}

const ONE_ROW = { $nb: '1' };

/** Batched loop kernels, and the per-sample kernels as one-row calls of them. */
function loopedKernels(program: Program): string {
  const plan = program.loops!;
  const kernels = [emitLoopKernel(plan.kernels.forward), emitLoopKernel(plan.kernels.loss), emitLoopKernel(plan.kernels.gradient)];
  return [
    `/** Rows per \`$gradientRows\` call (the size of the buffers below). */`,
    `const $MAX_ROWS = ${plan.maxBatch};`,
    emitLoopBuffers(plan, kernels.join('\n')),
    '',
    kernels[0],
    '',
    kernels[1],
    '',
    kernels[2],
    '',
    declaration('forward', `${call('forwardRows', ONE_ROW)};`),
    declaration('loss', `return ${call('lossRows', ONE_ROW)};`),
    declaration('gradient', `return ${call('gradientRows', ONE_ROW)};`),
    '',
    emitUnfusedRows(),
  ].join('\n');
}

/** The module text; `gradientDoc` holds the derived formulas for `gradient`'s doc comment (pipeline.ts `gradientDoc`). */
export function emitModule(program: Program, options: EmitOptions, gradientDoc: readonly string[]): string {
  const { model } = program;
  const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const unrolled = program.kernels ? (['forward', 'loss', 'gradient'] as const).map((k) => emitKernel(program.kernels![k], chunk)) : [];
  // A value as an array element stores it: f32 arrays round it (and may overflow to Infinity).
  const stored = (v: string) => (options.precision === 'f32' ? `Math.fround(${v})` : `(${v})`);
  // The optimizers' steps fused into the unrolled backward pass (null: too long to fuse, or looped).
  const fused = program.kernels ? emitFusedSteps(program.kernels.step, program.layout.params, stored, chunk) : null;

  const declarations = paramFunctions(program, stored);
  const statements: (StatementStructures | WriterFunction)[] = [
    ...typeDeclarations(program, options.precision ?? 'f64', unrolled),
    text(declarations),
    text(apiFunctions(program, options, stored, optionalRuntime(declarations), gradientDoc)),
  ];
  const { IndentationText, Project } = morph();
  const project = new Project({ useInMemoryFileSystem: true, manipulationSettings: { indentationText: IndentationText.TwoSpaces } });
  const file = project.createSourceFile(`${model.name}.ts`, { leadingTrivia: headerLines(program, options), statements });
  const out = `${file.getFullText()}\n${kernelsText(program, unrolled, fused)}`;
  if (debugLevel() >= 1) process.stderr.write(`\n===== gradc: emitted ${model.name}.ts =====\n${out}\n`);
  return out;
}

/** The generated-file markers and where the module came from. */
function headerLines(program: Program, options: EmitOptions): string {
  const { model } = program;
  const source = options.sourcePath ?? model.source;
  return [
    // Generated-file markers (README, "Generated files"): the Go convention's first line,
    // which many tools honour; `@generated` within the first five lines (rustfmt,
    // Meta/Phabricator tooling); ESLint's file-wide disable. Formatters (Prettier, Biome)
    // skip files by their ignore lists, not by a comment.
    `// Code generated by gradc. DO NOT EDIT.`,
    `// Source: ${source} (model '${model.name}').`,
    `// Regenerate with \`gradc build\`; edits here are lost. This module has no imports.`,
    `// @generated`,
    `/* eslint-disable */`,
    '',
    '',
  ].join('\n');
}

/** \`Floats\`, the model's types (Params, Inputs, Targets, Outputs, Sample), its shapes and row sizes. */
function typeDeclarations(program: Program, precision: 'f64' | 'f32', unrolled: readonly EmittedKernel[]): (StatementStructures | WriterFunction)[] {
  const { model, layout } = program;
  const P = layout.params;
  const floats = precision === 'f32' ? 'Float32Array' : 'Float64Array';
  const slots = Math.max(1, ...unrolled.map((k) => k.slots));
  const statements: (StatementStructures | WriterFunction)[] = [];
  statements.push(text(`/** The element type of every array in this module (${precision}). */
export type Floats = ${floats};
const Floats = ${floats};
`));
  statements.push(iface('Params', `Parameters of model '${model.name}' (also the type of their gradients).`, P));
  statements.push(iface('Inputs', `Inputs of one sample.`, layout.inputs, true));
  statements.push(iface('Targets', `Targets of one sample.`, layout.targets, true));
  statements.push(iface('Outputs', `What \`forward\` returns.`, layout.outputs));
  statements.push(text(`/** One training sample. */
export interface Sample {
  readonly inputs: Inputs;
  readonly targets: Targets;
}

/** Shapes of every named value, as declared. */
export const shapes = {
  params: { ${P.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
  inputs: { ${layout.inputs.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
  targets: { ${layout.targets.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
  outputs: { ${layout.outputs.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
} as const;

/**
 * Values per sample in the flat rows that \`gradientBatch\`, \`stepBatch\` and \`fit\` use.
 * Row layout: ${rowLayout(layout)}.
 */
export const INPUT_SIZE = ${layout.inputSize};
export const TARGET_SIZE = ${layout.targetSize};
export const OUTPUT_SIZE = ${layout.outputSize};
/** Each output and each target as [name, offset in its row, size] (fit's metrics pair them). */
const $OUTPUT_SLOTS: readonly (readonly [string, number, number])[] = [${layout.outputs.map((s) => `['${s.name}', ${s.offset}, ${s.size}]`).join(', ')}];
const $TARGET_SLOTS: readonly (readonly [string, number, number])[] = [${layout.targets.map((s) => `['${s.name}', ${s.offset}, ${s.size}]`).join(', ')}];
${unrolled.some((k) => k.slots > 0) ? `/** Values that one part of a kernel split by chunkSize passes to a later part. */\nconst $t = new Floats(${slots});\n` : '\n'}`));

  return statements;
}

/** initParams, copyParams, zeroParams and the per-parameter helpers (update, checks, packing). */
function paramFunctions(program: Program, stored: (v: string) => string): string {
  const { model, layout } = program;
  const P = layout.params;
  const inits = P.map((s) => `${s.name}: ${initExpr(s)}`).join(', ');
  const random = /\brand\b/.test(inits); // no random initializer: the seed is not used
  return `/** Parameters as the model's initializers say (random ones drawn from \`seed\`). */
export function initParams(${random ? 'seed' : '_seed'} = ${numberText(model.seed)}): Params {
${random ? '  const rand = $rng(seed);\n' : ''}  return { ${inits} };
}

/** A deep copy of \`p\`. */
export function copyParams(p: Params): Params {
  return { ${P.map((s) => `${s.name}: ${s.shape.length ? `p.${s.name}.slice()` : `p.${s.name}`}`).join(', ')} };
}

/** Parameters (or gradients) that are all zero. */
export function zeroParams(): Params {
  return { ${P.map((s) => `${s.name}: ${s.shape.length ? `new Floats(${s.size})` : '0'}`).join(', ')} };
}

function $copyInto(to: Params, from: Params): void {
${P.map((s) => (!s.shape.length ? `  to.${s.name} = from.${s.name};`
    : s.size <= 64 ? `  { const a = to.${s.name}, b = from.${s.name}; for (let k = 0; k < ${s.size}; k++) a[k] = b[k]!; }` // faster than set() when small
    : `  to.${s.name}.set(from.${s.name});`)).join('\n')}
}

/** \`p <- p - lr * g\`, then \`g <- 0\`, unchecked (\`$stepFailed\` uses it to find what overflows). */
function $applyUpdate(p: Params, g: Params, lr: number): void {
${P.map((s) => (s.shape.length
    ? `  { const w = p.${s.name}, d = g.${s.name}; for (let k = 0; k < ${s.size}; k++) { w[k]! -= lr * d[k]!; d[k] = 0; } }`
    : `  p.${s.name} -= lr * g.${s.name}; g.${s.name} = 0;`)).join('\n')}
}

/** True when \`p\` has every parameter, of the right kind and size (\`$checkParams\` says what is wrong otherwise). */
function $isParams(p: unknown): boolean {
  if (typeof p !== 'object' || p === null) return false;
  const q = p as Params;
  return ${P.length ? [...(P.some((s) => !s.shape.length) ? ['!Object.isFrozen(q)'] : []), ...P.map((s) => (s.shape.length ? `q.${s.name} instanceof Floats && q.${s.name}.length === ${s.size}` : `typeof q.${s.name} === 'number'`))].join(' && ') : 'true'};
}

/**
 * True when every value of \`p\` is finite: \`v * 0\` is 0 for a finite v and NaN for
 * NaN and +-Infinity, so the sum stays 0 exactly when all are finite (one compare in
 * all, no call per value).
 */
function $finite(p: Params): boolean {
  let s = 0;
${P.map((s) => (s.shape.length ? `  { const w = p.${s.name}; for (let k = 0; k < ${s.size}; k++) s += w[k]! * 0; }` : `  s += p.${s.name} * 0;`)).join('\n')}
  return s === 0;
}

/** The first value of \`p\` that is not finite, as \`'W[3] is NaN'\`, or '' when all are finite. */
function $nonFinite(p: Params): string {
${P.map((s) => (s.shape.length
    ? `  { const w = p.${s.name}; for (let k = 0; k < ${s.size}; k++) if (!Number.isFinite(w[k])) return \`${s.name}[\${k}] is \${w[k]}\`; }`
    : `  if (!Number.isFinite(p.${s.name})) return \`${s.name} is \${p.${s.name}}\`;`)).join('\n')}
  return '';
}

/**
 * Throws a SampleError naming the first parameter of \`p\` that is missing or of the wrong
 * kind or size (and, when \`finite\`, the first value that is not finite). Extra keys are ignored.
 */
function $checkParams(p: Params, where: string, finite: boolean${P.some((s) => !s.shape.length) ? ', writable = false' : ', _writable = false'}): void {
  if (typeof p !== 'object' || p === null) throw new SampleError(\`\${where} must be an object with ${P.length ? P.map((s) => `'${s.name}'`).join(', ') : 'no keys'}, got \${$show(p)}\`);
${P.map((s) => (s.shape.length
    ? `  { const v = p.${s.name}; if (!(v instanceof Floats) || v.length !== ${s.size}) $checkArrayParam(v, ${s.size}, '${shapeText(s)}', where, '${s.name}'); }`
    : `  if (typeof p.${s.name} !== 'number') $checkNumberParam(p.${s.name}, where, '${s.name}');`)).join('\n')}
  if (finite && !$finite(p)) throw new SampleError(\`\${where}.\${$nonFinite(p)}\`);
${P.filter((s) => !s.shape.length).map((s) => `  if (writable) $checkWritableParam(p, where, '${s.name}');`).join('\n')}
}

/** Writes one sample's inputs into \`into\` at \`at\`; throws naming an input that is missing, not finite or of the wrong size. */
export function packInputs(src: Inputs, into: Floats, at: number, where = 'sample'): void {
${packer('input', layout.inputs)}
}

/** Writes one sample's targets into \`into\` at \`at\`; throws naming a target that is missing, not finite or of the wrong size. */
export function packTargets(src: Targets, into: Floats, at: number, where = 'sample'): void {
${packer('target', layout.targets)}
}

function $unpackOutputs(${layout.outputs.length ? 'o: Floats, at: number' : '_o: Floats, _at: number'}): Outputs {
  return { ${layout.outputs.map((s) => `${s.name}: ${s.shape.length ? `o.slice(${plus('at', s.offset)}, at + ${s.offset + s.size})` : `o[${plus('at', s.offset)}]!`}`).join(', ')} };
}
`;
}

/** The per-sample and minibatch API (forward ... stepBatch) and the run-time pieces after it. */
function apiFunctions(program: Program, options: EmitOptions, stored: (v: string) => string, helpers: string, gradientDoc: readonly string[]): string {
  const { model, layout } = program;
  const P = layout.params;
  const gradDoc = [
    `The loss of one sample and dloss/dp for every parameter p (derived by the chain rule):`,
    ...gradientDoc.map((l) => `  ${l.replace(/\*\//g, '* /')}`),
  ].join('\n');
  return `const $xs = new Floats(${Math.max(1, layout.inputSize)});
const $ys = new Floats(${Math.max(1, layout.targetSize)});
const $os = new Floats(${Math.max(1, layout.outputSize)});

/** The forward pass: outputs for one sample. */
export function forward(params: Params, inputs: Inputs): Outputs {
  $checkParams(params, 'forward: params', false);
  packInputs(inputs, $xs, 0, 'inputs');
  $forward(params, $xs, 0, $os, 0);
  return $unpackOutputs($os, 0);
}

/** The loss of one sample. */
export function loss(params: Params, inputs: Inputs, targets: Targets): number {
  $checkParams(params, 'loss: params', false);
  packInputs(inputs, $xs, 0, 'inputs');
  packTargets(targets, $ys, 0, 'targets');
  return $loss(params, $xs, 0, $ys, 0);
}

/**
 * ${gradDoc.split('\n').join('\n * ')}
 */
export function gradient(params: Params, inputs: Inputs, targets: Targets): { loss: number; grad: Params } {
  $checkParams(params, 'gradient: params', false);
  packInputs(inputs, $xs, 0, 'inputs');
  packTargets(targets, $ys, 0, 'targets');
  const grad = zeroParams();
  const value = $gradient(params, $xs, 0, $ys, 0, grad, 1);
  return { loss: value, grad };
}

/**
 * One training step on one sample; returns the loss before the step. \`optimizer\` is a
 * learning rate (plain SGD, \`p <- p - learningRate * dloss/dp\`) or an OptimizerState from
 * \`initOptimizer\` (which the step advances); in the unrolled lowering (short kernels) the update
 * is written into the backward pass as each gradient is complete, except with clipping by
 * global norm (which needs the whole gradient first). All or
 * nothing: when the loss or any new parameter or optimizer value would not be finite,
 * the parameters and the optimizer state are left as they were and a SampleError says why
 * (the loss, the first non-finite gradient, or the first update that overflows).
 */
export function step(params: Params, inputs: Inputs, targets: Targets, optimizer: number | OptimizerState): number {
  if (!$isParams(params)) $checkParams(params, 'step: params', false, true);
  const h = typeof optimizer === 'number' && optimizer >= 0 && optimizer < Infinity ? null : $knownState(optimizer) ?? $checkOptimizer('step', optimizer);
  packInputs(inputs, $xs, 0, 'inputs');
  packTargets(targets, $ys, 0, 'targets');
  const st = optimizer as OptimizerState;
  const value = h ? $optimizerStep(params, $xs, $ys, 1, 0, st, h, 'step') : $stepRow(params, $xs, 0, $ys, 0, optimizer as number);
  if (value !== value) $stepFailed('step', params, $xs, $ys, 1, 0, h ? $rate(h, st.step) : optimizer as number, h && st);
  return value;
}

/**
 * Mean loss and mean gradient over \`count\` samples stored as rows of \`X\` (INPUT_SIZE
 * values each) and \`Y\` (TARGET_SIZE values each), starting at row \`first\`; the
 * gradient is added into \`grad\`. Throws a SampleError when \`count\` is not a positive
 * integer, \`first\` not a non-negative integer, or the rows are not all in X and Y.
 */
export function gradientBatch(params: Params, X: Floats, Y: Floats, count: number, first = 0, grad: Params = zeroParams()): { loss: number; grad: Params } {
  $checkParams(params, 'gradientBatch: params', false);
  $checkParams(grad, 'gradientBatch: grad', false);
  $checkRows('gradientBatch', X, Y, count, first);
  return { loss: $gradientSum(params, X, Y, count, first, grad, 1 / count) / count, grad };
}

const $acc = zeroParams();
/**
 * One minibatch step (gradients averaged over the rows, checked as in \`gradientBatch\`);
 * \`optimizer\` is a learning rate (plain SGD) or an OptimizerState, as in \`step\`.
 * Returns the mean loss before the step. All or nothing, like \`step\`: a SampleError, and
 * the parameters and optimizer state unchanged, when the loss or a new value is not finite.
 */
export function stepBatch(params: Params, X: Floats, Y: Floats, count: number, optimizer: number | OptimizerState, first = 0): number {
  // Each check's fast path first (small enough to inline, allocates nothing); the full check names the problem.
  if (!$isParams(params)) $checkParams(params, 'stepBatch: params', false, true);
  if (!$isRows(X, Y, count, first)) $checkRows('stepBatch', X, Y, count, first);
  const h = typeof optimizer === 'number' && optimizer >= 0 && optimizer < Infinity ? null : $knownState(optimizer) ?? $checkOptimizer('stepBatch', optimizer);
  const st = optimizer as OptimizerState;
  const value = h ? $optimizerStep(params, X, Y, count, first, st, h, 'stepBatch') : $stepRows(params, X, Y, count, optimizer as number, first);
  if (value !== value) $stepFailed('stepBatch', params, X, Y, count, first, h ? $rate(h, st.step) : optimizer as number, h && st);
  return value;
}

${RUNTIME}

${OPTIMIZER_RUNTIME}

${emitOptimizerUpdates(P, stored)}

${emitSaveParams(P, model.name, structureHash(model), options.precision ?? 'f64')}
${helpers ? `\n${helpers}\n` : ''}`;
}

/** The kernels, the bulk of a large module: written through a CodeBlockWriter, never reparsed (ts-morph parsing 100k statements takes minutes). */
function kernelsText(program: Program, unrolled: readonly EmittedKernel[], fused: string | null): string {
  const { CodeBlockWriter } = morph();
  const kernels = new CodeBlockWriter({ indentNumberOfSpaces: 2 });
  kernels.writeLine('// ---- Kernels: straight-line or looped code generated from the derived graph. ----');
  for (const k of unrolled) {
    for (const f of k.functions) {
      kernels.blankLine();
      kernels.write(`function ${f.name}(${parameterList(f.parameters, f.body)}): ${f.returns} `).block(() => {
        kernels.write(f.body);
      });
    }
  }
  kernels.blankLine();
  kernels.write(program.loops ? loopedKernels(program) : unrolledRows(fused));
  kernels.newLineIfLastNot();
  return kernels.toString();
}
