// The compile options table (src/cli/compileOptions.ts): flags, checked objects (the
// bundler plugin's options today; config files and defineModel's `compile` in phase 2
// of issue 10) and the layering, later layers winning.
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { checkCompileOptions, COMPILE_FLAGS, compileOptionsFromArgs, mergeCompileOptions } from '../src/cli/compileOptions.js';
import { GradcError } from '../src/errors.js';
import { gradc } from '../src/plugin/unplugin.js';

describe('compile options', () => {
  it('every compile option is a flag, and flags parse to the options generate() takes', () => {
    expect(COMPILE_FLAGS).toEqual(['lowering', 'precision', 'simd', 'unroll-limit', 'max-batch', 'unroll-elements', 'scalar-cell', 'chunk-size']);
    const args = parseArgs(['m.model.ts', '--lowering', 'unrolled', '--precision=f32', '--unroll-limit', '20000', '--max-batch', '32', '--chunk-size', '500']);
    expect(compileOptionsFromArgs(args, 'build')).toEqual({ lowering: 'unrolled', precision: 'f32', unrollLimit: 20000, maxBatch: 32, chunkSize: 500 });
    expect(compileOptionsFromArgs(parseArgs(['m.model.ts']), 'build')).toEqual({});
  });

  it('a bad flag value is a GradcError naming the flag, the value and what it takes', () => {
    const bad = (argv: string[]) => () => compileOptionsFromArgs(parseArgs(argv), 'build');
    expect(bad(['--lowering', 'unroled'])).toThrow("option --lowering must be one of 'auto', 'unrolled', 'loops', got 'unroled' (gradc build)");
    expect(bad(['--precision', 'f16'])).toThrow(/--precision must be one of 'f64', 'f32', got 'f16'/);
    expect(bad(['--simd', 'yes'])).toThrow(/--simd must be one of 'auto', 'on', 'off', got 'yes'/);
    expect(bad(['--max-batch', '0'])).toThrow(/--max-batch must be a positive integer, got '0'/);
    expect(bad(['--unroll-limit', '1e4'])).toThrow(/--unroll-limit .* got '1e4'/);
    expect(bad(['--chunk-size'])).toThrow(GradcError);
  });

  it('checked objects: unknown keys and bad values are GradcErrors naming the key and where it came from', () => {
    expect(checkCompileOptions({ lowering: 'loops', maxBatch: 8, precision: undefined }, 'x')).toEqual({ lowering: 'loops', maxBatch: 8 });
    expect(checkCompileOptions(undefined, 'x')).toEqual({});
    expect(() => checkCompileOptions({ lowerring: 'loops' }, 'gradc.config.json: models[0]', { file: 'gradc.config.json' }))
      .toThrow("gradc.config.json: gradc.config.json: models[0]: unknown compile option 'lowerring' (did you mean 'lowering'?); the options are lowering, precision, simd, unrollLimit, maxBatch, unrollElements, scalarCell, chunkSize");
    expect(() => checkCompileOptions({ toString: 'x' }, 'opts')).toThrow(/unknown compile option 'toString'/);
    expect(() => checkCompileOptions({ unrollLimit: -1 }, 'opts')).toThrow(/'unrollLimit' must be a non-negative integer \(or Infinity\), got -1/);
    expect(() => checkCompileOptions(['f32'], 'opts')).toThrow(/opts must be an object of compile options, got an array/);
  });

  it('layers combine key by key, later ones winning, undefined never', () => {
    expect(mergeCompileOptions({ lowering: 'loops', precision: 'f32' }, undefined, { lowering: 'unrolled', precision: undefined }, { maxBatch: 4 }))
      .toEqual({ lowering: 'unrolled', precision: 'f32', maxBatch: 4 });
  });

  it('the bundler plugin checks its options when it is made', () => {
    expect(() => gradc.vite({ precission: 'f32' } as never)).toThrow(/gradc plugin options: unknown compile option 'precission' \(did you mean 'precision'\?\)/);
    expect(gradc.vite({ precision: 'f32' })).toMatchObject({ name: 'gradc' });
  });
});
