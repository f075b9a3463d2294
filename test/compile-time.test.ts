/**
 * Generate time of large models (issue 11, "compile and load time"): what was made faster
 * gives the same results as what it replaced, and the work grows linearly with the model.
 * Counts, never times (times are in bench/compile.ts).
 *
 * 1. Token columns: the scanners of 1-parse/formula.ts (no regular expression per symbol)
 *    find the same columns as the regular expressions they replaced, on random lines.
 * 2. Formula text: the one-level fast path of `formula` and the shared walk of `formulas`
 *    print what the plain walk prints.
 * 3. Linear: a chain of n formula lines interns a bounded number of IR nodes per line
 *    (build, derive and lower), the same per line at 1,000 and 2,000 lines.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'mathjs';
import { columnOf, tokenColumns } from '../src/1-parse/formula.js';
import { defineModel } from '../src/index.js';
import { buildModel } from '../src/2-build/define.js';
import { derive, gradientDoc } from '../src/pipeline.js';
import { schedule } from '../src/5-lower/schedule.js';
import { Graph, withGraph, type Node } from '../src/ir/node.js';
import { add, constant, input, make, param } from '../src/ir/build.js';
import { formula, formulas } from '../src/ir/print.js';
import { topoOrder } from '../src/ir/walk.js';

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The regular expressions 1-parse/formula.ts used before its scanners (the oracle). */
function columnOfByRegex(lineText: string, symbol: string, from = 0): number | undefined {
  const re = new RegExp(`(?<![A-Za-z0-9_$])${escapeRe(symbol)}(?![A-Za-z0-9_$])`, 'g');
  re.lastIndex = from;
  const m = re.exec(lineText);
  return m ? m.index + 1 : undefined;
}
const wordRe = (name: string) => new RegExp(`(?<![A-Za-z_$][A-Za-z0-9_$]*)${escapeRe(name)}(?![A-Za-z0-9_$])`, 'g');
const operatorRe = (op: string) => new RegExp(op.length === 1 && '*/^'.includes(op) ? `(?<!\\.)${escapeRe(op)}` : escapeRe(op), 'g');

/** Line text over a small alphabet, so that names run into each other, digits and dots. */
const lineText = fc.array(fc.constantFrom('a', 'b', 'x1', '2', '_', '$', ' ', '.', '*', '/', '^', '+', '(', ')', 'ab', 'a2', '.*', '1e3'), { maxLength: 30 }).map((p) => p.join(''));

describe('token columns: the scanners find what the regular expressions found', () => {
  it('columnOf, whole words from any start', () => {
    fc.assert(fc.property(lineText, fc.constantFrom('a', 'b', 'x1', 'ab', 'a2', '$', '_', '2'), fc.nat(35), (line, symbol, from) => {
      expect(columnOf(line, symbol, from)).toBe(columnOfByRegex(line, symbol, from));
    }), { seed: 11, numRuns: 3000 });
  });

  it('tokenColumns of parsed formulas (names, operators, numbers), against a regex-driven walk', () => {
    const lines = [
      'a1 = tanh(w * a0 + b)', 'y = 2x + x2 * x', 'z = a .* b ./ c .^ 2 - a * b / c ^ 2', 'q = exp(-x) + log(1e3 * xx) - xx',
      's = sum(W * x) + b2b + b', 't = max(a, ab) + min(ab, a) * $a', 'u = a2a + 2a + a2', 'v = (x - y)^2 / (x + y)',
    ];
    for (const text of lines) {
      const eq = text.indexOf('=');
      const tree = parse(text) as unknown as { value: import('mathjs').MathNode };
      const got = tokenColumns(tree.value, text, eq + 1);
      // The oracle: the same in-order walk with the old regular expressions.
      const want = new Map<unknown, number>();
      let cursor = eq + 1;
      const find = (node: unknown, re: RegExp) => {
        re.lastIndex = cursor;
        const m = re.exec(text);
        if (!m) return;
        want.set(node, m.index + 1);
        cursor = m.index + m[0].length;
      };
      const walk = (n: any): void => {
        switch (n.type) {
          case 'SymbolNode': find(n, wordRe(n.name)); break;
          case 'ConstantNode': if (typeof n.value === 'number') find(n, /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/g); break;
          case 'FunctionNode': if (n.fn?.type === 'SymbolNode') find(n, wordRe(n.fn.name)); n.args.forEach(walk); break;
          case 'OperatorNode':
            if (n.args.length === 1) { if (!n.implicit) find(n, operatorRe(n.op)); walk(n.args[0]); }
            else n.args.forEach((a: unknown, i: number) => { if (i === 1 && !n.implicit) find(n, operatorRe(n.op)); walk(a); });
            break;
          default: n.forEach((c: unknown) => walk(c));
        }
      };
      walk(tree.value);
      expect([...got.entries()], text).toEqual([...want.entries()]);
    }
  });
});

describe('formula text: fast paths print what the walk prints', () => {
  it('one level (every argument named or a leaf) and shared walks over several roots', () => {
    const x = input('x'), w = param('w'), b = param('b');
    const z = add(make('mul', [w, x]), b);
    const a = make('tanh', [z]);
    const loss = make('square', [make('sub', [a, constant(0.5)])]);
    const nodes = topoOrder([loss]);
    const labelSets: Map<Node, string>[] = [new Map(), new Map([[z, 'z']]), new Map([[z, 'z'], [a, 'a']]), new Map(nodes.map((n, i) => [n, `n${i}`]))];
    for (const labels of labelSets) {
      for (const n of nodes) {
        // formulas() of one root is the plain walk; formula() takes the one-level path where it can.
        for (const maxLength of [undefined, 3, 8, 100]) expect(formula(n, labels, { maxLength }), `${n.op}`).toBe(formulas([n], labels, { maxLength })[0]);
      }
      expect(formulas(nodes, labels)).toEqual(nodes.map((n) => formulas([n], labels)[0]));
    }
  });
});

describe('generate work is linear in a chain of formula lines', () => {
  const chain = (n: number) => {
    const f = ['a1 = tanh(w * x + b)'];
    for (let i = 2; i <= n; i++) f.push(`a${i} = tanh(w * a${i - 1} + b)`);
    f.push(`loss = (a${n} - y)^2`);
    return defineModel({ name: `chain${n}`, inputs: ['x'], targets: ['y'], params: { w: 0.9, b: 0.1 }, formulas: f.join('\n') });
  };
  /** IR nodes interned to build, derive and lower a chain of n lines, in a graph of its own. */
  const interned = (n: number): number => {
    const graph = new Graph();
    withGraph(() => {
      const derived = derive(buildModel(chain(n)));
      schedule(derived);
      gradientDoc(derived);
    }, graph);
    return graph.size;
  };

  it('about 10 nodes per line, the same at 1,000 and 2,000 lines', () => {
    const small = interned(1000), large = interned(2000);
    expect(small / 1000).toBeLessThan(11);
    expect(large / 2000).toBeLessThan(11);
    expect(Math.abs(large - 2 * small)).toBeLessThan(50);
  }, 120_000);
});
