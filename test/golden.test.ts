// Golden files: for one model, the module `gradc build` writes (byte for byte) and the IR
// (ir.txt: the loss as built, then the loss and gradients after differentiation and
// simplification). A case is an example (examples/<case>.model.ts: its module is
// generated/<case>.ts, the file `npm run gen` writes, never a second copy) or a model of
// its own (test/golden/<case>/model.ts: its module is test/golden/<case>/generated.ts);
// its ir.txt is test/golden/<case>/ir.txt. One harness (helpers/golden.ts) for all:
//
//   UPDATE_GOLDEN=1 npm test      (or npm run test:update) rewrites them; review the diff.
//
// Also: generated/ in the repo is what `gradc build examples/*.model.ts --out generated/`
// writes for every example (the `npm run gen:check` of the test suite).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFile, type BuiltFile } from '../src/cli/commands/build.js';
import { main } from '../src/cli/main.js';
import { printIr } from '../src/ir/print.js';

import { expectGolden, ROOT } from './helpers/golden.js';

const GOLDEN = 'test/golden';

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

describe('golden files', () => {
  it.each(CASES)('%s', async (name, modelPath) => {
    const b = await buildFile(modelPath, 'generated');
    expect(b.name).toBe(name);
    expectGolden(EXAMPLE_CASES.includes(name) ? `generated/${name}.ts` : `${GOLDEN}/${name}/generated.ts`, b.code);
    expectGolden(`${GOLDEN}/${name}/ir.txt`, irText(b));
  });

  it('every folder in test/golden is a case (no stale golden files)', () => {
    const dirs = readdirSync(join(ROOT, GOLDEN), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(dirs).toEqual(CASES.map(([c]) => c).sort());
    for (const d of dirs) {
      const files = readdirSync(join(ROOT, GOLDEN, d)).sort();
      expect(files, `test/golden/${d}`).toEqual(EXAMPLE_CASES.includes(d) ? ['ir.txt'] : ['generated.ts', 'ir.txt', 'model.ts']);
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
