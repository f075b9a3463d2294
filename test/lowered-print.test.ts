/**
 * The lowered-program printer (src/5-lower/print.ts): DEBUG=2 prints the program after
 * lowering, in both forms, naming the buffers, the loops and the user's labels; the
 * text is deterministic and empty of output below DEBUG=2.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineModel, generate } from '../src/index.js';
import { printProgram } from '../src/5-lower/print.js';

const mlp = defineModel('printed', (m) => {
  const x = m.input('x', 6);
  const y = m.target('y', 3);
  const out = m.mlp(x, [20, 3], 'tanh');
  m.loss(m.call('cross_entropy', out, y));
});

/** What `generate` writes to stderr under DEBUG=`level`. */
function stderrOf(level: string, run: () => void): string {
  const saved = process.env.DEBUG;
  process.env.DEBUG = level;
  let text = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { text += String(chunk); return true; });
  try { run(); } finally { spy.mockRestore(); if (saved === undefined) delete process.env.DEBUG; else process.env.DEBUG = saved; }
  return text;
}

describe('DEBUG=2 prints the lowered program', () => {
  afterEach(() => vi.restoreAllMocks());

  it('looped: buffers with their sizes, each kernel, its loops and index math, and the labels', () => {
    const err = stderrOf('2', () => generate(mlp, { lowering: 'loops' }));
    const text = err.slice(err.indexOf('===== gradc: after lower ====='));
    expect(text).toContain('lowering: loops (rows per call: 64)');
    expect(text).toMatch(/buffers:\n {2}\$v_layer1_a: 1280 numbers, 20 per sample \(tanh, shape \[20\]\)/);
    for (const k of ['forwardRows', 'lossRows', 'gradientRows']) expect(text).toMatch(new RegExp(`kernel ${k} \\(\\d+ steps\\)`));
    expect(text).toContain('gemm for p < nb, for q < 20, sum k < 6');
    expect(text).toContain('input[inputRow + 6*p + k] * param layer1_W[k + 6*q]');
    expect(text).toMatch(/shifted for b < nb: m = max, s = sum exp\(x - m\) over for i < 3 of \$v_layer2_z\[3\*b \+ i\]/);
    expect(text).toContain('grad layer1_W[6*p + q] += scale * sum_k');
    expect(text).toContain('return sum_b $v_loss[b]');
  });

  it('unrolled: one line per instruction, with the forward statement each backward one differentiates', () => {
    const xor = defineModel({ name: 'tiny', inputs: ['x'], targets: ['y'], params: { w: 0.5, b: 0 }, formulas: 'yhat = tanh(w * x + b)\nloss = (yhat - y)^2' });
    const err = stderrOf('2', () => generate(xor));
    const text = err.slice(err.indexOf('===== gradc: after lower ====='));
    expect(text).toContain('lowering: unrolled');
    for (const k of ['forward', 'loss', 'gradient', 'step']) expect(text).toMatch(new RegExp(`kernel ${k} \\(\\d+ instructions\\)`));
    expect(text).toContain('  load  w = param w');
    expect(text).toMatch(/ {2}op {4}yhat = tanh\(\w+\)/);
    expect(text).toMatch(/# grad of: loss = /);
    expect(text).toMatch(/store grad w \+= scale \* \w+/);
    expect(text).toMatch(/store param w = w - lr \* \w+/);
  });

  it('is deterministic, and silent below DEBUG=2', () => {
    expect(printProgram(generate(mlp, { lowering: 'loops' }).program)).toBe(printProgram(generate(mlp, { lowering: 'loops' }).program));
    expect(stderrOf('1', () => generate(mlp, { lowering: 'loops' }))).not.toContain('after lower');
    expect(stderrOf('0', () => generate(mlp, { lowering: 'loops' }))).toBe('');
  });
});
