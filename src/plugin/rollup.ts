/**
 * `gradc/rollup`: the gradc plugin for Rollup (plugin/unplugin.ts says what it guarantees).
 * Import a model file with `?gradc` to get its generated trainer module. Typed with
 * only the plugin's name in the type (assignable to Rollup's `Plugin`; Rollup's types are not a dependency of gradc).
 */
import type { GradcPluginOptions } from './options.js';
import { gradc } from './unplugin.js';

export type { GradcPluginOptions };
const plugin: (options?: GradcPluginOptions) => { readonly name: string } = gradc.rollup;
export default plugin;
