// How much of a small net's training step is Math.tanh: the same generated module with and
// without it (identity instead), batch 1. Run: npx tsx bench/tanh-share.ts
import { generate } from '../src/index.js';
import { loadModule } from '../src/load/loader.js';
import { gradcModel } from './gradc.js';
for (const net of ['2-2-1', '4-8-3']) {
  const [i, h, o] = net.split('-').map(Number);
  const { code } = generate(gradcModel({ inputs: i, hidden: h, outputs: o } as any));
  const variants = { 'Math.tanh': code, 'identity (no tanh)': code.replaceAll('Math.tanh(', '(') };
  const N = 256; const X = new Float64Array(N * i).map((_, k) => Math.sin(k)); const Y = new Float64Array(N * o).map((_, k) => Math.cos(k));
  const mods = Object.entries(variants).map(([name, c]) => [name, loadModule(c)] as const);
  const best = new Map<string, number>();
  for (let rep = 0; rep < 5; rep++) for (const [name, m] of mods) {
    const p = m.initParams(1); let first = 0, n = 0; const s = performance.now();
    while (performance.now() - s < 400) { for (let r = 0; r < 1024; r++) { m.stepBatch(p, X, Y, 1, 0.001, first); first = (first + 1) % N; n++; } }
    best.set(name, Math.max(best.get(name) ?? 0, n / ((performance.now() - s) / 1000)));
  }
  const [a, b] = [...best.values()];
  console.log(`${net} batch 1: with Math.tanh ${(a / 1e6).toFixed(2)}M/s (${(1e9 / a).toFixed(0)} ns/sample), without ${(b / 1e6).toFixed(2)}M/s (${(1e9 / b).toFixed(0)} ns); tanh = ${((1 - a / b) * 100).toFixed(0)}% of the step`);
}
