/**
 * `gradc build --emit js`: a generated module as JavaScript plus type declarations.
 *
 * Guarantees: `toJavaScript(code)` compiles the module text with the TypeScript compiler
 * API, as a one-file program in memory (generated modules import nothing; only the
 * ES2022 library files are read, once per process): an ES2022 module `.js` and its
 * `.d.ts`, both starting with the module's header comment (so both carry gradc's
 * generated-file header), both byte-identical for identical input. A compile error in
 * the generated text is a bug in gradc (a plain Error).
 */
import { createRequire } from 'node:module';
import type TS from 'typescript';

let typescript: typeof TS | undefined;
const tsc = (): typeof TS => (typescript ??= createRequire(import.meta.url)('typescript') as typeof TS);

/** The library files, parsed once per process. */
const libraries = new Map<string, TS.SourceFile>();

/** The comment lines the module starts with, up to its first blank line. */
function headerOf(code: string): string {
  const lines: string[] = [];
  for (const line of code.split('\n')) {
    if (!/^\s*(\/\/|\/\*|\*)/.test(line)) break;
    lines.push(line);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export function toJavaScript(code: string, name = 'module'): { js: string; dts: string } {
  const ts = tsc();
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    strict: true,
    declaration: true,
    removeComments: false,
    newLine: ts.NewLineKind.LineFeed,
    skipLibCheck: true,
  };
  const fileName = `/gradc-emit/${name}.ts`;
  const host = ts.createCompilerHost(options, true);
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.ES2022, true);
  const readLibrary = host.getSourceFile.bind(host);
  host.getSourceFile = (f, language, onError) => {
    if (f === fileName) return source;
    let lib = libraries.get(f);
    if (!lib) {
      lib = readLibrary(f, language, onError);
      if (lib) libraries.set(f, lib);
    }
    return lib;
  };
  host.fileExists = (f) => f === fileName || ts.sys.fileExists(f);
  host.readFile = (f) => (f === fileName ? code : ts.sys.readFile(f));
  const written = new Map<string, string>();
  host.writeFile = (f, text) => written.set(f, text);
  const program = ts.createProgram([fileName], options, host);
  const result = program.emit();
  const problems = [...program.getSyntacticDiagnostics(source), ...result.diagnostics];
  const js = written.get(`/gradc-emit/${name}.js`);
  const dts = written.get(`/gradc-emit/${name}.d.ts`);
  if (problems.length || result.emitSkipped || js === undefined || dts === undefined) {
    const why = problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('; ');
    throw new Error(`gradc's generated module '${name}' does not compile to JavaScript: ${why || 'nothing was emitted'}`);
  }
  const header = headerOf(code);
  return {
    js: js.startsWith(header) ? js : `${header}${js}`,
    dts: dts.startsWith(header) ? dts : `${header}\n${dts}`,
  };
}
