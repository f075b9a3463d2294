/**
 * What `gradc train` shows (src/train): one plain line per epoch when the output is not
 * a terminal and a live bar when it is; the loss sparkline; the loss-curve SVG drawn by
 * Vega-Lite / Vega, which must be well-formed XML (checked by a small checker here, and
 * by Chromium's XML parser where /usr/bin/chromium exists), show both series and the
 * axis titles, and be byte-identical for the same curve.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { lossCurveSpec, lossCurveSvg } from '../src/train/plot.js';
import { duration, num, TrainingProgress } from '../src/train/progress.js';
import { sparkline } from '../src/train/sparkline.js';
import { wellFormedXml } from './helpers/xml.js';

/** A stream that keeps what is written; `isTTY` as given. */
function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 120, write: (s: string) => (chunks.push(s), true), on() { return this; }, removeListener() { return this; } } };
}

describe('progress', () => {
  it('prints exactly one plain line per epoch when the output is not a terminal, and nothing per batch', () => {
    const { chunks, stream } = sink(false);
    let t = 0;
    const p = new TrainingProgress({ epochs: 3, samplesPerEpoch: 1000, stream, now: () => t });
    for (let e = 1; e <= 3; e++) {
      for (let b = 100; b <= 1000; b += 100) {
        t += 50;
        p.batch(b, 1 / e);
      }
      p.epoch({ epoch: e, loss: 1 / e, valLoss: 1.5 / e, metrics: { accuracy: 0.5 + e / 10, val_accuracy: 0.45 + e / 10 }, learningRate: 0.001 });
    }
    p.stop();
    const text = chunks.join('');
    expect(text).not.toMatch(/\x1b/); // no control characters
    expect(text.split('\n')).toEqual([
      'epoch 1/3  loss 1  val_loss 1.5  accuracy 0.6  val_accuracy 0.55  lr 0.001  2000 samples/s  0.5s',
      'epoch 2/3  loss 0.5  val_loss 0.75  accuracy 0.7  val_accuracy 0.65  lr 0.001  2000 samples/s  0.5s',
      'epoch 3/3  loss 0.33333  val_loss 0.5  accuracy 0.8  val_accuracy 0.75  lr 0.001  2000 samples/s  0.5s',
      '',
    ]);
  });

  it('draws a live bar on a terminal: epoch i/n, progress, samples/s, loss, validation loss, metric, ETA', () => {
    const { chunks, stream } = sink(true);
    let t = 0;
    const p = new TrainingProgress({ epochs: 4, samplesPerEpoch: 100, stream, now: () => t });
    t += 500;
    p.batch(50, 0.8);
    p.epoch({ epoch: 1, loss: 0.7, valLoss: 0.9, metrics: { accuracy: 0.75 } });
    t += 250;
    p.batch(50, 0.6);
    const line = (p as unknown as { barLine(): string }).barLine();
    expect(line).toBe('epoch 2/4 ████████████░░░░░░░░░░░░ 50% | 200 samples/s | loss 0.6 | val_loss 0.9  accuracy 0.75 | ETA 1.3s');
    p.stop();
    expect(chunks.join('')).toMatch(/\x1b\[\?25l/); // the cursor is hidden while the bar runs ...
    expect(chunks.join('')).toMatch(/\x1b\[\?25h/); // ... and shown again by stop()
    expect(chunks.join('')).toMatch(/epoch 1\/4/);
  });

  it('restart() restarts the clocks of the rate and the ETA (time spent setting up is not training)', () => {
    const { stream } = sink(true);
    let t = 0;
    const p = new TrainingProgress({ epochs: 2, samplesPerEpoch: 100, stream, now: () => t });
    t += 10_000; // ten seconds of set-up
    p.restart();
    t += 500;
    p.batch(50, 0.5);
    expect((p as unknown as { barLine(): string }).barLine()).toMatch(/ 100 samples\/s \| loss 0.5 \| ETA 1.5s$/);
    p.stop();
  });

  it('formats numbers and durations compactly', () => {
    expect([num(0.123456), num(1234.567), num(1.23456e-7), num(0), num(NaN)]).toEqual(['0.12346', '1234.6', '1.2346e-7', '0', 'NaN']);
    expect([duration(0.84), duration(12.4), duration(185), duration(3725)]).toEqual(['0.8s', '12s', '3m05s', '1h02m']);
  });
});

describe('sparkline', () => {
  it('maps the lowest value to ▁ and the highest to █, one character per value', () => {
    expect(sparkline([5, 4, 3, 2, 1])).toBe('█▆▅▃▁');
    expect(sparkline([])).toBe('');
  });

  it('shows NaN and Infinity as ×, and a constant series as a flat line', () => {
    expect(sparkline([3, 2, NaN, 1, Infinity])).toBe('█▅×▁×');
    expect(sparkline([2, 2, 2])).toBe('▄▄▄');
    expect(sparkline([NaN, NaN])).toBe('××');
  });

  it('uses a log scale when the values span two decades or more (auto), and fits a width', () => {
    expect(sparkline([1000, 100, 10, 1])).toBe('█▆▃▁');
    expect(sparkline([1000, 100, 10, 1], { log: false })).toBe('█▂▁▁');
    const long = sparkline(Array.from({ length: 1000 }, (_, i) => 1000 - i), { width: 40 });
    expect([...long].length).toBe(40);
    expect(long.startsWith('█') && long.endsWith('▁')).toBe(true);
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe('loss curve SVG', () => {
  const loss = Array.from({ length: 30 }, (_, i) => 2 * Math.exp(-i / 6) + 0.05);
  const valLoss = loss.map((l, i) => l * 1.1 + 0.002 * i);

  it('is well-formed SVG with a line per series, a legend and axis titles, byte-identical on a second run', async () => {
    const svg = await lossCurveSvg({ loss, valLoss }, { title: 'student' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(wellFormedXml(svg)).toBeUndefined();
    const lines = [...svg.matchAll(/<path aria-label="epoch: 1; loss: [^"]*; series: (\w+)"[^>]*aria-roledescription="line mark" d="M[^"]+"/g)].map((m) => m[1]);
    expect(lines).toEqual(['training', 'validation']);
    for (const title of ['epoch', 'loss', 'training', 'validation', 'student']) expect(svg).toMatch(new RegExp(`>${title}</text>`));
    expect(await lossCurveSvg({ loss, valLoss }, { title: 'student' })).toBe(svg);
  }, 60_000);

  it('uses a log y axis when the loss falls by two decades or more, and leaves out non-finite epochs', async () => {
    const y = (spec: Record<string, unknown>) => (spec['encoding'] as { y: { scale: { type?: string } } }).y.scale.type;
    expect(y(lossCurveSpec({ loss }))).toBeUndefined();
    expect(y(lossCurveSpec({ loss: [100, 10, 1, 0.5] }))).toBe('log');
    expect(y(lossCurveSpec({ loss: [100, 10, 1, 0.5] }, { log: false }))).toBeUndefined();
    const svg = await lossCurveSvg({ loss: [1, 0.5, NaN, Infinity] });
    expect(wellFormedXml(svg)).toBeUndefined();
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).not.toContain('series: validation');
  }, 60_000);

  it.skipIf(!existsSync(CHROMIUM))("parses in Chromium's XML parser as an <svg> document", async () => {
    const svg = await lossCurveSvg({ loss, valLoss });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const result = await page.evaluate((text) => {
        interface Doc { documentElement: { nodeName: string }; getElementsByTagName(tag: string): { length: number } }
        const Parser = (globalThis as unknown as { DOMParser: new () => { parseFromString(text: string, type: string): Doc } }).DOMParser;
        const doc = new Parser().parseFromString(text, 'image/svg+xml');
        return { root: doc.documentElement.nodeName, errors: doc.getElementsByTagName('parsererror').length, paths: doc.getElementsByTagName('path').length };
      }, svg);
      expect(result.root).toBe('svg');
      expect(result.errors).toBe(0);
      expect(result.paths).toBeGreaterThan(2);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
