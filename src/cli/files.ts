/**
 * Writing the files the CLI produces, so that nothing a user has is lost or half-written.
 *
 * Guarantees:
 * - `writeFiles(files)` is a small transaction. Files whose content on disk is already
 *   the new content are not touched (their mtime is kept) and come back 'unchanged'.
 *   Every other file is first written in full to a temporary file in its own directory
 *   (exclusive create, fsync, close); only when every temporary is complete are they
 *   renamed over their targets, one `rename(2)` each, which is atomic on POSIX. Any error
 *   before the renames removes every temporary and changes nothing; an error during the
 *   renames puts back what was there before (the old bytes, or no file) and removes the
 *   temporaries. A replaced file keeps its permission bits. A process killed during the
 *   renames leaves some targets new and some old, each one whole. A process killed at any moment leaves every target either as it was or
 *   complete: never empty, never truncated.
 * - Temporary names are `.<target name>.<pid>-<random>.gradc-tmp`: hidden, and never ending
 *   in `.ts`, so a leftover from a killed process is never taken for a module. The next
 *   `writeFiles` into that directory removes leftovers of its targets whose process is
 *   gone (`removeStaleTemporaries`).
 * - `ensureDirectory(dir)` creates a missing directory one level at a time below its
 *   nearest existing ancestor (never Node's recursive mkdir, which loops forever on
 *   /proc), after checking that the ancestor is a directory; `checkWritableTarget(path)`
 *   says clearly when a file cannot be written there (missing folder, a folder in the
 *   way). Both raise GradcErrors naming the path.
 * - `checkNotAnInput(path, modelFile)` refuses a target that is the model file or a local
 *   file it imports (compared by real path, so symlinks and `./x/../` are seen through):
 *   `gradc graph m.model.ts -o m.model.ts` must not replace the model with a drawing.
 */
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GradcError } from '../errors.js';

export interface FileToWrite {
  readonly path: string;
  readonly content: string;
}

export type WriteOutcome = 'written' | 'unchanged';

/** The low-level writes, replaceable in tests (a full disk, a failing rename). */
export interface FileSystemOps {
  /** Writes all of `data` to the open file `fd` (may throw, e.g. ENOSPC). */
  write(fd: number, data: Buffer): void;
  rename(from: string, to: string): void;
}

const realOps: FileSystemOps = {
  write(fd, data) {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  },
  rename: renameSync,
};

const TEMP_SUFFIX = '.gradc-tmp';
const tempName = (target: string): string =>
  join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);

/** `.<name>.<pid>-<hex>.gradc-tmp` -> pid, for a temporary of target `name`. */
function tempOwner(entry: string, name: string): number | undefined {
  const prefix = `.${name}.`;
  if (!entry.startsWith(prefix) || !entry.endsWith(TEMP_SUFFIX)) return undefined;
  const m = /^(\d+)-[0-9a-f]+$/.exec(entry.slice(prefix.length, -TEMP_SUFFIX.length));
  return m ? Number(m[1]) : undefined;
}

const alive = (pid: number): boolean => {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Whether `entry` (a file name) is a gradc temporary file. */
export const isTemporary = (entry: string): boolean => entry.startsWith('.') && entry.endsWith(TEMP_SUFFIX);

/** Removes temporaries of `targets` left by processes that are gone (killed mid-write). */
export function removeStaleTemporaries(targets: readonly string[]): void {
  const byDir = new Map<string, Set<string>>();
  for (const t of targets) {
    const d = dirname(t);
    (byDir.get(d) ?? byDir.set(d, new Set()).get(d)!).add(basename(t));
  }
  for (const [dir, names] of byDir) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      for (const name of names) {
        const pid = tempOwner(e, name);
        if (pid !== undefined && !alive(pid)) removeQuietly(join(dir, e));
      }
    }
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

const reason = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    const known: Record<string, string> = {
      ENOSPC: 'no space left on the device', EACCES: 'permission denied', EPERM: 'operation not permitted',
      EROFS: 'read-only file system', ENOENT: 'no such file or directory', EISDIR: 'it is a directory',
      ENOTDIR: 'a part of the path is not a directory', EDQUOT: 'disk quota exceeded', EEXIST: 'the file already exists',
    };
    return Object.hasOwn(known, err.code) ? `${known[err.code]} (${err.code})` : err.message;
  }
  return e instanceof Error ? e.message : String(e);
};

/** The current content of `path`, or null when there is no such file. */
function current(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new GradcError(`cannot read ${path} to compare it with the new content: ${reason(e)}`);
  }
}

/** The permission bits of an existing `path` (kept by the replacement), else undefined. */
function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
}

function writeTemporary(target: string, data: Buffer, ops: FileSystemOps): string {
  const temp = tempName(target);
  const mode = modeOf(target);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o666);
  } catch (e) {
    throw new GradcError(`cannot write ${target}: ${reason(e)}`);
  }
  try {
    if (mode !== undefined) fchmodSync(fd, mode);
    ops.write(fd, data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    removeQuietly(temp);
    throw new GradcError(`cannot write ${target}: ${reason(e)}; the file was left as it was`);
  }
  closeSync(fd);
  return temp;
}

/** Flushes a directory's entries (the renames) to disk; best effort (not every system allows it). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here
  }
}

/**
 * Writes every file whose content changed, all or none (see the header). Returns, per
 * file in order, whether it was written or already had this content.
 */
export function writeFiles(files: readonly FileToWrite[], ops: FileSystemOps = realOps): WriteOutcome[] {
  removeStaleTemporaries(files.map((f) => f.path));
  const data = files.map((f) => Buffer.from(f.content, 'utf8'));
  const before = files.map((f) => current(f.path));
  const outcomes: WriteOutcome[] = files.map((_, i) => (before[i] !== null && before[i]!.equals(data[i]) ? 'unchanged' : 'written'));

  const temps: (string | undefined)[] = [];
  try {
    files.forEach((f, i) => temps.push(outcomes[i] === 'written' ? writeTemporary(f.path, data[i], ops) : undefined));
  } catch (e) {
    temps.forEach((t) => t && removeQuietly(t));
    throw e;
  }

  const renamed: number[] = [];
  try {
    files.forEach((f, i) => {
      const t = temps[i];
      if (!t) return;
      ops.rename(t, f.path);
      renamed.push(i);
    });
  } catch (e) {
    const failed = files[temps.findIndex((t, i) => t && !renamed.includes(i))];
    temps.forEach((t, i) => t && !renamed.includes(i) && removeQuietly(t));
    const lost: string[] = [];
    for (const i of renamed) {
      try {
        const old = before[i];
        if (old === null) unlinkSync(files[i].path);
        else realOps.rename(writeTemporary(files[i].path, old, realOps), files[i].path);
      } catch {
        lost.push(files[i].path);
      }
    }
    const restored = lost.length ? `; could not put back the previous ${lost.join(', ')}` : renamed.length ? '; the files already replaced were put back' : '';
    throw new GradcError(`cannot write ${failed?.path ?? 'the output'}: ${reason(e)}${restored}`);
  }
  for (const dir of new Set(files.filter((_, i) => temps[i]).map((f) => dirname(resolve(f.path))))) syncDirectory(dir);
  return outcomes;
}

/** One file, atomically (see writeFiles). */
export const writeFile = (path: string, content: string, ops?: FileSystemOps): WriteOutcome => writeFiles([{ path, content }], ops)[0];

/** Whether `path` is an existing directory (following links); false when it cannot be stat'ed. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Checks that a file can be created or replaced at `path`: it is not a directory, and its
 * folder exists and is a directory. `what` names the option, for the message.
 */
export function checkWritableTarget(path: string, what: string): void {
  if (isDirectory(path)) throw new GradcError(`${what} ${path} is a directory; give a file name`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir)) throw new GradcError(`cannot write ${path}: the folder ${dirname(path)} does not exist (create it first)`);
  if (!isDirectory(dir)) throw new GradcError(`cannot write ${path}: ${dirname(path)} is not a folder`);
}

/**
 * Creates `dir` and its missing parents, one level at a time, below the nearest existing
 * ancestor, which must be a directory. Bounded by the number of path components.
 */
export function ensureDirectory(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let at = abs;
  while (!existsSync(at)) {
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  if (!isDirectory(at)) throw new GradcError(`cannot create the output directory ${dir}: ${at} is not a directory`);
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && isDirectory(d)) continue;
      throw new GradcError(`cannot create the output directory ${dir}: ${reason(e)}`);
    }
  }
}

const realPathOf = (path: string): string | undefined => {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
};

const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"\n]+)['"]/g;
const MAX_INPUTS = 2000;

/**
 * The real paths of `files` and of every local file they import (relative specifiers,
 * followed transitively, at most MAX_INPUTS files; `x.js` also tries `x.ts`), each mapped to
 * the path by which it was reached. Iterative.
 */
export function localInputs(files: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  const queue = [...files];
  while (queue.length > 0 && found.size < MAX_INPUTS) {
    const path = queue.shift()!;
    const real = realPathOf(path);
    if (real === undefined || found.has(real) || !isFile(real)) continue;
    found.set(real, path);
    let text: string;
    try {
      text = readFileSync(real, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(RELATIVE_IMPORT)) {
      const spec = resolve(dirname(real), m[1]);
      const hit = [spec, spec.replace(/\.([mc]?)js$/, '.$1ts'), `${spec}.ts`, join(spec, 'index.ts')].find(isFile);
      if (hit) queue.push(hit);
    }
  }
  return found;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Refuses `path` (an output, named `what` in the message) when it is `modelFile` or a local file it imports. */
export function checkNotAnInput(path: string, modelFile: string, what: string): void {
  const real = realPathOf(path);
  if (real === undefined) return; // nothing there yet
  const input = localInputs([modelFile]).get(real);
  if (input !== undefined) {
    throw new GradcError(`refusing to write ${what} ${path}: it is ${input === modelFile ? 'the model file' : `${input}, a file the model file ${modelFile} imports`}; give another file name`, { symbol: what });
  }
}
