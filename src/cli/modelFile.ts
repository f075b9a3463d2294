/**
 * Reading `*.model.ts` files for the CLI.
 *
 * Guarantees: `loadModelFile(path)` imports the file, takes its default export (a
 * `defineModel(...)` definition or a built Model) and builds it with the file as its
 * source. Any GradcError raised on the way is re-raised located in the model file by
 * `locateInFile`. A file that cannot be imported, exports no model, is not an ES module,
 * or whose own code throws, is a GradcError naming it (and the line, when known).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildModel, isModelDefinition, type ModelDefinition } from '../pipeline.js';
import { withGraph } from '../ir/node.js';
import { asGradcError, GradcError, type SourceLocation } from '../errors.js';
import type { Model } from '../model.js';

export const displayPath = (path: string): string => relative(process.cwd(), resolve(path)) || path;

/** The 1-based line and column of each stack frame of `stack` that is in `path`. */
function framesIn(stack: string | undefined, path: string): { line: number; column: number }[] {
  const abs = resolve(path);
  const out: { line: number; column: number }[] = [];
  for (const m of (stack ?? '').matchAll(/(?:\(|at )((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?$/gm)) {
    let file = m[1];
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (resolve(file.replace(/\?.*$/, '')) === abs) out.push({ line: Number(m[2]), column: Number(m[3]) });
  }
  return out;
}

/** Index of `needle` in `line` outside a `//` comment, or -1. */
function indexInCode(line: string, needle: string): number {
  const i = line.indexOf(needle);
  const comment = line.search(/(^|\s)\/\/|^\s*\*/);
  return i >= 0 && (comment < 0 || i < comment) ? i : -1;
}

/**
 * Maps an error located inside a formula to the model file's line and column. In order:
 * 1. a formula-block line (`where.block`): the block is found verbatim in the file and
 *    the line counted from its start;
 * 2. a formula string in builder code: the stack frame of the builder call in the file
 *    gives the line, and the formula string on that line (or the next few) the column;
 * 3. otherwise the first code line that contains the formula line (`where.snippet`),
 *    preferring one where it is quoted.
 * When none applies the error keeps only the file, and says which formula line it is.
 */
export function locateInFile(e: GradcError, path: string): GradcError {
  const err = asGradcError(e);
  const file = displayPath(path);
  const w = err.where;
  const unmapped = (): GradcError => {
    const formula = w.snippet?.trim();
    const shown = formula && !err.problem.includes(formula) ? `: '${formula}'` : '';
    if (w.line === undefined) return new GradcError(`${err.problem}${shown ? ` (in${shown.slice(1)})` : ''}`, { file, symbol: w.symbol, snippet: w.snippet });
    const which = `${w.block !== undefined ? 'formulas' : 'formula'} line ${w.line}${w.column !== undefined ? `, column ${w.column}` : ''}`;
    return new GradcError(`${err.problem} (at ${which}${shown})`, { file, symbol: w.symbol, snippet: w.snippet });
  };
  if (!existsSync(path)) return unmapped();
  const text = readFileSync(path, 'utf8');
  const lines = text.split(/\r?\n/);
  const at = (line: number, column: number | undefined) => err.relocate({ file, line, column, block: undefined });

  // 1. A line of a formulas block.
  if (w.block !== undefined && w.line !== undefined) {
    const start = text.indexOf(w.block);
    if (start >= 0 && w.block.trim() !== '') {
      const before = text.slice(0, start).split(/\r?\n/);
      const line = before.length + w.line - 1;
      const shift = w.line === 1 ? before[before.length - 1].length : 0;
      return at(line, w.column !== undefined ? w.column + shift : undefined);
    }
  }
  const snippet = w.snippet;
  const needle = snippet?.trim();
  const columnIn = (lineText: string): number | undefined => {
    if (!snippet || !needle) return undefined;
    const i = indexInCode(lineText, needle);
    if (i < 0) return undefined;
    return w.column !== undefined ? w.column + i - snippet.indexOf(needle) : i + 1;
  };

  // 2. A builder call in this file on the stack.
  const frame = framesIn(e.stack, path)[0];
  if (frame && frame.line <= lines.length) {
    for (let l = frame.line; l < Math.min(frame.line + 8, lines.length + 1); l++) {
      const col = columnIn(lines[l - 1]);
      if (col !== undefined) return at(l, col);
    }
    // The formula text is not in the file (a template string, say): point at the call and quote it.
    const quoted = needle && !err.problem.includes(needle) ? ` (in '${needle}')` : '';
    return new GradcError(`${err.problem}${quoted}`, { ...w, file, line: frame.line, column: frame.column, block: undefined });
  }

  // 3. The formula text itself.
  if (needle) {
    const quoted = [`'${needle}'`, `"${needle}"`, `\`${needle}\``];
    let found = lines.findIndex((l) => quoted.some((q) => indexInCode(l, q) >= 0));
    if (found < 0) found = lines.findIndex((l) => indexInCode(l, needle) >= 0);
    if (found >= 0) return at(found + 1, columnIn(lines[found]));
  }
  return unmapped();
}

/**
 * The source line an error points at, with a caret under its column, for the CLI:
 *        12 |     yhat = w * q
 *           |                ^
 */
const EXCERPT_WIDTH = 120;

export function excerpt(where: SourceLocation): string | undefined {
  if (!where.file || where.line === undefined || !existsSync(where.file)) return undefined;
  const full = readFileSync(where.file, 'utf8').split(/\r?\n/)[where.line - 1];
  if (full === undefined) return undefined;
  // A very long line is shown as a window of EXCERPT_WIDTH characters around the column.
  const col = where.column;
  const from = full.length <= EXCERPT_WIDTH ? 0 : Math.max(0, Math.min((col ?? 1) - 1 - EXCERPT_WIDTH / 2, full.length - EXCERPT_WIDTH));
  const cut = full.slice(from, from + EXCERPT_WIDTH);
  const text = `${from > 0 ? '...' : ''}${cut}${from + EXCERPT_WIDTH < full.length ? '...' : ''}`;
  const num = String(where.line);
  const pad = ' '.repeat(num.length);
  const lines = [`  ${num} | ${text}`];
  if (col !== undefined && col >= 1 && col <= full.length + 1) {
    const lead = `${from > 0 ? '...' : ''}${full.slice(from, col - 1)}`.replace(/[^\t]/g, ' ');
    lines.push(`  ${pad} | ${lead}^`);
  }
  return lines.join('\n');
}

/**
 * Whether Node runs `path` as an ES module: `.mts`/`.mjs` always, `.cts`/`.cjs` never,
 * other files when the nearest package.json says `"type": "module"`.
 */
export function isEsModuleFile(path: string): { esm: boolean; packageJson?: string } {
  const ext = extname(path);
  if (ext === '.mts' || ext === '.mjs') return { esm: true };
  if (ext === '.cts' || ext === '.cjs') return { esm: false };
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return { esm: JSON.parse(readFileSync(pj, 'utf8')).type === 'module', packageJson: pj };
      } catch {
        return { esm: false, packageJson: pj };
      }
    }
    if (dirname(dir) === dir) return { esm: false };
  }
}

/** An error thrown by the model file's own code (its first stack frame is in the file). */
function thrownByModelCode(e: unknown, path: string): GradcError | undefined {
  if (!(e instanceof Error)) return undefined;
  const first = (e.stack ?? '').split('\n').find((l) => /^\s+at /.test(l));
  const frame = first ? framesIn(first, path)[0] : undefined;
  if (!frame) return undefined;
  return new GradcError(`the model file's code threw ${e.name}: ${e.message.split('\n')[0]}`, { file: displayPath(path), line: frame.line, column: frame.column });
}

/** A Model made by `build()` (structurally: a loss node and lists of leaves). */
function isBuiltModel(x: unknown): x is Model {
  const m = x as Model;
  return typeof m === 'object' && m !== null && typeof m.loss === 'object' && m.loss !== null && 'op' in m.loss && Array.isArray(m.params) && Array.isArray(m.defs);
}

/** The first error of a TypeScript transform failure, from esbuild (tsx) or oxc (vite, under vitest). */
function compileError(message: string): { why: string; line: number; column: number } | undefined {
  const text = message.replace(/\x1b\[[0-9;]*m/g, '');
  if (!text.startsWith('Transform failed')) return undefined;
  const esbuild = text.match(/:(\d+):(\d+): ERROR: (.*)/); // 0-based column
  if (esbuild) return { why: esbuild[3], line: Number(esbuild[1]), column: Number(esbuild[2]) + 1 };
  const oxc = text.match(/\[[A-Z_]+\] ([^\n]*)[\s\S]*?\[ *[^\s\]]+:(\d+):(\d+) *\]/); // 1-based column
  if (oxc) return { why: oxc[1].trim(), line: Number(oxc[2]), column: Number(oxc[3]) };
  return undefined;
}

/** How a model file is imported: by default Node's `import()` (under the CLI, tsx's loader is registered). */
export type ImportFile = (url: string) => Promise<{ default?: unknown }>;
const nativeImport: ImportFile = (url) => import(url) as Promise<{ default?: unknown }>;

export async function loadDefinition(path: string, importFile: ImportFile = nativeImport): Promise<ModelDefinition | Model> {
  const file = displayPath(path);
  if (!existsSync(path)) throw new GradcError(`model file not found`, { file });
  const stat = statSync(path);
  if (stat.isDirectory()) throw new GradcError(`is a folder, not a model file (give a *.model.ts file)`, { file });
  if (!stat.isFile()) throw new GradcError(`is not a regular file (a device or a pipe?), so it cannot be a model file`, { file });
  const kind = isEsModuleFile(path);
  if (!kind.esm) {
    const why = kind.packageJson ? `${displayPath(kind.packageJson)} does not say "type": "module"` : 'no package.json above it says "type": "module"';
    throw new GradcError(`the model file must be an ES module, but Node would load it as CommonJS (${why}); name it *.model.mts or add "type": "module" to its package.json`, { file });
  }
  let mod: { default?: unknown };
  try {
    mod = await importFile(pathToFileURL(resolve(path)).href);
  } catch (e) {
    if (e instanceof GradcError) throw locateInFile(e, path);
    const own = thrownByModelCode(e, path);
    if (own) throw own;
    const msg = e instanceof Error ? e.message : String(e);
    const syntax = compileError(msg);
    if (syntax) throw new GradcError(`the model file does not compile: ${syntax.why}`, { file, line: syntax.line, column: syntax.column });
    throw new GradcError(`cannot load the model file: ${msg.split('\n')[0]}`, { file });
  }
  const def = mod.default;
  if (!isModelDefinition(def) && !isBuiltModel(def)) {
    throw new GradcError(`the file does not default-export a model (export default defineModel(...))`, { file });
  }
  return def as ModelDefinition | Model;
}

export async function loadModelFile(path: string, importFile?: ImportFile): Promise<{ model: Model; def: ModelDefinition | Model; file: string }> {
  const def = await loadDefinition(path, importFile);
  const file = displayPath(path);
  try {
    // In a graph of its own (ir/node.ts): a watcher loads models for as long as it runs.
    return { model: withGraph(() => buildModel(def, file)), def, file };
  } catch (e) {
    if (e instanceof GradcError) throw locateInFile(e, path);
    throw thrownByModelCode(e, path) ?? e;
  }
}
