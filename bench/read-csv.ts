// Time and peak memory of reading a large CSV (MNIST-shaped: x_1..x_784 grey levels 0-255,
// y_1..y_10 one-hot) with src/data. Writes the file once to the temp directory (about
// `MB` megabytes, default 100), then reads it in a child process so the measurement is
// not disturbed by the generator. Run: npx tsx bench/read-csv.ts [MB]
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const mb = Number(process.argv[2] ?? 100);
const path = join(tmpdir(), `gradc-read-${mb}mb.csv`);

if (process.argv[3] === '--read') {
  const { readRows } = await import('../src/data/read.js');
  const { rowLayout } = await import('../src/data/layout.js');
  const layout = rowLayout({ inputs: { x: [784] }, targets: { y: [10] } });
  let peakRss = 0, peakHeap = 0, peakExternal = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakExternal = Math.max(peakExternal, m.arrayBuffers);
  };
  const timer = setInterval(sample, 5);
  const base = process.memoryUsage().rss;
  const t0 = performance.now();
  const rows = await readRows(path, layout);
  const seconds = (performance.now() - t0) / 1000;
  sample();
  clearInterval(timer);
  const M = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const data = rows.X.byteLength + rows.Y.byteLength;
  console.log(`${rows.count} rows, ${(statSync(path).size / 1e6).toFixed(0)} MB file -> ${M(data)} of Float64 rows`);
  console.log(`read in ${seconds.toFixed(1)} s (${(statSync(path).size / 1e6 / seconds).toFixed(0)} MB/s)`);
  console.log(`peak RSS ${M(peakRss)} (process start ${M(base)}), peak JS heap ${M(peakHeap)}, peak array buffers ${M(peakExternal)} = ${(peakExternal / data).toFixed(2)}x the rows`);
} else {
  if (!existsSync(path) || Math.abs(statSync(path).size - mb * 1e6) > mb * 2e4) {
    const out = createWriteStream(path);
    out.write(`${Array.from({ length: 784 }, (_, k) => `x_${k + 1}`).join(',')},${Array.from({ length: 10 }, (_, k) => `y_${k + 1}`).join(',')}\n`);
    let written = 0, i = 0, seed = 1;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    while (written < mb * 1e6) {
      const cells = Array.from({ length: 784 }, () => (rand() < 0.8 ? 0 : Math.floor(rand() * 256)));
      const label = i++ % 10;
      const line = `${cells.join(',')},${Array.from({ length: 10 }, (_, k) => (k === label ? 1 : 0)).join(',')}\n`;
      written += line.length;
      if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(r));
  }
  execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), String(mb), '--read'], { stdio: 'inherit' });
}
