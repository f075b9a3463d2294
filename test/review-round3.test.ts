/**
 * Review, round 3 (recurrences, rows and embeddings, SIMD kernels, threads, the JS flavour)
 * by a hostile user: one test per defect found, each failing before its fix.
 *
 *   D1  fitParallel(..., { threads: 2 }) (and `gradc train --threads 2`) on a model with an
 *       embedding lookup trained silently wrong: the rows of the sparse gradient a helper
 *       thread computed were noted only in the helper, so the leader's update skipped them
 *       (E off by 0.03 after 3 SGD epochs, 0.26 with Adam, against fitRows). Now a forced
 *       thread count > 1 is a GradcError naming the sparse parameter, and 'auto' stays on 1.
 */
import { describe, expect, it } from 'vitest';
import { compile, defineModel, fitParallel, GradcError } from '../src/index.js';
import { generateJavaScript } from '../src/pipeline.js';
import { chooseThreads, sparseParams } from '../src/train/parallel.js';

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

const embedding = () => defineModel('emb', (m) => {
  const tokens = m.intInput('tokens', [3], 10);
  m.target('y');
  const E = m.param('E', { shape: [10, 2], init: { kind: 'uniform', low: -0.5, high: 0.5 } });
  const h = m.def('h', m.pool(m.lookup(E, tokens), 'mean', { ids: tokens, padding: 0 }));
  m.param('w', { shape: [2], init: 0.3 });
  m.def('z', m.dot('w', h));
  m.loss('(z - y)^2');
  m.output('z');
}, { seed: 3 });

function embeddingRows(n: number) {
  const X = new Float64Array(n * 3), Y = new Float64Array(n);
  for (let i = 0; i < n * 3; i++) X[i] = (i * 7 + 3) % 10;
  for (let i = 0; i < n; i++) Y[i] = (i % 3) - 1;
  return { X, Y };
}

describe('threads and embeddings', () => {
  it('D1: fitParallel with threads > 1 on an embedding model is refused, naming the sparse parameter; auto trains as fitRows', () => {
    const m = compile(embedding());
    const { X, Y } = embeddingRows(40);
    const o = { epochs: 3, batchSize: 8, learningRate: 0.1 };
    const e = thrown(() => fitParallel(m as never, X, Y, 40, { ...o, threads: 2 }));
    expect(e).toBeInstanceOf(GradcError);
    expect(e.message).toMatch(/threads cannot train this model: parameter E has a sparse gradient/);
    const one = m.fitRows(X, Y, 40, o);
    const auto = fitParallel(m as never, X, Y, 40, { ...o, threads: 'auto' });
    expect(auto.threads).toBe(1);
    expect(Array.from(auto.params['E'] as Float64Array)).toEqual(Array.from(one.params['E'] as Float64Array));
    expect(chooseThreads(2, 100, 8, 40, 3, [])).toBe(2);
    expect(sparseParams(generateJavaScript(embedding()))).toEqual(['E']);
  });
});
