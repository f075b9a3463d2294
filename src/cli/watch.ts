/**
 * `gradc build --watch`: build, then rebuild each model when its file or any local file
 * it imports changes, until SIGINT or SIGTERM.
 *
 * Guarantees:
 * - Every build imports the model file fresh (plugin/load.ts): the current text of the
 *   model file and of every local file it imports; the files a build evaluated are the
 *   ones watched for that model (chokidar), plus the config file, which when it changes
 *   reloads the config and rebuilds everything.
 * - Changes are debounced (100 ms after the last one); each rebuilt model prints one
 *   line with the time of day, what was written and how long the build took.
 * - A broken model prints its located error (as `gradc build` would) and writes nothing:
 *   its old output stays as it was; the next change that fixes it rebuilds it. Another
 *   model's error does not stop the rest, and no error ends the watch.
 * - Writes go through files.ts (atomic, unchanged files untouched) after the same refusals
 *   as `gradc build`. With a config's globs, model files added later are picked up, and
 *   with `--clean` the output of a removed model file is removed.
 * - SIGINT or SIGTERM closes the watcher and returns normally (the CLI exits 0).
 */
import { existsSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { inspect } from 'node:util';
import { GradcError, asGradcError } from '../errors.js';
import { importFresh } from '../plugin/load.js';
import type { Args } from './args.js';
import { buildFile, buildOptions, checkTargets, otherEmitFiles, planBuild, staleGenerated, type BuildPlan, type BuiltFile } from './commands/build.js';
import { modelsOf } from './config.js';
import { ensureDirectory, writeFiles } from './files.js';
import { displayPath, excerpt, type ImportFile } from './modelFile.js';

const DEBOUNCE_MS = 100;

const clock = (): string => new Date().toTimeString().slice(0, 8);

/** An error as `gradc build` prints it: located message and source line, or an internal error. */
function describe(e: unknown): string {
  if (e instanceof GradcError) {
    const g = asGradcError(e);
    const source = excerpt(g.where);
    return `gradc build: error: ${g.message}${source ? `\n${source}` : ''}`;
  }
  return `gradc build: internal error (a bug in gradc):\n${e instanceof Error ? e.stack ?? e.message : inspect(e)}`;
}

/** Folders a glob's matches can appear in: its part before the first glob character. */
function globBase(dir: string, pattern: string): string {
  const parts = pattern.split('/');
  const fixed: string[] = [];
  for (const p of parts) {
    if (/[*?[\]{}()!]/.test(p)) break;
    fixed.push(p);
  }
  const base = resolve(dir, fixed.join('/'));
  return fixed.length === parts.length ? dirname(base) : base;
}

export async function watchBuild(args: Args, out: (line: string) => void, err: (line: string) => void): Promise<void> {
  const { watch } = await import('chokidar');
  const fresh = (deps: Set<string>): ImportFile => (url) => importFresh(url, (file) => deps.add(resolve(file)));
  const configDeps = new Set<string>();
  let plan: BuildPlan = await planBuild(args, fresh(configDeps));
  /** Model file (absolute) -> the local files its last build evaluated, and its outputs. */
  const models = new Map<string, { deps: Set<string>; built?: BuiltFile }>();
  let watcher: ReturnType<typeof watch> | undefined;

  const watched = new Set<string>();
  const watchAll = (): void => {
    const want = new Set<string>(configDeps);
    if (plan.config) {
      want.add(resolve(plan.config.file));
      for (const g of plan.config.models) want.add(globBase(plan.config.dir, g));
    }
    for (const [m, s] of models) {
      want.add(m);
      for (const d of s.deps) want.add(d);
    }
    const added = [...want].filter((w) => !watched.has(w) && !w.includes('/node_modules/'));
    const removed = [...watched].filter((w) => !want.has(w));
    if (!watcher) watcher = watch(added, { ignoreInitial: true, ignored: (p) => /[\\/](node_modules|\.git)([\\/]|$)/.test(p) });
    else if (added.length) watcher.add(added);
    if (removed.length) watcher.unwatch(removed);
    for (const a of added) watched.add(a);
    for (const r of removed) watched.delete(r);
  };

  const modelList = (): string[] => (args.positionals.length || !plan.config ? plan.models.map((m) => resolve(m)) : modelsOf(plan.config));

  async function buildOne(path: string): Promise<void> {
    const state = models.get(path) ?? { deps: new Set<string>() };
    models.set(path, state);
    const deps = new Set<string>([path]);
    const start = performance.now();
    const shown = displayPath(path);
    try {
      const b = await buildFile(shown, plan.out, buildOptions(plan, shown, fresh(deps)));
      for (const [other, s] of models) {
        if (other !== path && s.built && s.built.target === b.target) {
          throw new GradcError(`${s.built.file} and ${b.file} both define model '${b.name}', so both would write ${b.target}`, { file: b.file, symbol: b.name });
        }
      }
      checkTargets([b], [shown]);
      ensureDirectory(plan.out);
      const outcomes = writeFiles(b.files);
      state.built = b;
      const keep = new Set<string>();
      for (const s of models.values()) for (const f of s.built?.files ?? []) keep.add(resolve(f.path));
      for (const o of otherEmitFiles([b], keep, [shown])) {
        unlinkSync(o);
        out(`${clock()} removed ${o} (generated by an earlier build with the other --emit)`);
      }
      const ms = Math.round(performance.now() - start);
      const targets = b.files.map((f) => f.path).join(' and ');
      out(`${clock()} ${outcomes.every((o) => o === 'unchanged') ? 'unchanged' : 'built'} ${targets} from ${b.file} in ${ms} ms`);
    } catch (e) {
      err(`${clock()} ${shown}: not rebuilt, its old output is kept\n${describe(e)}`);
    } finally {
      // On failure keep the old dependencies too: fixing any of them must trigger a rebuild.
      state.deps = existsSync(path) ? new Set([...(state.built ? [] : state.deps), ...deps]) : deps;
    }
  }

  function clean(): void {
    if (!plan.clean) return;
    const keep = new Set<string>();
    for (const s of models.values()) for (const f of s.built?.files ?? []) keep.add(resolve(f.path));
    if ([...models.values()].some((s) => !s.built)) return; // a broken model's output is not stale
    for (const stale of staleGenerated(plan.out, keep, [...models.keys()].map(displayPath), plan.config?.dir)) {
      try {
        unlinkSync(stale);
        out(`${clock()} removed ${stale} (generated by gradc; its model no longer exists)`);
      } catch (e) {
        err(`${clock()} cannot remove ${stale}: ${(e as Error).message}`);
      }
    }
  }

  async function buildAll(): Promise<void> {
    let list: string[];
    try {
      list = modelList();
    } catch (e) {
      err(describe(e));
      watchAll();
      return;
    }
    for (const m of [...models.keys()]) if (!list.includes(m)) models.delete(m);
    for (const m of list) await buildOne(m);
    clean();
    watchAll();
  }

  await buildAll();
  // Changes are seen once chokidar has set up its watches; only then say so.
  await new Promise<void>((ready) => watcher!.once('ready', () => ready()));
  out(`${clock()} watching ${models.size} model file(s) and ${Math.max(0, watched.size - models.size)} other path(s) for changes; Ctrl-C to stop`);

  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let configChanged = false;

  const flush = (): void => {
    const changed = pending;
    pending = new Set();
    const reconfigure = configChanged;
    configChanged = false;
    running = running.then(async () => {
      if (reconfigure) {
        try {
          configDeps.clear();
          plan = await planBuild(args, fresh(configDeps));
          out(`${clock()} config file changed: rebuilding everything`);
        } catch (e) {
          err(`${clock()} the config file is broken; keeping the last good one\n${describe(e)}`);
          return;
        }
        await buildAll();
        return;
      }
      let list: string[] = [...models.keys()];
      try {
        list = modelList();
      } catch (e) {
        err(describe(e));
      }
      const added = list.filter((m) => !models.has(m));
      const gone = [...models.keys()].filter((m) => !list.includes(m));
      for (const g of gone) models.delete(g);
      const affected = [...models.keys()].filter((m) => changed.has(m) || [...models.get(m)!.deps].some((d) => changed.has(d)));
      for (const m of [...affected, ...added]) await buildOne(m);
      if (added.length || gone.length) clean();
      watchAll();
    });
  };

  const onEvent = (path: string): void => {
    const abs = resolve(path);
    if (plan.config && (abs === resolve(plan.config.file) || configDeps.has(abs))) configChanged = true;
    pending.add(abs);
    clearTimeout(timer);
    timer = setTimeout(flush, DEBOUNCE_MS);
  };
  // chokidar stops watching a file once it is deleted; forget it, so that the next
  // watchAll() watches it afresh and its re-creation (a save by rename, a checkout) is seen.
  const onUnlink = (path: string): void => {
    const abs = resolve(path);
    if (watched.delete(abs)) void watcher!.unwatch(abs);
    onEvent(abs);
  };
  watcher!.on('change', onEvent).on('add', onEvent).on('unlink', onUnlink);
  watcher!.on('error', (e) => err(`${clock()} watcher: ${(e as Error).message ?? String(e)}`));

  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearTimeout(timer);
      out(`${clock()} stopped watching`);
      void watcher!.close().then(done, done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
