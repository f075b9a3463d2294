/**
 * Phase 5, lower: the lowered program as text for people (`DEBUG=2` prints it after
 * lowering).
 *
 * Unrolled: per kernel, one line per instruction (`load`, `op`, `store`) with its name,
 * operands and `# grad of:` comment. Looped: the scratch buffers (name, size, whether
 * they hold a row per sample, and the node they hold), then per kernel the hoisted
 * arrays and one block per step that spells its loops and index math: `for b < nb` over
 * samples, `for i < 32` over coordinates, `sum k < 784` over summed ones, and every
 * array read as `array[affine index]`.
 * Guarantees: the text is a pure function of the program (deterministic), one line per
 * instruction or loop level, and iterative: fused expressions nest at most
 * MAX_FUSION_DEPTH deep (loops.ts), the only recursion here.
 */
import { OPS } from '../ir/ops.js';
import { formatNumber } from '../ir/print.js';
import type { Kernel, Operand, Program } from './schedule.js';
import type { Access, Affine, BufferRef, GemmOperand, LoopKernel, LoopPlan, LoopStep, ScalarRef } from './plan.js';

const VAR_TEXT = { inputRow: 'inputRow', targetRow: 'targetRow', outputRow: 'outputRow', batchSize: 'nb', step: 't' } as const;

export function printProgram(program: Program): string {
  const head = `lowering: ${program.lowering}`;
  if (program.loops) return [`${head} (rows per call: ${program.loops.maxBatch})`, printLoopPlan(program.loops)].join('\n');
  const k = program.kernels!;
  return [head, ...[k.forward, k.loss, k.gradient, ...(k.step ? [k.step] : [])].map(printKernel)].join('\n');
}

function printKernel(k: Kernel): string {
  const name = (o: Operand) => ('lit' in o ? formatNumber(o.lit) : (k.instrs[o.ref] as { name: string }).name);
  const lines = [`kernel ${k.kind} (${k.instrs.length} instructions)`];
  for (const ins of k.instrs) {
    switch (ins.kind) {
      case 'load':
        lines.push(`  load  ${ins.name} = ${ins.from} ${ins.leaf}${ins.element === null ? '' : `[${ins.element}]`}`);
        break;
      case 'op':
        lines.push(`  op    ${ins.name} = ${ins.op}(${ins.args.map(name).join(', ')})${ins.comment ? `    # ${ins.comment}` : ''}`);
        break;
      case 'store': {
        const at = `${ins.leaf}${ins.element === null ? '' : `[${ins.element}]`}`;
        lines.push(ins.into === 'output' ? `  store output ${at} = ${name(ins.value)}`
          : ins.into === 'grad' ? `  store grad ${at} += scale * ${name(ins.value)}`
          : `  store param ${at} = ${name(ins.old!)} - lr * ${name(ins.value)}`);
        break;
      }
      case 'gather':
        lines.push(`  load  ${ins.name} = param ${ins.leaf}[${name(ins.row)} * ${ins.width} + ${ins.element}]`);
        break;
      case 'scatter':
        lines.push(`  store grad ${ins.leaf}[${name(ins.row)} * ${ins.width} + ${ins.element}] += scale * ${name(ins.value)}${ins.touch ? ' (row touched)' : ''}`);
        break;
    }
  }
  if (k.result) lines.push(`  return ${name(k.result)}`);
  return lines.join('\n');
}

function printLoopPlan(plan: LoopPlan): string {
  const lines = ['buffers:'];
  for (const b of plan.buffers) lines.push(`  ${b.name}: ${b.size} numbers${b.batched ? `, ${b.size / plan.maxBatch} per sample` : ', shared by all samples'} (${b.node.op}, shape [${b.node.shape.join(', ')}])`);
  for (const kind of ['forward', 'loss', 'gradient'] as const) lines.push(...printLoopKernel(plan.kernels[kind]));
  return lines.join('\n');
}

function printLoopKernel(k: LoopKernel): string[] {
  const lines = [`kernel ${k.kind}Rows (${k.steps.length} steps)`];
  if (k.hoists.length) lines.push(`  arrays: ${k.hoists.map((h) => `${h.kind} ${h.name}`).join(', ')}`);
  for (const s of k.steps) lines.push(...stepLines(s).map((l) => `  ${l}`));
  return lines;
}

const affine = (a: Affine, extra: readonly (readonly [string, number])[] = []): string => {
  const t = [...a.terms.map((x) => (x.stride === 1 ? VAR_TEXT[x.v] : `${x.stride}*${VAR_TEXT[x.v]}`))];
  if (a.offset !== 0) t.push(String(a.offset));
  for (const [v, s] of extra) if (s !== 0) t.push(s === 1 ? v : `${s}*${v}`);
  return t.length ? t.join(' + ') : '0';
};

const bufferName = (b: BufferRef): string => (b.kind === 'scratch' ? b.buffer.name : b.kind === 'param' || b.kind === 'grad' ? `${b.kind} ${b.name}` : b.kind);
const scalarName = (s: ScalarRef): string =>
  s.kind === 'literal' ? formatNumber(s.value) : s.kind === 'gemmResult' ? 'product' : `${s.kind} ${s.name}`;

/** `a` at sample `b` and coordinates `coords` (names of loop variables). */
function read(a: Access, b: string, coords: readonly string[]): string {
  if (a.scalar) return scalarName(a.scalar);
  if (a.inline) return `${OPS[a.inline.op].fn ?? a.inline.op}(${a.inline.args.map((x) => read(x, b, x.shape.length ? coords : [])).join(', ')})`;
  return `${bufferName(a.buf!)}[${affine(a.base, [[b, a.bs], ...coords.map((c, i) => [c, a.strides[i] ?? 0] as const)])}]`;
}

const COORDS = ['i', 'j'];
const loops = (shape: readonly number[], names = COORDS) => shape.map((n, d) => `for ${names[d]} < ${n}`).join(', ');
const over = (batched: boolean, shape: readonly number[]) => [batched ? 'for b < nb' : '', loops(shape)].filter(Boolean).join(', ');
const note = (s: LoopStep) => ('comment' in s && s.comment ? `    # ${s.comment}` : '');

function stepLines(s: LoopStep): string[] {
  const coords = (shape: readonly number[]) => COORDS.slice(0, shape.length);
  switch (s.kind) {
    case 'elementwise': {
      const c = coords(s.out.shape);
      const value = s.op === 'copy' ? read(s.args[0], 'b', c) : `${s.op}(${s.args.map((a) => read(a, 'b', a.shape.length ? c : [])).join(', ')})`;
      return [`elementwise ${over(s.out.bs !== 0, s.out.shape)}${s.unroll ? ' (unrolled)' : ''}${note(s)}`, `  ${read(s.out, 'b', c)} = ${value}`];
    }
    case 'gemm': {
      const op = (o: GemmOperand, u: string, v: string) => `${bufferName(o.buf)}[${affine(o.base, [[u, o.su], [v, o.sv]])}]`;
      const lines = [`gemm for p < ${affine(s.P)}, for q < ${s.Q}, sum k < ${affine(s.K)}${note(s)}`];
      const product = `${s.scaled ? 'scale * ' : ''}sum_k ${op(s.L, 'p', 'k')} * ${op(s.R, 'k', 'q')}`;
      if (s.epilogue) lines.push(`  product = ${product}`, `  ${read(s.epilogue.out, 'p', ['q'])} = ${read(s.epilogue.value, 'p', ['q'])}`);
      else lines.push(`  ${op(s.out, 'p', 'q')} ${s.accumulate ? '+=' : '='} ${product}`);
      return lines;
    }
    case 'contract': {
      const o = coords(s.out.shape), k = ['k', 'l'].slice(0, s.red.length);
      const product = s.factors.map((f) => read(f, 'b', [...o, ...k])).join(' * ');
      return [
        `${s.op} ${over(s.out.bs !== 0, s.out.shape)}${s.red.length ? `, sum ${s.red.map((n, d) => `${k[d]} < ${n}`).join(', ')}` : ''}${note(s)}`,
        `  ${read(s.out, 'b', o)} = ${s.red.length ? `sum ${product}` : product}`,
      ];
    }
    case 'place':
      return [
        `${s.op} ${over(s.out.bs !== 0, [])}${s.covered ? '' : ` (zero ${s.out.shape[0]} first)`}${note(s)}`,
        ...s.pieces.map((p) => `  ${read({ ...s.out, base: { ...s.out.base, offset: s.out.base.offset + p.at } }, 'b', p.arg.shape.length ? ['i'] : [])} = ${read(p.arg, 'b', p.arg.shape.length ? ['i'] : [])}${p.arg.shape.length ? `, for i < ${p.arg.shape[0]}` : ''}`),
      ];
    case 'shifted': {
      const c = coords(s.x.shape);
      return [
        `shifted ${over(s.x.bs !== 0, [])}: m = max, s = sum exp(x - m) over ${loops(s.x.shape)} of ${read(s.x, 'b', c)}${note(s)}`,
        ...s.outs.map((o) => `  ${o.op}: ${read(o.out, 'b', o.out.shape.length ? ['i'] : [])} from m, s${o.out.shape.length ? `, for i < ${o.out.shape[0]}` : ''}`),
      ];
    }
    case 'reduce': {
      const c = coords(s.target.shape);
      const sum = s.shared ? `scale * nb * ${read(s.value, '0', s.value.shape.length ? c : [])}` : `scale * sum_b ${read(s.value, 'b', s.value.shape.length ? c : [])}`;
      return [`reduce ${loops(s.target.shape)}${note(s)}`, `  ${read(s.target, '0', c)} += ${sum}`];
    }
    case 'gather': {
      const l = s.ids.shape.length ? ['l'] : [];
      return [`gather ${over(s.out.bs !== 0, s.ids.shape)}, for j < ${s.out.shape[s.out.shape.length - 1]}${note(s)}`, `  ${read(s.out, 'b', [...l, 'j'])} = ${read(s.table, 'b', ['id', 'j'])} where id = ${read(s.ids, 'b', l)}`];
    }
    case 'scatter': {
      const l = s.ids.shape.length ? ['l'] : [];
      const v = read(s.value, 'b', s.value.shape.length ? [...l, 'j'] : []);
      return [
        `scatter ${s.into === 'grad' ? 'into the touched rows, ' : '(zero first), '}for b < nb${l.length ? `, for l < ${s.ids.shape[0]}` : ''}, for j < ${s.target.shape[1]}${note(s)}`,
        `  ${read(s.target, s.into === 'grad' ? '0' : 'b', ['id', 'j'])} += ${s.into === 'grad' ? `scale * ${v}` : v} where id = ${read(s.ids, 'b', l)}${s.touch ? ' (row noted)' : ''}`,
      ];
    }
    case 'lossSum':
      return [`return sum_b ${read(s.value, 'b', [])}`];
    case 'cell':
      return [
        `cell for b < nb: ${s.reads.length} elements read, ${s.values.length} scalar ops${note(s)}`,
        ...[...new Set(s.writes.map((w) => w.to))].map((to) => {
          const add = s.writes.find((w) => w.to === to)!.add;
          return `  ${read(to, 'b', coords(to.shape))} ${add ? '+=' : '='} its element${to.shape.length ? `, ${loops(to.shape)}` : ''}`;
        }),
      ];
    case 'time':
      return [`${s.reverse ? `for t = ${s.to} down to ${s.from}` : `for t = ${s.from} to ${s.to}`}${note(s)}`, ...s.steps.flatMap(stepLines).map((l) => `  ${l}`)];
  }
}
