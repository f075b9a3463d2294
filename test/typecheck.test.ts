/**
 * Every emitted example module type-checks under `tsc --strict --noEmit`: the modules
 * are handed to the TypeScript compiler API as in-memory files (nothing is written),
 * with strict: true, noEmit, target ES2022 and lib es2022 only (no DOM, no @types: a
 * generated module has no imports and must not need any). Also checked: chunked
 * emission, the looped lowering and 32-bit precision. A module with a planted type
 * error must fail, so the check itself is known to work.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { generate } from '../src/index.js';
import type { EmitOptions } from '../src/6-emit/module.js';
import { CORPUS, exampleModels } from './helpers/models.js';

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts'],
  types: [],
  skipLibCheck: true, // the standard library's own .d.ts files are not under test
};

/** Diagnostics of each in-memory file, type-checked together in one program. */
function typecheck(files: ReadonlyMap<string, string>): Map<string, readonly ts.Diagnostic[]> {
  const host = ts.createCompilerHost(OPTIONS);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, onError, create) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name)!, lang, true) : getSourceFile.call(host, name, lang, onError, create);
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...files.keys()], OPTIONS, host);
  const global = [...program.getGlobalDiagnostics(), ...program.getOptionsDiagnostics()];
  expect(global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  return new Map([...files.keys()].map((f) => [f, ts.getPreEmitDiagnostics(program, program.getSourceFile(f))]));
}

const format = (ds: readonly ts.Diagnostic[]) =>
  ts.formatDiagnostics(ds.slice(0, 10), { getCanonicalFileName: (f) => f, getCurrentDirectory: () => '/', getNewLine: () => '\n' });

const dir = join(tmpdir(), 'gradc-typecheck');
const examples = await exampleModels();
const corpus = (name: string) => CORPUS.find((m) => m.name === name)!.def;

const modules: [string, () => string][] = [
  ...examples.map(({ name, def }): [string, () => string] => [name, () => generate(def).code]),
  ['student, chunked by 3', () => generate(examples.find((e) => e.name === 'student')!.def, { chunkSize: 3 }).code],
  ['xor, chunked by 3', () => generate(examples.find((e) => e.name === 'xor')!.def, { chunkSize: 3 }).code],
  ['tensor_ops (corpus), chunked by 5', () => generate(corpus('tensor_ops'), { chunkSize: 5 }).code],
  ['tensor_ops (corpus), looped lowering', () => generate(corpus('tensor_ops'), { lowering: 'loops' } as EmitOptions).code],
  ['mlp_relu_sigmoid (corpus), 32-bit floats', () => generate(corpus('mlp_relu_sigmoid'), { precision: 'f32' } as EmitOptions).code],
];

describe('emitted modules pass tsc --strict --noEmit', () => {
  const files = new Map<string, string>();
  const names = new Map<string, string>();

  it('every module type-checks with zero diagnostics', () => {
    modules.forEach(([label, code], i) => {
      const file = join(dir, `module${i}.ts`);
      files.set(file, code());
      names.set(file, label);
    });
    // The check can fail: a planted error in a copy of the linreg module.
    const planted = join(dir, 'planted.ts');
    files.set(planted, `${generate(examples.find((e) => e.name === 'linreg')!.def).code}\nexport const planted: number = initParams();\n`);
    const t0 = performance.now();
    const diagnostics = typecheck(files);
    console.log(`typecheck.test: ${files.size} modules (${([...files.values()].reduce((n, c) => n + c.length, 0) / 1e6).toFixed(1)} MB) checked in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(diagnostics.get(planted)!.length, 'the planted type error is reported').toBeGreaterThan(0);
    const failures = [...names].filter(([f]) => diagnostics.get(f)!.length > 0).map(([f, label]) => `${label}:\n${format(diagnostics.get(f)!)}`);
    expect(failures.join('\n')).toBe('');
    expect(names.size).toBe(modules.length);
  });
});
