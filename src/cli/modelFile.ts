/**
 * Reading `*.model.ts` files for the CLI.
 *
 * Guarantees: `loadModelFile(path)` imports the file, takes its default export (a
 * `defineModel(...)` definition or a built Model) and builds it with the file as its
 * source. Any GradcError raised on the way is re-raised with its line and column mapped
 * from the formula into the model file (the formula line is looked up in the file's
 * text). A file that cannot be imported, or exports no model, is a GradcError naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildModel, isModelDefinition, type ModelDefinition } from '../2-build/define.js';
import { GradcError } from '../errors.js';
import type { Model } from '../model.js';

export const displayPath = (path: string): string => relative(process.cwd(), resolve(path)) || path;

/** Maps an error located inside a formula to the model file's line and column. */
export function locateInFile(e: GradcError, path: string): GradcError {
  const file = displayPath(path);
  const snippet = e.where.snippet;
  if (!snippet || !existsSync(path)) return e.relocate({ file });
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  const needle = snippet.trim();
  const at = lines.findIndex((l) => l.includes(needle));
  if (at < 0) return e.relocate({ file });
  const shift = lines[at].indexOf(needle) - snippet.indexOf(needle);
  return e.relocate({ file, line: at + 1, column: e.where.column !== undefined ? e.where.column + shift : undefined });
}

export async function loadDefinition(path: string): Promise<ModelDefinition | Model> {
  const file = displayPath(path);
  if (!existsSync(path)) throw new GradcError(`model file not found`, { file });
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(resolve(path)).href);
  } catch (e) {
    if (e instanceof GradcError) throw locateInFile(e, path);
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new GradcError(`cannot load the model file: ${msg}`, { file });
  }
  const def = mod.default;
  if (!isModelDefinition(def) && !(def && typeof def === 'object' && 'loss' in def)) {
    throw new GradcError(`the file does not default-export a model (export default defineModel(...))`, { file });
  }
  return def as ModelDefinition | Model;
}

export async function loadModelFile(path: string): Promise<{ model: Model; def: ModelDefinition | Model; file: string }> {
  const def = await loadDefinition(path);
  const file = displayPath(path);
  try {
    return { model: buildModel(def, file), def, file };
  } catch (e) {
    if (e instanceof GradcError) throw locateInFile(e, path);
    throw e;
  }
}
