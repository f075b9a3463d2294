/**
 * The CLI run in process, as the tests drive it: `main` with its output lines collected.
 * `runCliFromRoot` also checks that the test runs from the repository root, as the paths
 * in the expected messages assume.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../src/cli/main.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface CliRun { code: number; out: string; err: string }

export async function runCli(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

export async function runCliFromRoot(...argv: string[]): Promise<CliRun> {
  expect(process.cwd()).toBe(REPO_ROOT);
  return runCli(...argv);
}
