/**
 * Writes src/6-emit/runtimeJs.ts: the JavaScript of the generated module's model-independent
 * pieces (runtime.ts RUNTIME and OPTIONAL_RUNTIME, optimizers.ts OPTIMIZER_RUNTIME,
 * saveParams.ts SAVE_RUNTIME, simd.ts SIMD_RUNTIME), for the emitter's JavaScript flavour (6-emit/flavour.ts).
 * Run by `npm run gen` after scripts/apiText.ts; `--check` fails instead when the file is
 * out of date.
 *
 * Guarantees: each piece is the TypeScript compiler's output for it (`transpileModule`,
 * ES2022, comments kept), so `compile()` never runs the compiler on these pieces, and the
 * generated file is a pure function of their text.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { OPTIONAL_RUNTIME, RUNTIME } from '../src/6-emit/runtime.js';
import { OPTIMIZER_RUNTIME } from '../src/6-emit/optimizers.js';
import { SAVE_RUNTIME } from '../src/6-emit/saveParams.js';
import { SIMD_RUNTIME } from '../src/6-emit/simd.js';

const TARGET = fileURLToPath(new URL('../src/6-emit/runtimeJs.ts', import.meta.url));

/** One piece's JavaScript, as the TypeScript compiler writes it. */
export function javaScriptOf(code: string): string {
  const out = ts.transpileModule(code, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, removeComments: false, newLine: ts.NewLineKind.LineFeed },
  });
  // A piece with no export is a script to the compiler, which marks it "use strict" (a module is strict anyway).
  return out.outputText.replace(/^"use strict";\n/, '').replace(/\n?export \{\};\n?$/, '').trimEnd();
}

export function runtimeJsModule(): string {
  const optional = [...OPTIONAL_RUNTIME].map(([name, text]) => `    ${JSON.stringify(name)}: ${JSON.stringify(javaScriptOf(text))},`).join('\n');
  return `// Generated from src/6-emit/runtime.ts, optimizers.ts and saveParams.ts by scripts/runtimeJs.ts (npm run gen). Do not edit.
/**
 * The generated module's model-independent pieces as JavaScript (the TypeScript compiler's
 * output for each, made when gradc is built), for the emitter's JavaScript flavour (flavour.ts).
 */
export const RUNTIME_JS = {
  runtime: ${JSON.stringify(javaScriptOf(RUNTIME))},
  optimizer: ${JSON.stringify(javaScriptOf(OPTIMIZER_RUNTIME))},
  saved: ${JSON.stringify(javaScriptOf(SAVE_RUNTIME))},
  simd: ${JSON.stringify(javaScriptOf(SIMD_RUNTIME.trimStart()))},
  optional: {
${optional}
  } as Readonly<Record<string, string>>,
} as const;
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = runtimeJsModule();
  if (process.argv.includes('--check')) {
    if (readFileSync(TARGET, 'utf8') !== text) {
      console.error('src/6-emit/runtimeJs.ts is out of date: run npm run gen');
      process.exit(1);
    }
  } else {
    writeFileSync(TARGET, text);
  }
}
