/**
 * Threads in a browser (src/train/browser.ts): headless Chromium (Debian's `chromium` at
 * /usr/bin/chromium, driven by playwright-core) opens a page served by a local http server
 * with the cross-origin isolation headers (COOP same-origin, COEP require-corp), so that it
 * may make SharedArrayBuffers; the page bundles browser.ts (esbuild) and trains a random
 * 784-33-5 net with Adam on 2 Web Workers: the team computed every step, two runs give the
 * same bytes, and the parameters, losses and optimizer state equal fitParallel with 2
 * threads in Node and 1 thread's fitRows (in the page and in Node) to 1e-12; the page's main
 * thread stayed free (a timer kept firing). The same page without the headers takes the
 * single-thread fallback, which says why and gives the bytes of threads: 1.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModel, generate } from '../src/index.js';
import { generateJavaScript } from '../src/pipeline.js';
import { runModule, transpile, type Params } from '../src/load/loader.js';
import { mulberry32 } from '../src/rng.js';
import { fitParallel } from '../src/train/parallel.js';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present) console.warn(`test/threads-browser.test.ts: skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run does this)`);

const COUNT = 96;
const OPTIONS = { epochs: 3, batchSize: 32, shuffleSeed: 5, optimizer: { kind: 'adam', learningRate: 0.01 } } as const;

const def = defineModel('browserThreads', (m) => {
  const out = m.mlp(m.input('x', 784), [33, 5], 'tanh', 'linear');
  m.loss(m.mean(m.call('square', m.sub(out, m.target('y', 5)))));
}, { seed: 3 });

function rows(): { X: Float64Array; Y: Float64Array } {
  const rand = mulberry32(17);
  return { X: Float64Array.from({ length: COUNT * 784 }, () => 2 * rand() - 1), Y: Float64Array.from({ length: COUNT * 5 }, () => rand() - 0.5) };
}

const hex = (p: Params): Record<string, string> => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? Buffer.from(Float64Array.of(v).buffer).toString('hex') : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')]));
const values = (h: string): Float64Array => { const b = Buffer.from(h, 'hex'); return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
/** How the page's parameters (bytes in hex) differ from `p`: values not bit-equal, and the largest relative difference. */
function differences(page: Record<string, string>, p: Params): { differ: number; worst: number } {
  let differ = 0, worst = 0;
  for (const [name, v] of Object.entries(p)) {
    const a = typeof v === 'number' ? Float64Array.of(v) : v, b = values(page[name]!);
    expect(b.length).toBe(a.length);
    a.forEach((x, i) => { if (!Object.is(x, b[i])) differ++; worst = Math.max(worst, Math.abs(x - b[i]!) / Math.max(1, Math.abs(x))); });
  }
  return { differ, worst };
}

/** The page: trains with `threads`, and reports the bytes of the parameters and what else the test compares. */
const PAGE = (threads: number) => `<!doctype html><title>gradc threads</title><script type="module">
import { fitParallelInBrowser } from './threads.js';
const hex = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), (b) => b.toString(16).padStart(2, '0')).join('');
try {
  const js = await (await fetch('./model.js')).text();
  const data = await (await fetch('./data.json')).json();
  const X = Float64Array.from(data.X), Y = Float64Array.from(data.Y);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const epochs = [];
  const train = (threads, onEpoch) => fitParallelInBrowser({ js }, X, Y, ${COUNT}, { ...${JSON.stringify(OPTIONS)}, threads, ...(onEpoch ? { onEpoch } : {}) });
  const bytes = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? hex(Float64Array.of(v)) : hex(v)]));
  const r = await train(${threads}, (epoch, loss) => { epochs.push([epoch, loss]); });
  clearInterval(timer);
  const again = await train(${threads});
  const one = await train(1);
  window.result = { isolated: crossOriginIsolated, threads: r.threads, steps: r.steps, fallback: r.fallback ?? null, losses: r.losses, params: bytes(r.params), m: bytes(r.optimizer.m), again: bytes(again.params), one: bytes(one.params), epochs, ticks };
} catch (e) {
  window.result = { error: String(e && e.stack || e) };
}
</script>`;

describe.skipIf(!present)('fitParallelInBrowser in headless Chromium', () => {
  let server: Server;
  let base = '';
  const files = new Map<string, string>();
  beforeAll(async () => {
    const bundle = await build({ entryPoints: ['src/train/browser.ts'], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false });
    files.set('/threads.js', bundle.outputFiles[0]!.text);
    files.set('/model.js', generateJavaScript(def));
    const { X, Y } = rows();
    files.set('/data.json', JSON.stringify({ X: Array.from(X), Y: Array.from(Y) }));
    files.set('/index.html', PAGE(2));
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const isolated = url.pathname.startsWith('/isolated/');
      const path = url.pathname.replace(/^\/(isolated|plain)\//, '/');
      const body = files.get(path);
      if (body === undefined) { res.writeHead(404).end(); return; }
      res.writeHead(200, {
        'content-type': path.endsWith('.js') ? 'text/javascript' : path.endsWith('.json') ? 'application/json' : 'text/html',
        ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' } : {}),
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function run(path: string): Promise<Record<string, unknown>> {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'], headless: true });
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`${base}${path}`);
      await tab.waitForFunction('window.result !== undefined', undefined, { timeout: 120_000 });
      expect(errors).toEqual([]);
      return (await tab.evaluate('window.result')) as Record<string, unknown>;
    } finally {
      await browser.close();
    }
  }

  it('trains with 2 Web Workers in a cross-origin-isolated page: the same bytes run to run, Node\'s fitParallel and 1 thread to 1e-12', async () => {
    const r = await run('/isolated/index.html');
    expect(r['error']).toBeUndefined();
    expect(r['isolated']).toBe(true);
    expect(r['fallback']).toBeNull();
    expect(r['threads']).toBe(2);
    expect(r['steps']).toEqual({ team: 9, alone: 0 }); // 3 epochs of 3 batches of 32
    expect((r['epochs'] as unknown[]).length).toBe(3); // onEpoch, called on the page's thread
    expect(r['ticks'] as number).toBeGreaterThan(0); // the page's thread stayed free while the workers trained

    const page = r['params'] as Record<string, string>;
    expect(r['again']).toEqual(page); // bit-identical from run to run
    const { X, Y } = rows();
    const cjs = transpile(generate(def).code);
    // Within 1e-12 of fitParallel with 2 threads in Node and of 1 thread, in the page and in
    // Node. Not bit-identical to Node: Chromium's V8 and Node 20's round some library
    // function in the last bit (the page's own fitRows differs from Node's fitRows too).
    const node = fitParallel({ js: cjs }, X, Y, COUNT, { ...OPTIONS, threads: 2 });
    expect(differences(page, node.params).worst).toBeLessThanOrEqual(1e-12);
    expect(differences(r['m'] as Record<string, string>, node.optimizer.m!).worst).toBeLessThanOrEqual(1e-12);
    (r['losses'] as number[]).forEach((l, i) => expect(Math.abs(l - node.losses[i]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(l))));
    const one = runModule(cjs).fitRows(X, Y, COUNT, OPTIONS);
    expect(differences(page, one.params).worst).toBeLessThanOrEqual(1e-12);
    const pageOne = r['one'] as Record<string, string>;
    expect(differences(pageOne, one.params).worst).toBeLessThanOrEqual(1e-12);
    const threaded = Object.fromEntries(Object.entries(page).map(([k, h]) => [k, values(h)]));
    const d = differences(pageOne, threaded);
    expect(d.worst).toBeLessThanOrEqual(1e-12);
    expect(d.differ).toBeGreaterThan(0); // the threads' sum is not the same sum as 1 thread's: the comparison above is not trivial
  }, 180_000);

  it('without cross-origin isolation takes the single-thread fallback: fitRows itself, and says why', async () => {
    const r = await run('/plain/index.html');
    expect(r['error']).toBeUndefined();
    expect(r['isolated']).toBe(false);
    expect(r['threads']).toBe(1);
    expect(r['fallback']).toMatch(/not cross-origin isolated/);
    expect(r['again']).toEqual(r['params']);
    expect(r['one']).toEqual(r['params']); // the fallback is fitRows itself, as threads: 1
    const { X, Y } = rows();
    const one = runModule(transpile(generate(def).code)).fitRows(X, Y, COUNT, OPTIONS);
    expect(differences(r['params'] as Record<string, string>, one.params).worst).toBeLessThanOrEqual(1e-12);
  }, 180_000);
});
