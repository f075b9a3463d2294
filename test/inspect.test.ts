/**
 * The inspection tools (src/inspect, `gradc grad | explain | graph | report`):
 * - golden outputs of `grad`, `grad --tex`, `explain` and `graph --format dot` (with and
 *   without --grad) for the three teaching examples, in test/golden-inspect/<example>/;
 *   `UPDATE_GOLDEN=1 npm test` rewrites them;
 * - the linear-regression walkthrough, number by number;
 * - every printed formula means what the derived gradient means: the text (step names
 *   substituted in order) evaluated by mathjs equals the interpreter's gradient;
 * - the LaTeX of every example renders with KaTeX, throwOnError on;
 * - initial values equal the generated module's initParams();
 * - tensor models: shapes, elided values, gradients equal to the derived ones;
 * - bad input: GradcErrors naming the symbol and the expected shape; exit 1, no stack.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import katex from 'katex';
import { evaluate as mathEval } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { compile, defineModel, generate, GradcError } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { loadModelFile } from '../src/cli/modelFile.js';
import { interpret } from '../src/index.js';
import { inspectModel } from '../src/inspect/derived.js';
import { explain, formatWalkthrough } from '../src/inspect/explain.js';
import { formatFormulas, gradientFormulas } from '../src/inspect/formulas.js';
import { computationalGraph, toDot, toMermaid, toSvg } from '../src/inspect/graph.js';
import { report } from '../src/inspect/report.js';
import { initialValues, resolveSample, showValue } from '../src/inspect/sample.js';
import { tex } from '../src/inspect/tex.js';
import { sampleEnv } from '../src/inspect/sample.js';
import { expectGolden } from './helpers/golden.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs the CLI in process, from the repository root (so paths print as `examples/...`). */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const cwd = process.cwd();
  if (cwd !== root) process.chdir(root); // (only when needed: worker threads cannot chdir)
  try {
    const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n') + '\n', err: err.join('\n') };
  } finally {
    if (cwd !== root) process.chdir(cwd);
  }
}

const SAMPLES: Record<string, string> = {
  linreg: 'x=1,y=2,w=1',
  student: 'cgpa=1,iq=0.5,package=10',
  xor: 'x1=1,x2=0,y=1',
};

describe('golden outputs', () => {
  for (const [name, at] of Object.entries(SAMPLES)) {
    const model = `examples/${name}.model.ts`;
    it(`${name}: grad, grad --tex, explain, graph --format dot`, async () => {
      const runs: [string, string[]][] = [
        ['grad.txt', ['grad', model]],
        ['grad.tex', ['grad', model, '--tex']],
        ['explain.txt', ['explain', model, '--at', at, '--lr', '0.1']],
        ['graph.dot', ['graph', model, '--format', 'dot']],
        ['graph-grad.dot', ['graph', model, '--grad', '--at', at, '--format', 'dot']],
      ];
      for (const [file, argv] of runs) {
        const r = await cli(...argv);
        expect(r.err, argv.join(' ')).toBe('');
        expect(r.code).toBe(0);
        expectGolden(`test/golden-inspect/${name}/${file}`, r.out);
      }
    });
  }
});

describe('the linear-regression walkthrough', () => {
  it('has the numbers of the tutorial, one by one', async () => {
    const { model } = await loadModelFile(join(root, 'examples/linreg.model.ts'));
    const w = explain(model, 'x=1,y=2,w=1', { lr: 0.1 });
    const fwd = (n: string) => w.forward.find((r) => r.name === n)!.value[0];
    expect(fwd('yhat')).toBe(1);
    expect(fwd('s')).toBe(-1);
    expect(fwd('loss')).toBe(1);
    const local = (n: string) => w.local.find((r) => r.name === n)!;
    expect(local('dloss/ds').text).toBe('2 * s');
    expect(local('dloss/ds').value![0]).toBe(-2);
    expect(local('ds/dyhat').text).toBe('1');
    expect(local('ds/dyhat').value![0]).toBe(1);
    expect(local('dyhat/dw').text).toBe('x');
    expect(local('dyhat/dw').value![0]).toBe(1);
    expect(w.local.map((r) => r.name)).toEqual(['dloss/ds', 'ds/dyhat', 'dyhat/dw']);
    const back = (n: string) => w.backward.find((r) => r.name === n)!;
    expect(back('dloss/ds').value[0]).toBe(-2);
    expect(back('dloss/dyhat').text).toBe('dloss/ds * ds/dyhat');
    expect(back('dloss/dyhat').numbers).toBe('-2 * 1');
    expect(back('dloss/dyhat').value[0]).toBe(-2);
    expect(back('dloss/dw').text).toBe('dloss/dyhat * dyhat/dw');
    expect(back('dloss/dw').value[0]).toBe(-2);
    expect(w.backward.map((r) => r.name)).toEqual(['dloss/ds', 'dloss/dyhat', 'dloss/dw']);
    expect(w.update).toHaveLength(1);
    expect(w.update[0].param).toBe('w');
    expect(w.update[0].old[0]).toBe(1);
    expect(w.update[0].gradient[0]).toBe(-2);
    expect(w.update[0].updated[0]).toBeCloseTo(1.2, 15);
    expect(w.notes).toEqual([]);
  });

  it('prints dloss/dw = 2 * s * x', async () => {
    const { model } = await loadModelFile(join(root, 'examples/linreg.model.ts'));
    const f = gradientFormulas(model);
    expect(f.gradients.map((g) => `${g.name} = ${g.text}`)).toEqual(['dloss/dw = 2 * s * x']);
    expect(f.steps).toEqual([]);
  });
});

/** mathjs scope for gradc's functions that mathjs lacks. */
const FNS = {
  sigmoid: (x: number) => 1 / (1 + Math.exp(-x)),
  softplus: (x: number) => Math.log1p(Math.exp(x)),
  square: (x: number) => x * x,
  relu: (x: number) => Math.max(x, 0),
};

describe('printed formulas mean the derived gradients', () => {
  for (const name of Object.keys(SAMPLES)) {
    it(`${name}: steps substituted in order give the interpreter's gradient`, async () => {
      const { model } = await loadModelFile(join(root, `examples/${name}.model.ts`));
      const ins = inspectModel(model);
      const sample = resolveSample(ins.derived.model, SAMPLES[name]);
      const env = sampleEnv(sample);
      const scope: Record<string, unknown> = { ...FNS };
      for (const s of sample) scope[s.name] = s.value[0];
      const w = explain(ins, SAMPLES[name]);
      for (const r of w.forward) scope[r.name] = r.value[0];
      const f = gradientFormulas(ins);
      const ident = new Map<string, string>();
      const subst = (t: string) => [...ident].reduce((acc, [n, id]) => acc.split(n).join(id), t);
      const values = new Map<string, number>();
      f.lines.forEach((l, i) => {
        const v = mathEval(subst(l.text), scope) as number;
        ident.set(l.name, `__step${i}`);
        scope[`__step${i}`] = v;
        values.set(l.name, v);
      });
      const exact = interpret(ins.derived.grads, env);
      f.gradients.forEach((g) => {
        const i = ins.derived.model.params.findIndex((p) => p.name === g.param);
        const want = exact.get(ins.derived.grads[i])![0];
        expect(values.get(g.name)).toBeCloseTo(want, 12);
        expect(mathEval(g.expanded, scope) as number).toBeCloseTo(want, 12);
        // and the walkthrough's chain rule agrees
        expect(w.backward.find((b) => b.name === g.name)?.value[0] ?? 0).toBeCloseTo(want, 12);
      });
    });
  }

  it('names the factor XOR gradients share as dloss/dz, and uses it', async () => {
    const { model } = await loadModelFile(join(root, 'examples/xor.model.ts'));
    const f = gradientFormulas(model);
    const z = f.steps.find((s) => s.name === 'dloss/dz')!;
    expect(z.text).toBe('(1 - y) * yhat - y * sigmoid(-z)');
    expect(f.gradients.find((g) => g.param === 'v1')!.text).toBe('dloss/dz * h1');
    expect(f.gradients.find((g) => g.param === 'c')!.text).toBe('dloss/dz');
    expect(f.gradients.every((g) => !g.text.includes('sigmoid(-z)') || g.param === 'c')).toBe(true);
  });

  it('--wrt keeps only the parameters asked for', async () => {
    const { model } = await loadModelFile(join(root, 'examples/xor.model.ts'));
    expect(gradientFormulas(model, { wrt: ['v1'] }).lines.map((l) => `${l.name} = ${l.text}`)).toEqual(['dloss/dv1 = ((1 - y) * yhat - y * sigmoid(-z)) * h1']);
  });
});

describe('LaTeX', () => {
  const render = (t: string) => katex.renderToString(t, { throwOnError: true });
  const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.model.ts')).sort();

  it('finds the examples', () => expect(examples).toEqual(expect.arrayContaining(['linreg.model.ts', 'student.model.ts', 'xor.model.ts'])));

  for (const file of examples) {
    it(`${file}: every formula renders with KaTeX`, async () => {
      const { model } = await loadModelFile(join(root, 'examples', file));
      const ins = inspectModel(model);
      const f = gradientFormulas(ins);
      for (const l of f.lines) expect(() => render(`${l.nameTex} = ${l.tex}`), l.tex).not.toThrow();
      for (const g of f.gradients) expect(() => render(g.expandedTex), g.expandedTex).not.toThrow();
      for (const d of ins.original.defs) expect(() => render(tex(d.node, ins.original.labels))).not.toThrow();
    });
  }

  it('walkthrough formulas render too', async () => {
    for (const [name, at] of Object.entries(SAMPLES)) {
      const { model } = await loadModelFile(join(root, `examples/${name}.model.ts`));
      const w = explain(model, at);
      for (const r of [...w.forward.filter((x) => x.kind === 'definition'), ...w.local, ...w.backward]) expect(() => render(r.tex), r.tex).not.toThrow();
      for (const r of [...w.local, ...w.backward]) expect(() => render(r.nameTex)).not.toThrow();
    }
  });

  it('covers every op (selects, comparisons, powers, tensors) without errors', () => {
    const m = defineModel('ops', (b) => {
      b.input('x');
      b.input('v', 3);
      b.target('y');
      b.param('w', 0.5);
      b.param('alpha1', 1);
      b.param('M', { shape: [2, 3], init: 0.1 });
      b.def('u', 'relu(w * x) + max(w, x) + abs(x) ^ w + sqrt(exp(w)) + sign(x) + min(w, 2) + sin(w) * cos(w) / tanh(alpha1)');
      b.def('q', 'sum(softmax(M * v)) + logsumexp(v) + dot(v, v) + sum(log_softmax(v)) + sum(transpose(M) * (M * v)) + v[2]');
      b.loss('(u + q - y)^2 + softplus(-w)');
    });
    const ins = inspectModel(m);
    const f = gradientFormulas(ins);
    for (const l of f.lines) expect(() => render(`${l.nameTex} = ${l.tex}`), l.tex).not.toThrow();
    for (const d of ins.original.defs) expect(() => render(tex(d.node, ins.original.labels))).not.toThrow();
  });
});

describe('samples and initial values', () => {
  it('random initial values equal the generated module\'s initParams()', async () => {
    const { model } = await loadModelFile(join(root, 'examples/xor.model.ts'));
    const mod = compile(model);
    const want = mod.initParams() as unknown as Record<string, number>;
    const got = initialValues(model);
    for (const p of model.params) expect(got.get(p.name)![0]).toBe(want[p.name]);
  });

  it('tensor initializers (glorot, he, normal) too', () => {
    const m = defineModel('inits', (b) => {
      const x = b.input('x', 3);
      b.target('y');
      b.param('A', { shape: [2, 3], init: 'glorot' });
      b.param('B', { shape: [2, 3], init: 'he' });
      b.param('c', { shape: [2], init: { kind: 'normal', std: 0.5 } });
      b.param('d', { shape: [2], init: [1, 2] });
      b.loss(b.sub(b.call('sum', b.add(b.add(b.matmul('A', x), b.matmul('B', x)), b.add('c', 'd'))), 'y'));
    }, { seed: 11 });
    const mod = compile(m);
    const want = mod.initParams() as unknown as Record<string, Float64Array>;
    const got = initialValues(inspectModel(m).original);
    for (const k of ['A', 'B', 'c', 'd']) expect(Array.from(got.get(k)!)).toEqual(Array.from(want[k]));
  });

  it('shows large values with what it left out', () => {
    expect(showValue(Float64Array.of(1.23456789), [])).toBe('1.23457');
    expect(showValue(Float64Array.from({ length: 10 }, (_, i) => i), [10])).toBe('[0, 1, 2, 3, 4, 5, …] (4 of 10 not shown)');
    expect(showValue(Float64Array.from({ length: 20 }, (_, i) => i), [4, 5])).toBe('[[0, 1, 2, 3, …], [5, 6, 7, 8, …], [10, 11, 12, 13, …], …] ([4x5], showing 3x4)');
    expect(showValue(Float64Array.of(1, 2, 3, 4), [2, 2])).toBe('[[1, 2], [3, 4]]');
  });
});

describe('tensor models', () => {
  const mlp = defineModel('tiny_mlp', (m) => {
    const x = m.input('x', 8);
    m.target('y', 2);
    const h = m.dense(x, 3, 'tanh', { name: 'hidden' });
    const o = m.dense(h, 2, 'linear', { name: 'out' });
    m.def('err', m.sub(o, 'y'));
    m.loss('sum(err .* err)');
  }, { seed: 5 });
  const at = { x: [1, 2, 3, 4, 5, 6, 7, 8], y: [0.5, -1] };

  it('explain shows shapes, elides long values, and its chain rule gives the derived gradients', () => {
    const ins = inspectModel(mlp);
    const w = explain(ins, at);
    expect(w.notes.filter((n) => n.includes('please report'))).toEqual([]);
    const exact = interpret(ins.derived.grads, sampleEnv(resolveSample(ins.derived.model, at)));
    ins.derived.model.params.forEach((p, i) => {
      const got = w.update.find((u) => u.param === p.name)!.gradient;
      const want = exact.get(ins.derived.grads[i])!;
      Array.from(want).forEach((v, k) => expect(got[k]).toBeCloseTo(v, 12));
    });
    const local = w.local.find((r) => r.name === 'dhidden_z/dhidden_W')!;
    expect(local.value).toBeNull();
    expect(local.jacobian).toBe('[3] by [3x8]');
    expect(local.text).toBe('dloss/dhidden_z ↦ outer(dloss/dhidden_z, x)');
    const t = formatWalkthrough(w);
    expect(t).toContain('(2 of 8 not shown)');
    expect(t).toContain('([3x8], showing 3x4)');
  });

  it('grad names each layer\'s adjoint once, after the node whose consumer created it (err, not out_z which shares it)', () => {
    const f = gradientFormulas(mlp);
    expect(f.lines.map((l) => `${l.name} = ${l.text}`)).toEqual([
      'dloss/derr = 2 * err',
      'dloss/dhidden_z = matmul(transpose(out_W), dloss/derr) .* (1 - hidden_a.^2)',
      'dloss/dhidden_W = outer(dloss/dhidden_z, x)',
      'dloss/dhidden_b = dloss/dhidden_z',
      'dloss/dout_W = outer(dloss/derr, hidden_a)',
      'dloss/dout_b = dloss/derr',
    ]);
  });

  it('graph labels nodes with shapes, in DOT and Mermaid', () => {
    const g = computationalGraph(mlp, { grad: true, at });
    const dot = toDot(g);
    expect(dot).toContain('hidden_W\\nparam · [3x8]');
    expect(toMermaid(g)).toContain('hidden_W<br/>param · [3x8]');
  });
});

describe('graph pictures', () => {
  it('SVG is drawn by Graphviz, the same bytes twice', async () => {
    const { model } = await loadModelFile(join(root, 'examples/linreg.model.ts'));
    const g = computationalGraph(model, { grad: true, at: 'x=1,y=2' });
    const a = await toSvg(g);
    const b = await toSvg(computationalGraph(model, { grad: true, at: 'x=1,y=2' }));
    expect(a).toBe(b);
    expect(a).toContain('<svg');
    expect(a).toContain('dloss/dw');
  });

  it('graph -o picks the format from the extension; mermaid prints text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradc-graph-'));
    const r = await cli('graph', 'examples/linreg.model.ts', '--grad', '-o', join(dir, 'g.svg'));
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'g.svg'), 'utf8')).toContain('<svg');
    const m = await cli('graph', 'examples/linreg.model.ts', '--format', 'mermaid');
    expect(m.out.startsWith('flowchart LR')).toBe(true);
  });

  it('report is one page with typeset formulas, the graph and the tables', async () => {
    const { model } = await loadModelFile(join(root, 'examples/linreg.model.ts'));
    const page = await report(model, { at: 'x=1,y=2', fonts: false });
    expect(page).not.toContain('katex-error');
    expect(page).toContain('<figure class="graph">\n<svg');
    expect(page).toContain('<h3>3. Backward pass (chain rule)</h3>');
    expect(page).not.toMatch(/<script|<link|https?:\/\/(?!www\.w3\.org)/);
  });
});

describe('bad input', () => {
  const fails = async (argv: string[], message: RegExp) => {
    const r = await cli(...argv);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  };

  it('unknown names after --wrt', () => fails(['grad', 'examples/xor.model.ts', '--wrt', 'w99'], /unknown parameter 'w99' \(parameters: w11, w12/));
  it('a non-parameter after --wrt', () => fails(['grad', 'examples/xor.model.ts', '--wrt', 'x1'], /'x1' is an input, not a parameter/));
  it('unknown names after --at', () => fails(['explain', 'examples/linreg.model.ts', '--at', 'x=1,y=2,q=3'], /unknown name 'q'; inputs: x; targets: y; parameters: w/));
  it('a computed name after --at', () => fails(['explain', 'examples/linreg.model.ts', '--at', 'x=1,y=2,yhat=3'], /'yhat' is computed by the model/));
  it('missing values in --at', () => fails(['explain', 'examples/linreg.model.ts', '--at', 'x=1'], /no value for target 'y' \(expected a scalar/));
  it('no --at', () => fails(['explain', 'examples/linreg.model.ts'], /--at is required/));
  it('values of the wrong shape', () => fails(['explain', 'examples/linreg.model.ts', '--at', 'x=[1,2],y=2'], /input 'x' expects a scalar \(one number\), got shape \[2\]/));
  it('not a number', () => fails(['explain', 'examples/linreg.model.ts', '--at', 'x=one,y=2'], /the value of 'x' is not a number: 'one'/));
  it('a bad --lr', () => fails(['explain', 'examples/linreg.model.ts', '--at', 'x=1,y=2', '--lr', 'fast'], /--lr must be a number/));
  it('a bad --format', () => fails(['graph', 'examples/linreg.model.ts', '--format', 'png'], /unknown --format 'png'/));

  it('tensor shapes are checked and named', () => {
    const m = defineModel('vec', (b) => {
      const x = b.input('x', 3);
      b.target('y');
      b.param('W', { shape: [2, 3], init: 0.1 });
      b.loss(b.sub(b.call('sum', b.matmul('W', x)), 'y'));
    });
    const model = inspectModel(m).original;
    expect(() => resolveSample(model, 'x=[1,2],y=1')).toThrow(/input 'x' expects shape \[3\] \(3 values\), got shape \[2\]/);
    expect(() => resolveSample(model, 'x=[1,2,3],y=1,W=[[1,2],[3,4],[5,6]]')).toThrow(/parameter 'W' expects shape \[2x3\] \(6 values\), got shape \[3x2\]/);
    expect(resolveSample(model, 'x=[1,2,3],y=1,W=[[1,2,3],[4,5,6]]').find((s) => s.name === 'W')!.value).toEqual(Float64Array.of(1, 2, 3, 4, 5, 6));
    expect(resolveSample(model, 'x=[1,2,3],y=1,W=[1,2,3,4,5,6]').find((s) => s.name === 'W')!.from).toBe('given');
    try {
      resolveSample(model, 'x=[1,2],y=1');
    } catch (e) {
      expect(e).toBeInstanceOf(GradcError);
      expect((e as GradcError).where.symbol).toBe('x');
    }
  });
});

describe('the generated module documents the same formulas', () => {
  for (const name of ['linreg', 'student', 'xor']) {
    it(`${name}: gradient's doc comment has every line gradc grad prints`, async () => {
      const def = (await import(`../examples/${name}.model.ts`)).default;
      const { code } = generate(def);
      const doc = code.slice(code.indexOf('/**\n * The loss of one sample and dloss/dp'), code.indexOf('export function gradient('));
      const lines = formatFormulas(gradientFormulas(def)).split('\n');
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(doc).toContain(` *   ${l}\n`);
    });
  }
});
