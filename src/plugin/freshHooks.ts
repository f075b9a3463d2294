/**
 * Node module hooks for the plugin's model loading (registered once per process by
 * plugin/load.ts, after tsx's): an import made from a module whose URL carries the query
 * `gradc-v=N` resolves a local file (a file: URL outside node_modules) with the same
 * `gradc-v=N`. So each load of a model, under a new N, evaluates the current text of the
 * model file and of every local file it imports, while packages (gradc itself, mathjs)
 * are evaluated once and shared by all loads. plugin/load.ts registers `resolve` by its
 * text, so it must use nothing but its arguments, VERSION and globals.
 */
import type { ResolveHook } from 'node:module';

export const VERSION = 'gradc-v';

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const result = await nextResolve(specifier, context);
  const parent = context.parentURL;
  if (!parent?.startsWith('file:') || !result.url.startsWith('file:')) return result;
  const version = new URL(parent).searchParams.get(VERSION);
  if (version === null) return result;
  const url = new URL(result.url);
  if (url.pathname.includes('/node_modules/') || url.searchParams.get(VERSION) === version) return result;
  url.searchParams.set(VERSION, version);
  return { ...result, url: url.href };
};
