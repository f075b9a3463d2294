/**
 * The graph has an owner (ir/node.ts): each compile interns its nodes in a graph of its
 * own, so compiling many models in one process keeps memory flat, and a Model built in
 * one graph compiles to the same code in another.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildModel, explain, generate } from '../src/index.js';
import { Graph, internedCount, withGraph } from '../src/ir/node.js';
import { add, param } from '../src/ir/build.js';
import { nthModel } from '../bench/heapModels.js';

describe('the graph has an owner', () => {
  it('compiling 40 different models and explaining one leaves the process intern table as it was', () => {
    const before = internedCount();
    for (let i = 0; i < 40; i++) generate(nthModel(i));
    explain(nthModel(0), 'x1=1, x2=-1, y=0.5');
    expect(internedCount()).toBe(before);
  });

  it('the nodes of finished compiles are garbage: of 200 compiles at most the last is alive after a gc (child process, --expose-gc)', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/fixtures/graph-collect.ts', '200'], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { alive: number; refs: number; before: number; after: number };
    expect(r.refs).toBe(600);
    // V8 sometimes keeps the very last compile's objects reachable for a while (from
    // compiled code's feedback); everything older must be gone (today: 0 or 3 of 600).
    expect(r.alive).toBeLessThanOrEqual(3);
    expect(r.after).toBe(r.before);
  }, 600_000);

  it('hash-consing holds within a graph, and a graph starts empty', () => {
    const g = new Graph();
    withGraph(() => {
      expect(internedCount()).toBe(0);
      const a = add(param('a'), param('b'));
      expect(add(param('a'), param('b'))).toBe(a);
      expect(internedCount()).toBe(3);
    }, g);
    expect(g.size).toBe(3);
  });

  it('a Model built outside generate is copied into the compile graph and compiles to the same code', () => {
    const def = nthModel(3);
    const built = buildModel(def);
    const before = internedCount();
    const a = generate(built);
    const b = generate(def);
    expect(a.code).toBe(b.code);
    expect(a.model.params[0]!.node).not.toBe(built.params[0]!.node); // the compile's own copy
    expect(internedCount()).toBe(before);
  });

  it('a Model already in the current graph is used as it is', () => {
    withGraph(() => {
      const built = buildModel(nthModel(2));
      expect(buildModel(built)).toBe(built);
    });
  });
});
