/**
 * Every generated module type-checks in a user's project with the strictest common
 * settings: all options of @tsconfig/strictest (noUncheckedIndexedAccess,
 * exactOptionalPropertyTypes, noUnusedLocals/Parameters, noImplicitReturns, ...) plus
 * verbatimModuleSyntax and isolatedModules, once with module/moduleResolution nodenext and
 * once with esnext/bundler, zero diagnostics, without any `@ts-` suppression comment.
 * Checked: every example (examples/*.model.ts) and every golden case with a model file,
 * each in its default lowering and in the looped one, in f64 and (modules under 200 KB) f32.
 * One TypeScript program per configuration; the files live in memory, under the repo
 * (whose package.json says "type": "module", so nodenext reads them as ES modules).
 * A planted module with an unchecked typed-array read and an unused local must fail, so
 * the strict options are known to be in force. Also: the generated-file markers.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { ModelDefinition } from '../src/2-build/define.js';
import { generate } from '../src/index.js';
import type { EmitOptions } from '../src/6-emit/module.js';
import { exampleModels } from './helpers/models.js';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'test', '.strictest'); // never written: the files are in memory

const strictest = (JSON.parse(readFileSync(join(ROOT, 'node_modules/@tsconfig/strictest/tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> }).compilerOptions;

function options(module: string, moduleResolution: string): ts.CompilerOptions {
  const { options: o, errors } = ts.convertCompilerOptionsFromJson({
    ...strictest,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    noEmit: true,
    target: 'es2022',
    lib: ['es2022'],
    types: [],
    module,
    moduleResolution,
  }, ROOT);
  expect(errors).toEqual([]);
  return o;
}

const CONFIGS: [string, ts.CompilerOptions][] = [
  ['module nodenext', options('nodenext', 'nodenext')],
  ['module esnext, moduleResolution bundler', options('esnext', 'bundler')],
];

/** Every example and every golden case with its own model.ts. */
async function models(): Promise<[string, ModelDefinition][]> {
  const out: [string, ModelDefinition][] = (await exampleModels()).map((m) => [m.name, m.def]);
  const golden = join(ROOT, 'test/golden');
  for (const c of readdirSync(golden).sort()) {
    const file = join(golden, c, 'model.ts');
    if (existsSync(file)) out.push([`golden ${c}`, ((await import(pathToFileURL(file).href)) as { default: ModelDefinition }).default]);
  }
  return out;
}

/** The modules under test, by label: each model's default lowering and the looped one (when different), f64 and f32. */
async function modules(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, def] of await models()) {
    const seen = new Set<string>();
    for (const lowering of ['auto', 'loops'] as const) {
      for (const precision of ['f64', 'f32'] as const) {
        const code = generate(def, { lowering, precision } as EmitOptions).code;
        if (seen.has(code) || (precision === 'f32' && code.length > 200_000)) continue;
        seen.add(code);
        out.set(`${name}, lowering ${lowering}, ${precision}`, code);
      }
    }
  }
  return out;
}

function typecheck(files: ReadonlyMap<string, string>, o: ts.CompilerOptions): Map<string, readonly ts.Diagnostic[]> {
  const host = ts.createCompilerHost(o);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, onError, create) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name)!, lang, true) : getSourceFile.call(host, name, lang, onError, create);
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...files.keys()], o, host);
  const global = [...program.getGlobalDiagnostics(), ...program.getOptionsDiagnostics()];
  expect(global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  return new Map([...files.keys()].map((f) => [f, ts.getPreEmitDiagnostics(program, program.getSourceFile(f))]));
}

const format = (ds: readonly ts.Diagnostic[]) =>
  ts.formatDiagnostics(ds.slice(0, 10), { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' });

const all = await modules();

describe('generated modules type-check under the strictest settings', () => {
  it('no module carries a @ts- suppression comment, and each has the generated-file markers', () => {
    for (const [label, code] of all) {
      expect(code, label).not.toMatch(/@ts-(nocheck|ignore|expect-error)/);
      const head = code.split('\n').slice(0, 5);
      expect(head[0], label).toBe('// Code generated by gradc. DO NOT EDIT.');
      expect(head, label).toContain('// @generated');
      expect(head, label).toContain('/* eslint-disable */');
    }
    expect(all.size).toBeGreaterThanOrEqual(20);
  });

  for (const [config, o] of CONFIGS) {
    it(`every module has zero diagnostics with @tsconfig/strictest + verbatimModuleSyntax, ${config}`, () => {
      const files = new Map<string, string>();
      const labels = new Map<string, string>();
      [...all].forEach(([label, code], i) => {
        const file = join(DIR, `module${i}.ts`);
        files.set(file, code);
        labels.set(file, label);
      });
      // The check can fail: an unchecked typed-array read and an unused local, in a copy of a module.
      const planted = join(DIR, 'planted.ts');
      files.set(planted, `${all.values().next().value!}\nexport function planted(a: Floats): number { const unused = 1; return a[0]; }\n`);
      const t0 = performance.now();
      const diagnostics = typecheck(files, o);
      console.log(`strictest.test (${config}): ${files.size} modules (${([...files.values()].reduce((n, c) => n + c.length, 0) / 1e6).toFixed(1)} MB) checked in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const codes = diagnostics.get(planted)!.map((d) => d.code).sort();
      expect(codes, 'the planted errors are reported').toEqual([2322, 6133]);
      const failures = [...labels].filter(([f]) => diagnostics.get(f)!.length > 0).map(([f, label]) => `${label} (${diagnostics.get(f)!.length} diagnostics):\n${format(diagnostics.get(f)!)}`);
      expect(failures.join('\n')).toBe('');
    });
  }
});
