// Golden files: test/golden/<case>/ holds, for one model, the module `gradc build` writes
// (generated.ts, byte for byte) and the IR (ir.txt: the loss as built, then the loss and
// gradients after differentiation and simplification). A case's model is the example of
// the same name (examples/<case>.model.ts) or test/golden/<case>/model.ts.
//
//   UPDATE_GOLDEN=1 npm test      (or npm run test:update) rewrites them; review the diff.
//
// Also: generated/ in the repo is what `gradc build examples/*.model.ts --out generated/`
// writes (the `npm run gen:check` of the test suite).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFile, type BuiltFile } from '../src/cli/commands/build.js';
import { main } from '../src/cli/main.js';
import { printIr } from '../src/ir/print.js';

const ROOT = join(import.meta.dirname, '..');
const GOLDEN = 'test/golden';
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Examples with golden files (the larger examples would make golden files nobody reviews). */
const EXAMPLE_CASES = ['linreg', 'student', 'xor'];
const OWN_CASES = readdirSync(join(ROOT, GOLDEN), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(ROOT, GOLDEN, d.name, 'model.ts')))
  .map((d) => d.name);
const CASES: [string, string][] = [
  ...EXAMPLE_CASES.map((c): [string, string] => [c, `examples/${c}.model.ts`]),
  ...OWN_CASES.map((c): [string, string] => [c, `${GOLDEN}/${c}/model.ts`]),
].sort((a, b) => a[0].localeCompare(b[0]));

/** The IR text of a built file: as built, then derived. */
function irText(b: BuiltFile): string {
  const { model, derived } = b.generated;
  const gradNames = model.params.map((p) => `d${p.name}`);
  return [
    `# IR of model '${model.name}' from ${b.file}. Regenerate with UPDATE_GOLDEN=1 npm test.`,
    '',
    '## built: the loss as written',
    printIr([model.loss], model.labels, ['loss']),
    '',
    '## derived: the loss and its gradients, simplified',
    printIr([derived.model.loss, ...derived.grads], derived.model.labels, ['loss', ...gradNames]),
    '',
  ].join('\n');
}

/** Compares `actual` with the golden file, or rewrites it under UPDATE_GOLDEN=1. */
function golden(path: string, actual: string): void {
  const abs = join(ROOT, path);
  if (UPDATE) {
    mkdirSync(join(abs, '..'), { recursive: true });
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== actual) writeFileSync(abs, actual);
    return;
  }
  expect(existsSync(abs), `${path} is missing; run UPDATE_GOLDEN=1 npm test`).toBe(true);
  const expected = readFileSync(abs, 'utf8');
  if (expected !== actual) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const first = a.findIndex((l, i) => l !== e[i]);
    const where = first < 0 ? e.length + 1 : first + 1;
    // The first differing line in the message, then the full diff from vitest.
    expect(actual, `${path} differs from line ${where} (expected: ${JSON.stringify(e[where - 1])}, got: ${JSON.stringify(a[where - 1])}); if the change is intended, run UPDATE_GOLDEN=1 npm test and review the diff`).toBe(expected);
  }
}

describe('golden files', () => {
  it.each(CASES)('%s', async (name, modelPath) => {
    const b = await buildFile(modelPath, 'generated');
    expect(b.name).toBe(name);
    golden(`${GOLDEN}/${name}/generated.ts`, b.code);
    golden(`${GOLDEN}/${name}/ir.txt`, irText(b));
  });

  it('every folder in test/golden is a case (no stale golden files)', () => {
    const dirs = readdirSync(join(ROOT, GOLDEN), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(dirs).toEqual(CASES.map(([c]) => c).sort());
    for (const d of dirs) {
      const files = readdirSync(join(ROOT, GOLDEN, d)).filter((f) => f !== 'model.ts').sort();
      expect(files, `test/golden/${d}`).toEqual(['generated.ts', 'ir.txt']);
    }
  });
});

describe('generated/ in the repo', () => {
  it('is what gradc build examples/*.model.ts --out generated/ writes (run npm run gen if not)', async () => {
    const models = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.model.ts')).sort().map((f) => `examples/${f}`);
    expect(models.length).toBeGreaterThan(0);
    const err: string[] = [];
    const code = await main(['build', ...models, '--out', 'generated/', '--check'], () => {}, (l) => err.push(l));
    expect(err.join('\n')).toBe('');
    expect(code).toBe(0);
  });
});
