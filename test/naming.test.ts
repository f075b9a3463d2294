/**
 * Names in generated code (naming.ts, 5-lower/schedule.ts) and the comments beside them
 * (6-emit/kernels.ts), checked on the unrolled program's instructions, not on spelling:
 * - an adjoint several forward nodes share is named after the node it belongs to: the
 *   user's label (XOR: dloss/dc is the adjoint of z, stored into c's gradient under z's
 *   name), else the unnamed operation it is the adjoint of (dloss/db1 is the adjoint of
 *   the pre-activation, named after that operation's temporary, never `d_b1`); a
 *   parameter's gradient carries the parameter's name only when it is its own node;
 * - displays use the same owner (naming.ts `adjointOwners`): `gradc grad` names the
 *   pre-activation's adjoint after b1 and shows the expression beside it;
 * - a forward value the loss does not read (XOR's yhat after the stability rewrite) is
 *   computed in the backward pass under a comment saying it is a forward value;
 * - the forward and loss kernels carry no `grad of:` comments; the emitted code prints a
 *   comment once per run of statements that share it.
 */
import { describe, expect, it } from 'vitest';
import { defineModel, generate } from '../src/index.js';
import type { Instr, Kernel } from '../src/5-lower/schedule.js';
import { gradientSteps } from '../src/pipeline.js';
import { adjointOwners, Names } from '../src/naming.js';
import xor from '../examples/xor.model.js';
import linreg from '../examples/linreg.model.js';

type Op = Extract<Instr, { kind: 'op' }>;
type Store = Extract<Instr, { kind: 'store' }>;
const opAt = (k: Kernel, ref: number) => k.instrs[ref] as Op;
/** The instruction whose value is stored into the gradient of `param`. */
function gradientOf(k: Kernel, param: string): Op {
  const s = k.instrs.find((i): i is Store => i.kind === 'store' && i.into === 'grad' && i.leaf === param)!;
  expect(s, param).toBeDefined();
  return opAt(k, (s.value as { ref: number }).ref);
}
/** The instruction named `name`. */
const named = (k: Kernel, name: string) => k.instrs.find((i): i is Op => i.kind === 'op' && i.name === name);

describe('adjoints are named after the node they belong to', () => {
  const g = generate(xor, { lowering: 'unrolled' });
  const k = g.program.kernels!.gradient;

  it('dloss/dc is the adjoint of z: named d_z, stored into c', () => {
    const dc = gradientOf(k, 'c');
    expect(dc.name).toBe('d_z');
    // v1's gradient reads it: d_v1 = d_z * h1.
    const dv1 = gradientOf(k, 'v1');
    expect(dv1.args.some((a) => 'ref' in a && opAt(k, a.ref) === dc)).toBe(true);
  });

  it('dloss/db1 is the adjoint of the unnamed pre-activation: named after its temporary, and w11 reads it under that name', () => {
    const db1 = gradientOf(k, 'b1');
    expect(db1.name).not.toBe('d_b1');
    const pre = named(k, db1.name.replace(/^d_/, ''));
    expect(pre, `${db1.name} names a forward value`).toBeDefined();
    expect(pre!.op).toBe('add'); // w11 * x1 + w12 * x2 + b1
    expect(pre!.args.some((a) => 'ref' in a && k.instrs[a.ref].kind === 'load' && (k.instrs[a.ref] as { leaf: string }).leaf === 'b1')).toBe(true);
    const dw11 = gradientOf(k, 'w11');
    expect(dw11.name).toBe('d_w11'); // its own node: the parameter's name
    expect(dw11.args.some((a) => 'ref' in a && opAt(k, a.ref) === db1)).toBe(true);
  });

  it('the displays use the same owner: gradc grad shows the pre-activation beside dloss/db1', () => {
    const owners = adjointOwners(g.derived);
    const b1 = g.derived.model.params.findIndex((p) => p.name === 'b1');
    const owner = owners.get(g.derived.grads[b1])!;
    expect(owner.label).toBeUndefined();
    expect(owner.param).toBeUndefined();
    expect(owner.of.op).toBe('add');
    const c = g.derived.model.params.findIndex((p) => p.name === 'c');
    expect(owners.get(g.derived.grads[c])!.label).toBe('z');
    const line = gradientSteps(g.derived).lines.find((l) => l.name === 'dloss/db1')!;
    expect(line.adjointOf).toBe('w11 * x1 + w12 * x2 + b1');
  });

  it('a parameter that shares nothing keeps its name (linreg: d_w)', () => {
    const lk = generate(linreg).program.kernels!.gradient;
    expect(gradientOf(lk, 'w').name).toBe('d_w');
  });

  it('a forward value the loss does not read is computed in the backward pass and says so', () => {
    const yhat = named(k, 'yhat')!;
    expect(yhat.comment).toMatch(/^forward value, for the grad of: /);
    const loss = k.instrs.findIndex((i) => i.kind === 'op' && i.name === 'loss');
    expect(k.instrs.indexOf(yhat)).toBeGreaterThan(loss);
    expect(named(g.program.kernels!.forward, 'yhat')!.comment).toBeUndefined();
  });
});

describe('comments', () => {
  const g = generate(xor, { lowering: 'unrolled' });

  it('the forward and loss kernels have no grad-of comments; every backward op of the gradient kernel has one', () => {
    for (const kind of ['forward', 'loss'] as const) {
      expect(g.program.kernels![kind].instrs.filter((i) => i.kind === 'op' && i.comment !== undefined)).toEqual([]);
    }
    const k = g.program.kernels!.gradient;
    const lossAt = k.instrs.findIndex((i) => i.kind === 'op' && i.name === 'loss');
    const backward = k.instrs.slice(lossAt + 1).filter((i): i is Op => i.kind === 'op');
    expect(backward.length).toBeGreaterThan(10);
    for (const i of backward) expect(i.comment, i.name).toBeDefined();
  });

  it('a comment is printed once per run of statements sharing it', () => {
    for (const def of [xor, softmaxModel()]) {
      const { code, program } = generate(def, { lowering: 'unrolled' });
      const body = code.slice(code.indexOf('function $gradient('));
      const fn = body.slice(0, body.indexOf('\n}\n'));
      const lines = fn.split('\n').map((l) => l.trim());
      let previous: string | undefined;
      for (const l of lines) {
        if (l.startsWith('// ')) {
          expect(l, 'a comment repeats the one before it with no other comment between').not.toBe(previous);
          previous = l;
        } else if (l.startsWith('const ') && !l.includes('= $p.') && !l.includes('= $x[') && !l.includes('= $y[')) {
          // an op: when it has no comment of its own the run ends
          const op = program.kernels!.gradient.instrs.find((i) => i.kind === 'op' && l.startsWith(`const ${i.name} =`)) as Op | undefined;
          if (op && op.comment === undefined) previous = undefined;
        }
      }
      // and every distinct comment of the kernel is printed
      const comments = new Set(program.kernels!.gradient.instrs.flatMap((i) => (i.kind === 'op' && i.comment ? [`// ${i.comment}`] : [])));
      for (const c of comments) expect(lines).toContain(c);
      // fewer comment lines than commented statements: runs were merged
      const commented = program.kernels!.gradient.instrs.filter((i) => i.kind === 'op' && i.comment).length;
      expect(lines.filter((l) => l.startsWith('// ')).length).toBeLessThan(commented);
    }
  });
});

function softmaxModel() {
  return defineModel('sm', (m) => {
    const x = m.input('x', 2);
    const y = m.target('y', 3);
    const W = m.param('W', { shape: [3, 2], init: 0.1 });
    const b = m.param('b', { shape: [3], init: 0 });
    m.def('logits', m.add(m.matmul(W, x), b));
    m.loss(m.call('cross_entropy', 'logits', y));
  });
}

describe('Names: temporaries and fresh names never collide', () => {
  /** The old Names (every name in one set), as the oracle. */
  class OneSet {
    private readonly used = new Set<string>();
    private temps = 0;
    fresh(base: string): string { let name = base; for (let k = 2; this.used.has(name); k++) name = `${base}_${k}`; this.used.add(name); return name; }
    temp(): string { let name: string; do name = `t${this.temps++}`; while (this.used.has(name)); this.used.add(name); return name; }
  }

  it('hands out what one set of every name handed out, in any order of calls', () => {
    const bases = ['t0', 't1', 't2', 't10', 't01', 't', 'tt', 't1_2', 'a', 'x3', 't3'];
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let run = 0; run < 300; run++) {
      const names = new Names(), oracle = new OneSet();
      for (let i = 0; i < 40; i++) {
        if (rand(2) === 0) expect(names.temp()).toBe(oracle.temp());
        else { const b = bases[rand(bases.length)]; expect(names.fresh(b), b).toBe(oracle.fresh(b)); }
      }
    }
  });

  it('a label t1 after the temporary t1 is t1_2; a temporary after the label t2 skips it', () => {
    const names = new Names();
    expect([names.temp(), names.temp(), names.fresh('t1'), names.fresh('t2'), names.temp(), names.fresh('t01')]).toEqual(['t0', 't1', 't1_2', 't2', 't3', 't01']);
  });
});
