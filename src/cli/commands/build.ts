/**
 * `gradc build <model files...> --out <dir> [--check] [--chunk-size N]`
 *
 * Writes one module per model file: `<dir>/<model name>.ts`. With `--check` it writes
 * nothing and fails, naming each stale or missing file, when what is on disk differs
 * from what it would write. Output is deterministic: the same model files give the same
 * bytes, whatever was built before in the same process. Two model files that would
 * write the same file, or a model name that is not a plain file name, are errors.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate, type Generated } from '../../index.js';
import { GradcError } from '../../errors.js';
import { type Args, expectFlags, has, value } from '../args.js';
import { loadModelFile } from '../modelFile.js';
import type { Command } from '../command.js';

export interface BuiltFile {
  /** Where `gradc build --out dir` puts it: `<dir>/<model name>.ts`. */
  readonly target: string;
  /** The model file, as given (relative to the working directory). */
  readonly file: string;
  readonly name: string;
  readonly code: string;
  /** Every phase's result (model, derived gradients, program), for inspection and tests. */
  readonly generated: Generated;
}

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The module `gradc build` writes for one model file: exactly these bytes. */
export async function buildFile(path: string, dir: string, options: { chunkSize?: number } = {}): Promise<BuiltFile> {
  const { model, file } = await loadModelFile(path);
  if (!FILE_NAME.test(model.name)) {
    throw new GradcError(`the model name '${model.name}' cannot be a file name (use letters, digits, '_', '-' and '.')`, { file, symbol: model.name });
  }
  const generated = generate(model, { sourcePath: file.split('\\').join('/'), chunkSize: options.chunkSize });
  return { target: join(dir, `${model.name}.ts`), file, name: model.name, code: generated.code, generated };
}

export const build: Command = {
  name: 'build',
  usage: 'gradc build <model.ts...> --out <dir> [--check] [--chunk-size N]',
  summary: 'write one generated TypeScript module per model (with --check: write nothing, fail if any is stale)',
  booleans: ['check'],
  async run(args: Args, out) {
    expectFlags(args, ['out', 'check', 'chunk-size'], 'build');
    if (args.positionals.length === 0) throw new GradcError(`no model files given (usage: ${build.usage})`);
    const dir = value(args, 'out', 'build', 'a directory') ?? 'generated';
    const chunk = value(args, 'chunk-size', 'build', 'a number');
    const chunkSize = chunk === undefined ? undefined : Number(chunk);
    if (chunkSize !== undefined && !(Number.isInteger(chunkSize) && chunkSize > 0)) throw new GradcError(`--chunk-size must be a positive integer, got '${chunk}'`);
    const check = has(args, 'check');

    // Generate everything first, so that a bad model file writes nothing.
    const built: BuiltFile[] = [];
    const byTarget = new Map<string, BuiltFile>();
    for (const path of args.positionals) {
      const b = await buildFile(path, dir, { chunkSize });
      const clash = byTarget.get(b.target);
      if (clash) {
        if (clash.file === b.file) continue; // the same file given twice
        throw new GradcError(`${clash.file} and ${b.file} both define model '${b.name}', so both would write ${b.target}`, { file: b.file, symbol: b.name });
      }
      byTarget.set(b.target, b);
      built.push(b);
    }

    if (check) {
      const stale: string[] = [];
      for (const b of built) {
        const onDisk = existsSync(b.target) ? readFileSync(b.target, 'utf8') : null;
        if (onDisk !== b.code) stale.push(`${b.target} (${onDisk === null ? 'missing' : 'stale'}, from ${b.file})`);
      }
      if (stale.length) throw new GradcError(`${stale.length} of ${built.length} generated file(s) out of date; run gradc build without --check:\n  ${stale.join('\n  ')}`);
      out(`${built.length} generated file(s) up to date in ${dir}`);
      return;
    }
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new GradcError(`cannot create the output directory ${dir}: ${(e as Error).message}`);
    }
    for (const b of built) {
      try {
        writeFileSync(b.target, b.code);
      } catch (e) {
        throw new GradcError(`cannot write ${b.target}: ${(e as Error).message}`);
      }
      out(`wrote ${b.target} (${b.code.split('\n').length} lines) from ${b.file}`);
    }
  },
};
