/**
 * `gradc/vite`: the gradc plugin for Vite (plugin/unplugin.ts says what it guarantees).
 * Import a model file with `?gradc` to get its generated trainer module. Typed with
 * Vite's own `Plugin` type (gradc/vite is used where vite is installed).
 */
import type { Plugin } from 'vite';
import type { GradcPluginOptions } from './options.js';
import { gradc } from './unplugin.js';

export type { GradcPluginOptions };
const plugin: (options?: GradcPluginOptions) => Plugin = gradc.vite;
export default plugin;
