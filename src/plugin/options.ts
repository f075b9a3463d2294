/**
 * The options of the gradc bundler plugin: the compile options applied to every model it
 * builds, as the library's `generate` takes them. (A file of its own so that the plugins'
 * declarations do not pull in unplugin's, which name every bundler's types.)
 */
import type { EmitOptions } from '../6-emit/module.js';

export type GradcPluginOptions = Pick<EmitOptions, 'lowering' | 'precision' | 'unrollLimit' | 'maxBatch' | 'unrollElements' | 'chunkSize'>;
