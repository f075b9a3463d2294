/**
 * The options of the gradc bundler plugin: the compile options applied to every model it
 * builds (cli/compileOptions.ts: the same keys as `generate` takes, checked the same way).
 * A file of its own so that the plugins' declarations do not pull in unplugin's, which
 * name every bundler's types.
 */
import type { CompileOptions } from '../cli/compileOptions.js';

export type GradcPluginOptions = CompileOptions;
