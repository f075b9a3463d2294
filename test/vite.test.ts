/**
 * gradc in the browser (issue 10), in headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core as in test/browser.test.ts; skipped, saying why, without it):
 * - the Vite plugin: a real `vite build` (the vite CLI, its config importing `gradc/vite`
 *   from the installed tarball, see test/helpers/package.ts) of a page that imports
 *   `./xor.model.ts?gradc`, served from 127.0.0.1 and trained in the browser;
 * - a generated trainer (`generate()`), bundled by esbuild for the browser with nothing
 *   else in the bundle, trained there in f64 and in f32;
 * - hot reload: Vite's dev server (createServer, 127.0.0.1) serving such a page; editing a
 *   file the model imports, then the model file, invalidates the `?gradc` module (the
 *   server transforms it anew) and the open page reloads showing the new model.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { basename, extname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build as esbuild } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import xor from '../examples/xor.model.js';
import { generate } from '../src/index.js';
import { cleanEnv, installed, type Installed, workDir } from './helpers/package.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const present = existsSync(CHROMIUM);
if (!present) console.warn(`test/vite.test.ts: skipped: ${CHROMIUM} not found (apt-get install -y chromium chromium-driver; .ci/run does this)`);

const run = promisify(execFile);
/** vite, tsx and gradc load in these tests: slow on a loaded machine. */
const SLOW = 300_000;
const XOR_MODEL = readFileSync(join(import.meta.dirname, '..', 'examples', 'xor.model.ts'), 'utf8').replace("from '../src/index.js'", "from 'gradc'");
/** Page code: train XOR with the module `xor` and put the four outputs in #out, as JSON. */
const TRAIN_XOR = `
const XOR = [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]].map(([x1, x2, y]) => ({ inputs: { x1, x2 }, targets: { y } }));
const trained = xor.fit(XOR, { epochs: 2000, learningRate: 0.5 });
const outputs = xor.predict(trained.params, XOR.map((s) => s.inputs)).map((o) => o.yhat);
document.getElementById('out').textContent = JSON.stringify({ outputs, floats: xor.packSamples(XOR).X.constructor.name });
`;

function expectXorTrained(outputs: number[]): void {
  expect(outputs).toHaveLength(4);
  expect(outputs[0]).toBeLessThan(0.1);
  expect(outputs[1]).toBeGreaterThan(0.9);
  expect(outputs[2]).toBeGreaterThan(0.9);
  expect(outputs[3]).toBeLessThan(0.1);
}

/** A static file server on 127.0.0.1 for a built site. */
async function serve(dir: string): Promise<{ url: string; server: Server }> {
  const types = new Map([['.html', 'text/html'], ['.js', 'text/javascript'], ['.css', 'text/css']]);
  const server = createHttpServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types.get(extname(file)) ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}/`, server };
}

let browser: Browser;
let pkg: Installed;
const dirs: string[] = [];
const work = (name: string) => {
  const d = workDir(pkg.project, name);
  dirs.push(d);
  return d;
};

describe.skipIf(!present)('gradc in the browser', () => {
  beforeAll(async () => {
    [pkg, browser] = await Promise.all([installed(), chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })]);
  }, 660_000); // building the package may wait for another test file's build
  afterAll(async () => {
    await browser?.close();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('vite build of a page importing xor.model.ts?gradc (gradc/vite from the tarball) trains XOR in Chromium', async () => {
    const dir = work('vite-build');
    writeFileSync(join(dir, 'xor.model.ts'), XOR_MODEL);
    writeFileSync(join(dir, 'index.html'), '<!doctype html>\n<html><body><pre id="out">training</pre><script type="module" src="./main.ts"></script></body></html>\n');
    writeFileSync(join(dir, 'main.ts'), `import * as xor from './xor.model.ts?gradc';\n${TRAIN_XOR.replace("getElementById('out')", "getElementById('out')!")}`);
    writeFileSync(join(dir, 'vite.config.ts'), [
      "import { defineConfig } from 'vite';",
      "import gradc from 'gradc/vite';",
      "export default defineConfig({ plugins: [gradc()], logLevel: 'warn', build: { outDir: 'site' } });",
    ].join('\n'));
    await run('npx', ['vite', 'build'], { cwd: dir, env: cleanEnv() });
    const assets = readFileSync(join(dir, 'site', 'index.html'), 'utf8');
    expect(assets).toMatch(/<script type="module"[^>]*src="\/assets\/index-[^"]+\.js"/);

    const { url, server } = await serve(join(dir, 'site'));
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForFunction(`document.getElementById('out').textContent !== 'training'`, undefined, { timeout: 30_000 });
      expect(errors).toEqual([]);
      const got = JSON.parse((await page.textContent('#out'))!) as { outputs: number[] };
      console.log(`vite.test: XOR trained in Chromium from a vite build: ${got.outputs.map((o) => o.toFixed(4)).join(', ')}`);
      expectXorTrained(got.outputs);
    } finally {
      server.close();
    }
  }, SLOW);

  it('a generated trainer bundled for the browser (nothing else in the bundle) trains XOR in Chromium, f64 and f32', async () => {
    const dir = work('bundle');
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body><pre id="out">training</pre></body></html>');
    for (const precision of ['f64', 'f32'] as const) {
      const generated = join(dir, `xor-${precision}.ts`);
      writeFileSync(generated, generate(xor, { precision }).code);
      const bundle = await esbuild({
        stdin: { contents: `import * as xor from './xor-${precision}.ts';\n${TRAIN_XOR}`, resolveDir: dir, loader: 'ts', sourcefile: 'main.ts' },
        bundle: true, format: 'iife', platform: 'browser', target: 'es2022', write: false, metafile: true, logLevel: 'silent',
      });
      expect(Object.keys(bundle.metafile.inputs).map((p) => basename(p)).sort()).toEqual(['main.ts', `xor-${precision}.ts`]); // no imports
      await page.evaluate(`document.getElementById('out').textContent = 'training'`);
      await page.addScriptTag({ content: bundle.outputFiles[0].text });
      const got = JSON.parse((await page.textContent('#out'))!) as { outputs: number[]; floats: string };
      console.log(`vite.test: XOR trained in Chromium, ${precision}: ${got.outputs.map((o) => o.toFixed(4)).join(', ')} (${got.floats})`);
      expect(got.floats).toBe(precision === 'f32' ? 'Float32Array' : 'Float64Array'); // the training rows the module packed
      expectXorTrained(got.outputs);
    }
  }, SLOW);

  it('vite dev server: editing a file the model imports, then the model, invalidates the ?gradc module and reloads the page', async () => {
    const dir = work('vite-dev');
    const model = join(dir, 'lin.model.ts');
    const extra = join(dir, 'extra.ts');
    writeFileSync(extra, "export const BIAS = 'b';\n");
    const modelText = (w: string) => [
      "import { defineModel } from 'gradc';",
      "import { BIAS } from './extra.ts';",
      `export default defineModel({ name: 'lin', inputs: ['x'], targets: ['y'], params: { ${w}: 1, [BIAS]: 0 }, formulas: \`yhat = ${w} * x + \${BIAS}\\nloss = (yhat - y)^2\` });`,
    ].join('\n');
    writeFileSync(model, modelText('w'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>\n<html><body><pre id="out">loading</pre><script type="module" src="./main.ts"></script></body></html>\n');
    writeFileSync(join(dir, 'main.ts'), "import * as lin from './lin.model.ts?gradc';\ndocument.getElementById('out')!.textContent = Object.keys(lin.shapes.params).join(',');\n");

    const { createServer } = await import('vite');
    const { default: gradc } = (await import(pathToFileURL(join(pkg.project, 'node_modules', 'gradc', 'dist', 'plugin', 'vite.js')).href)) as typeof import('../src/plugin/vite.js');
    const server = await createServer({
      root: dir, configFile: false, logLevel: 'silent', cacheDir: join(dir, '.vite'), plugins: [gradc()],
      server: { host: '127.0.0.1', port: 0, strictPort: false }, optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    try {
      const url = server.resolvedUrls!.local[0];
      const page = await browser.newPage();
      await page.goto(url);
      const shows = async (text: string) => {
        await page.waitForFunction(`document.getElementById('out')?.textContent === ${JSON.stringify(text)}`, undefined, { timeout: 30_000 });
      };
      /** What the dev server now serves for the model (recomputed only once it was invalidated). */
      const served = async () => (await server.transformRequest('/lin.model.ts?gradc'))?.code ?? '';
      await shows('w,b');
      expect(await served()).toMatch(/params: \{\s*w: \[\],\s*b: \[\],?\s*\}/);

      writeFileSync(extra, "export const BIAS = 'c';\n"); // a file the model imports
      await shows('w,c');
      expect(await served()).toMatch(/params: \{\s*w: \[\],\s*c: \[\],?\s*\}/);

      writeFileSync(model, modelText('v')); // the model file itself
      await shows('v,c');
      const id = `${model}?gradc`;
      const mod = server.moduleGraph.getModuleById(id);
      expect(mod?.file).toBe(model);
      expect(await served()).toMatch(/params: \{\s*v: \[\],\s*c: \[\],?\s*\}/);

      // A broken model is a build error naming the model file and the problem; fixed, it serves again.
      const error = async () => served().then(() => 'no error', (e: Error) => e.message);
      writeFileSync(model, modelText('v').replace('v * x', 'v * q'));
      await expect.poll(error, { timeout: 30_000, interval: 200 }).toMatch(/lin\.model\.ts/);
      expect(await error()).toMatch(/\bq\b/);
      writeFileSync(model, modelText('v'));
      await expect.poll(error, { timeout: 30_000, interval: 200 }).toBe('no error');
    } finally {
      await server.close();
    }
  }, SLOW);
});
