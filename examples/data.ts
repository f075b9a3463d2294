/** Loading the bundled example data (no network: every file ships in the repository or an npm package). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function readCsv(path: string): Record<string, number>[] {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], Number(v)])));
}

/** Students with CGPA and IQ standardized (z-scores); `package` as given. */
export function students(): { inputs: { cgpa: number; iq: number }; targets: { package: number } }[] {
  const rows = readCsv(fileURLToPath(new URL('./data/students.csv', import.meta.url)));
  const stats = (k: string) => {
    const m = rows.reduce((s, r) => s + r[k], 0) / rows.length;
    const sd = Math.sqrt(rows.reduce((s, r) => s + (r[k] - m) ** 2, 0) / rows.length);
    return (v: number) => (v - m) / sd;
  };
  const zc = stats('cgpa'), zi = stats('iq');
  return rows.map((r) => ({ inputs: { cgpa: zc(r.cgpa), iq: zi(r.iq) }, targets: { package: r.package } }));
}

export const XOR = [
  { inputs: { x1: 0, x2: 0 }, targets: { y: 0 } },
  { inputs: { x1: 0, x2: 1 }, targets: { y: 1 } },
  { inputs: { x1: 1, x2: 0 }, targets: { y: 1 } },
  { inputs: { x1: 1, x2: 1 }, targets: { y: 0 } },
];
