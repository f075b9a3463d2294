/**
 * The bundler plugin (Vite, Rollup and esbuild, through unplugin).
 *
 * Convention: importing a model file with the `?gradc` query,
 *     import * as net from './net.model.ts?gradc';
 * yields the module `gradc build` would write for it (same bytes, then stripped of types
 * here, so every bundler gets plain ES2022 JavaScript). Types for editors come from the
 * package's `gradc/client` declarations (`declare module '*?gradc'`, see client.d.ts).
 *
 * Guarantees:
 * - The model file is loaded fresh on every (re)load, through tsx (plugin/load.ts): edits
 *   to the model and to the local files it imports are seen; packages (in node_modules)
 *   are loaded once, and not watched.
 * - The model file and every local file it imported are watch files of the module: in
 *   `vite` dev, a change to any of them invalidates the `?gradc` module and its importers
 *   reload (Vite's HMR propagation; the generated module does not accept updates itself).
 * - Its options are compile options (cli/compileOptions.ts), checked when the plugin is
 *   made: an unknown key or a bad value is a GradcError naming it.
 * - An import whose query has a `gradc` parameter but is not exactly `?gradc` at the
 *   end (`?gradc&x`) is a GradcError, not the model file loaded as a plain module.
 * - A broken model is a build error located in the model file (file, line, column and the
 *   source line with a caret, as the CLI prints it), not a crash of the bundler.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import type TS from 'typescript';
import { createUnplugin, type UnpluginInstance } from 'unplugin';
import { checkCompileOptions } from '../cli/compileOptions.js';
import { displayPath, excerpt, loadModelFile } from '../cli/modelFile.js';
import { asGradcError, GradcError } from '../errors.js';
import { generate } from '../index.js';
import { importFresh } from './load.js';
import type { GradcPluginOptions } from './options.js';

/** The import query that selects a model file's generated module. */
export const QUERY = '?gradc';

export type { GradcPluginOptions };

const stripQuery = (id: string): string => id.replace(/[?#].*$/, '');
const isGradcId = (id: string): boolean => id.endsWith(QUERY);

let typescript: typeof TS | undefined;
const tsc = (): typeof TS => (typescript ??= createRequire(import.meta.url)('typescript') as typeof TS);

/** Generated TypeScript -> ES module JavaScript (types stripped, nothing else changed). */
export function toJavaScript(code: string): string {
  const ts = tsc();
  return ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, removeComments: false, verbatimModuleSyntax: false },
  }).outputText;
}

/** The error a bundler shows for a GradcError: located, with the source line and caret. */
function bundlerError(e: GradcError, id: string): Error {
  const g = asGradcError(e);
  const source = excerpt(g.where);
  const err = new Error(`gradc: ${g.message}${source ? `\n${source}` : ''}`) as Error & { id?: string; loc?: { file: string; line: number; column: number }; plugin?: string };
  err.id = id;
  err.plugin = 'gradc';
  if (g.where.file !== undefined && g.where.line !== undefined) err.loc = { file: resolve(g.where.file), line: g.where.line, column: g.where.column ?? 1 };
  return err;
}

/**
 * Loads one model file and generates its module. `watched` receives the model file and
 * every local file it imported, also when the model turns out to be broken.
 */
export async function generateFromFile(file: string, options: GradcPluginOptions, watched: (file: string) => void): Promise<string> {
  watched(resolve(file));
  try {
    const { model } = await loadModelFile(file, (url) => importFresh(url, watched));
    return generate(model, { ...options, sourcePath: displayPath(file).split('\\').join('/') }).code;
  } catch (e) {
    if (e instanceof GradcError) throw bundlerError(e, file);
    throw e;
  }
}

/** The plugin for every bundler unplugin supports (gradc/vite, gradc/rollup and gradc/esbuild export three of them). */
export const gradc: UnpluginInstance<GradcPluginOptions | undefined, false> = createUnplugin<GradcPluginOptions | undefined, false>((given) => {
  const options = checkCompileOptions(given, 'gradc plugin options'); // an unknown or bad option fails at configuration
  /** Watched file -> the `?gradc` module ids that depend on it. */
  const dependents = new Map<string, Set<string>>();
  const depend = (file: string, id: string): void => {
    let ids = dependents.get(file);
    if (!ids) dependents.set(file, (ids = new Set()));
    ids.add(id);
  };

  return {
    name: 'gradc',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!isGradcId(source)) {
        // `?gradc&x` or `?x&gradc` would otherwise load the model file itself, silently.
        const query = /\?([^#]*)/.exec(source)?.[1];
        if (query !== undefined && new URLSearchParams(query).has('gradc')) {
          throw new GradcError(`cannot import '${source}': the import query for a generated module is exactly '?gradc', at the end and alone (import * as net from './net.model.ts?gradc')`, { file: importer === undefined ? undefined : displayPath(stripQuery(importer)) });
        }
        return null;
      }
      const path = stripQuery(source);
      if (path.startsWith('./') || path.startsWith('../')) {
        return importer && !importer.startsWith('\0') ? `${resolve(dirname(stripQuery(importer)), path)}${QUERY}` : null;
      }
      if (isAbsolute(path) && existsSync(path)) return `${path}${QUERY}`;
      // Bare specifiers, aliases and Vite's root-relative URLs: the bundler's own resolver
      // keeps the query, and `load` below picks the module up by it.
      return null;
    },
    loadInclude: isGradcId,
    async load(id) {
      if (!isGradcId(id)) return null;
      const file = stripQuery(id);
      const code = await generateFromFile(file, options, (dep) => {
        depend(dep, id);
        this.addWatchFile(dep);
      });
      return { code: toJavaScript(code), map: null };
    },
    esbuild: { loader: 'js' },
    vite: {
      // A change to a file a model imported (the model file itself Vite maps already):
      // invalidate the generated modules that depend on it, and let HMR propagate.
      handleHotUpdate({ file, server, modules }) {
        const ids = dependents.get(resolve(file));
        if (!ids) return undefined;
        const extra = [];
        for (const id of ids) {
          const mod = server.moduleGraph.getModuleById(id);
          if (mod && !modules.includes(mod)) {
            server.moduleGraph.invalidateModule(mod);
            extra.push(mod);
          }
        }
        return extra.length ? [...modules, ...extra] : undefined;
      },
    },
  };
});
