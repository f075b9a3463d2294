/**
 * The HTML report in a real browser: headless Chromium (Debian's `chromium` package at
 * /usr/bin/chromium) driven by playwright-core opens the page `gradc report` writes for
 * the XOR example with a sample, takes a full-page screenshot, and checks that every
 * formula was typeset (KaTeX output present, no `.katex-error`) and that the graph is
 * an SVG picture with nodes in it. Skipped, saying why, where Chromium is not installed;
 * `.ci/run` installs it, so CI runs it. The screenshot is left at
 * `<tmpdir>/gradc-browser/report.png` for people to look at.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const present = existsSync(CHROMIUM);
if (!present) console.warn(`test/browser.test.ts: skipped: ${CHROMIUM} not found (apt-get install -y chromium chromium-driver; .ci/run does this)`);

describe.skipIf(!present)('the HTML report in headless Chromium', () => {
  it('shows typeset formulas, the graph and the explain tables', async () => {
    const dir = join(tmpdir(), 'gradc-browser');
    mkdirSync(dir, { recursive: true });
    const page = join(dir, 'report.html');
    const shot = join(dir, 'report.png');
    const cwd = process.cwd();
    if (cwd !== root) process.chdir(root); // (only when needed: worker threads cannot chdir)
    const err: string[] = [];
    try {
      const code = await main(['report', 'examples/xor.model.ts', '--at', 'x1=1,x2=0,y=1', '-o', page], () => {}, (l) => err.push(l));
      expect(err.join('\n')).toBe('');
      expect(code).toBe(0);
    } finally {
      if (cwd !== root) process.chdir(cwd);
    }

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    try {
      const tab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      tab.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
      await tab.goto(pathToFileURL(page).href, { waitUntil: 'load' });
      await tab.screenshot({ path: shot, fullPage: true });
      writeFileSync(join(dir, 'screenshot-path.txt'), `${shot}\n`);

      expect(await tab.locator('.katex-error').count()).toBe(0);
      expect(await tab.locator('.gradients .katex').count()).toBe(10); // one per gradient line of XOR
      expect(await tab.locator('figure.graph > svg').count()).toBe(1);
      expect(await tab.locator('figure.graph svg g.node').count()).toBeGreaterThan(30);
      const box = await tab.locator('figure.graph > svg').boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      expect(await tab.locator('h3').allTextContents()).toEqual(['1. Forward pass', '2. Local gradients', '3. Backward pass (chain rule)', '4. Update with learning rate 0.1']);
      expect(await tab.locator('table').count()).toBe(5); // model leaves + the four explain tables
      // KaTeX's fonts came from the page itself (inlined), and nothing from the network.
      // (page code as text: the test's tsconfig has no DOM types)
      await tab.evaluate('document.fonts.ready.then(() => 0)');
      const loaded = (await tab.evaluate(`[...document.fonts].filter((f) => f.status === 'loaded').map((f) => f.family.replace(/"/g, ''))`)) as string[];
      expect(loaded).toContain('KaTeX_Main');
      expect(requests).toEqual([]);
      console.log(`browser test: screenshot at ${shot}`);
    } finally {
      await browser.close();
    }
  });
});
