/**
 * gradc as a user gets it: built (`npm run build`), packed (`npm pack`) and installed into
 * a temporary `"type": "module"` project, once per content of the package, shared by the
 * test files that need it (test/package.test.ts, test/vite.test.ts).
 *
 * Installing: the tarball is unpacked into the project's node_modules/gradc and its bin
 * linked into node_modules/.bin, which is what `npm install <tarball>` does; gradc's own
 * dependencies (and vite, typescript) are links to this repository's node_modules, so no
 * network is needed. (A real `npm install gradc-0.1.0.tgz` works the same, but has to
 * fetch the dependencies from the registry.)
 *
 * Sharing: the project lives in `<tmpdir>/gradc-pack-<hash>`, the hash taken over every
 * file that goes into the package; the first test file to get there builds it under a
 * lock directory, the others wait for its `ready` marker. Tests must not write into the
 * project: they make their own folder inside it (`workDir`), so `gradc` resolves there.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGED = ['package.json', 'tsconfig.build.json', 'client.d.ts', 'bin', 'src', 'README.md', 'LICENSE'];

export interface Installed {
  /** The consumer project: package.json `"type": "module"`, node_modules/gradc from the tarball. */
  readonly project: string;
  readonly tarball: string;
  /** Paths inside the tarball, as `npm pack --json` lists them. */
  readonly files: readonly string[];
}

function filesUnder(path: string, out: string[] = []): string[] {
  if (statSync(path).isDirectory()) for (const e of readdirSync(path).sort()) filesUnder(join(path, e), out);
  else out.push(path);
  return out;
}

function contentHash(): string {
  const h = createHash('sha256');
  for (const top of PACKAGED) {
    const path = join(ROOT, top);
    if (!existsSync(path)) continue;
    for (const f of filesUnder(path)) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function make(dir: string): void {
  const npm = (args: string[]) => execFileSync('npm', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  npm(['run', 'build']);
  const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir])) as { filename: string; files: { path: string }[] }[];
  const tarball = join(dir, packed[0].filename);
  writeFileSync(join(dir, 'files.json'), JSON.stringify(packed[0].files.map((f) => f.path)));

  const project = join(dir, 'project');
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  execFileSync('tar', ['-xzf', tarball, '-C', modules]);
  renameSync(join(modules, 'package'), join(modules, 'gradc'));
  const ours = realpathSync(join(ROOT, 'node_modules'));
  for (const name of readdirSync(ours)) {
    if (name.startsWith('.') || name === 'gradc') continue;
    symlinkSync(join(ours, name), join(modules, name));
  }
  const bin = (name: string, target: string) => {
    chmodSync(join(modules, target), 0o755);
    symlinkSync(join('..', target), join(modules, '.bin', name));
  };
  bin('gradc', 'gradc/bin/gradc.js');
  bin('vite', 'vite/bin/vite.js');
  bin('tsc', 'typescript/bin/tsc');
  writeFileSync(join(dir, 'ready'), tarball);
}

/** The installed package (built, packed and installed on the first call for this content). */
export async function installed(): Promise<Installed> {
  const dir = join(tmpdir(), `gradc-pack-${contentHash()}`);
  const ready = join(dir, 'ready');
  const lock = `${dir}.lock`;
  for (let waited = 0; !existsSync(ready); waited += 500) {
    let mine = false;
    try {
      mkdirSync(lock);
      mine = true;
    } catch {
      // Another test file is building it; a lock left by a run that was killed is taken over.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
    }
    if (mine) {
      try {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        make(dir);
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
      break;
    }
    if (waited > 600_000) throw new Error(`test/helpers/package.ts: gave up waiting for ${lock} (remove it if no test run is building the package)`);
    await sleep(500);
  }
  return { project: join(dir, 'project'), tarball: readFileSync(ready, 'utf8'), files: JSON.parse(readFileSync(join(dir, 'files.json'), 'utf8')) as string[] };
}

/** A fresh folder inside the consumer project, for one test to write in. */
export function workDir(project: string, name: string): string {
  return mkdtempSync(join(project, `${name}-`));
}

/** The environment for a child process in the consumer project: no loader options inherited from the test runner. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.GRADC_CLI;
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k.startsWith('TSX')) delete env[k];
  return env;
}
