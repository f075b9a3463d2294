/**
 * `gradc/esbuild`: the gradc plugin for esbuild (plugin/unplugin.ts says what it guarantees).
 * Import a model file with `?gradc` to get its generated trainer module. Typed with
 * esbuild's own `Plugin` type.
 */
import type { Plugin } from 'esbuild';
import type { GradcPluginOptions } from './options.js';
import { gradc } from './unplugin.js';

export type { GradcPluginOptions };
const plugin: (options?: GradcPluginOptions) => Plugin = gradc.esbuild;
export default plugin;
