/**
 * The names example (examples/names.ts, names.model.ts): the data are the two stdlib lists
 * without the names in both, the encoding puts the letters first and the name's length
 * beside them (or, without lengths, the last letter at the last step), the
 * baselines are what they say, and the GRU (a recurrence: BPTT emitted as loops) beats both
 * baselines on the held-out names after a short run on part of the training names. The
 * full run's numbers are in the demo (examples/demo.ts, section 9).
 */
import { describe, expect, it } from 'vitest';
import { compile, generate } from '../src/index.js';
import { NAME_LENGTH, NAME_SYMBOLS, encodeName, nameLength, lastLetterBaseline, majorityBaseline, namesAccuracy, namesSplit, trainNames } from '../examples/names.js';
import { namesModel } from '../examples/names.model.js';

describe('names example', () => {
  it('splits the unambiguous names: 8,003 in all, 419 in both lists left out, seeded', () => {
    const s = namesSplit();
    expect(s.ambiguous).toBe(419);
    expect(s.train.length + s.test.length).toBe(4944 + 3897 - 2 * 419);
    const seen = new Set(s.train.map((n) => n.name));
    expect(s.test.some((n) => seen.has(n.name))).toBe(false);
    expect(namesSplit().test.map((n) => n.name)).toEqual(s.test.map((n) => n.name));
    expect(namesSplit(8).test.map((n) => n.name)).not.toEqual(s.test.map((n) => n.name));
  });

  it('encodes one-hot letters first, zero rows after, and the length; or zero rows in front', () => {
    const x = encodeName('ab');
    expect(x).toHaveLength(NAME_LENGTH * NAME_SYMBOLS);
    expect([...x.keys()].filter((k) => x[k] === 1)).toEqual([0, NAME_SYMBOLS + 1]);
    expect(nameLength('ab')).toBe(2);
    const front = encodeName('ab', undefined, 0, 'front');
    expect([...front.keys()].filter((k) => front[k] === 1)).toEqual([(NAME_LENGTH - 2) * NAME_SYMBOLS + 0, (NAME_LENGTH - 1) * NAME_SYMBOLS + 1]);
    expect(() => encodeName('a b')).toThrow(/not in the names alphabet/);
  });

  it('with lengths, a name is read for its own letters only: the padding rows change nothing', () => {
    const mod = compile(namesModel(4));
    const p = mod.initParams();
    const x = encodeName('ada');
    const junk = Float64Array.from(x, (v, k) => (k < 3 * NAME_SYMBOLS ? v : 1));
    expect(mod.forward(p, { x: junk, len: 3 }).z).toBe(mod.forward(p, { x, len: 3 }).z);
    expect(mod.forward(p, { x, len: 3 }).z).not.toBe(mod.forward(p, { x, len: 4 }).z);
  });

  it('fits the baselines on the training names only', () => {
    const train = [{ name: 'anna', female: 1 }, { name: 'bella', female: 1 }, { name: 'tom', female: 0 }, { name: 'jim', female: 0 }, { name: 'sam', female: 0 }] as const;
    expect(majorityBaseline(train)('zoe')).toBe(0);
    const last = lastLetterBaseline(train);
    expect([last('maria'), last('adam'), last('bob')]).toEqual([1, 0, 0]);
    expect(namesAccuracy([{ name: 'maria', female: 1 }, { name: 'liam', female: 0 }], last)).toBe(1);
  });

  it('the GRU beats the majority class and the last-letter rule on the held-out names', () => {
    const r = trainNames({ epochs: 2, limit: 2000 });
    expect(r.testCount).toBe(1601);
    expect(r.lastLetter).toBeGreaterThan(r.majority + 0.15);
    expect(r.gru).toBeGreaterThan(r.lastLetter);
    console.log(`names (2,000 training names, 2 epochs): majority ${r.majority.toFixed(3)}, last letter ${r.lastLetter.toFixed(3)}, GRU ${r.gru.toFixed(3)}`);
  }, 300_000);

  it('the generated module does not grow with the name length (the recurrence is a loop)', () => {
    const lines = (T: number) => generate(namesModel(16, T)).code.split('\n').length;
    const short = lines(15), long = lines(150);
    expect(Math.abs(long - short) / short).toBeLessThan(0.02);
  });
});
