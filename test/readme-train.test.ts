/**
 * README "Training from the command line": the `gradc train` command it shows still runs
 * (read from the README itself, with --out and --plot sent to a temporary folder), stops
 * as its sample output says, and draws a well-formed SVG loss curve with a training and a
 * validation line; the picture the README shows (docs/student-loss.svg, made by
 * `npm run docs:student-loss`, the same command) is there, well-formed, of the same run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { wellFormedXml } from './helpers/xml.js';

const ROOT = join(import.meta.dirname, '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'gradc-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The README's `gradc train ...` command (continued lines joined), as argv. */
function readmeCommand(): string[] {
  const section = readme.slice(readme.indexOf('## Training from the command line'));
  const block = section.match(/```sh\n([\s\S]*?)```/)![1]!;
  const command = block.replace(/\\\n\s*/g, '').split('\n').find((l) => l.startsWith('gradc train '))!;
  return command.split(/\s+/).slice(2);
}

/** The line marks of a loss-curve SVG: series name -> number of points. */
function series(svg: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of svg.matchAll(/aria-label="epoch: \d+; loss: [^"]*; series: (\w+)"[^>]*aria-roledescription="line mark" d="(M[^"]+)"/g)) {
    out.set(m[1]!, m[2]!.split(/[ML]/).filter(Boolean).length);
  }
  return out;
}

describe('README: gradc train', () => {
  it('the command runs, stops as shown, and writes a well-formed SVG loss curve', async () => {
    const argv = readmeCommand();
    expect(argv.slice(0, 3)).toEqual(['examples/student.model.ts', '--data', 'examples/data/students.csv']);
    const at = (flag: string) => argv.indexOf(flag) + 1;
    const out = join(dir, 'student.params.json'), plot = join(dir, 'student-loss.svg');
    argv[at('--out')] = out;
    argv[at('--plot')] = plot;
    const err: string[] = [];
    const code = await main(['train', ...argv], () => {}, (l) => err.push(l));
    expect(code, err.join('\n')).toBe(0);
    const summary = err.find((l) => l.startsWith('trained '))!;
    expect(readme).toContain(summary.replace(/ in [\d.]+s /, ' in 0.3s ')); // the README's sample output is this run's
    const svg = readFileSync(plot, 'utf8');
    expect(wellFormedXml(svg)).toBeUndefined();
    const epochs = Number(summary.match(/^trained (\d+) epochs/)![1]);
    expect(series(svg)).toEqual(new Map([['training', epochs], ['validation', epochs]]));
    expect(JSON.parse(readFileSync(out, 'utf8')).model).toBe('student');

    const shown = readFileSync(join(ROOT, 'docs', 'student-loss.svg'), 'utf8');
    expect(readme).toContain('![Loss curve of the student regression: training and validation loss per epoch](docs/student-loss.svg)');
    expect(wellFormedXml(shown)).toBeUndefined();
    expect(series(shown)).toEqual(series(svg));
    // npm run docs:student-loss is the README's command with --plot docs/student-loss.svg (and no --out)
    const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['docs:student-loss'] as string;
    expect(script).toBe(`tsx src/cli/main.ts train ${readmeCommand().filter((_, i, a) => a[i] !== '--out' && a[i - 1] !== '--out' && a[i] !== '--plot' && a[i - 1] !== '--plot').join(' ')} --plot docs/student-loss.svg`);
  }, 60_000);
});
