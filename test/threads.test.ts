/**
 * Data-parallel training (src/train/parallel.ts): fitParallel with threads equals the
 * module's own fitRows to 1e-12 (f64; 1e-5 at f32) on random nets of odd sizes, with
 * every kind of batch (partial, fewer rows than threads, one row), shuffling, a
 * validation split, optimizers with state, clipping and scalar parameters; two runs give
 * the same bytes; 1 thread is fitRows itself; a helper's failure surfaces as a clear
 * error (a GradcError for bad data) and every helper is gone afterwards, as after an
 * abort; 'auto' picks threads only for large steps; `gradc train --threads`. With SIMD
 * kernels (simd: 'on', odd widths 1 to 33, every optimizer, clipping, f64 and f32, an abort
 * mid-epoch): the leader trains parameters and moments in its kernels' memory and a helper's
 * step (HELPER_STEP) gives the bytes of gradientBatch on its rows.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { GradcError } from '../src/errors.js';
import { defineModel, generate } from '../src/index.js';
import { runModule, transpile, type FitOptions, type Params } from '../src/load/loader.js';
import { mulberry32 } from '../src/rng.js';
import { BREAK_EVEN_WORK, MIN_STEPS, MIN_TOTAL_WORK, chooseThreads, fitParallel, lead, liveHelpers, sparseParams, startTeam } from '../src/train/parallel.js';
import { HELPER_STEP, moduleScript, teamMemory } from '../src/train/team.js';
import { generateJavaScript } from '../src/pipeline.js';
import { runCli } from './helpers/cli.js';

/** A random net: `inputs` -> odd hidden widths (tanh) -> `outputs`, mean squared error. */
function net(inputs: number, hidden: readonly number[], outputs: number, precision: 'f64' | 'f32' = 'f64', lowering: 'auto' | 'loops' = 'auto', simd: 'auto' | 'on' | 'off' = 'auto') {
  const def = defineModel(`net${inputs}_${hidden.join('_')}_${outputs}`, (m) => {
    const x = m.input('x', inputs);
    const y = m.target('y', outputs);
    const out = m.mlp(x, [...hidden, outputs], 'tanh', 'linear');
    m.loss(m.mean(m.call('square', m.sub(out, y))));
  }, { seed: inputs * 7 + outputs });
  return transpile(generate(def, { precision, lowering, simd }).code);
}

function rows(count: number, inputs: number, outputs: number, seed: number): { X: Float64Array; Y: Float64Array } {
  const rand = mulberry32(seed);
  return {
    X: Float64Array.from({ length: count * inputs }, () => 2 * rand() - 1),
    Y: Float64Array.from({ length: count * outputs }, () => rand() - 0.5),
  };
}

function maxRelDiff(a: Params<Float64Array | Float32Array>, b: Params<Float64Array | Float32Array>): number {
  let worst = 0;
  for (const [name, v] of Object.entries(a)) {
    const w = b[name]!;
    const xs = typeof v === 'number' ? [v] : [...v], ys = typeof w === 'number' ? [w] : [...w];
    expect(ys.length).toBe(xs.length);
    xs.forEach((x, i) => { worst = Math.max(worst, Math.abs(x - ys[i]!) / Math.max(1, Math.abs(x))); });
  }
  return worst;
}

const bytes = (p: Params<Float64Array | Float32Array>): string => Object.entries(p).map(([k, v]) => `${k}:${typeof v === 'number' ? Buffer.from(Float64Array.of(v).buffer).toString('hex') : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`).join(',');

describe('fitParallel', () => {
  const cases: { name: string; inputs: number; hidden: number[]; outputs: number; count: number; options: FitOptions; threads: number }[] = [
    { name: '1-1-1, sgd, batch 7 (last batch 2 rows, fewer than threads)', inputs: 1, hidden: [1], outputs: 1, count: 37, options: { epochs: 4, batchSize: 7, learningRate: 0.05 }, threads: 3 },
    { name: '3-5-3, momentum, shuffled, last batch of one row', inputs: 3, hidden: [5], outputs: 3, count: 34, options: { epochs: 5, batchSize: 11, shuffleSeed: 9, optimizer: { kind: 'momentum', learningRate: 0.02 } }, threads: 2 },
    { name: '7-33-5, adam with clipping, validation split', inputs: 7, hidden: [33], outputs: 5, count: 61, options: { epochs: 4, batchSize: 13, shuffleSeed: 2, validation: { fraction: 0.2, seed: 4 }, optimizer: { kind: 'adam', learningRate: 0.01, clipNorm: 0.5 } }, threads: 2 },
    { name: '5-7-3-1 (two hidden layers), rmsprop, early stopping, metrics', inputs: 5, hidden: [7, 3], outputs: 1, count: 45, options: { epochs: 6, batchSize: 9, shuffleSeed: 5, optimizer: { kind: 'rmsprop', learningRate: 0.01 }, earlyStopping: { patience: 2 }, metrics: ['mse'] }, threads: 3 },
  ];
  for (const c of cases) {
    it(`equals fitRows to 1e-12: ${c.name}, ${c.threads} threads`, () => {
      const js = net(c.inputs, c.hidden, c.outputs);
      const { X, Y } = rows(c.count, c.inputs, c.outputs, c.count);
      const one = runModule(js).fitRows(X, Y, c.count, c.options);
      const many = fitParallel({ js }, X, Y, c.count, { ...c.options, threads: c.threads });
      expect(many.threads).toBe(c.threads);
      expect(many.epochs).toBe(one.epochs);
      expect(many.stopped).toBe(one.stopped);
      expect(maxRelDiff(one.params, many.params)).toBeLessThan(1e-12);
      many.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(l))));
      expect(many.history.valLoss.length).toBe(one.history.valLoss.length);
      // not trivially equal: the sum in another order rounds differently somewhere
      expect(one.losses.length).toBeGreaterThan(0);
    });
  }

  it('equals fitRows to 1e-12 with the looped lowering (33 wide) and to 1e-5 at f32', () => {
    for (const [precision, tol] of [['f64', 1e-12], ['f32', 1e-5]] as const) {
      const js = net(7, [33], 3, precision, 'loops');
      const { X, Y } = rows(50, 7, 3, 11);
      const [x, y] = precision === 'f32' ? [Float32Array.from(X), Float32Array.from(Y)] : [X, Y];
      const options = { epochs: 3, batchSize: 16, shuffleSeed: 1, learningRate: 0.05 };
      const one = runModule<Float64Array | Float32Array>(js).fitRows(x as Float64Array, y as Float64Array, 50, options);
      const many = fitParallel({ js }, x as Float64Array, y as Float64Array, 50, { ...options, threads: 2 });
      expect(many.params['layer1_W']).toBeInstanceOf(precision === 'f32' ? Float32Array : Float64Array);
      expect(maxRelDiff(one.params, many.params)).toBeLessThan(tol);
    }
  });

  // With SIMD kernels the module keeps parameters, moments and fit's accumulator in its
  // kernels' memory: the leader trains parameters there (its update pass in WebAssembly) and
  // each helper keeps its copy of the parameters and its gradient in its own (HELPER_STEP).
  describe("with SIMD kernels (simd: 'on'): parameters and gradients in each thread's kernels' memory", () => {
    const optimizers: FitOptions['optimizer'][] = [
      { kind: 'sgd', learningRate: 0.05 },
      { kind: 'momentum', learningRate: 0.02, nesterov: true },
      { kind: 'adam', learningRate: 0.01, clipNorm: 0.3 },
      { kind: 'adamw', learningRate: 0.01, weightDecay: 0.01 },
      { kind: 'rmsprop', learningRate: 0.005, clipNorm: 1 },
    ];
    const shapes: [number, number[], number][] = [[33, [7], 3], [5, [33], 1], [7, [3, 5], 7], [1, [33], 5], [33, [1], 33]];
    for (const precision of ['f64', 'f32'] as const) {
      it(`equals fitRows (${precision === 'f64' ? '1e-12' : '1e-5'}) on odd widths with every optimizer and clipping, the same bytes run to run (${precision})`, () => {
        const tol = precision === 'f64' ? 1e-12 : 1e-5;
        shapes.forEach(([inputs, hidden, outputs], i) => {
          const js = net(inputs, hidden, outputs, precision, 'loops', 'on');
          expect(js).toMatch(/\$wasm\.f\[/);
          const count = 45 + i;
          const { X: X64, Y: Y64 } = rows(count, inputs, outputs, 30 + i);
          const [X, Y] = (precision === 'f32' ? [Float32Array.from(X64), Float32Array.from(Y64)] : [X64, Y64]) as [Float64Array, Float64Array];
          const options: FitOptions = { epochs: 3, batchSize: 9 + 2 * i, shuffleSeed: i, optimizer: optimizers[i % optimizers.length]! };
          const one = runModule(js).fitRows(X, Y, count, options);
          const a = fitParallel({ js }, X, Y, count, { ...options, threads: 2 });
          const b = fitParallel({ js }, X, Y, count, { ...options, threads: i % 2 ? 3 : 2 });
          expect(a.steps.alone).toBe(0);
          expect(maxRelDiff(one.params, a.params), `${inputs}-${hidden.join('-')}-${outputs}`).toBeLessThan(tol);
          expect(maxRelDiff(one.params, b.params)).toBeLessThan(tol);
          a.losses.forEach((l, e) => expect(Math.abs(l - one.losses[e]!)).toBeLessThan(tol * Math.max(1, Math.abs(l))));
          if (one.optimizer.m) expect(maxRelDiff(one.optimizer.m, a.optimizer.m!)).toBeLessThan(tol * 10);
          const again = fitParallel({ js }, X, Y, count, { ...options, threads: 2 });
          expect(bytes(again.params)).toBe(bytes(a.params));
          expect(again.losses).toEqual(a.losses);
        });
      });
    }

    it('an abort mid-epoch stops where fitRows stops, with the same parameters (1e-12), and every helper ends', async () => {
      const js = net(33, [5], 3, 'f64', 'loops', 'on');
      const { X, Y } = rows(90, 33, 3, 6);
      const run = (threads: number) => {
        let batches = 0;
        const signal = { get aborted() { return batches >= 5; } };
        const options: FitOptions = { epochs: 4, batchSize: 8, optimizer: { kind: 'adam', learningRate: 0.01 }, signal, onBatch: () => { batches++; } };
        return threads === 1 ? runModule(js).fitRows(X, Y, 90, options) : fitParallel({ js }, X, Y, 90, { ...options, threads });
      };
      const one = run(1), two = run(2);
      expect(two.stopped).toBe('aborted');
      expect(one.stopped).toBe('aborted');
      expect(maxRelDiff(one.params, two.params)).toBeLessThan(1e-12);
      expect(maxRelDiff(one.optimizer.v!, two.optimizer.v!)).toBeLessThan(1e-12);
      await vi.waitFor(() => expect(liveHelpers()).toBe(0), { timeout: 10_000 });
    });

    it("the leader's parameters and moments live in its kernels' memory, not in the shared block", () => {
      const js = net(33, [7], 3, 'f64', 'loops', 'on');
      const { X, Y } = rows(40, 33, 3, 3);
      const m = runModule(js);
      const start = m.initParams();
      const team = startTeam(js, m, X, Y, 40, start, 2, { shuffled: false, held: 0 });
      try {
        const leader = lead(m, team.memory, 2, false, start);
        expect(leader.params).toBe(start); // reused: no second slot of the memory
        const W = leader.params['layer1_W'] as Float64Array;
        expect(W.buffer).not.toBeInstanceOf(SharedArrayBuffer);
        expect(W.buffer.byteLength).toBeGreaterThan(W.byteLength);
        const r = m.fitRows(leader.X, leader.Y, 40, { epochs: 2, batchSize: 20, optimizer: { kind: 'adam', learningRate: 0.01 }, params: leader.params, batchGradient: leader.batchGradient });
        expect((r.optimizer.m!['layer1_W'] as Float64Array).buffer).toBe(W.buffer); // the moments are placed beside them
        expect(leader.stats).toEqual({ team: 4, alone: 0 });
        const plain = runModule(js).fitRows(X, Y, 40, { epochs: 2, batchSize: 20, optimizer: { kind: 'adam', learningRate: 0.01 } });
        expect(maxRelDiff(plain.params, r.params)).toBeLessThan(1e-12);
      } finally {
        team.terminate();
      }
    });

    it("a helper's step (HELPER_STEP) gives the bytes of gradientBatch on its rows, with and without SIMD, and leaves the shared parameters alone", () => {
      for (const simd of ['on', 'off'] as const) {
        const js = net(7, [33], 5, 'f64', 'loops', simd);
        const { X, Y } = rows(30, 7, 5, 4);
        const m = runModule(js);
        const memory = teamMemory(m, X, Y, 30, m.initParams(), 2, { shuffled: false, held: 0 });
        const N = new Float64Array(memory.numbers);
        N[0] = 0; N[1] = X.length; N[2] = X.length; N[3] = Y.length; // X_AT, X_LENGTH, Y_AT, Y_LENGTH
        const P = new Float64Array(memory.params), before = P.slice();
        const step = new Function(`return (${HELPER_STEP});`)()(runModule(js), memory, 1) as (first: number, rows: number) => number;
        for (const [first, n] of [[3, 11], [0, 30], [29, 1]] as const) {
          const loss = step(first, n);
          const want = m.gradientBatch(m.initParams(), X, Y, n, first);
          expect(loss).toBe(want.loss);
          const G = new Float64Array(memory.grads, memory.paramSize * 8, memory.paramSize);
          for (const [name, offset, size] of memory.layout) expect(bytes({ g: G.slice(offset, offset + size) })).toBe(bytes({ g: want.grad[name] as Float64Array }));
        }
        expect(bytes({ p: P })).toBe(bytes({ p: before }));
      }
    });
  });

  it('takes the module as the ES module JavaScript the emitter writes (each thread runs it as a script), and equals fitRows to 1e-12', () => {
    const def = defineModel('esm', (m) => { const out = m.mlp(m.input('x', 5), [7, 2], 'tanh', 'linear'); m.loss(m.mean(m.call('square', m.sub(out, m.target('y', 2))))); }, { seed: 5 });
    const js = generateJavaScript(def);
    expect(js).toMatch(/^export function fitRows\(/m);
    expect(moduleScript(js)).not.toMatch(/^export /m);
    const { X, Y } = rows(40, 5, 2, 9);
    const options = { epochs: 3, batchSize: 10, learningRate: 0.05 };
    const one = runModule(js).fitRows(X, Y, 40, options);
    const many = fitParallel({ js }, X, Y, 40, { ...options, threads: 2 });
    expect(many.steps).toEqual({ team: 12, alone: 0 });
    expect(maxRelDiff(one.params, many.params)).toBeLessThan(1e-12);
    expect(sparseParams(runModule(js))).toEqual([]); // a dense model: shapes has no sparse list
    expect('sparse' in runModule(js).shapes).toBe(false);
  });

  it('scalar parameters (a formula model) train as in fitRows, updated in the given object', () => {
    const def = defineModel({ name: 'lin', inputs: ['x'], targets: ['y'], params: { w: 0.5, b: -0.25 }, formulas: 'yhat = w * x + b\nloss = (yhat - y)^2' });
    const js = transpile(generate(def).code);
    const { X, Y } = rows(29, 1, 1, 3);
    const options = { epochs: 5, batchSize: 6, learningRate: 0.1 };
    const one = runModule(js).fitRows(X, Y, 29, options);
    const start = runModule(js).initParams();
    const many = fitParallel({ js }, X, Y, 29, { ...options, params: start, threads: 2 });
    expect(many.params).toBe(start); // updated in place, as fitRows does
    expect(maxRelDiff(one.params, many.params)).toBeLessThan(1e-12);
    expect(one.params['w']).not.toBe(0.5);
  });

  it('gives the same bytes from run to run (2 and 3 threads), and 1 thread is fitRows exactly', () => {
    const js = net(9, [17], 4, 'f64', 'loops');
    const { X, Y } = rows(200, 9, 4, 21);
    const options = { epochs: 4, batchSize: 50, shuffleSeed: 3, optimizer: { kind: 'adam', learningRate: 0.01 } } as const;
    for (const threads of [2, 3]) {
      const a = fitParallel({ js }, X, Y, 200, { ...options, threads });
      const b = fitParallel({ js }, X, Y, 200, { ...options, threads });
      expect(bytes(a.params)).toBe(bytes(b.params));
      expect(a.losses).toEqual(b.losses);
      expect(bytes(a.optimizer.m!)).toBe(bytes(b.optimizer.m!));
    }
    const single = fitParallel({ js }, X, Y, 200, { ...options, threads: 1 });
    expect(single.threads).toBe(1);
    expect(bytes(single.params)).toBe(bytes(runModule(js).fitRows(X, Y, 200, options).params));
  });

  // The team's steps take the leader's slice straight into fit's accumulator (LEADER_SOURCE's
  // direct path) and the steps alone go through the slices' buffers: the same bytes.
  it("adaptive ('auto'): the steps the leader computes alone give the same bytes as the team's", () => {
    const js = net(6, [11], 3, 'f64', 'loops');
    const { X, Y } = rows(120, 6, 3, 13);
    const options = { epochs: 8, batchSize: 20, shuffleSeed: 7, optimizer: { kind: 'momentum', learningRate: 0.02 } } as const;
    const forced = fitParallel({ js }, X, Y, 120, { ...options, threads: 2 });
    expect(forced.steps).toEqual({ team: 48, alone: 0 });
    const m = runModule(js);
    const team = startTeam(js, m, X, Y, 120, m.initParams(), 2, { shuffled: true, held: 0 });
    try {
      const leader = lead(m, team.memory, 2, true);
      const r = m.fitRows(leader.X, leader.Y, 120, { ...options, params: leader.params, batchGradient: leader.batchGradient });
      expect(leader.stats.team + leader.stats.alone).toBe(48);
      expect(leader.stats.alone).toBeGreaterThanOrEqual(5); // the probe alternates: half its 10 steps alone
      expect(bytes(r.params)).toBe(bytes(forced.params));
    } finally {
      team.terminate();
    }
  });

  it("uses the parameters it is given, also when they are not views on the team's memory (a module that keeps its own copy)", () => {
    const js = net(6, [9], 3, 'f64', 'loops');
    const { X, Y } = rows(40, 6, 3, 19);
    const m = runModule(js);
    const team = startTeam(js, m, X, Y, 40, m.initParams(), 2, { shuffled: false, held: 0 });
    try {
      const leader = lead(m, team.memory, 2);
      const own = m.copyParams(leader.params); // not the shared block
      for (const v of Object.values(own)) if (typeof v !== 'number') v.forEach((x, i) => { v[i] = x + 0.01 * Math.sin(i); });
      const grad = m.zeroParams(), want = m.zeroParams();
      const loss = leader.batchGradient.gradient(own, leader.X, leader.Y, 40, 0, grad, 1 / 40);
      const one = m.gradientBatch(own, X, Y, 40, 0, want);
      expect(Math.abs(loss / 40 - one.loss)).toBeLessThan(1e-12);
      expect(maxRelDiff(want, grad)).toBeLessThan(1e-12);
    } finally {
      team.terminate();
    }
  });

  it('a failure in a helper is thrown naming the thread; bad data is a GradcError; no helper is left', async () => {
    const js = net(3, [5], 2);
    const { X, Y } = rows(40, 3, 2, 5);
    // The helper's slice of the first batch starts at row 20: only it throws.
    const broken = (what: string) => `${js}\nconst $g = module.exports.gradientBatch;\nmodule.exports.gradientBatch = function (p, X, Y, n, first, g) { if (first >= 20) ${what}; return $g(p, X, Y, n, first, g); };`;
    expect(() => fitParallel({ js: broken("throw new Error('boom in the helper')") }, X, Y, 40, { epochs: 1, batchSize: 40, threads: 2 }))
      .toThrow(/thread 2 of 2 failed: Error: boom in the helper/);
    let caught: unknown;
    try {
      fitParallel({ js: broken("throw new module.exports.SampleError('row 20 is bad')") }, X, Y, 40, { epochs: 1, batchSize: 40, threads: 2 });
    } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(GradcError);
    expect((caught as Error).message).toBe('thread 2 of 2 failed: row 20 is bad');
    await vi.waitFor(() => expect(liveHelpers()).toBe(0), { timeout: 10_000 });
  });

  it('an abort stops after the current batch, as in fitRows, and every helper ends', async () => {
    const js = net(3, [5], 2);
    const { X, Y } = rows(90, 3, 2, 8);
    let steps = 0;
    const signal = { get aborted() { return steps >= 4; } };
    const r = fitParallel({ js }, X, Y, 90, { epochs: 10, batchSize: 10, threads: 2, signal, onBatch: () => { steps++; } });
    expect(r.stopped).toBe('aborted');
    expect(steps).toBe(4);
    await vi.waitFor(() => expect(liveHelpers()).toBe(0), { timeout: 10_000 });
  });

  it('checks the thread count, and bad rows give fitRows\'s own error', () => {
    const js = net(2, [3], 1);
    const { X, Y } = rows(10, 2, 1, 1);
    expect(() => fitParallel({ js }, X, Y, 10, { threads: 0 })).toThrow(GradcError);
    expect(() => fitParallel({ js }, X, Y, 10, { threads: 2.5 })).toThrow(/threads must be 'auto' or an integer from 1 to 256, got 2.5/);
    expect(() => fitParallel({ js }, X, Y, 11, { threads: 2 })).toThrow(/rows 0 to 10 .* are not all in the data/);
    expect(liveHelpers()).toBe(0);
  });
});

describe('chooseThreads', () => {
  it("'auto' uses the cores only for steps of at least BREAK_EVEN_WORK and trainings of at least MIN_TOTAL_WORK", () => {
    expect(chooseThreads('auto', 9, 1000, 100_000, 100)).toBe(1); // a 2-2-1 net: never worth it
    expect(chooseThreads(undefined, 25_450, 1, 60_000, 100)).toBe(1); // batch 1
    expect(chooseThreads('auto', 25_450, 256, 60_000, 100)).toBe(1); // 784-32-10 at batch 256: below the break-even measured here
    expect(25_450 * 256).toBeLessThan(BREAK_EVEN_WORK);
    expect(chooseThreads('auto', 203_530, 256, 60_000, 100)).toBe(availableParallelism()); // 784-256-10 at batch 256 over 60,000 rows
    expect(203_530 * 256).toBeGreaterThanOrEqual(BREAK_EVEN_WORK);
    expect(chooseThreads('auto', 203_530, 256, 5_000, 1)).toBe(1); // too little work in all to pay for starting threads
    expect(5_000 * 203_530).toBeLessThan(MIN_TOTAL_WORK);
    expect(chooseThreads('auto', 203_530, 256, 60_000, 3)).toBe(1); // 705 steps: too few to spread the first probe over
    expect(Math.ceil(60_000 / 256) * 3).toBeLessThan(MIN_STEPS);
    expect(chooseThreads(3, 9, 1, 1, 1)).toBe(3);
  });
});

describe('gradc train --threads', () => {
  it('trains with 2 threads to the parameters of 1 thread (to 1e-12), and rejects a bad count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradc-threads-'));
    const data = join(dir, 'data.csv');
    const rand = mulberry32(7);
    const lines = ['x,y'];
    for (let i = 0; i < 120; i++) { const x = 2 * rand() - 1; lines.push(`${x},${(0.7 * x + 0.1 * rand()).toFixed(6)}`); }
    writeFileSync(data, `${lines.join('\n')}\n`);
    const out = (n: number) => join(dir, `p${n}.json`);
    const modelFile = 'test/fixtures/threads.model.ts';
    const args = (n: string, o: string) => ['train', modelFile, '--data', data, '--batch', '30', '--epochs', '5', '--optimizer', 'adam', '--lr', '0.05', '--threads', n, '--out', o];
    const one = await runCli(...args('1', out(1)));
    expect(one.code).toBe(0);
    const two = await runCli(...args('2', out(2)));
    expect(two.err).toContain('2 threads');
    expect(two.code).toBe(0);
    const p1 = JSON.parse(readFileSync(out(1), 'utf8')).params, p2 = JSON.parse(readFileSync(out(2), 'utf8')).params;
    for (const name of Object.keys(p1)) {
      p1[name].values.forEach((v: number, i: number) => expect(Math.abs(v - p2[name].values[i])).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))));
    }
    const bad = await runCli(...args('0', out(3)));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('option --threads must be a whole number from 1 to 256, or auto');
    await vi.waitFor(() => expect(liveHelpers()).toBe(0), { timeout: 10_000 });
  });
});
