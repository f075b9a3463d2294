/**
 * Review, round 4 (recurrent features) by a hostile user: one test per defect found, each
 * failing before its fix.
 *
 *   R1  `gradc grad` (and --tex, --json; the report) on any model with a length input (the
 *       names example, m.rnn/m.lstm/m.gru with m.lengthInput) was an internal error (exit 2):
 *       "index: index 4 is outside 1..3": the recurrence form split a carry of C + 1 (the
 *       states and the step counter lengths add) as if it held the states only. The counter is
 *       now a stand-in of its own, shown as `t-1` (h[t] = select(gt(len, t-1), ..., h[t-1])),
 *       and `gradc explain` walks it with numbers that agree with the derived gradient.
 *   R2  `gradc explain --at` on a checkpointed recurrence (checkpoint: 2) printed wrong numbers
 *       and said so ("its step formula differs from the interpreter's value of the recurrence
 *       by 0.159 (please report this)"): the k rows a checkpointed step reads were all taken
 *       as its first row, and the x column showed row t instead of the row step t reads. Each
 *       row is now a stand-in of its own (x[2(t-1)+1], x[2(t-1)+2]) read at its place.
 *   R3  A bad length (0, 1.5, -0, T + 1) or token id in a data file given to `gradc train`,
 *       `evaluate` or `predict` was reported by the module after reading, as "fitRows: row 2,
 *       input 'len' must be an integer length in 1..3, got 0" (0-based row of the whole
 *       file, no file or line; "sample 2" of a JSON file was "row 1"), and only once
 *       training started. The readers now check integer fields as they read them: the
 *       GradcError names the file, line and column (CSV) or sample (JSON), before training.
 *   R4  `m.lengthInput('len', 'w')` with w a parameter (or a computed value) was taken silently:
 *       a length must measure an input sequence (README: the sequence must be data); now a
 *       GradcError naming what it got.
 *   R5  `m.row(X, -1)` said "index 0 is outside 1..4" (1-based, for a 0-based API),
 *       `m.row(X, '1')` "index 11 is outside 1..4" (the string concatenated), `m.rows(X, 2, 1)`
 *       "range 3:1": now one message with the 0-based range and the value as given.
 *   R6  `m.pool(x, 'mean', { lenght: 3 })` (a typo) or `{ ids }` without padding said "expected a
 *       formula string, a number or an expression, got undefined": now a GradcError naming the
 *       two mask forms and the keys given.
 *   R7  A step reading a shifted row (`h[t] = tanh(W * x[t+1] + U * h[t-1])`, x[t-1], x[2*t]) said
 *       "the recurrence of h reads no sequence (write x[t] ...)", though it reads x: now the
 *       message quotes the read and says a step reads x[t] only.
 *   R8  `dot(v, h[4])` with T = 3 (or h[1.5]) said "step 4 is outside 0..3" with no line or
 *       column (the builder's location): now located at the read, quoting it.
 *   R9  (todo) `checkpoint: k` writes the cell k times in the generated code: an LSTM (8 hidden,
 *       4 inputs) generates 3,160 lines at k = 1, 17,619 at k = 10, 51,279 at k = 30 and 162,169
 *       at k = 100 (generate: 0.1 s, 1.1 s, 2.9 s, 12 s wall on the loaded machine; compiling
 *       and loading the k = 100 module at T = 10,000 took 60 s), while README advises k near
 *       sqrt(T), i.e. k = 100 at T = 10,000. The fix: lower a checkpointed step's k cell steps
 *       as an inner loop over j (the rows (t-1)k + j) instead of k copies (5-lower time loops).
 *   R10 (todo) A sequence with a length input that is also read outside a recurrence
 *       (`m.lengthInput('len', 'x')`, then `sum(x)` in the loss) reads the padding rows
 *       silently, though README says nothing reaching the loss reads them: refuse such reads
 *       (or mask them) once the reads of a measured sequence are classified.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliFromRoot } from './helpers/cli.js';
import { compile, defineModel, GradcError, type ModelBuilder } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'gradc-review4-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SRC = JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.js'));

/** A model file: cell over x [5 x 2] (with a length input when `lengths`), head v . h[T] + c. */
function cellModel(name: string, cell: string, lengths: boolean): string {
  const file = join(dir, `${name}.model.mts`);
  writeFileSync(file, `import { defineModel } from ${SRC};
export default defineModel('${name}', (m) => {
  m.input('x', [5, 2]);
  ${lengths ? "m.lengthInput('len', 'x');" : ''}
  m.target('y');
  const r = ${cell};
  m.param('v', { shape: [3], init: { kind: 'uniform', low: -0.7, high: 0.7 } });
  m.param('c', { init: 0.1 });
  m.def('yhat', m.add(m.dot('v', r.last.h), 'c'));
  m.loss('(yhat - y)^2');
  m.output('yhat');
}, { seed: 4 });
`);
  return file;
}
const X = '[0,0.42,0.45,0.07,-0.38,-0.48,-0.14,0.33,0.49,0.21]';

describe('inspection of recurrences with lengths and checkpoints', () => {
  it('R1: gradc grad / --tex / --json on models with a length input print the recurrence (exit 0), the counter as t-1', async () => {
    const cells = {
      elman: "m.rnn('x', 3, 'tanh', { name: 'cell' })",
      lstm: "m.lstm('x', 3, { name: 'cell' })",
      gru: "m.gru('x', 3, { name: 'cell' })",
      lstmk: "m.lstm('x', 3, { name: 'cell', checkpoint: 2 })",
    };
    for (const [name, cell] of Object.entries(cells)) {
      const file = cellModel(`${name}len`, cell, true);
      const r = await runCliFromRoot('grad', file);
      expect(r.err, name).toBe('');
      expect(r.code, name).toBe(0);
      expect(r.out).toMatch(/# recurrence h, c|# recurrence h/);
      expect(r.out).toMatch(/h(_\d)?\[t\] += select\(gt\(len, t-1\), /);
      expect((await runCliFromRoot('grad', file, '--tex')).code, `${name} --tex`).toBe(0);
      const j = await runCliFromRoot('grad', file, '--json');
      expect(j.code, `${name} --json`).toBe(0);
      expect(JSON.parse(j.out)).toBeTruthy();
    }
    const names = await runCliFromRoot('grad', 'examples/names.model.ts');
    expect(names.err).toBe('');
    expect(names.code).toBe(0);
  });

  it('R1: gradc explain --at with lengths: the states stay after len, the numbers agree with the derived gradient', async () => {
    for (const [name, cell] of [['elman', "m.rnn('x', 3, 'tanh', { name: 'cell' })"], ['lstm', "m.lstm('x', 3, { name: 'cell' })"]]) {
      const file = cellModel(`${name}ex`, cell, true);
      const r = await runCliFromRoot('explain', file, '--at', `x=${X},len=2,y=0.5`, '--steps', '5');
      expect(r.err, name).toBe('');
      expect(r.code, name).toBe(0);
      expect(r.out).not.toMatch(/please report/);
      // Steps 2..5 keep h[2] (frozen past the length).
      const table = r.out.split('\n  step  x[t]')[1].split('\n\n')[0].split('\n');
      const rows = table.filter((l) => /^ {2}[2-5] /.test(l)).map((l) => l.replace(/^ {2}\d +\[[^\]]*\] +/, ''));
      expect(rows.length).toBe(4);
      expect(new Set(rows).size).toBe(1);
    }
  });

  it('R2: gradc explain --at on a checkpointed recurrence: no disagreement, the rows a step reads', async () => {
    for (const lengths of [false, true]) {
      const file = cellModel(`ck${lengths ? 'len' : ''}`, "m.lstm('x', 3, { name: 'cell', checkpoint: 2 })", lengths);
      const r = await runCliFromRoot('explain', file, '--at', `x=${X},${lengths ? 'len=3,' : ''}y=0.5`, '--steps', '3');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).not.toMatch(/please report/);
      expect(r.out).toMatch(/matmul\(x\[2\(t-1\)\+1\], cell_W\)/);
      expect(r.out).toMatch(/matmul\(x\[2\(t-1\)\+2\], cell_W\)/);
      // Step 2 of the checkpointed scan reads rows 3 and 4: its x column shows row 3.
      expect(r.out).toMatch(/\n {2}2 +\[-0\.38, -0\.48\]/);
    }
  });
});

describe('lengths and ids in data files', () => {
  const model = () => {
    const file = join(dir, 'trainlen.model.mts');
    writeFileSync(file, `import { defineModel } from ${SRC};
export default defineModel('tl', (m) => {
  m.input('x', [3, 2]);
  m.lengthInput('len', 'x');
  m.target('y');
  const r = m.rnn('x', 3, 'tanh');
  m.param('v', { shape: [3], init: 0.2 });
  m.def('yhat', m.dot('v', r.last.h));
  m.loss('(yhat - y)^2');
  m.output('yhat');
});
`);
    return file;
  };
  const csv = (len: string) => `x_1,x_2,x_3,x_4,x_5,x_6,len,y\n0.1,0.2,0.3,0.4,0.5,0.6,2,1\n0.1,0.2,0.3,0.4,0.5,0.6,3,0\n0.3,0.2,0.1,0.4,0.5,0.6,${len},1\n`;

  it('R3: a bad length in a CSV file is a GradcError at its file, line and column, for train, evaluate and predict', async () => {
    const m = model();
    const good = join(dir, 'good.csv');
    writeFileSync(good, csv('1'));
    expect((await runCliFromRoot('train', m, '--data', good, '--epochs', '1')).code).toBe(0);
    const params = join(dir, 'p.json');
    expect((await runCliFromRoot('train', m, '--data', good, '--epochs', '1', '--out', params)).code).toBe(0);
    for (const [len, shown] of [['0', '0'], ['1.5', '1.5'], ['-0', '-0'], ['4', '4']]) {
      const bad = join(dir, `bad${len}.csv`);
      writeFileSync(bad, csv(len));
      for (const argv of [['train', m, '--data', bad, '--epochs', '1'], ['evaluate', m, '--params', params, '--data', bad], ['predict', m, '--params', params, '--data', bad]]) {
        const r = await runCliFromRoot(...argv);
        expect(r.code, `${argv[0]} ${len}`).toBe(1);
        expect(r.err).toContain(`${bad}:4:7: column 'len' must be an integer length in 1..3, got ${shown}`);
        expect(r.err).not.toMatch(/training tl/); // refused before training starts
      }
    }
  });

  it('R3: a bad length in a JSON file names the sample and its line', async () => {
    const m = model();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"x":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"len":2,"y":1},\n{"x":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"len":0,"y":1}]');
    const r = await runCliFromRoot('train', m, '--data', bad, '--epochs', '1');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}:2: sample 2 input 'len' must be an integer length in 1..3, got 0`);
  });
});

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('builder misuse around sequences', () => {
  const model = (body: (m: ModelBuilder) => void) => () => compile(defineModel('b', (m) => { body(m); m.target('y'); m.param('w', { init: 0.5 }); m.loss('(w - y)^2'); }));

  it('R4: a length input of a parameter or a computed value is a GradcError', () => {
    const e = thrown(model((m) => { m.param('P', { shape: [3] }); m.lengthInput('len', 'P'); }));
    expect(e).toBeInstanceOf(GradcError);
    expect(e.message).toMatch(/length input 'len': its sequence must be an input of the model .*, got the parameter 'P'/);
    const c = thrown(model((m) => { m.input('x', 3); m.lengthInput('len', m.mul(2, 'x')); }));
    expect(c).toBeInstanceOf(GradcError);
    expect(c.message).toMatch(/got a computed value/);
    const l = thrown(model((m) => { m.input('x', 3); const len = m.lengthInput('len', 'x'); m.lengthInput('len2', len); }));
    expect(l.message).toMatch(/length input 'len2'/);
  });

  it('R5: m.row / m.rows out of range, fractional or a string: the 0-based range and the value given', () => {
    for (const [f, text] of [
      [(m: ModelBuilder) => m.row('X', -1), /m\.row\(\.\.\.\): i is a 0-based row, an integer in 0\.\.3 for shape \[4x3\], got -1/],
      [(m: ModelBuilder) => m.row('X', 4), /i is a 0-based row, an integer in 0\.\.3 .*got 4/],
      [(m: ModelBuilder) => m.row('X', 1.5), /got 1\.5/],
      [(m: ModelBuilder) => m.row('X', '1' as never), /got "1"|got the string "1"|got '1'/],
      [(m: ModelBuilder) => m.rows('X', 2, 1), /from must be less than to .*got 2 and 1/],
      [(m: ModelBuilder) => m.rows('X', 0, 5), /to is a 0-based row, an integer in 0\.\.4 .*got 5/],
    ] as const) {
      const e = thrown(model((m) => { m.input('X', [4, 3]); m.def('z', m.sum(f(m))); }));
      expect(e).toBeInstanceOf(GradcError);
      expect(e.message).toMatch(text);
    }
  });

  it('R6: a pool mask that is neither { ids, padding } nor { length } is a GradcError naming its keys', () => {
    const pool = (mask: unknown) => model((m) => {
      const tok = m.intInput('tok', [3], 5);
      m.param('E', { shape: [5, 2] });
      m.def('h', m.pool(m.lookup('E', tok), 'mean', mask as never));
    });
    const e = thrown(pool({ lenght: 3 }));
    expect(e).toBeInstanceOf(GradcError);
    expect(e.message).toMatch(/pool\(x, mode, mask\): mask is \{ ids, padding \} or \{ length \}, got \{ lenght \}/);
    expect(thrown(pool({ ids: 'tok' })).message).toMatch(/got \{ ids \}/);
    expect(() => pool({ ids: 'tok', padding: 0 })()).not.toThrow();
  });
});

describe('formulas', () => {
  it('R7: a step reading x[t+1], x[t-1] or x[2*t] is told it reads the row of step t only, quoting the read', () => {
    for (const [read, shown] of [['x[t+1]', 'x[t + 1]'], ['x[t-1]', 'x[t - 1]'], ['x[2*t]', 'x[2 * t]']]) {
      const e = thrown(() => compile(defineModel('s', (m) => {
        m.input('x', [3, 2]);
        m.target('y');
        m.param('W', { shape: [2, 2] });
        m.param('U', { shape: [2, 2] });
        m.param('v', { shape: [2] });
        m.formulas(`h[0] = 0\nh[t] = tanh(W * ${read} + U * h[t-1])\nloss = (dot(v, h[T]) - y)^2`);
      })));
      expect(e).toBeInstanceOf(GradcError);
      expect(e.message).toContain(`:2:1: the step of h reads '${shown}': a step reads its sequence as x[t] only`);
    }
  });
});

describe('formulas: states at a step', () => {
  it('R8: h[k] past T or not an integer is located at the read', () => {
    for (const [k, shown] of [['4', 'step 4 is outside 0..3'], ['1.5', 'step 1.5 is outside 0..3']]) {
      const e = thrown(() => compile(defineModel('s', (m) => {
        m.input('x', [3, 2]);
        m.target('y');
        m.param('W', { shape: [2, 2] });
        m.param('v', { shape: [2] });
        m.formulas(`h[0] = 0\nh[t] = tanh(W * x[t] + h[t-1])\nloss = (dot(v, h[${k}]) - y)^2`);
      })));
      expect(e).toBeInstanceOf(GradcError);
      expect(e.message).toContain(`:3:16: 'h[${k}]': ${shown}`);
    }
  });
});

describe('left for later', () => {
  it.todo('R9: checkpoint: k lowers the k cell steps of a checkpointed step as an inner loop (generated size independent of k)');
  it.todo('R10: a sequence with a length input read outside a recurrence (sum(x)) is refused or masked');
});
