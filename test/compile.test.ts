/**
 * Compile and load time (issue 11): `compile()` loads JavaScript the emitter writes
 * directly, and each straight-line pass is emitted once.
 *
 * 1. Same program: for every example, the test corpus, and the options that change what
 *    is emitted (both lowerings, f32, a kernel split into parts and shared between `loss`
 *    and `gradient`), the JavaScript that `compile()` loads is, token for token (comments
 *    and whitespace aside), the TypeScript compiler's output for the TypeScript text
 *    `gradc build` writes; and the two, loaded, give bit-identical losses and gradients.
 * 2. One copy of each pass: a tanh chain longer than chunkSize holds the forward pass
 *    twice (`forward`, and the pass `loss` and `gradient` share) and the backward pass
 *    once, so the code is at most two copies of the straight-line gradient pass and
 *    grows linearly with the chain. (Times are in bench/compile.ts, never asserted here.)
 * 3. Separate loads: two loads of the same module text run two different texts through
 *    `new Function` (SEPARATE_LOADS in src/load/loader.ts: V8 would otherwise share type
 *    feedback between them; measured in bench/sameSource.ts), and train alike.
 */
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { compile, defineModel, generate } from '../src/index.js';
import { generateJavaScript, type GenerateOptions } from '../src/pipeline.js';
import { loadModule, runModule } from '../src/load/loader.js';
import type { ModelDefinition } from '../src/2-build/define.js';
import { CORPUS, type NamedModel, exampleModels, randomValues } from './helpers/models.js';
import { mulberry32 } from '../src/rng.js';
import { readFileSync } from 'node:fs';
import { runtimeJsModule } from '../scripts/runtimeJs.js';

/** The tokens of an ES module, comments and whitespace left out (template literals rescanned at each `}`). */
function tokens(js: string): string[] {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, js);
  const out: string[] = [];
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  for (let k = scanner.scan(); k !== ts.SyntaxKind.EndOfFileToken; k = scanner.scan()) {
    if (k === ts.SyntaxKind.OpenBraceToken) depth++;
    else if (k === ts.SyntaxKind.CloseBraceToken) {
      if (templates.length && templates[templates.length - 1] === depth) {
        k = scanner.reScanTemplateToken(false);
        templates.pop();
      } else depth--;
    }
    if (k === ts.SyntaxKind.TemplateHead || k === ts.SyntaxKind.TemplateMiddle) templates.push(depth);
    out.push(scanner.getTokenText());
  }
  return out;
}

/** The TypeScript compiler's JavaScript for a generated module (ES2022, as `gradc build --emit js` targets). */
const stripped = (code: string): string =>
  ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 } }).outputText;

function expectSameProgram(def: ModelDefinition, options: GenerateOptions, label: string): void {
  const code = generate(def, options).code;
  const js = generateJavaScript(def, options);
  const a = tokens(stripped(code)), b = tokens(js);
  const at = a.findIndex((t, i) => t !== b[i]);
  if (at >= 0 || a.length !== b.length) {
    const k = at >= 0 ? at : Math.min(a.length, b.length);
    throw new Error(`${label}: the JavaScript differs from the compiled TypeScript at token ${k}: ${a.slice(Math.max(0, k - 12), k + 8).join(' ')}  vs  ${b.slice(Math.max(0, k - 12), k + 8).join(' ')}`);
  }
}

const chain = (n: number): ModelDefinition => {
  const lines = ['a1 = tanh(w * x + b)'];
  for (let i = 2; i <= n; i++) lines.push(`a${i} = tanh(w * a${i - 1} + b)`);
  lines.push(`loss = (a${n} - y)^2`);
  return defineModel({ name: `chain${n}`, inputs: ['x'], targets: ['y'], params: { w: 0.9, b: 0.1 }, formulas: lines.join('\n') });
};

const VARIANTS: readonly (readonly [string, GenerateOptions])[] = [
  ['default', {}],
  ['loops', { lowering: 'loops' }],
  ['f32', { precision: 'f32' }],
  ['split', { chunkSize: 7 }],
];

/** The models every variant is checked on. */
const VARIED = new Set(['linreg', 'xor', 'co2', 'kinks', 'tensor_ops', 'chain 30']);

describe('compile() loads JavaScript written by the emitter, the same program as the TypeScript', async () => {
  const models: NamedModel[] = [...(await exampleModels()), ...CORPUS, { name: 'chain 30', def: chain(30) }];

  it('src/6-emit/runtimeJs.ts is what scripts/runtimeJs.ts makes of the runtime pieces (npm run gen)', () => {
    expect(readFileSync(new URL('../src/6-emit/runtimeJs.ts', import.meta.url), 'utf8')).toBe(runtimeJsModule());
  });

  it('token for token the TypeScript compiler\'s output, for every model and the options that change the text', () => {
    // Every model as built by default; every variant on models that exercise it (scalar and
    // tensor parameters, several outputs, the recurrent co2 net, a chain split into parts).
    for (const { name, def } of models.filter((m) => m.name !== 'mnist')) expectSameProgram(def, {}, name); // mnist: as the loops variant of the others
    for (const { name, def } of models.filter((m) => VARIED.has(m.name))) {
      for (const [variant, options] of VARIANTS.slice(1)) expectSameProgram(def, options, `${name} (${variant})`);
    }
  }, 600_000);

  it('loaded, both give bit-identical losses, gradients and steps', () => {
    const rand = mulberry32(11);
    for (const { name, def } of models.filter((m) => VARIED.has(m.name))) {
      for (const [variant, options] of VARIANTS) {
        const direct = compile(def, options);
        const typed = loadModule(generate(def, options).code);
        expect(Object.keys(typed).sort(), `${name} (${variant}) exports`).toEqual(Object.keys(direct).filter((k) => k !== 'code').sort());
        const inputs = randomValues(rand, direct.shapes.inputs), targets = randomValues(rand, direct.shapes.targets);
        const p = direct.initParams(3);
        const a = direct.gradient(p, inputs, targets), b = typed.gradient(p, inputs, targets);
        expect(Object.is(a.loss, b.loss), `${name} (${variant}) loss`).toBe(true);
        const flat = (v: unknown) => (typeof v === 'number' ? [v] : Array.from(v as ArrayLike<number>));
        for (const k of Object.keys(a.grad)) expect(flat(a.grad[k]), `${name} (${variant}) d${k}`).toEqual(flat(b.grad[k]));
        expect(direct.loss(p, inputs, targets)).toBe(typed.loss(p, inputs, targets));
        const pa = direct.copyParams(p), pb = typed.copyParams(p);
        expect(direct.step(pa, inputs, targets, 0.01)).toBe(typed.step(pb, inputs, targets, 0.01));
        expect(direct.saveParams(pa)).toEqual(typed.saveParams(pb));
      }
    }
  }, 600_000);
});

describe('each straight-line pass once', () => {
  const sizes = (n: number) => {
    const code = generate(chain(n)).code;
    return { code, tanh: code.split('Math.tanh(').length - 1, kernels: code.length - code.indexOf('\nfunction $forward') };
  };

  it('a 2,000-line chain: the forward pass twice (forward; loss and gradient share one), the code linear in the chain', () => {
    const small = sizes(1000), large = sizes(2000);
    // One tanh per line per copy of the forward pass; the backward pass reuses the forward tanh.
    expect(small.tanh).toBe(2 * 1000);
    expect(large.tanh).toBe(2 * 2000);
    expect(large.code).toMatch(/function \$gradient\([^)]*\): number \{\n  const \$value = \$loss\(/);
    expect(large.code).not.toMatch(/function \$step_sgd/); // not fused when split: the update pass instead
    // Linear: twice the chain, twice the kernels (to 10%).
    expect(large.kernels / small.kernels).toBeGreaterThan(1.9);
    expect(large.kernels / small.kernels).toBeLessThan(2.1);
    // At most two copies of the gradient pass (the shared $loss parts and the $gradient parts).
    const pass = large.code.slice(large.code.indexOf('\nfunction $loss')).length;
    expect(large.kernels).toBeLessThanOrEqual(2 * pass);
    // And it runs: the gradient of the JavaScript compile() loads.
    const m = compile(chain(2000));
    const r = m.gradient(m.initParams(), { x: 0.3 }, { y: 0.2 });
    expect(r.loss).toBe(m.loss(m.initParams(), { x: 0.3 }, { y: 0.2 }));
    expect(Number.isFinite(r.grad.w as number)).toBe(true);
  }, 300_000);
});

describe('separate loads (SEPARATE_LOADS)', () => {
  it('gives each load of the same text a text of its own, and the loads train alike', () => {
    const def = defineModel('sep', (m) => {
      const out = m.mlp(m.input('x', 2), [3, 1], 'tanh', 'linear');
      m.loss(m.mean(m.call('square', m.sub(out, m.target('y', 1)))));
    });
    const js = generateJavaScript(def);
    const bodies: string[] = [];
    const F = globalThis.Function;
    globalThis.Function = new Proxy(F, { construct: (target, args: unknown[]) => { bodies.push(String(args.at(-1))); return Reflect.construct(target, args) as object; } });
    let loads;
    try {
      loads = [runModule(js), runModule(js), runModule(js, false), runModule(js, false)];
    } finally {
      globalThis.Function = F;
    }
    expect(bodies).toHaveLength(4);
    expect(new Set(bodies.slice(0, 2)).size).toBe(2);
    expect(bodies[2]).toBe(bodies[3]); // what the benchmark's "shared" case runs
    const X = Float64Array.from([0.3, -0.2, 0.5, 0.1]), Y = Float64Array.from([0.4, -0.1]);
    const losses = loads.map((m) => { const p = m.initParams(3); return [0, 1, 0, 1].map((r) => m.stepBatch(p, X, Y, 1, 0.1, r)); });
    for (const l of losses) expect(l).toEqual(losses[0]);
  });
});
