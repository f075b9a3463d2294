#!/usr/bin/env node
// The gradc CLI. Model files are TypeScript, so it first registers tsx's loader (its
// public `tsx/esm/api`). The installed package runs the compiled CLI, dist/cli/main.js;
// a git checkout (which has src/, never shipped in the package) runs src/ itself, so
// that a dist/ left from an earlier build can never run stale code there.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';
register();
process.env.GRADC_CLI = '1';
const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/main.js', import.meta.url).href);
