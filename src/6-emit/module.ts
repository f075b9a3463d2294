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
 * parameter, typed-array reads asserted with `!`, which compiles away). The module is
 * written as text, top to bottom, never parsed back (linear in the model's size); the
 * same emission in the JavaScript flavour (flavour.ts) gives the same program without
 * types, which `compile()` loads.
 */
import { debugLevel } from '../debug.js';
import type { InputSlot, Layout, LowerOptions, Program, Slot } from '../5-lower/schedule.js';
import { emitLoopBuffers, emitLoopKernel, TimeLoops } from './loopKernels.js';
import { SIMD_RUNTIME, type SimdOption, type SimdPlan, placedIdentity, planSimd, simdDeclarations } from './simd.js';
import { DEFAULT_CHUNK_SIZE, emitKernel, plus, type EmittedKernel } from './kernels.js';
import { type Flavour, type Syntax, syntaxOf } from './flavour.js';
import { RUNTIME_JS } from './runtimeJs.js';
import { call, declaration, parameterList } from './signatures.js';
import { emitFusedSteps, emitUnfusedRows } from './fusedSteps.js';
import { OPTIMIZER_RUNTIME, emitOptimizerUpdates } from './optimizers.js';
import { RUNTIME, optionalRuntime } from './runtime.js';
import { emitSaveParams } from './saveParams.js';
import { structureHash } from './structureHash.js';

export interface EmitOptions extends LowerOptions {
  /** Element type of every array: 'f64' (default) or 'f32'. */
  readonly precision?: 'f64' | 'f32';
  /** Path shown in the header (the model file). */
  readonly sourcePath?: string;
  /** WebAssembly SIMD kernels for the looped lowering's large matrix products: 'auto' (default), 'on' or 'off' (simd.ts). */
  readonly simd?: SimdOption;
}

const fieldType = (s: Slot, input = false) => (s.shape.length === 0 ? 'number' : input ? 'ArrayLike<number>' : 'Floats');
const shapeText = (s: Slot) => `[${s.shape.join(', ')}]`;

/** An exported interface of the model's named slots (TypeScript only). */
function iface(name: string, doc: string, slots: readonly Slot[], input = false): string {
  const fields = slots.map((s) => `${s.shape.length ? `  /** shape ${shapeText(s)}, row-major */\n` : ''}  ${s.name}: ${fieldType(s, input)};\n`).join('');
  return `/** ${doc} */\nexport interface ${name} {\n${fields}}\n`;
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

function packer(kind: 'input' | 'target', slots: readonly InputSlot[]): string {
  const lines = slots.map((s) => (s.limit !== undefined
    ? `$packIds(src.${s.name}, ${s.size}, '${shapeText(s)}', ${numberText(s.limit)}, into, ${plus('at', s.offset)}, where, '${kind}', '${s.name}'${s.low === undefined ? '' : `, ${numberText(s.low)}`});`
    : s.shape.length === 0
    ? `$packNumber(src.${s.name}, into, ${plus('at', s.offset)}, where, '${kind}', '${s.name}');`
    : `$packArray(src.${s.name}, ${s.size}, '${shapeText(s)}', into, ${plus('at', s.offset)}, where, '${kind}', '${s.name}');`));
  return lines.map((l) => `  ${l}`).join('\n');
}

/**
 * `$gradientRows` and `$lossRows` for the unrolled lowering (loops over the per-sample
 * kernels), then `$stepRow` and `$optimizerRow`: the steps fused into the backward pass
 * when the kernel is short enough (`fused`, fusedSteps.ts), else gradient then update pass.
 */
function unrolledRows(fused: string | null, S: Syntax): string {
  const typed = S.flavour === 'ts';
  const row = { $xo: '$xo + $b * INPUT_SIZE', $yo: '$yo + $b * TARGET_SIZE' };
  return [
    `/** Rows per \`$gradientRows\` / \`$lossRows\` call. */`,
    `const $MAX_ROWS = Infinity;`,
    '',
    `/** Sum of the loss over \`$nb\` rows, adding \`$scale\` times their gradients into \`$g\`. */`,
    declaration('gradientRows', `let $total = 0;\nfor (let $b = 0; $b < $nb; $b++) $total += ${call('gradient', row)};\nreturn $total;`, typed),
    '',
    `/** Sum of the loss over \`$nb\` rows. */`,
    declaration('lossRows', `let $total = 0;\nfor (let $b = 0; $b < $nb; $b++) $total += ${call('loss', row)};\nreturn $total;`, typed),
    '',
    fused ?? emitUnfusedRows(S),
  ].join('\n');
}

const ONE_ROW = { $nb: '1' };

/** Batched loop kernels, and the per-sample kernels as one-row calls of them. */
function loopedKernels(program: Program, simd: SimdPlan | null, S: Syntax): string {
  const plan = program.loops!;
  const typed = S.flavour === 'ts';
  const loops = new TimeLoops();
  const kernels = (['forward', 'loss', 'gradient'] as const).map((k) => emitLoopKernel(plan.kernels[k], S, simd, program.layout.inputSize, loops));
  return [
    ...(simd ? [S.flavour === 'ts' ? SIMD_RUNTIME.trimStart() : RUNTIME_JS.simd, '', simdDeclarations(simd, S), ''] : []),
    `/** Rows per \`$gradientRows\` call (the size of the buffers below). */`,
    `const $MAX_ROWS = ${plan.maxBatch};`,
    emitLoopBuffers(plan, [...loops.declarations, ...kernels].join('\n'), simd),
    '',
    ...loops.declarations.flatMap((d) => [d, '']),
    kernels[0],
    '',
    kernels[1],
    '',
    kernels[2],
    '',
    declaration('forward', `${call('forwardRows', ONE_ROW)};`, typed),
    declaration('loss', `return ${call('lossRows', ONE_ROW)};`, typed),
    declaration('gradient', `return ${call('gradientRows', ONE_ROW)};`, typed),
    '',
    emitUnfusedRows(S),
  ].join('\n');
}

/**
 * The module text; `gradientDoc` holds the derived formulas for `gradient`'s doc comment
 * (pipeline.ts `gradientDoc`). `flavour` 'ts' is what `gradc build` writes; 'js' is the
 * same program as an ES2022 module, written directly (flavour.ts), for the in-process
 * loader (load/loader.ts): no TypeScript compiler runs on it.
 */
export function emitModule(program: Program, options: EmitOptions, gradientDoc: readonly string[], flavour: Flavour = 'ts'): string {
  const { model } = program;
  const S = syntaxOf(flavour);
  const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const k = program.kernels;
  // One forward and one backward pass when the gradient kernel shares the loss kernel (kernels.ts).
  const unrolled = !k ? [] : (k.gradient.lossPrefix === undefined ? [k.forward, k.loss, k.gradient] : [k.forward, k.gradient]).map((x) => emitKernel(x, chunk, flavour));
  // A value as an array element stores it: f32 arrays round it (and may overflow to Infinity).
  const stored = (v: string) => (options.precision === 'f32' ? `Math.fround(${v})` : `(${v})`);
  // The optimizers' steps fused into the unrolled backward pass (null: too long to fuse, or looped).
  // Not with scatter terms: one row may look up a token twice, and a fused per-element update would step its row twice.
  // With simd not 'off', Adam's and RMSprop's updates in WebAssembly where it loads (WASM_UPDATE, fusedSteps.ts).
  const fused = k?.step && !program.layout.params.some((p) => p.rows) ? emitFusedSteps(k.step, program.layout.params, stored, options.precision !== 'f32', chunk, S, (options.simd ?? 'auto') !== 'off') : null;

  // The looped lowering's WebAssembly SIMD kernels, and where parameters live (simd.ts); null: none.
  const simd = program.loops ? planSimd(program.loops, program.layout, options.precision ?? 'f64', options.simd ?? 'auto') : null;

  const declarations = paramFunctions(program, stored, S, simd);
  const statements = [
    ...typeDeclarations(program, options.precision ?? 'f64', unrolled, S),
    declarations,
    apiFunctions(program, options, stored, optionalRuntime(declarations, flavour), gradientDoc, S, simd, fused?.placesMoments ?? false),
  ];
  const out = `${headerLines(program, options)}${statementsText(statements)}\n${rowsText(program, options, fused?.text ?? null, S, simd)}\n${kernelsText(unrolled, flavour)}`;
  if (debugLevel() >= 1) process.stderr.write(`\n===== gradc: emitted ${model.name}.${flavour} =====\n${out}\n`);
  return out;
}

/** Top-level statements, each ending in a newline, with one blank line between them. */
function statementsText(statements: readonly string[]): string {
  let out = '';
  for (const [i, text] of statements.entries()) {
    if (i > 0 && !out.endsWith('\n\n')) out += '\n';
    out += text.endsWith('\n') ? text : `${text}\n`;
  }
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
function typeDeclarations(program: Program, precision: 'f64' | 'f32', unrolled: readonly EmittedKernel[], S: Syntax): string[] {
  const { model, layout } = program;
  const { t } = S;
  const P = layout.params;
  const floats = precision === 'f32' ? 'Float32Array' : 'Float64Array';
  const slots = Math.max(1, ...unrolled.map((k) => k.slots));
  const types = S.flavour === 'ts';
  const ids = layout.inputs.filter((s) => s.limit !== undefined && s.low === undefined);
  const lengths = layout.inputs.filter((s) => s.low !== undefined);
  return [
    `/** The element type of every array in this module (${precision}). */
${types ? `export type Floats = ${floats};\n` : ''}const Floats = ${floats};
`,
    ...(types ? [
      iface('Params', `Parameters of model '${model.name}' (also the type of their gradients).`, P),
      iface('Inputs', `Inputs of one sample.`, layout.inputs, true),
      iface('Targets', `Targets of one sample.`, layout.targets, true),
      iface('Outputs', `What \`forward\` returns.`, layout.outputs),
    ] : []),
    `${types ? `/** One training sample. */
export interface Sample {
  readonly inputs: Inputs;
  readonly targets: Targets;
}

` : ''}/** Shapes of every named value, as declared. */
export const shapes = {
  params: { ${P.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
  inputs: { ${layout.inputs.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
  targets: { ${layout.targets.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },
  outputs: { ${layout.outputs.map((s) => `${s.name}: ${shapeText(s)}`).join(', ')} },${ids.length ? `
  /** Integer inputs: ids are integers in 0 .. n - 1. */
  ids: { ${ids.map((s) => `${s.name}: ${numberText(s.limit!)}`).join(', ')} },` : ''}${lengths.length ? `
  /** Length inputs: the length of each sample's sequence, an integer in 1 .. n (the steps read; the rest is padding). */
  lengths: { ${lengths.map((s) => `${s.name}: ${numberText(s.limit! - 1)}`).join(', ')} },` : ''}${P.some((s) => s.rows === 'sparse') ? `
  /** Parameters with sparse gradients (embedding tables): a step updates only the rows its gradient touched, which only the thread that computed it knows. */
  sparse: [${P.filter((s) => s.rows === 'sparse').map((s) => `'${s.name}'`).join(', ')}],` : ''}
}${t(' as const')};

/**
 * Values per sample in the flat rows that \`gradientBatch\`, \`stepBatch\` and \`fit\` use.
 * Row layout: ${rowLayout(layout)}.
 */
export const INPUT_SIZE = ${layout.inputSize};
export const TARGET_SIZE = ${layout.targetSize};
export const OUTPUT_SIZE = ${layout.outputSize};
/** Each output and each target as [name, offset in its row, size] (fit's metrics pair them). */
const $OUTPUT_SLOTS${t(': readonly (readonly [string, number, number])[]')} = [${layout.outputs.map((s) => `['${s.name}', ${s.offset}, ${s.size}]`).join(', ')}];
const $TARGET_SLOTS${t(': readonly (readonly [string, number, number])[]')} = [${layout.targets.map((s) => `['${s.name}', ${s.offset}, ${s.size}]`).join(', ')}];
${unrolled.some((k) => k.slots > 0) ? `/** Values that one part of a kernel split by chunkSize passes to a later part. */\nconst $t = new Floats(${slots});\n` : '\n'}`,
  ];
}

/** initParams, copyParams, zeroParams and the per-parameter helpers (update, checks, packing). */
function paramFunctions(program: Program, stored: (v: string) => string, S: Syntax, simd: SimdPlan | null): string {
  const { model, layout } = program;
  const { t, nn } = S;
  const P = layout.params;
  const inits = P.map((s) => `${s.name}: ${initExpr(s)}`).join(', ');
  const random = /\brand\b/.test(inits); // no random initializer: the seed is not used
  return `/** Parameters as the model's initializers say (random ones drawn from \`seed\`). */
export function initParams(${random ? 'seed' : '_seed'} = ${numberText(model.seed)})${t(': Params')} {
${random ? '  const rand = $rng(seed);\n' : ''}  return $placed({ ${inits} });
}
${simd ? '' : `\n${placedIdentity(S)}\n`}
/** A deep copy of \`p\`. */
export function copyParams(p${t(': Params')})${t(': Params')} {
  return { ${P.map((s) => `${s.name}: ${s.shape.length ? `p.${s.name}.slice()` : `p.${s.name}`}`).join(', ')} };
}

/** Parameters (or gradients) that are all zero. */
export function zeroParams()${t(': Params')} {
  return { ${P.map((s) => `${s.name}: ${s.shape.length ? `new Floats(${s.size})` : '0'}`).join(', ')} };
}

function $copyInto(to${t(': Params')}, from${t(': Params')})${t(': void')} {
${P.map((s) => (!s.shape.length ? `  to.${s.name} = from.${s.name};`
    : s.size <= 64 ? `  { const a = to.${s.name}, b = from.${s.name}; for (let k = 0; k < ${s.size}; k++) a[k] = b[k]${nn}; }` // faster than set() when small
    : `  to.${s.name}.set(from.${s.name});`)).join('\n')}
}

/** \`p <- p - lr * g\`, then \`g <- 0\`, unchecked (\`$stepFailed\` uses it to find what overflows). */
function $applyUpdate(p${t(': Params')}, g${t(': Params')}, lr${t(': number')})${t(': void')} {
${P.map((s) => (s.shape.length
    ? `  { const w = p.${s.name}, d = g.${s.name}; for (let k = 0; k < ${s.size}; k++) { w[k]${nn} -= lr * d[k]${nn}; d[k] = 0; } }`
    : `  p.${s.name} -= lr * g.${s.name}; g.${s.name} = 0;`)).join('\n')}
}

/** True when \`p\` has every parameter, of the right kind and size (\`$checkParams\` says what is wrong otherwise). */
function $isParams(p${t(': unknown')})${t(': boolean')} {
  if (typeof p !== 'object' || p === null) return false;
  const q = p${t(' as Params')};
  return ${P.length ? [...(P.some((s) => !s.shape.length) ? ['!Object.isFrozen(q)'] : []), ...P.map((s) => (s.shape.length ? `q.${s.name} instanceof Floats && q.${s.name}.length === ${s.size}` : `typeof q.${s.name} === 'number'`))].join(' && ') : 'true'};
}

/**
 * True when every value of \`p\` is finite: \`v * 0\` is 0 for a finite v and NaN for
 * NaN and +-Infinity, so the sum stays 0 exactly when all are finite (one compare in
 * all, no call per value).
 */
function $finite(p${t(': Params')})${t(': boolean')} {
  let s = 0;
${P.map((s) => (s.shape.length ? `  { const w = p.${s.name}; for (let k = 0; k < ${s.size}; k++) s += w[k]${nn} * 0; }` : `  s += p.${s.name} * 0;`)).join('\n')}
  return s === 0;
}

/** The first value of \`p\` that is not finite, as \`'W[3] is NaN'\`, or '' when all are finite. */
function $nonFinite(p${t(': Params')})${t(': string')} {
${P.map((s) => (s.shape.length
    ? `  { const w = p.${s.name}; for (let k = 0; k < ${s.size}; k++) if (!Number.isFinite(w[k])) return \`${s.name}[\${k}] is \${w[k]}\`; }`
    : `  if (!Number.isFinite(p.${s.name})) return \`${s.name} is \${p.${s.name}}\`;`)).join('\n')}
  return '';
}

/**
 * Throws a SampleError naming the first parameter of \`p\` that is missing or of the wrong
 * kind or size (and, when \`finite\`, the first value that is not finite). Extra keys are ignored.
 */
function $checkParams(p${t(': Params')}, where${t(': string')}, finite${t(': boolean')}${P.some((s) => !s.shape.length) ? ', writable = false' : ', _writable = false'})${t(': void')} {
  if (typeof p !== 'object' || p === null) throw new SampleError(\`\${where} must be an object with ${P.length ? P.map((s) => `'${s.name}'`).join(', ') : 'no keys'}, got \${$show(p)}\`);
${P.map((s) => (s.shape.length
    ? `  { const v = p.${s.name}; if (!(v instanceof Floats) || v.length !== ${s.size}) $checkArrayParam(v, ${s.size}, '${shapeText(s)}', where, '${s.name}'); }`
    : `  if (typeof p.${s.name} !== 'number') $checkNumberParam(p.${s.name}, where, '${s.name}');`)).join('\n')}
  if (finite && !$finite(p)) throw new SampleError(\`\${where}.\${$nonFinite(p)}\`);
${P.filter((s) => !s.shape.length).map((s) => `  if (writable) $checkWritableParam(p, where, '${s.name}');`).join('\n')}
}

${idFunctions(layout, S)}

/** Writes one sample's inputs into \`into\` at \`at\`; throws naming an input that is missing, not finite or of the wrong size. */
export function packInputs(src${t(': Inputs')}, into${t(': Floats')}, at${t(': number')}, where = 'sample')${t(': void')} {
${packer('input', layout.inputs)}
}

/** Writes one sample's targets into \`into\` at \`at\`; throws naming a target that is missing, not finite or of the wrong size. */
export function packTargets(src${t(': Targets')}, into${t(': Floats')}, at${t(': number')}, where = 'sample')${t(': void')} {
${packer('target', layout.targets)}
}

function $unpackOutputs(${layout.outputs.length ? `o${t(': Floats')}, at${t(': number')}` : `_o${t(': Floats')}, _at${t(': number')}`})${t(': Outputs')} {
  return { ${layout.outputs.map((s) => `${s.name}: ${s.shape.length ? `o.slice(${plus('at', s.offset)}, at + ${s.offset + s.size})` : `o[${plus('at', s.offset)}]${nn}`}`).join(', ')} };
}
`;
}

/**
 * The integer inputs' checks on rows (\`$idsOk\`, the fast path of \`$isRows\`; \`$checkIds\`,
 * called by \`$checkRows\`, names the row and position of the first bad id), and for
 * parameters with sparse gradients (5-lower/sparse.ts) the sets of rows the gradient
 * kernels touched since the last update (\`$rows_<name>\`, \`$touch\`), which
 * \`$untouch\` forgets.
 */
function idFunctions(layout: Layout, S: Syntax): string {
  const { t, nn } = S;
  const ids = layout.inputs.filter((s) => s.limit !== undefined);
  const sparse = layout.params.filter((p) => p.rows === 'sparse');
  const test = (s: InputSlot, v: string) => `!(Number.isInteger(${v}) && ${v} >= ${numberText(s.low ?? 0)} && ${v} < ${numberText(s.limit!)})`;
  const scan = (s: InputSlot, found: string) => `for (let k = 0; k < ${s.size}; k++) { const v = X[i + ${s.offset} + k]${nn}; if (${test(s, 'v')}) ${found} }`;
  const sets = sparse.map((p) => `const $rows_${p.name} = $rowSet(${p.shape[0]});`);
  return `/** True when every integer input of rows [first, first + count) is an id in range. */
function $idsOk(${ids.length ? `X${t(': Floats')}, count${t(': number')}, first${t(': number')}` : `_X${t(': Floats')}, _count${t(': number')}, _first${t(': number')}`})${t(': boolean')} {
${ids.length ? `  for (let i = first * INPUT_SIZE; i < (first + count) * INPUT_SIZE; i += INPUT_SIZE) {\n${ids.map((s) => `    ${scan(s, 'return false;')}`).join('\n')}\n  }\n` : ''}  return true;
}

/** Throws a SampleError naming the row, the input and the position of the first id out of range. */
function $checkIds(${ids.length ? `where${t(': string')}, X${t(': Floats')}, count${t(': number')}, first${t(': number')}` : `_where${t(': string')}, _X${t(': Floats')}, _count${t(': number')}, _first${t(': number')}`})${t(': void')} {${ids.map((s) => `\n  for (let i = first * INPUT_SIZE; i < (first + count) * INPUT_SIZE; i += INPUT_SIZE) ${scan(s, `throw new SampleError(\`\${where}: row \${i / INPUT_SIZE}, input '${s.name}'${s.shape.length ? ' position \${k}' : ''} must be an integer ${s.low === undefined ? 'id' : 'length'} in ${s.low ?? 0}..${s.limit! - 1}, got \${v}\`, '${s.name}');`)}`).join('')}
}
${sparse.length ? `
/** Rows of a sparse gradient touched since the last update: the first \`n\` of \`rows\`, each marked in \`seen\`. */
${t('interface $RowSet { readonly rows: Int32Array; readonly seen: Uint8Array; n: number }\n')}function $rowSet(count${t(': number')})${t(': $RowSet')} {
  return { rows: new Int32Array(count), seen: new Uint8Array(count), n: 0 };
}
${sets.join('\n')}

/** Notes row \`r\` of a sparse gradient (once). */
function $touch(t${t(': $RowSet')}, r${t(': number')})${t(': void')} {
  if (t.seen[r] === 0) { t.seen[r] = 1; t.rows[t.n++] = r; }
}
` : ''}
/** Forgets the rows the gradient kernels touched (after an update, or a gradient that no update reads). */
function $untouch()${t(': void')} {${sparse.map((p) => `\n  { const t = $rows_${p.name}; for (let q = 0; q < t.n; q++) t.seen[t.rows[q]${nn}] = 0; t.n = 0; }`).join('')}
}`;
}

/** The per-sample and minibatch API (forward ... stepBatch) and the run-time pieces after it. */
function apiFunctions(program: Program, options: EmitOptions, stored: (v: string) => string, helpers: string, gradientDoc: readonly string[], S: Syntax, simd: SimdPlan | null, placesMoments: boolean): string {
  const { model, layout } = program;
  const { t } = S;
  const P = layout.params;
  const sparse = P.some((p) => p.rows === 'sparse');
  const gradDoc = [
    `The loss of one sample and dloss/dp for every parameter p (derived by the chain rule):`,
    ...gradientDoc.map((l) => `  ${l.replace(/\*\//g, '* /')}`),
  ].join('\n');
  return `const $xs = new Floats(${Math.max(1, layout.inputSize)});
const $ys = new Floats(${Math.max(1, layout.targetSize)});
const $os = new Floats(${Math.max(1, layout.outputSize)});

/** The forward pass: outputs for one sample. */
export function forward(params${t(': Params')}, inputs${t(': Inputs')})${t(': Outputs')} {
  $checkParams(params, 'forward: params', false);
  packInputs(inputs, $xs, 0, 'inputs');
  $forward(params, $xs, 0, $os, 0);
  return $unpackOutputs($os, 0);
}

/** The loss of one sample. */
export function loss(params${t(': Params')}, inputs${t(': Inputs')}, targets${t(': Targets')})${t(': number')} {
  $checkParams(params, 'loss: params', false);
  packInputs(inputs, $xs, 0, 'inputs');
  packTargets(targets, $ys, 0, 'targets');
  return $loss(params, $xs, 0, $ys, 0);
}

/**
 * ${gradDoc.split('\n').join('\n * ')}
 */
export function gradient(params${t(': Params')}, inputs${t(': Inputs')}, targets${t(': Targets')})${t(': { loss: number; grad: Params }')} {
  $checkParams(params, 'gradient: params', false);
  packInputs(inputs, $xs, 0, 'inputs');
  packTargets(targets, $ys, 0, 'targets');
  const grad = zeroParams();
  const value = $gradient(params, $xs, 0, $ys, 0, grad, 1);${sparse ? '\n  $untouch();' : ''}
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
export function step(params${t(': Params')}, inputs${t(': Inputs')}, targets${t(': Targets')}, optimizer${t(': number | OptimizerState')})${t(': number')} {
  if (!$isParams(params)) $checkParams(params, 'step: params', false, true);
  const h = typeof optimizer === 'number' && optimizer >= 0 && optimizer < Infinity ? null : $knownState(optimizer) ?? $checkOptimizer('step', optimizer);
  packInputs(inputs, $xs, 0, 'inputs');
  packTargets(targets, $ys, 0, 'targets');
  const st = optimizer${t(' as OptimizerState')};
  const value = h ? $optimizerStep(params, $xs, $ys, 1, 0, st, h, 'step') : $stepRow(params, $xs, 0, $ys, 0, optimizer${t(' as number')});
  if (value !== value) $stepFailed('step', params, $xs, $ys, 1, 0, h ? $rate(h, st.step) : optimizer${t(' as number')}, h && st);
  return value;
}

/**
 * Mean loss and mean gradient over \`count\` samples stored as rows of \`X\` (INPUT_SIZE
 * values each) and \`Y\` (TARGET_SIZE values each), starting at row \`first\`; the
 * gradient is added into \`grad\`. Throws a SampleError when \`count\` is not a positive
 * integer, \`first\` not a non-negative integer, or the rows are not all in X and Y.
 */
export function gradientBatch(params${t(': Params')}, X${t(': Floats')}, Y${t(': Floats')}, count${t(': number')}, first = 0, grad${t(': Params')} = zeroParams())${t(': { loss: number; grad: Params }')} {
  $checkParams(params, 'gradientBatch: params', false);
  $checkParams(grad, 'gradientBatch: grad', false);
  $checkRows('gradientBatch', X, Y, count, first);
${sparse ? '  const value = $gradientSum(params, X, Y, count, first, grad, 1 / count) / count;\n  $untouch();\n  return { loss: value, grad };' : '  return { loss: $gradientSum(params, X, Y, count, first, grad, 1 / count) / count, grad };'}
}

const $acc = zeroParams();
/**
 * One minibatch step (gradients averaged over the rows, checked as in \`gradientBatch\`);
 * \`optimizer\` is a learning rate (plain SGD) or an OptimizerState, as in \`step\`.
 * Returns the mean loss before the step. All or nothing, like \`step\`: a SampleError, and
 * the parameters and optimizer state unchanged, when the loss or a new value is not finite.
 */
export function stepBatch(params${t(': Params')}, X${t(': Floats')}, Y${t(': Floats')}, count${t(': number')}, optimizer${t(': number | OptimizerState')}, first = 0)${t(': number')} {
  // Each check's fast path first (small enough to inline, allocates nothing); the full check names the problem.
  if (!$isParams(params)) $checkParams(params, 'stepBatch: params', false, true);
  if (!$isRows(X, Y, count, first)) $checkRows('stepBatch', X, Y, count, first);
  const h = typeof optimizer === 'number' && optimizer >= 0 && optimizer < Infinity ? null : $knownState(optimizer) ?? $checkOptimizer('stepBatch', optimizer);
  const st = optimizer${t(' as OptimizerState')};
  // One row with a learning rate goes straight to the row step, not through $stepRows: what V8 inlines
  // into a caller's training loop then stays under its 920-byte cumulative budget (one call per step, not two).
  const value = h ? $optimizerStep(params, X, Y, count, first, st, h, 'stepBatch') : count === 1 ? $stepRow(params, X, first * ${layout.inputSize}, Y, first * ${layout.targetSize}, optimizer${t(' as number')}) : $stepRows(params, X, Y, count, optimizer${t(' as number')}, first);
  if (value !== value) $stepFailed('stepBatch', params, X, Y, count, first, h ? $rate(h, st.step) : optimizer${t(' as number')}, h && st);
  return value;
}

${S.flavour === 'ts' ? RUNTIME : RUNTIME_JS.runtime}

${S.flavour === 'ts' ? OPTIMIZER_RUNTIME : RUNTIME_JS.optimizer}

${emitOptimizerUpdates(P, stored, S, simd?.state != null, placesMoments)}

${emitSaveParams(P, model.name, structureHash(model), options.precision ?? 'f64', S)}
${helpers ? `\n${helpers}\n` : ''}`;
}

/** The entry points over rows (and the fused steps, or the looped kernels): written after the module's API. */
function rowsText(program: Program, options: EmitOptions, fused: string | null, S: Syntax, simd: SimdPlan | null): string {
  return [
    '// ---- Kernels: straight-line or looped code generated from the derived graph. ----',
    '',
    program.loops ? loopedKernels(program, simd, S) : unrolledRows(fused, S),
    '',
  ].join('\n');
}

/**
 * The straight-line kernels, the bulk of a large module, last: written as text line by
 * line, never reparsed, in either flavour.
 */
function kernelsText(unrolled: readonly EmittedKernel[], flavour: Flavour): string {
  const out: string[] = [];
  for (const k of unrolled) {
    for (const f of k.functions) {
      const signature = `${f.name}(${parameterList(f.parameters, f.body, flavour === 'ts')})${flavour === 'ts' ? `: ${f.returns}` : ''}`;
      out.push(`function ${signature} {`, `  ${f.body.replaceAll('\n', '\n  ')}`, '}', '');
    }
  }
  return out.join('\n');
}
