/**
 * The inspection tools on recurrences (inspect/recurrence.ts, throughTime.ts, cell.ts):
 * - golden outputs of `grad`, `grad --tex`, `explain` and `graph --format dot` (with and
 *   without --grad) for the CO2 recurrence, in test/golden-inspect/co2/;
 * - `grad` prints backpropagation through time in recurrence form, dloss/dh[t-1] from
 *   dloss/dh[t], for one state and for an LSTM's two (h and c), in text and LaTeX;
 * - `explain` shows the first and last steps and says exactly which it elided (--steps);
 *   its numbers are the gradients: dloss/dh[t] equals the hand-unrolled net's dloss/dh<t>
 *   (a second implementation: one definition per step), each parameter's sum over t
 *   equals the compiled module's gradient, and every step's adjoint equals the derived
 *   gradient's reverse scan (no note); truncated BPTT and a state read at a middle step too;
 * - `graph` draws the cell once (its size does not depend on T) with the recurrent edge,
 *   x[t] and the outputs.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import katex from 'katex';
import { describe, expect, it } from 'vitest';
import { co2Model, co2UnrolledModel } from '../examples/co2.model.js';
import { compile, defineModel } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { explain, formatWalkthrough } from '../src/inspect/explain.js';
import { formatFormulas, gradientFormulas } from '../src/inspect/formulas.js';
import { computationalGraph, toDot, toMermaid } from '../src/inspect/graph.js';
import { expectGolden } from './helpers/golden.js';
import { relativeError } from './helpers/numeric.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const cwd = process.cwd();
  if (cwd !== root) process.chdir(root);
  try {
    const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n') + '\n', err: err.join('\n') };
  } finally {
    if (cwd !== root) process.chdir(cwd);
  }
}

const series = (T: number) => Array.from({ length: T }, (_, i) => Math.round(1000 * Math.sin(i / 3)) / 1000);
const CO2_AT = `x=[${series(12).join(',')}],y=0.3`;

/** An LSTM cell (m.lstm: states h and c) with a scalar head. */
const lstm = (T: number) => defineModel('lstm', (m) => {
  m.input('x', [T, 2]);
  m.target('y');
  const r = m.lstm('x', 3, { name: 'cell' });
  m.param('v', { shape: [3], init: { kind: 'uniform', low: -0.5, high: 0.5 } });
  m.def('yhat', m.dot('v', r.last.h));
  m.loss('(yhat - y)^2');
}, { seed: 3 });

/** Two states written as formulas, the loss reading h at step 2 as well as at T. */
const twoStates = defineModel('hc', (m) => {
  m.input('x', [6, 2]);
  m.target('y');
  const u = { kind: 'uniform', low: -0.5, high: 0.5 } as const;
  m.param('W', { shape: [3, 2], init: u });
  m.param('U', { shape: [3, 3], init: u });
  m.param('A', { shape: [3, 3], init: u });
  m.param('v', { shape: [3], init: u });
  m.formulas(`
    h[0] = 0
    c[0] = 0
    c[t] = sigmoid(A * h[t-1]) .* c[t-1] + tanh(W * x[t])
    h[t] = tanh(U * h[t-1] + c[t-1])
    yhat = dot(v, h[T]) + sum(c[T]) + dot(v, h[2])
    loss = (yhat - y)^2
  `);
}, { seed: 3 });

const worst = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => relativeError(v, b[i])));

describe('golden outputs (CO2 as a recurrence, T = 12)', () => {
  it('co2: grad, grad --tex, explain, graph --format dot', async () => {
    const model = 'examples/co2.model.ts';
    const runs: [string, string[]][] = [
      ['grad.txt', ['grad', model]],
      ['grad.tex', ['grad', model, '--tex']],
      ['explain.txt', ['explain', model, '--at', CO2_AT, '--lr', '0.1']],
      ['graph.dot', ['graph', model, '--format', 'dot']],
      ['graph-grad.dot', ['graph', model, '--grad', '--format', 'dot']],
    ];
    for (const [file, argv] of runs) {
      const r = await cli(...argv);
      expect(r.err, argv.join(' ')).toBe('');
      expect(r.code).toBe(0);
      expectGolden(`test/golden-inspect/co2/${file}`, r.out);
    }
  }, 120_000);
});

describe('grad: backpropagation through time in recurrence form', () => {
  it('one state: the step, the seed dloss/dh[T], dloss/dh[t-1] from dloss/dh[t], each parameter as a sum over t', () => {
    const f = gradientFormulas(co2Model(50, 3));
    const text = formatFormulas(f);
    expect(text).toContain('# recurrence h: forward t = 1..50; backpropagation through time t = 50..1');
    expect(text).toMatch(/^h\[0\] +=/m);
    expect(text).toMatch(/^h\[t\] += tanh\(Wx \* x\[t\] \+ matmul\(Wh, h\[t-1\]\) \+ b\)$/m);
    expect(text).toMatch(/^dloss\/dh\[50\] += dloss\/dyhat \* v$/m);
    expect(text).toMatch(/^u1\[t\] += dloss\/dh\[t\] \.\* \(1 - h\[t\]\.\^2\)$/m);
    expect(text).toMatch(/^dloss\/dh\[t-1\] += matmul\(transpose\(Wh\), u1\[t\]\)$/m);
    expect(text).toMatch(/^dloss\/dWh +\= sum_t\(outer\(u1\[t\], h\[t-1\]\)\)$/m);
    const tex = formatFormulas(f, { tex: true });
    expect(tex).toContain('\\frac{\\partial \\mathrm{loss}}{\\partial h_{t-1}} = {\\mathrm{Wh}}^{\\top} \\, {u_{1}}_{t}');
    expect(tex).toContain('\\sum_{t=1}^{50}');
    for (const line of tex.split('\n').filter((l) => !l.startsWith('%'))) expect(() => katex.renderToString(line, { throwOnError: true })).not.toThrow();
  });

  it('an LSTM: dloss/dh[t-1] and dloss/dc[t-1], each from both dloss/dh[t] and dloss/dc[t]', () => {
    const f = gradientFormulas(lstm(6));
    const r = f.recurrences[0];
    expect(r.title).toBe('h, c');
    const line = (name: string) => r.lines.find((l) => l.name === name)!;
    expect(line('h[t]').text).toContain('tanh(c[t])');
    expect(line('c[t]').text).toContain('c[t-1]');
    expect(line('dloss/dh[6]').text).toBe('dloss/dyhat * v');
    expect(line('dloss/dc[6]').text).toBe('0[[3]]');
    const dh = line('dloss/dh[t-1]'), dc = line('dloss/dc[t-1]');
    expect(dh.text).toMatch(/^matmul\(cell_U, u\d+\[t\]\)$/);
    // dloss/dc[t-1] reads dloss/dc[t] and dloss/dh[t] (through a named step).
    const uses = (text: string): string => r.lines.filter((l) => text.includes(l.name) && /^u\d+\[t\]$/.test(l.name)).map((l) => uses(l.text) + l.text).join(' ') + text;
    expect(uses(dc.text)).toContain('dloss/dc[t]');
    expect(uses(dc.text)).toContain('dloss/dh[t]');
    expect(dh.tex).toContain('cell');
    expect(line('dloss/dh[t-1]').nameTex).toBe('\\frac{\\partial \\mathrm{loss}}{\\partial h_{t-1}}');
    expect(line('dloss/dc[t-1]').nameTex).toBe('\\frac{\\partial \\mathrm{loss}}{\\partial c_{t-1}}');
    expect(formatFormulas(f, { tex: true })).toContain('\\frac{\\partial \\mathrm{loss}}{\\partial c_{t-1}} =');
    expect(r.lines.map((l) => l.name)).toEqual(expect.arrayContaining(['dloss/dcell_W', 'dloss/dcell_U', 'dloss/dcell_b']));
  });

  it('two recurrences with states of one name are told apart (h_1, h_2)', () => {
    const two = defineModel('two', (m) => {
      m.input('x', 5);
      m.input('z', 4);
      m.target('y');
      const a = m.rnn('x', 2, 'tanh', { name: 'a' });
      const b = m.rnn('z', 2, 'tanh', { name: 'b' });
      m.def('yhat', m.add(m.sum(a.last.h), m.sum(b.last.h)));
      m.loss('(yhat - y)^2');
    }, { seed: 3 });
    const text = formatFormulas(gradientFormulas(two));
    expect(text).toMatch(/^dloss\/dh_1\[t-1\] += matmul\(a_U, u1\[t\]\)$/m);
    expect(text).toMatch(/^dloss\/dh_2\[t-1\] += matmul\(b_U, u1\[t\]\)$/m);
    const w = explain(two, { x: [1, 2, 3, 4, 5], z: [1, 0, 1, 0], y: 1 }, { steps: 1 });
    expect(formatWalkthrough(w)).toContain('5b. Through time: h_2 step by step');
    expect(w.notes.filter((n) => n.includes('please report'))).toEqual([]);
  });

  it('a state read at a middle step adds a direct term there', () => {
    const r = gradientFormulas(twoStates).recurrences[0];
    const direct = r.lines.find((l) => l.name === 'dloss/dh[2]')!;
    expect(direct.op).toBe('+=');
    // h[2] and h[T] receive the same adjoint node, named once among the model's gradients.
    expect(direct.text).toBe('dloss/dh');
    expect(formatFormulas(gradientFormulas(twoStates))).toMatch(/^dloss\/dh +\= dloss\/dyhat \* v$/m);
  });
});

describe('explain: the first and the last steps, with numbers', () => {
  it('T = 50: rows 0..2 and 48..50 forward, 50..48 and 2..0 backward, and the elided steps said exactly', () => {
    const w = explain(co2Model(50, 3), { x: series(50), y: 0.3 });
    const r = w.time[0];
    expect(r.forward.map((x) => x.t)).toEqual([0, 1, 2, 48, 49, 50]);
    expect(r.backward.map((x) => x.t)).toEqual([50, 49, 48, 2, 1, 0]);
    expect(r.forwardElided).toEqual({ from: 3, to: 47, count: 45 });
    const text = formatWalkthrough(w);
    expect(text).toContain('5. Through time: h step by step');
    expect(text).toContain('  ... steps 3..47 elided (45 steps)');
    expect(text).toContain('  ... steps 47..3 elided (45 steps)');
    expect(text).toMatch(/^ {2}dloss\/dh\[t-1\] += matmul\(transpose\(Wh\), u1\[t\]\)$/m);
    expect(text).not.toContain('Notes:'); // every check passed (no "please report this")
    const one = explain(co2Model(50, 3), { x: series(50), y: 0.3 }, { steps: 1 });
    expect(formatWalkthrough(one)).toContain('... steps 1..49 elided (49 steps)');
    const all = explain(co2Model(5, 3), { x: series(5), y: 0.3 });
    expect(all.time[0].forward.map((x) => x.t)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(formatWalkthrough(all)).not.toContain('elided');
  });

  it('dloss/dh[t] equals the hand-unrolled net\'s dloss/dh<t>; each sum over t equals the compiled gradient', () => {
    const T = 9, H = 3;
    const at = { x: series(T).map((v, i) => v + 0.1 * i), y: 0.7 };
    const w = explain(co2Model(T, H), at, { steps: T });
    const hand = explain(co2UnrolledModel(T, H), at);
    const r = w.time[0];
    expect(r.backward.map((x) => x.t)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    for (const row of r.backward) {
      if (row.t === 0) continue;
      const want = hand.backward.find((b) => b.name === `dloss/dh${row.t}`)!.value;
      expect(worst(row.values[0], want), `dloss/dh[${row.t}]`).toBeLessThanOrEqual(1e-12);
    }
    for (const row of r.forward) if (row.t > 0) expect(worst(row.values[0], hand.forward.find((f) => f.name === `h${row.t}`)!.value)).toBeLessThanOrEqual(1e-12);
    const mod = compile(co2Model(T, H));
    const g = mod.gradient(mod.initParams(), { x: Float64Array.from(at.x) }, { y: at.y }).grad;
    for (const s of r.sums) expect(worst(s.value, Array.from(g[s.param] as ArrayLike<number>)), s.param).toBeLessThanOrEqual(1e-12);
    expect(w.notes.filter((n) => n.includes('please report'))).toEqual([]);
  });

  it('two states, one read at a middle step: the adjoints equal the derived gradient\'s loop (no note)', () => {
    const w = explain(twoStates, { x: [[1, 2], [3, 4], [0.5, 0.1], [0.2, -1], [0, 1], [1, 1]], y: 0.3 }, { steps: 2 });
    const r = w.time[0];
    expect(r.states.map((s) => s.name)).toEqual(['h', 'c']);
    expect(formatWalkthrough(w)).toContain('... steps 4..2 elided (3 steps)');
    expect(w.notes.filter((n) => n.includes('please report'))).toEqual([]);
    // Each parameter reached only through the recurrence: its sum over t is its gradient.
    for (const s of r.sums) expect(worst(s.value, w.update.find((u) => u.param === s.param)!.gradient)).toBeLessThanOrEqual(1e-12);
  });

  it('an LSTM and truncated BPTT: the backward walk stops where the gradient stops', () => {
    const trunc = defineModel('trunc', (m) => {
      m.input('x', 20);
      m.target('y');
      const r = m.rnn('x', 3, 'tanh', { name: 'cell', truncate: 4 });
      m.param('v', { shape: [3], init: 0.3 });
      m.def('yhat', m.dot('v', r.last.h));
      m.loss('(yhat - y)^2');
    }, { seed: 2 });
    const w = explain(trunc, { x: series(20), y: 1 });
    const r = w.time[0];
    expect(r.first).toBe(17);
    expect(r.backward.map((x) => x.t)).toEqual([20, 19, 18, 17, 16]);
    expect(formatWalkthrough(w)).toContain('truncated: the gradient flows through steps 17..20 only');
    expect(w.notes.filter((n) => n.includes('please report'))).toEqual([]);
    const l = explain(lstm(8), { x: Array.from({ length: 8 }, (_, i) => [Math.sin(i), Math.cos(i)]), y: 0.2 }, { steps: 2 });
    expect(l.time[0].states.map((s) => s.name)).toEqual(['h', 'c']);
    expect(formatWalkthrough(l)).toContain('... steps 2..6 elided (5 steps)');
    expect(l.notes.filter((n) => n.includes('please report'))).toEqual([]);
    for (const s of l.time[0].sums) expect(worst(s.value, l.update.find((u) => u.param === s.param)!.gradient)).toBeLessThanOrEqual(1e-12);
  });

  it('a loss reading the whole history: every step adds its row of the adjoint, and the numbers still equal the derived loop', () => {
    const hist = defineModel('hist', (m) => {
      m.input('x', 7);
      m.target('y');
      const r = m.rnn('x', 2, 'tanh', { name: 'cell' });
      m.def('yhat', m.sum(r.history));
      m.loss('(yhat - y)^2');
    }, { seed: 3 });
    const w = explain(hist, { x: [1, 2, 3, 4, 5, 6, 7], y: 1 }, { steps: 2 });
    expect(w.time[0].directLines.map((l) => `${l.name} ${l.op}`)).toEqual(['dloss/dh[t-1] +=']);
    expect(w.notes.filter((n) => n.includes('please report'))).toEqual([]);
    for (const s of w.time[0].sums) expect(worst(s.value, w.update.find((u) => u.param === s.param)!.gradient)).toBeLessThanOrEqual(1e-12);
  });

  it('--steps must be a positive integer', async () => {
    const r = await cli('explain', 'examples/co2.model.ts', '--at', CO2_AT, '--steps', '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--steps must be a positive integer/);
    const ok = await cli('explain', 'examples/co2.model.ts', '--at', CO2_AT, '--steps', '1');
    expect(ok.out).toContain('... steps 1..11 elided (11 steps)');
  });
});

describe('graph: the cell once, with its recurrent edge', () => {
  it('draws x[t], h[t-1], h[t], the back edge h[t] -> h[t-1] labelled, and h[T] to its readers; the same nodes for T = 5 and 500', () => {
    const g5 = computationalGraph(co2Model(5, 3)), g500 = computationalGraph(co2Model(500, 3));
    expect(g500.nodes.length).toBe(g5.nodes.length);
    const dot = toDot(g500);
    expect(dot).toContain('subgraph cluster_r0 {');
    expect(dot).toContain('label="recurrence h: step t = 1..500, drawn once (T = 500)"');
    expect(dot).toMatch(/r0_\d+ \[label="x\[t\]\\nrow · scalar"/);
    expect(dot).toMatch(/r0_\d+ \[label="h\[t-1\]\\ncarry · \[3\]"/);
    expect(dot).toMatch(/r0_\d+ \[label="h\[t\]\\ntanh · \[3\]"/);
    const back = g500.edges.filter((e) => e.kind === 'recurrent');
    expect(back).toHaveLength(1);
    expect(back[0].label).toBe('h[t] is h[t-1] of step t+1');
    expect(dot).toMatch(/r0_\d+ -> r0_0 \[style=bold, color="#16a34a", fontcolor="#16a34a", constraint=false, label="h\[t\] is h\[t-1\] of step t\+1"/);
    expect(g500.edges.some((e) => e.label === 'h[T]')).toBe(true);
    expect(g500.edges.some((e) => e.label === 'h[0]')).toBe(true);
    expect(toMermaid(g500)).toContain('==>|"h[t] is h[t-1] of step t+1"|');
  });

  it('an LSTM: the carry split into h[t-1] and c[t-1], joined from h[t] and c[t]; --grad draws the backward loop as a cell too', () => {
    const g = computationalGraph(lstm(6), { grad: true });
    const lines = g.nodes.filter((n) => n.cluster === 'r0').map((n) => n.lines[0]);
    expect(lines).toEqual(expect.arrayContaining(['(h, c)[t-1]', 'h[t-1]', 'c[t-1]', 'h[t]', 'c[t]', '(h, c)[t]']));
    expect(g.clusters.map((c) => c.label)).toEqual(expect.arrayContaining([expect.stringMatching(/^backpropagation through time: step t = 6\.\.1/)]));
    const back = g.edges.filter((e) => e.kind === 'recurrent').map((e) => e.label);
    expect(back).toEqual(['(h, c)[t] is (h, c)[t-1] of step t+1', 'dloss/d(h, c)[t-1] is dloss/d(h, c)[t] of step t-1']);
  });
});

describe('a recurrence with lengths', () => {
  it('shows the step counter as t-1, renders in LaTeX, and no stand-in name leaks', () => {
    const m = defineModel('lens', (b) => {
      b.input('x', [4, 2]);
      b.lengthInput('len', 'x');
      b.target('y');
      const r = b.rnn('x', 3, 'tanh', { name: 'cell' });
      b.def('yhat', b.sum(r.last.h));
      b.loss('(yhat - y)^2');
    }, { seed: 2 });
    const f = gradientFormulas(m);
    const text = formatFormulas(f);
    expect(text).toMatch(/^h\[t\] += select\(gt\(len, t-1\), /m);
    expect(text).not.toMatch(/#(dloss|h|steps|x)\b/); // stand-in leaves ('#' names) never printed
    for (const r of f.recurrences) for (const l of r.lines) katex.renderToString(l.tex, { throwOnError: true });
  });
});
