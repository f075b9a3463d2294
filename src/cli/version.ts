/** gradc's version, from its package.json (two folders up, from src/cli or dist/cli). */
import { readFileSync } from 'node:fs';

let version: string | undefined;
export function gradcVersion(): string {
  return (version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
}
