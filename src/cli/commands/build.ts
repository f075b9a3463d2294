/**
 * `gradc build <model files...> --out <dir> [--check] [--chunk-size N]`
 *
 * Writes one module per model file: `<dir>/<model name>.ts`. With `--check` it writes
 * nothing and fails, naming each stale or missing file, when what is on disk differs
 * from what it would write. Output is deterministic: the same model files give the same
 * bytes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../index.js';
import { GradcError } from '../../errors.js';
import { type Args, expectFlags, flag, has } from '../args.js';
import { loadModelFile } from '../modelFile.js';
import type { Command } from '../command.js';

export const build: Command = {
  name: 'build',
  usage: 'gradc build <model.ts...> --out <dir> [--check] [--chunk-size N]',
  summary: 'write one generated TypeScript module per model (with --check: verify them)',
  booleans: ['check'],
  async run(args: Args, out) {
    expectFlags(args, ['out', 'check', 'chunk-size'], 'build');
    if (args.positionals.length === 0) throw new GradcError(`gradc build: no model files given (usage: ${build.usage})`);
    const dir = flag(args, 'out') ?? 'generated';
    const chunk = flag(args, 'chunk-size');
    const chunkSize = chunk === undefined ? undefined : Number(chunk);
    if (chunkSize !== undefined && !(Number.isInteger(chunkSize) && chunkSize > 0)) throw new GradcError(`gradc build: --chunk-size must be a positive integer, got '${chunk}'`);
    const check = has(args, 'check');
    const stale: string[] = [];
    for (const path of args.positionals) {
      const { model, file } = await loadModelFile(path);
      const { code } = generate(model, { sourcePath: file.split('\\').join('/'), chunkSize });
      const target = join(dir, `${model.name}.ts`);
      if (check) {
        const onDisk = existsSync(target) ? readFileSync(target, 'utf8') : null;
        if (onDisk !== code) stale.push(`${target} (${onDisk === null ? 'missing' : 'stale'}, from ${file})`);
      } else {
        mkdirSync(dir, { recursive: true });
        writeFileSync(target, code);
        out(`wrote ${target} (${code.split('\n').length} lines) from ${file}`);
      }
    }
    if (check) {
      if (stale.length) throw new GradcError(`generated files are out of date; run gradc build without --check:\n  ${stale.join('\n  ')}`);
      out(`${args.positionals.length} generated file(s) up to date in ${dir}`);
    }
  },
};
