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
 *    (build, derive and lower), the same per line at 1,000 and 2,000 lines; the module
 *    text (TypeScript and JavaScript) grows in proportion too.
 * 4. Line shapes: the trees 1-parse/shapes.ts copies for lines of a shape parsed before are
 *    the trees mathjs parses, on random lines (tricky ones included: `2e1`, `a.b1`, `log1p`,
 *    `mod`), and a failing line fails as it did.
 * 5. The JavaScript `compile()` loads carries no `grad of:` comments (the TypeScript keeps
 *    them), and the comments a forward node's text is kept for are the same text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'mathjs';
import { columnOf, parseFormulas, tokenColumns } from '../src/1-parse/formula.js';
import { LineShapes, shapeOf } from '../src/1-parse/shapes.js';
import { generate } from '../src/index.js';
import { generateJavaScript } from '../src/pipeline.js';
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

describe('line shapes: copied trees are the trees mathjs parses', () => {
  /** A tree as JSON (every node's type, operator, name, value and flags), or the error message. */
  const mathjs = (line: string): string => {
    try { return JSON.stringify(parse(line)); } catch (e) { return `error: ${(e as Error).message}`; }
  };
  const viaShapes = (shapes: LineShapes, line: string): string => {
    try { return JSON.stringify(shapes.parse(line, () => parse(line))); } catch (e) { return `error: ${(e as Error).message}`; }
  };
  // Names with and without digits, numbers that run into names, dots, and mathjs words.
  const token = fc.constantFrom('a1', 'a2', 'b1', 'x10', 'e1', 'e', 'E2', 'w', 'log1p', 'tanh', 'mod', 'in', 'to', '2', '1e3', '2.5', '.5',
    ' ', '+', '-', '*', '/', '^', '.*', '(', ')', '[', ']', ',', ':', '.', 'NaN', 'Infinity', "'", '!', '"s1"', 'a1.b2', '2a1', '$1', '_2');
  const line = fc.array(token, { minLength: 1, maxLength: 12 }).map((t) => t.join(''));

  it('random lines, each shape parsed once per block', () => {
    fc.assert(fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (lines) => {
      const shapes = new LineShapes();
      for (const l of lines) expect(viaShapes(shapes, l), l).toBe(mathjs(l));
    }), { seed: 11, numRuns: 1500 });
  });

  it('random lines, then the same tokens with their numbered names changed', () => {
    const numbered = ['a1', 'a2', 'b1', 'x10', 'e1', 'E2', 'log1p', '$1', '_2'];
    fc.assert(fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), fc.array(fc.constantFrom(...numbered), { minLength: numbered.length, maxLength: numbered.length }), (tokens, to) => {
      const shapes = new LineShapes();
      const renamed = tokens.map((t) => (numbered.includes(t) ? to[numbered.indexOf(t)] : t)).join('');
      for (const l of [tokens.join(''), renamed]) expect(viaShapes(shapes, l), l).toBe(mathjs(l));
    }), { seed: 13, numRuns: 3000 });
  });

  it('lines of one shape with their numbered names changed', () => {
    const patterns = ['#0# = tanh(w * #1# + b)', '#0# = #1# mod #2# + log1p(#1#)', '#0# = #1#[2] + #1#[1:3] .* #2#', '#0# = 2 * #1# ^ 2 - (#2# / 1e3)', '#0# = #1#(#2#, #2#)'];
    const names = fc.constantFrom('a1', 'h12', 'x_3', 'e5', 'E1', 'log1p', 'q$9', 'constructor2', 'length1', 'Math1', '__proto__1');
    fc.assert(fc.property(fc.constantFrom(...patterns), fc.array(fc.array(names, { minLength: 3, maxLength: 3 }), { minLength: 2, maxLength: 5 }), (pattern, sets) => {
      const shapes = new LineShapes();
      for (const set of sets) {
        const l = pattern.replace(/#(\d)#/g, (_, k: string) => set[Number(k)]);
        expect(viaShapes(shapes, l), l).toBe(mathjs(l));
      }
    }), { seed: 12, numRuns: 800 });
  });

  it('a line 8,000 terms deep, and a second of its shape, without recursion', () => {
    const sum = (v: string, n: number) => `${v}0 = ${Array.from({ length: n }, (_, i) => `${v}${i + 1}`).join(' + ')}`;
    const shapes = new LineShapes();
    shapes.parse(sum('x', 8000), () => parse(sum('x', 8000)));
    const copy = shapes.parse(sum('y', 8000), () => { throw new Error('not a copy'); });
    const names: string[] = [];
    for (const stack = [copy as unknown as { type: string; name?: string; forEach(f: (c: never) => void): void }]; stack.length > 0;) {
      const n = stack.pop()!;
      if (n.type === 'SymbolNode') names.push(n.name!);
      n.forEach((c) => { stack.push(c); });
    }
    expect(names.sort()).toEqual(Array.from({ length: 8001 }, (_, i) => `y${i}`).sort());
  });

  it('what is not plain has no shape', () => {
    for (const l of ['y1 = 2e1', 'y1 = 2x1', 'y1 = a.b1', "y1 = x1'", 'y1 = "a1"', 'y1 = x1 % 2', 'y1 = café1']) expect(shapeOf(l), l).toBeUndefined();
    expect(shapeOf('a12 = tanh(w * a11 + b)')).toEqual({ key: '#0# = tanh(w * #1# + b)', names: ['a12', 'a11'] });
    expect(shapeOf('a1 = a1 .* 2.5')).toEqual({ key: '#0# = #0# .* 2.5', names: ['a1', 'a1'] });
  });

  it('a block of a repeated shape parses to what line-by-line mathjs gives (with columns and reads)', () => {
    const text = ['a1 = tanh(w * x + b)', ...Array.from({ length: 50 }, (_, i) => `a${i + 2} = tanh(w * a${i + 1} + b)  # line ${i + 2}`), 'loss = (a51 - y)^2'].join('\n');
    for (const a of parseFormulas(text)) {
      const code = a.lineText.replace(/#.*$/, '');
      expect(JSON.stringify(a.expr)).toBe(JSON.stringify((parse(code) as unknown as { value: unknown }).value));
      expect(a.reads).toEqual(a.name === 'a1' ? ['w', 'x', 'b'] : a.name === 'loss' ? ['a51', 'y'] : ['w', `a${Number(a.name.slice(1)) - 1}`, 'b']);
      expect([...a.columns.values()]).toEqual([...tokenColumns(a.expr, code, code.indexOf('=') + 1).values()]);
    }
  });
});

describe('the JavaScript compile() loads', () => {
  const chainOf = (n: number) => {
    const f = ['a1 = tanh(w * x + b)'];
    for (let i = 2; i <= n; i++) f.push(`a${i} = tanh(w * a${i - 1} + b)`);
    f.push(`loss = (a${n} - y)^2`);
    return defineModel({ name: `chain${n}`, inputs: ['x'], targets: ['y'], params: { w: 0.9, b: 0.1 }, formulas: f.join('\n') });
  };

  it('has no grad-of comments; the TypeScript has them; both grow linearly', () => {
    const [a, b, c] = [200, 400, 800].map((n) => {
      const ts = generate(chainOf(n), { chunkSize: 200 }).code;
      const js = generateJavaScript(chainOf(n), { chunkSize: 200 });
      expect(ts).toMatch(/\/\/ grad of: a\d+ = tanh\(t\d+\)/);
      expect(js).not.toMatch(/\/\/ (forward value, for the )?grad of:/);
      return { ts: ts.length, js: js.length };
    });
    // Linear: the text added by the next 400 lines is twice that of the 200 lines before (within 3%).
    for (const k of ['ts', 'js'] as const) expect(Math.abs((c[k] - b[k]) / (b[k] - a[k]) - 2)).toBeLessThan(0.06);
    expect(c.js - b.js).toBeLessThan(0.9 * (c.ts - b.ts)); // per line, the JavaScript is the smaller
  }, 120_000);
});
