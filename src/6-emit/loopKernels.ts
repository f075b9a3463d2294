/**
 * Phase 6, emit (looped kernels): LoopSteps as TypeScript loops over typed arrays.
 *
 * Guarantees: loop bounds and strides are literals (only the batch count `$nb` is a
 * run-time value); every gemm is register-blocked 4x4 (16 accumulators, 8 loads per
 * 16 multiply-adds), with 4x1, 1x4 and 1x1 edges; a gemm the SIMD plan chose (simd.ts)
 * calls its WebAssembly kernel where the engine runs them (`$wasm`), those loops being the
 * fallback; softmax and logsumexp shift the
 * maximum out; index arithmetic is folded where strides are 0 or 1. Loop variables start
 * with `$`, so they never shadow a user's name. `at` recurses through fused accesses only,
 * which nest at most MAX_FUSION_DEPTH deep (5-lower/loops.ts), so any graph depth is safe. Each kernel becomes one function
 * `$<kind>Rows(...)` that processes `$nb` samples.
 */
import { type ElementwiseOp, OPS } from '../ir/ops.js';
import type { Node } from '../ir/node.js';
import type { ElementAlgebra } from '../5-lower/table.js';
import { declaration, KERNEL_VARIABLES, mentions, parameterList } from './signatures.js';
import { literal } from './literal.js';
import type { Syntax } from './flavour.js';
import type { Access, Affine, BufferRef, GemmOperand, Hoist, KernelVar, LoopKernel, LoopPlan, LoopStep, ScalarRef } from '../5-lower/plan.js';
import { constant, constantOf, shift } from '../5-lower/plan.js';
import { type SimdGemm, type SimdPlan, scratchDeclaration, simdCopies } from './simd.js';

// The plan's symbols as TypeScript: the kernel's arguments, locals and scratch buffers.
// Names gradc makes start with `$`, so they never meet a user's name, a global or a keyword.
/**
 * The `!` of a typed-array read: '!' in TypeScript, '' in JavaScript (flavour.ts); set by
 * `emitLoopKernel` for the one kernel it writes, and back to '!' after it.
 */
let nn = '!';

const VARS: { readonly [K in KernelVar]: string } = { inputRow: '$xo', targetRow: '$yo', outputRow: '$oo', batchSize: '$nb', step: '$step' };

function bufferText(b: BufferRef): string {
  switch (b.kind) {
    case 'input': return '$x';
    case 'target': return '$y';
    case 'output': return '$o';
    case 'param': return `$p_${b.name}`;
    case 'grad': return `$g_${b.name}`;
    case 'scratch': return b.buffer.name;
  }
}

/** `product`: the text a gemm's result stands for inside its epilogue (its accumulator). */
function scalarText(s: ScalarRef, product = ''): string {
  switch (s.kind) {
    case 'literal': return literal(s.value);
    case 'param': return `$p_${s.name}`;
    case 'grad': return `$g.${s.name}`;
    case 'gemmResult': return product;
  }
}

/** `$xo + 10`, `$nb`, `3`: terms in order, then the offset (dropped when 0, unless alone). */
function affineText(a: Affine): string {
  const t = a.terms.map((x) => (x.stride === 1 ? VARS[x.v] : `${VARS[x.v]} * ${x.stride}`));
  if (a.offset !== 0 || t.length === 0) t.push(String(a.offset));
  return t.join(' + ').replace(/ \+ -(\d)/g, ' - $1');
}

const hoistName = (h: Hoist): string => `$${h.kind === 'param' ? 'p' : 'g'}_${h.name}`;

function hoistText(h: Hoist): string {
  return h.kind === 'param' ? `const $p_${h.name} = $p.${h.name};` : `const $g_${h.name} = $g.${h.name};`;
}

/**
 * `arr[base + b*bs + sum(coord*stride)]`, with zero terms dropped; a read (or a `+=` target)
 * carries `!` (erased when compiled: under noUncheckedIndexedAccess an element reads as
 * `number | undefined`, and every index here is in bounds by construction), a plain
 * assignment target (`write`) does not.
 */
function at(a: Access, b: string, coords: readonly string[], write = false, product = ''): string {
  if (a.scalar !== undefined) return scalarText(a.scalar, product);
  if (a.inline) return atText(a, b, coords, atom(product)).text;
  const terms: string[] = [];
  let offset = 0; // literal coordinates (unrolled loops) fold into the base
  if (a.bs !== 0) terms.push(a.bs === 1 ? b : `${b} * ${a.bs}`);
  coords.forEach((c, i) => {
    const s = a.strides[i];
    if (s === 0) return;
    if (/^\d+$/.test(c)) offset += Number(c) * s;
    else terms.push(s === 1 ? c.replace(/^\((.*)\)$/, '$1') : `${c} * ${s}`); // a sum needs no parentheses around `($j + 1)`
  });
  const base = shift(a.base, offset);
  if (base.terms.length > 0 || base.offset !== 0) terms.unshift(affineText(base));
  return `${bufferText(a.buf!)}[${terms.length ? terms.join(' + ') : '0'}]${write ? '' : nn}`;
}

const COORDS = ['$r', '$c'];
/** `body` for every coordinate of `shape`: a loop, or (`unroll`) one statement per element with literal indices. */
function loopsOver(shape: readonly number[], body: (coords: string[]) => string, unroll = false): string {
  if (shape.length === 0) return body([]);
  if (unroll) {
    const out: string[] = [];
    if (shape.length === 1) for (let r = 0; r < shape[0]; r++) out.push(body([String(r)]));
    else for (let r = 0; r < shape[0]; r++) for (let c = 0; c < shape[1]; c++) out.push(body([String(r), String(c)]));
    return out.join('\n');
  }
  if (shape.length === 1) return `for (let $r = 0; $r < ${shape[0]}; $r++) ${body(['$r'])}`;
  return `for (let $r = 0; $r < ${shape[0]}; $r++) for (let $c = 0; $c < ${shape[1]}; $c++) ${body(COORDS)}`;
}

function perSample(batchedOut: boolean, body: string): string {
  return batchedOut ? `for (let $b = 0; $b < $nb; $b++) {\n${indent(body)}\n}` : body;
}
const indent = (s: string) => s.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');

function elementwise(s: Extract<LoopStep, { kind: 'elementwise' }>): string {
  const body = (coords: string[]) => {
    const args = s.args.map((a) => atText(a, '$b', a.shape.length ? coords : []));
    const value = s.op === 'copy' ? args[0]!.text : TEXT.apply(s.op as ElementwiseOp, ...args).text;
    return `${at(s.out, '$b', coords, true)} = ${value};`;
  };
  return perSample(s.out.bs !== 0, loopsOver(s.out.shape, body, s.unroll));
}


/** out(i, j) (+)= scale * sum_k L(i, k) R(k, j), blocked 4x4 over (i, j); through a Wasm SIMD kernel when `simd` is given (the loops stay as the fallback). */
function gemm(s: Extract<LoopStep, { kind: 'gemm' }>, simd?: SimdGemm, plan?: SimdPlan): string {
  const { L, R, out } = s;
  const P = affineText(s.P), Q = String(s.Q), K = affineText(s.K);
  const idx = (o: GemmOperand, u: string, v: string) => {
    const t: string[] = [];
    if (o.base.terms.length > 0 || o.base.offset !== 0) t.push(affineText(o.base));
    if (o.su !== 0) t.push(o.su === 1 ? u : `${u} * ${o.su}`);
    if (o.sv !== 0) t.push(o.sv === 1 ? v : `${v} * ${o.sv}`);
    return t.length ? t.join(' + ') : '0';
  };
  // `beforeTanh`: the epilogue's tanh left out (the Wasm tanh pass takes it, simd.ts).
  const store = (p: string, q: string, acc: string, beforeTanh = false) => {
    const v = s.scaled ? `$scale * ${acc}` : acc;
    const e = s.epilogue;
    if (e) {
      // p is the sample, q the element; the fused elementwise chain reads the product (its one use) where it stands.
      const value = beforeTanh ? e.value.inline!.args[0]! : e.value;
      return `${at(e.out, p, [q], true)} = ${at(value, p, value.shape.length ? [q] : [], false, s.scaled ? `(${v})` : v)};`;
    }
    return `${bufferText(out.buf)}[${idx(out, p, q)}]${s.accumulate ? `${nn} +=` : ' ='} ${v};`;
  };
  if (simd) {
    // 'auto': small calls (fewer rows than `minRows`) run the loops (simd.ts).
    const rows = constantOf(s.P) === undefined ? P : K;
    const when = simd.minRows > 1 ? `$wasm && ${rows} >= ${simd.minRows}` : '$wasm';
    return `if (${when}) {\n${indent(simdGemm(s, simd, plan!, P, K, store))}\n} else ${gemm(s)}`;
  }
  const kernel = (bp: number, bq: number) => {
    const ps = Array.from({ length: bp }, (_, i) => i), qs = Array.from({ length: bq }, (_, j) => j);
    // Row and column of a register: `$i`, or `($i + 1)` (parenthesized: it is multiplied by a stride).
    const pv = (i: number) => (i ? `($i + ${i})` : '$i'), qv = (j: number) => (j ? `($j + ${j})` : '$j');
    const lines: string[] = [];
    // Row bases of L and column bases of R, hoisted out of the k loop.
    ps.forEach((i) => lines.push(`const $l${i} = ${idx({ ...L, sv: 0 }, pv(i), '0')};`));
    qs.forEach((j) => lines.push(`const $m${j} = ${idx({ ...R, su: 0 }, '0', qv(j))};`));
    lines.push(`let ${ps.flatMap((i) => qs.map((j) => `$c${i}${j} = 0`)).join(', ')};`);
    const kl = L.sv === 1 ? '$k' : `$k * ${L.sv}`, kr = R.su === 1 ? '$k' : `$k * ${R.su}`;
    const inner = [
      ...ps.map((i) => `const $a${i} = ${bufferText(L.buf)}[$l${i} + ${kl}]${nn};`),
      ...qs.map((j) => `const $w${j} = ${bufferText(R.buf)}[$m${j} + ${kr}]${nn};`),
      ...ps.flatMap((i) => qs.map((j) => `$c${i}${j} += $a${i} * $w${j};`)),
    ];
    lines.push(`for (let $k = 0; $k < ${K}; $k++) {\n${indent(inner.join('\n'))}\n}`);
    ps.forEach((i) => qs.forEach((j) => lines.push(store(pv(i), qv(j), `$c${i}${j}`))));
    return `{\n${indent(lines.join('\n'))}\n}`;
  };
  return [
    `{`,
    `  let $i = 0;`,
    `  for (; $i + 4 <= ${P}; $i += 4) {`,
    `    let $j = 0;`,
    `    for (; $j + 4 <= ${Q}; $j += 4) ${indent(indent(kernel(4, 4))).trimStart()}`,
    `    for (; $j < ${Q}; $j++) ${indent(indent(kernel(4, 1))).trimStart()}`,
    `  }`,
    `  for (; $i < ${P}; $i++) {`,
    `    let $j = 0;`,
    `    for (; $j + 4 <= ${Q}; $j += 4) ${indent(indent(kernel(1, 4))).trimStart()}`,
    `    for (; $j < ${Q}; $j++) ${indent(indent(kernel(1, 1))).trimStart()}`,
    `  }`,
    `}`,
  ].join('\n');
}

/**
 * The Wasm kernel's call (P, K, byte addresses of L, R, C), then, unless the kernel stored
 * the product itself, the scalar store of each element from the kernel's result region.
 */
function simdGemm(s: Extract<LoopStep, { kind: 'gemm' }>, g: SimdGemm, simd: SimdPlan, P: string, K: string, store: (p: string, q: string, acc: string, beforeTanh?: boolean) => string): string {
  if (g.grad) {
    const { name, size, copyAt } = g.grad;
    // Added into in place when the array lives in the kernels' memory (the training step's
    // accumulator, a placed Params: simd.ts), else copied in and out through a region of its own.
    return [
      `const $at = $g_${name}.buffer === $B && $g_${name} instanceof Floats ? $g_${name}.byteOffset : -1;`,
      `if ($at < 0) $H.set($g_${name}, ${copyAt});`,
      `$wasm.f[${g.index}]${nn}(${P}, ${K}, ${g.l}, ${g.r}, $at < 0 ? ${copyAt * simd.elementBytes} : $at, $scale);`,
      `if ($at < 0) $g_${name}.set($H.subarray(${copyAt}, ${copyAt + size}));`,
    ].join('\n');
  }
  const call = `$wasm.f[${g.index}]${nn}(${P}, ${K}, ${g.l}, ${g.r}, ${g.c});`;
  if (!g.temp) return call;
  const value = `$H[${g.temp.at ? `${g.temp.at} + ` : ''}$i * ${g.temp.cs} + $j]${nn}`;
  const stores = `${call}\nfor (let $i = 0; $i < ${P}; $i++) for (let $j = 0; $j < ${s.Q}; $j++) ${store('$i', '$j', value, g.tanh !== null)}`;
  return g.tanh ? `${stores}\n$wasm.f[${g.tanh.index}]${nn}(${P} * ${s.Q}, ${g.tanh.at}); // tanh in place (wasm/tanh.ts)` : stores;
}

/**
 * The table's formulas (5-lower/table.ts) as expression text: an operand is parenthesized
 * only where precedence needs it (`a - m - ls`, `Math.exp(a - m) / s`), so the text reads
 * as written and means what the formula says.
 */
interface Text { readonly text: string; readonly level: number } // 3: atom or call, 2: * /, 1: + -, 0: anything else
const CALLS = new Set<ElementwiseOp>(['exp', 'log', 'sqrt', 'abs', 'sin', 'cos', 'tanh', 'pow']); // Math.f(...): arguments need no parentheses
const LEVEL: ReadonlyMap<ElementwiseOp, number> = new Map<ElementwiseOp, number>([['add', 1], ['sub', 1], ['mul', 2], ['div', 2]]);
const TEXT: ElementAlgebra<Text> = {
  apply(op, ...args) {
    if (CALLS.has(op)) return { text: OPS[op].js!(...args.map((a) => a.text)), level: 3 };
    const level = LEVEL.get(op) ?? 0;
    // Left-associative + - * /: the left operand may be of the same level, the right one must bind
    // tighter; any other op (level 0) takes only atoms and calls bare.
    const wrap = (a: Text, i: number) => (a.level === 3 || (level > 0 && (a.level > level || (i === 0 && a.level === level))) ? a.text : `(${a.text})`);
    return { text: OPS[op].js!(...args.map(wrap)), level };
  },
};
const atom = (text: string): Text => ({ text, level: 3 });

/** An access as expression text: fused (inline) ops through TEXT, so parentheses appear only where needed; `product` stands for a gemm's result. */
function atText(a: Access, b: string, coords: readonly string[], product?: Text): Text {
  if (a.scalar?.kind === 'gemmResult' && product) return product;
  if (a.inline) return TEXT.apply(a.inline.op as ElementwiseOp, ...a.inline.args.map((x) => atText(x, b, x.shape.length ? coords : [], product)));
  return atom(at(a, b, coords));
}

/** out(o) = sum_k prod_i factor_i(o, k): one loop nest over the output, the sum innermost. */
function contract(s: Extract<LoopStep, { kind: 'contract' }>): string {
  const O = (c: readonly string[]) => at(s.out, '$b', c, true);
  const product = (c: readonly string[]) => s.factors.map((f) => at(f, '$b', c)).reduce((x, y) => OPS.mul.js!(x, y));
  let body: string;
  if (s.red.length === 0) body = loopsOver(s.out.shape, (c) => `${O(c)} = ${product(c)};`);
  else if (s.out.shape.length === 0) body = `let $s = 0;\n${loopsOver(s.red, (k) => `$s += ${product(k)};`, s.unroll)}\n${O([])} = $s;`;
  else {
    const sum = (c: string[]) => `{ let $s = 0; for (let $k = 0; $k < ${s.red[0]}; $k++) $s += ${product([...c, '$k'])}; ${O(c)} = $s; }`;
    body = loopsOver(s.out.shape, sum);
  }
  return perSample(s.out.bs !== 0, `{\n${indent(body)}\n}`);
}

/** out = 0 (unless the pieces cover it), then each piece copied to its place. */
function place(s: Extract<LoopStep, { kind: 'place' }>): string {
  const o = s.out;
  const lines = s.covered ? [] : [`for (let $r = 0; $r < ${o.shape[0]}; $r++) ${at(o, '$b', ['$r'], true)} = 0;`];
  for (const p of s.pieces) {
    const dst: Access = { ...o, base: shift(o.base, p.at) };
    lines.push(p.arg.shape.length === 0
      ? `${at(dst, '$b', ['0'], true)} = ${at(p.arg, '$b', [])};`
      : p.arg.shape.length === 1
        ? `for (let $r = 0; $r < ${p.arg.shape[0]}; $r++) ${at(dst, '$b', ['$r'], true)} = ${at(p.arg, '$b', ['$r'])};`
        : `for (let $r = 0; $r < ${p.arg.shape[0]}; $r++) for (let $c = 0; $c < ${p.arg.shape[1]}; $c++) ${at(dst, '$b', [`$r * ${p.arg.shape[1]} + $c`], true)} = ${at(p.arg, '$b', COORDS)};`);
  }
  return perSample(o.bs !== 0, `{\n${indent(lines.join('\n'))}\n}`);
}

/** The maximum m and s = sum(term(x, m)) of x, once, then every output that shares them. */
function shifted(s: Extract<LoopStep, { kind: 'shifted' }>): string {
  const x = s.x;
  const X = (c: readonly string[]) => at(x, '$b', c);
  const term = (v: Text) => s.outs[0]!.rule.term(TEXT, v, atom('$m'));
  // Over every element (logsumexp takes a matrix too), with the maximum shifted out.
  const lines = [
    'let $m = -Infinity;',
    loopsOver(x.shape, (c) => `{ const $e = ${X(c)}; if ($e > $m) $m = $e; }`, s.unroll),
    'let $s = 0;',
    loopsOver(x.shape, (c) => `$s += ${term(atom(X(c))).text};`, s.unroll),
  ];
  for (const { rule, out } of s.outs) {
    let shared = atom('$s');
    if (rule.shared) {
      lines.push(`const $ls = ${rule.shared(TEXT, atom('$s')).text};`);
      shared = atom('$ls');
    }
    const value = (v: Text) => rule.value(TEXT, { x: v, e: term(v), m: atom('$m'), s: atom('$s'), shared }).text;
    lines.push(rule.perElement
      ? `for (let $r = 0; $r < ${x.shape[0]}; $r++) ${at(out, '$b', ['$r'], true)} = ${value(atom(X(['$r'])))};`
      : `${at(out, '$b', [], true)} = ${value(atom('$m'))};`);
  }
  return perSample(s.outs.some((o) => o.out.bs !== 0), `{\n${indent(lines.join('\n'))}\n}`);
}

function reduce(s: Extract<LoopStep, { kind: 'reduce' }>): string {
  const t = s.target, v = s.value;
  const target = (c: string[]) => (t.scalar !== undefined ? scalarText(t.scalar) : at(t, '0', c));
  if (s.shared) return loopsOver(t.shape, (c) => `${target(c)} += $scale * $nb * ${at(v, '0', v.shape.length ? c : [])};`, s.unroll);
  return loopsOver(t.shape, (c) => `{ let $s = 0; for (let $b = 0; $b < $nb; $b++) $s += ${at(v, '$b', v.shape.length ? c : [])}; ${target(c)} += $scale * $s; }`, s.unroll);
}

/** Row `$id` of the table for each id (one loop over the ids, one over the row). */
function gather(s: Extract<LoopStep, { kind: 'gather' }>): string {
  const { out, table, ids } = s;
  const width = out.shape[out.shape.length - 1]!;
  const l = ids.shape.length ? ['$l'] : [];
  const row = `const $id = ${at(ids, '$b', l)};\nfor (let $c = 0; $c < ${width}; $c++) ${at(out, '$b', [...l, '$c'], true)} = ${at(table, '$b', ['$id', '$c'])};`;
  const body = ids.shape.length ? `for (let $l = 0; $l < ${ids.shape[0]}; $l++) {\n${indent(row)}\n}` : `{\n${indent(row)}\n}`;
  return perSample(out.bs !== 0, body);
}

/** Row l of the value added into row ids(l) of the target: a zeroed buffer, or (into 'grad') the touched rows of an accumulator. */
function scatter(s: Extract<LoopStep, { kind: 'scatter' }>): string {
  const { target, value, ids } = s;
  const width = target.shape[1]!;
  const l = ids.shape.length ? ['$l'] : [];
  const v = at(value, '$b', value.shape.length ? [...l, '$c'] : []);
  const row = [
    `const $id = ${at(ids, '$b', l)};`,
    ...(s.touch ? [`$touch($rows_${s.touch}, $id);`] : []),
    `for (let $c = 0; $c < ${width}; $c++) ${at(target, s.into === 'grad' ? '0' : '$b', ['$id', '$c'])} += ${s.into === 'grad' ? `$scale * ${v}` : v};`,
  ].join('\n');
  const rows = ids.shape.length ? `for (let $l = 0; $l < ${ids.shape[0]}; $l++) {\n${indent(row)}\n}` : `{\n${indent(row)}\n}`;
  if (s.into === 'grad') return `for (let $b = 0; $b < $nb; $b++) {\n${indent(rows)}\n}`;
  const zero = `for (let $r = 0; $r < ${target.shape[0]! * width}; $r++) ${at({ ...target, shape: [target.shape[0]! * width], strides: [1] }, '$b', ['$r'], true)} = 0;`;
  return perSample(target.bs !== 0, `${zero}\n${rows}`);
}

/**
 * A cell step (5-lower/cell.ts): the parameters' elements read once into locals, then per
 * sample each other element read once into a local, each scalar op a local of its own, then
 * the stores.
 */
function cell(s: Extract<LoopStep, { kind: 'cell' }>): string {
  const names = new Map<Node, string>();
  const ref = (n: Node): string => {
    if (n.op === 'const') return literal(n.attrs.value!);
    const name = names.get(n);
    if (name === undefined) throw new Error(`gradc bug: a cell step reads a ${n.op} it did not compute`);
    return name;
  };
  // Elements every sample reads alike (parameters) are read once, before the loop over the samples.
  const shared: string[] = [], lines: string[] = [];
  s.reads.forEach((r, i) => {
    names.set(r.leaf, `$q${i}`);
    (r.from.bs === 0 ? shared : lines).push(`const $q${i} = ${at(r.from, '$b', r.at.map(String))};`);
  });
  s.values.forEach((n, i) => { names.set(n, `$e${i}`); lines.push(`const $e${i} = ${OPS[n.op].js!(...n.args.map(ref))};`); });
  for (const w of s.writes) {
    const c = w.at.map(String);
    lines.push(`${at(w.to, '$b', c, true)} = ${w.add ? `${at(w.to, '$b', c)} + ` : ''}${ref(w.value)};`);
  }
  const loop = `for (let $b = 0; $b < $nb; $b++) {\n${indent(lines.join('\n'))}\n}`;
  return shared.length ? `{\n${indent([...shared, loop].join('\n'))}\n}` : loop;
}

function step(s: LoopStep, simd: SimdPlan | null): string {
  const note = 'comment' in s && s.comment ? `${s.comment.split('\n').map((l) => `// ${l}`).join('\n')}\n` : '';
  switch (s.kind) {
    case 'elementwise': return note + elementwise(s);
    case 'gemm': return note + gemm(s, simd?.gemms.get(s), simd ?? undefined);
    case 'contract': return note + contract(s);
    case 'place': return note + place(s);
    case 'shifted': return note + shifted(s);
    case 'reduce': return note + reduce(s);
    case 'gather': return note + gather(s);
    case 'scatter': return note + scatter(s);
    case 'time': {
      const loop = s.reverse ? `for (let $step = ${s.to}; $step >= ${s.from}; $step--)` : `for (let $step = ${s.from}; $step <= ${s.to}; $step++)`;
      return `${note}${loop} {\n${indent(s.steps.map((x) => step(x, simd)).join('\n'))}\n}`;
    }
    case 'cell': return note + cell(s);
    case 'lossSum': return `let $total = 0;\nfor (let $b = 0; $b < $nb; $b++) $total += ${at(s.value, '$b', [])};\nreturn $total;`;
  }
}

/**
 * Time loops as functions of their own, each written once for the module: a recurrence's
 * loops are long, and V8 optimizes no function whose bytecode passes a limit (about 60 KB),
 * so one kernel holding the forward loop, the reverse loop and the weight-gradient loop
 * would run unoptimized (measured on the names GRU, examples/names.model.ts: 2x faster
 * training); and the forward and loss kernels run the same forward loop (same buffers, same
 * steps), so a loop whose text is already written is called, not written again. A shared
 * loop reads the parameters (and gradient accumulators) it names itself, and takes the
 * kernel variables it mentions as arguments of the same names. (The gradient kernel's
 * forward loop differs when it stores step values for its gradient loops: 5-lower/stash.ts.)
 */
export class TimeLoops {
  readonly #byText = new Map<string, string>();
  readonly declarations: string[] = [];

  /** The call of the function running `loop` (with `hoists` the kernel's), declared the first time it is seen. */
  call(loop: string, hoists: readonly Hoist[], typed: boolean): string {
    const own = hoists.filter((h) => mentions(loop, hoistName(h))).map(hoistText);
    const body = [...own, loop].join('\n');
    const params = KERNEL_VARIABLES.filter((v) => mentions(body, v.name));
    let name = this.#byText.get(body);
    if (name === undefined) {
      name = `$time${this.#byText.size + 1}`;
      this.#byText.set(body, name);
      this.declarations.push(`function ${name}(${parameterList(params, body, typed)})${typed ? ': void' : ''} {\n${indent(body)}\n}`);
    }
    return `${name}(${params.map((v) => v.name).join(', ')});`;
  }
}

/** `simd`: the products that run as Wasm kernels (simd.ts), with the copies into their memory at the kernel's start. */
export function emitLoopKernel(k: LoopKernel, S: Syntax, simd: SimdPlan | null = null, inputSize = 0, loops: TimeLoops = new TimeLoops()): string {
  nn = S.nn;
  try {
    const copies = simdCopies(simd, k.kind, inputSize);
    const steps = k.steps.map((s) => (s.kind === 'time' ? loops.call(step(s, simd), k.hoists, S.flavour === 'ts') : step(s, simd)));
    const rest = [...(copies ? [copies] : []), ...steps].join('\n');
    const body = [...k.hoists.filter((h) => mentions(rest, hoistName(h))).map(hoistText), rest].join('\n');
    return declaration(`${k.kind}Rows`, body, S.flavour === 'ts');
  } finally {
    nn = '!';
  }
}

/** The scratch buffers that `code` (the loop kernels) mentions; those the Wasm kernels use are views on their memory. */
export function emitLoopBuffers(plan: LoopPlan, code: string, simd: SimdPlan | null = null): string {
  return plan.buffers.filter((b) => mentions(code, b.name)).map((b) => scratchDeclaration(simd, b)).join('\n');
}
