/**
 * Loading model files for the bundler plugin, again and again in one process (a dev
 * server reloads a model each time it changes).
 *
 * Guarantees: `importFresh(path)` imports the model file through tsx (one tsx namespace
 * for the process, so nothing outside these imports is affected) under a new version
 * query, which plugin/freshHooks.ts passes on to every local file it imports: the result
 * reflects the files as they are now. Packages are loaded once and shared. `imported`
 * receives the path of every local file the load evaluated (the model file included).
 * Each load's local modules stay in Node's module cache (a few kB per reload).
 */
import { register as registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
import { resolve, VERSION } from './freshHooks.js';
const NAMESPACE = 'gradc-plugin';

type Import = (specifier: string, parent: string) => Promise<{ default?: unknown }>;
let loader: Promise<Import> | undefined;
/** Load version -> who wants to hear about the files it imported. */
const listeners = new Map<string, (file: string) => void>();
let versions = 0;

function onImport(url: string): void {
  if (!url.startsWith('file:')) return;
  const u = new URL(url);
  const listener = listeners.get(u.searchParams.get(VERSION) ?? '');
  if (!listener || u.pathname.includes('/node_modules/')) return;
  listener(fileURLToPath(`${u.protocol}//${u.host}${u.pathname}`));
}

async function start(): Promise<Import> {
  const { register } = await import('tsx/esm/api');
  const tsx = register({ namespace: NAMESPACE, onImport });
  // The hooks run in Node's loader thread, as a module of their own: this one function and
  // its constant, as text (so it works the same run from dist/ or from src/ under tsx).
  const hooks = `const VERSION = ${JSON.stringify(VERSION)};\nexport const resolve = ${resolve.toString()};\n`;
  registerHooks(`data:text/javascript,${encodeURIComponent(hooks)}`);
  return tsx.import as Import;
}

/** Imports the module at `url` (a file: URL) as it is on disk now; see the header. */
export async function importFresh(url: string, imported: (file: string) => void): Promise<{ default?: unknown }> {
  const load = await (loader ??= start());
  const version = String(++versions);
  listeners.set(version, imported);
  try {
    const u = new URL(url);
    u.searchParams.set(VERSION, version);
    return await load(u.href, import.meta.url);
  } finally {
    listeners.delete(version);
  }
}
