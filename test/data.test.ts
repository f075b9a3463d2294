/**
 * Data files, scaling and splits (src/data): the readers turn CSV, JSON and JSON Lines
 * into exactly the rows a generated module packs, refuse every kind of bad row with its
 * location, stream large CSV files; scaling statistics come from the training rows and
 * invert exactly; splits are deterministic.
 */
import { mkdtempSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile, defineModel, GradcError } from '../src/index.js';
import { parseColumns } from '../src/data/columns.js';
import { parseNumber } from '../src/data/cells.js';
import { rowLayout, type RowLayout } from '../src/data/layout.js';
import { parseInputRows, parseRows, readInputRows, readRows, type DataFormat } from '../src/data/read.js';
import { checkScaling, computeScaling, parseScaleMethod, scaleRows, unscaleRows, unscaleValue } from '../src/data/scale.js';
import { splitRows } from '../src/data/split.js';
import { csvHeader, writeCsv } from '../src/data/write.js';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { readCsv, students } from '../examples/data.js';
import student from '../examples/student.model.js';

const dir = mkdtempSync(join(tmpdir(), 'gradc-data-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** The GradcError `promise` rejects with. */
async function refused(promise: Promise<unknown>): Promise<GradcError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(GradcError);
    return e as GradcError;
  }
  throw new Error('expected a GradcError, but the file was read');
}

const STUDENT = rowLayout({ inputs: { cgpa: [], iq: [] }, targets: { package: [] } });
const VEC = rowLayout({ inputs: { x: [3] }, targets: { y: [2] } });
const csv = (text: string, layout: RowLayout = STUDENT) => parseRows(text, layout, { format: 'csv', file: 'f.csv' });
const json = (text: string, layout: RowLayout = VEC, format: DataFormat = 'json') => parseRows(text, layout, { format, file: `f.${format}` });
const rows = (r: { X: Float64Array; Y?: Float64Array }) => ({ X: [...r.X], Y: r.Y ? [...r.Y] : undefined });

// A model with a scalar and a matrix input (declared in that order) and two targets.
const mixed = compile(defineModel({
  name: 'mixed',
  inputs: { b: 'scalar', M: [2, 3] },
  targets: { y: 2, t: 'scalar' },
  params: { w: 1 },
  formulas: 'loss = (w * b + sum(M) + sum(y) - t)^2',
}));

describe('row layout', () => {
  it("matches a generated module's packSamples: declaration order, offsets, row-major matrices", async () => {
    const layout = rowLayout(mixed.shapes, mixed);
    expect(layout.inputs.map((f) => [f.name, f.offset, f.size])).toEqual([['b', 0, 1], ['M', 1, 6]]);
    expect(layout.targets.map((f) => [f.name, f.offset, f.size])).toEqual([['y', 0, 2], ['t', 2, 1]]);
    const text = 'id,t,M_1,M_2,M_3,M_4,M_5,M_6,b,y\n7,9,1,2,3,4,5,6,0.5,"[10,11]"\n8,-9,6,5,4,3,2,1,-0.5,"[12,13]"\n';
    const read = await parseRows(text, layout, { format: 'csv' });
    const packed = mixed.packSamples([
      { inputs: { b: 0.5, M: [1, 2, 3, 4, 5, 6] }, targets: { y: [10, 11], t: 9 } },
      { inputs: { b: -0.5, M: [6, 5, 4, 3, 2, 1] }, targets: { y: [12, 13], t: -9 } },
    ]);
    expect(rows(read)).toEqual(rows(packed));
    expect(() => rowLayout(mixed.shapes, { INPUT_SIZE: 6, TARGET_SIZE: 3 })).toThrow(/mismatch/);
  });
});

describe('CSV', () => {
  it('reads examples/data/students.csv as packSamples packs the same students', async () => {
    const path = fileURLToPath(new URL('../examples/data/students.csv', import.meta.url));
    const mod = compile(student);
    const layout = rowLayout(mod.shapes, mod);
    const read = await readRows(path, layout);
    const raw = readCsv(path).map((r) => ({ inputs: { cgpa: r.cgpa, iq: r.iq }, targets: { package: r.package } }));
    expect(read.count).toBe(24);
    expect(rows(read)).toEqual(rows(mod.packSamples(raw)));
  });

  it('reads quoted commas, quoted line breaks, doubled quotes, CRLF lines, a BOM and blank lines', async () => {
    const text = '\ufeffname,cgpa,iq,package\r\n"Doe, Jane",7.5,101,4.5\r\n\r\n"a ""quoted""\r\nname",8,99,"5.25"\r\nplain, 9 ,+100,-1e-1\r\n';
    const r = await csv(text);
    expect(r.count).toBe(3);
    expect(rows(r)).toEqual({ X: [7.5, 101, 8, 99, 9, 100], Y: [4.5, 5.25, -0.1] });
  });

  it('reads vectors from numbered columns x_1.., x1.., or a JSON array in one cell; matrices row-major or nested', async () => {
    expect(rows(await csv('x_2,x_1,x_3,y_1,y_2\n2,1,3,4,5\n', VEC))).toEqual({ X: [1, 2, 3], Y: [4, 5] });
    expect(rows(await csv('x1,x2,x3,y\n1,2,3,"[4, 5]"\n', VEC))).toEqual({ X: [1, 2, 3], Y: [4, 5] });
    const layout = rowLayout({ inputs: { M: [2, 2] }, targets: { t: [] } });
    expect(rows(await csv('M,t\n"[[1,2],[3,4]]",0\n"[5,6,7,8]",1\n', layout))).toEqual({ X: [1, 2, 3, 4, 5, 6, 7, 8], Y: [0, 1] });
  });

  it('maps other header names to fields with the columns option (--columns field=name)', async () => {
    const columns = parseColumns('cgpa=GPA, package=salary', STUDENT);
    const r = await parseRows('GPA,iq,salary\n7,100,3\n', STUDENT, { format: 'csv', columns });
    expect(rows(r)).toEqual({ X: [7, 100], Y: [3] });
    expect(rows(await parseRows('p_1,p_2,p_3,y\n1,2,3,"[4,5]"\n', VEC, { format: 'csv', columns: new Map([['x', 'p']]) }))).toEqual({ X: [1, 2, 3], Y: [4, 5] });
    expect(() => parseColumns('cgap=GPA', STUDENT)).toThrow(/no input or target 'cgap' \(did you mean 'cgpa'\?\)/);
    expect(() => parseColumns('cgpa', STUDENT)).toThrow(/expected field=column/);
  });

  it('reads inputs only for predict: target columns may be missing', async () => {
    const r = await parseInputRows('iq,cgpa\n100,7\n', STUDENT, { format: 'csv' });
    expect({ X: [...r.X], count: r.count }).toEqual({ X: [7, 100], count: 1 });
    expect((await refused(csv('iq,cgpa\n100,7\n'))).message).toMatch(/no column for target 'package'/);
  });

  it('a cell that is not a number: file, line, column number and name, and the text', async () => {
    const e = await refused(csv('cgpa,iq,package\n7,100,3\n8,abc,4\n'));
    expect(e.message).toBe(`f.csv:3:2: column 'iq' "abc" is not a number`);
    expect(e.where).toMatchObject({ file: 'f.csv', line: 3, column: 2, symbol: 'iq' });
    expect((await refused(csv('cgpa,iq,package\n7,100,"3,5"\n'))).message).toBe(`f.csv:2:3: column 'package' "3,5" is not a number (use a point for decimals)`);
    expect((await refused(csv('cgpa,iq,package\n0x10,1,2\n'))).message).toMatch(/f.csv:2:1: column 'cgpa' "0x10" is not a number/);
  });

  it('NaN, Infinity, out-of-range numbers and empty cells are refused', async () => {
    expect((await refused(csv('cgpa,iq,package\n7,NaN,3\n'))).message).toBe(`f.csv:2:2: column 'iq' "NaN" is NaN, not a number`);
    expect((await refused(csv('cgpa,iq,package\n7,1,-Infinity\n'))).message).toBe(`f.csv:2:3: column 'package' "-Infinity" is not a finite number`);
    expect((await refused(csv('cgpa,iq,package\n7,1,1e999\n'))).message).toBe(`f.csv:2:3: column 'package' "1e999" is out of the range of a float64`);
    expect((await refused(csv('cgpa,iq,package\n7,,3\n'))).message).toBe(`f.csv:2:2: column 'iq' is empty`);
    expect((await refused(csv('cgpa,iq,package\n7,  ,3\n'))).message).toBe(`f.csv:2:2: column 'iq' is blank`);
    expect([parseNumber('1.5'), parseNumber(' -2e3 '), parseNumber('.5'), parseNumber('5.'), parseNumber('+0')]).toEqual([1.5, -2000, 0.5, 5, 0]);
    expect([parseNumber(''), parseNumber('0b1'), parseNumber('1e'), parseNumber('Infinity'), parseNumber('1_000')].every(Number.isNaN)).toBe(true);
  });

  it('a missing column lists the header and suggests a --columns mapping', async () => {
    const e = await refused(csv('cgpa,IQ,package\n7,100,3\n'));
    expect(e.message).toBe(`f.csv:1: no column for input 'iq': looked for a column 'iq'; the header has cgpa, IQ, package. Did you mean 'IQ'? (--columns iq=IQ)`);
    const v = await refused(csv('x_1,x_3,y\n1,2,"[1,2]"\n', VEC));
    expect(v.message).toMatch(/f.csv:1: input 'x' \(shape \[3\]\) needs columns x_1 .. x_3; missing x_2/);
    expect((await refused(csv('x_0,x_1,x_2,y\n', VEC))).message).toMatch(/f.csv:1:1: numbered columns are counted from 1 \(x_1 .. x_3\), but the file has 'x_0'/);
    expect((await refused(csv('x_1,x_2,x_3,x_4,y\n', VEC))).message).toMatch(/f.csv:1:4: the file has column 'x_4', but input 'x' has only 3 values/);
  });

  it('a ragged row (more or fewer cells than the header) is refused at its line', async () => {
    expect((await refused(csv('cgpa,iq,package\n7,100,3\n8,100\n'))).message).toBe('f.csv:3: the row has 2 cells, the header has 3');
    expect((await refused(csv('cgpa,iq,package\n7,100,3,4\n'))).message).toBe('f.csv:2: the row has 4 cells, the header has 3');
  });

  it('the line is where a row starts, also after quoted line breaks and blank lines', async () => {
    const e = await refused(csv('note,cgpa,iq,package\n"two\nlines",7,100,3\n\n"x\ny\nz",8,?,4\n'));
    expect(e.where).toMatchObject({ line: 5, column: 3 });
  });

  it('a duplicate header name is refused, naming both columns', async () => {
    expect((await refused(csv('cgpa,iq,package,iq\n1,2,3,4\n'))).message).toBe(`f.csv:1:4: column name 'iq' appears twice in the header (columns 2 and 4)`);
  });

  it('an empty file, a blank file and a header without rows are refused', async () => {
    expect((await refused(csv(''))).message).toMatch(/^f.csv: the file is empty/);
    expect((await refused(csv('\n\n'))).message).toMatch(/^f.csv: the file is empty/);
    expect((await refused(csv('cgpa,iq,package\n'))).message).toBe('f.csv:1: the file has a header (cgpa, iq, package) but no rows');
  });

  it('bad quoting and JSON array cells are refused with their location', async () => {
    expect((await refused(csv('cgpa,iq,package\n1,2,"3\n'))).message).toMatch(/^f.csv:2: a quoted cell is never closed/);
    expect((await refused(csv('x,y\n"[1,2]","[1,2]"\n', VEC))).message).toBe(`f.csv:2:1: column 'x' "[1,2]" has 2 values, x needs 3 (shape [3])`);
    expect((await refused(csv('x,y\n"[1,2,null]","[1,2]"\n', VEC))).message).toBe(`f.csv:2:1: column 'x' "[1,2,null]" has null as element 3, not a finite number`);
    expect((await refused(csv('x,y\n7,"[1,2]"\n', VEC))).message).toBe(`f.csv:2:1: column 'x' "7" is not a JSON array of 3 numbers`);
  });

  it('files: the format from the extension, a missing file, an unknown extension', async () => {
    const path = file('s.csv', 'cgpa,iq,package\n7,100,3\n');
    expect((await readRows(path, STUDENT)).count).toBe(1);
    expect((await refused(readRows(join(dir, 'nope.csv'), STUDENT))).message).toMatch(/nope.csv: no such file/);
    expect((await refused(readRows(file('s.txt', ''), STUDENT))).message).toMatch(/cannot tell the data format/);
  });

  it('streams a multi-megabyte file: rows cross chunk boundaries, values exact', async () => {
    const layout = rowLayout({ inputs: { x: [20] }, targets: { y: [] } });
    const path = join(dir, 'big.csv');
    const out = createWriteStream(path);
    out.write(`${Array.from({ length: 20 }, (_, k) => `x_${k + 1}`).join(',')},y\r\n`);
    const n = 40_000; // ~4 MB
    let expectedSum = 0;
    for (let i = 0; i < n; i++) {
      const cells = Array.from({ length: 20 }, (_, k) => ((i * 31 + k * 7) % 1000) / 8);
      expectedSum += cells.reduce((a, b) => a + b, 0) + i;
      out.write(`${cells.join(',')},${i}\r\n`);
    }
    await new Promise<void>((resolve) => out.end(resolve));
    const r = await readRows(path, layout);
    expect(r.count).toBe(n);
    expect(r.X.length).toBe(n * 20);
    expect(r.X.reduce((a, b) => a + b, 0) + r.Y.reduce((a, b) => a + b, 0)).toBe(expectedSum);
    expect([...r.X.subarray(20 * 12345, 20 * 12345 + 3)]).toEqual([((12345 * 31) % 1000) / 8, ((12345 * 31 + 7) % 1000) / 8, ((12345 * 31 + 14) % 1000) / 8]);
    expect(r.Y[n - 1]).toBe(n - 1);
  });
});

describe('JSON and JSON Lines', () => {
  it('reads an array of samples, flat or in the form fit takes, vectors as arrays', async () => {
    const r = await json('[{"x":[1,2,3],"y":[4,5],"id":"a"},\n {"inputs":{"x":[6,7,8]},"targets":{"y":[9,10]}}]');
    expect(rows(r)).toEqual({ X: [1, 2, 3, 6, 7, 8], Y: [4, 5, 9, 10] });
    const s = await parseRows(JSON.stringify(students().slice(0, 3)), STUDENT, { format: 'json' });
    expect(rows(s)).toEqual(rows(compile(student).packSamples(students().slice(0, 3))));
    expect(rows(await parseRows('[{"M":[[1,2],[3,4]],"t":0}]', rowLayout({ inputs: { M: [2, 2] }, targets: { t: [] } }), { format: 'json' }))).toEqual({ X: [1, 2, 3, 4], Y: [0] });
  });

  it('refuses a JSON that is not an array of objects, and bad values, with the sample line', async () => {
    expect((await refused(json('{"x":[1,2,3]}'))).message).toBe('f.json:1: expected a JSON array of samples, got an object');
    expect((await refused(json('[]'))).message).toBe('f.json: the file has no samples (an empty array)');
    expect((await refused(json(''))).message).toMatch(/^f.json: the file is empty/);
    expect((await refused(json('[\n{"x":[1,2,3],"y":[1,2]},\n\n  [1,2]\n]'))).message).toBe('f.json:4: sample 2 is an array, not an object of inputs and targets');
    expect((await refused(json('[{"x":[1,2,3],"y":[1,2]},\n {"x":[1,2,"3"],"y":[1,2]}]'))).message).toBe(`f.json:2: sample 2 input 'x' has a string "3" as element 3, not a finite number`);
    expect((await refused(json('[{"x":[1,2,3],"Y":[1,2]}]'))).message).toMatch(/f.json:1: sample 1 has no target 'y'; its keys are x, Y/);
    expect((await refused(json('[{"x":[1,2,3],"y":[1,2]},\n{"x":[1,2,3],"y":[1,2]]'))).message).toBe(`f.json:2:23: not valid JSON: Expected ',' or '}' after property value`);
  });

  it('reads JSON Lines, skipping blank lines; a bad line is refused with its line number', async () => {
    const r = await json('{"x":[1,2,3],"y":[4,5]}\r\n\r\n{"x":[6,7,8],"y":[9,10]}\r\n', VEC, 'jsonl');
    expect(rows(r)).toEqual({ X: [1, 2, 3, 6, 7, 8], Y: [4, 5, 9, 10] });
    expect((await refused(json('{"x":[1,2,3],"y":[4,5]}\n\n{"x":[1,2,3],"y":[4,5]\n', VEC, 'jsonl'))).message).toMatch(/^f.jsonl:3:\d+: not valid JSON/);
    expect((await refused(json('{"x":[1,2,3],"y":[4,5]}\n[1]\n', VEC, 'jsonl'))).message).toBe('f.jsonl:2: sample is an array, not an object of inputs and targets');
    expect((await refused(json('{"x":[1,2,3],"y":[4,5]}\n{"x":[1,2],"y":[4,5]}\n', VEC, 'jsonl'))).message).toBe(`f.jsonl:2: sample input 'x' has 2 values, x needs 3 (shape [3])`);
    expect((await refused(json('\n\n', VEC, 'jsonl'))).message).toMatch(/no samples/);
    const path = file('p.jsonl', '{"x":[1,2,3]}\n');
    expect([...(await readInputRows(path, VEC)).X]).toEqual([1, 2, 3]);
  });
});

describe('scaling', () => {
  const layout = rowLayout({ inputs: { a: [], v: [2] }, targets: { y: [] } });
  // a: 0..9; v[0]: constant 0.1 (whose float sum is not 10 * 0.1); v[1]: squares; y = 3a + 100
  const all = {
    X: Float64Array.from({ length: 30 }, (_, k) => [Math.floor(k / 3), 0.1, Math.floor(k / 3) ** 2][k % 3]),
    Y: Float64Array.from({ length: 10 }, (_, i) => 3 * i + 100),
    count: 10,
  };

  it('statistics come from the training rows only', () => {
    const { train } = splitRows(all, layout, 0.3, 1);
    const s = computeScaling('standard', layout, train, { targets: true });
    const a = [...train.X].filter((_, k) => k % 3 === 0);
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    const std = Math.sqrt(a.reduce((x, y) => x + (y - mean) ** 2, 0) / a.length);
    expect(s.inputs[0]).toEqual({ name: 'a', mean: [mean], std: [std] });
    expect(mean).not.toBe(4.5); // the mean of all ten rows
    const m = computeScaling('minmax', layout, train);
    expect(m.inputs[0]).toEqual({ name: 'a', min: [Math.min(...a)], max: [Math.max(...a)] });
    expect(m.targets).toEqual([]);
  });

  it('scales to mean 0 / std 1 or to [0, 1], and unscales back (round trip), targets included', () => {
    for (const method of ['standard', 'minmax'] as const) {
      const X = all.X.slice(), Y = all.Y.slice();
      const s = computeScaling(method, layout, all, { targets: true });
      scaleRows(s, layout, 'inputs', X, 10);
      scaleRows(s, layout, 'targets', Y, 10);
      const a = [...X].filter((_, k) => k % 3 === 0);
      if (method === 'standard') {
        expect(Math.abs(a.reduce((x, y) => x + y, 0) / 10)).toBeLessThan(1e-15);
        expect(a.reduce((x, y) => x + y * y, 0) / 10).toBeCloseTo(1, 14);
      } else {
        expect([Math.min(...a), Math.max(...a)]).toEqual([0, 1]);
      }
      expect(unscaleValue(s, 'y', Y[4])).toBeCloseTo(112, 12); // a model output in scaled units, back in raw units
      unscaleRows(s, layout, 'inputs', X, 10);
      unscaleRows(s, layout, 'targets', Y, 10);
      for (let k = 0; k < 30; k++) expect(X[k]).toBeCloseTo(all.X[k], 12);
      for (let i = 0; i < 10; i++) expect(Y[i]).toBeCloseTo(all.Y[i], 12);
      expect(checkScaling(JSON.parse(JSON.stringify(s)), layout)).toEqual(s); // serialisable
    }
  });

  it('a constant column (std = 0, max = min) becomes 0 and comes back exactly', () => {
    for (const method of ['standard', 'minmax'] as const) {
      const s = computeScaling(method, layout, all);
      expect(s.inputs[1]).toEqual(method === 'standard' ? { name: 'v', mean: [0.1, 28.5], std: [0, expect.any(Number)] } : { name: 'v', min: [0.1, 0], max: [0.1, 81] });
      const X = all.X.slice();
      scaleRows(s, layout, 'inputs', X, 10);
      expect([...X].filter((_, k) => k % 3 === 1)).toEqual(new Array(10).fill(0));
      unscaleRows(s, layout, 'inputs', X, 10);
      expect([...X].filter((_, k) => k % 3 === 1)).toEqual(new Array(10).fill(0.1));
      const later = Float64Array.of(0, 0.6, 0); // a new value of the constant column is shifted, not divided by 0
      scaleRows(s, layout, 'inputs', later, 1);
      expect(later[1]).toBeCloseTo(0.5, 15);
    }
  });

  it('standardizing students.csv gives the z-scores the examples compute (population std)', async () => {
    const path = fileURLToPath(new URL('../examples/data/students.csv', import.meta.url));
    const r = await readRows(path, STUDENT);
    scaleRows(computeScaling('standard', STUDENT, r), STUDENT, 'inputs', r.X, r.count);
    const z = students();
    for (let i = 0; i < r.count; i++) {
      expect(r.X[2 * i]).toBeCloseTo(z[i].inputs.cgpa, 13);
      expect(r.X[2 * i + 1]).toBeCloseTo(z[i].inputs.iq, 13);
    }
  });

  it('unscales a vector output element by element', () => {
    const l = rowLayout({ inputs: { a: [] }, targets: { y: [2] } });
    const s = computeScaling('minmax', l, { X: Float64Array.of(0, 1), Y: Float64Array.of(0, 10, 2, 30), count: 2 }, { targets: true });
    expect([...unscaleValue(s, 'y', Float64Array.of(0.5, 1))]).toEqual([1, 30]);
    expect(unscaleValue(s, 'other', 0.5)).toBe(0.5);
  });

  it('refuses statistics that do not fit the model, and unknown --scale methods', () => {
    const s = computeScaling('standard', layout, all);
    expect(() => checkScaling({ ...s, method: 'robust' }, layout, 'p.json')).toThrow(/p.json: unknown method "robust"/);
    expect(() => checkScaling({ ...s, inputs: [s.inputs[1], s.inputs[0]] }, layout)).toThrow(/inputs are v, a, the model's are a, v/);
    expect(() => checkScaling({ ...s, inputs: [s.inputs[0], { name: 'v', mean: [1], std: [1] }] }, layout)).toThrow(/v.mean must be a list of 2 numbers/);
    expect(() => checkScaling({ ...s, inputs: [s.inputs[0], { name: 'v', mean: [1, 2], std: [1, -1] }] }, layout)).toThrow(/negative/);
    expect(parseScaleMethod('minmax')).toBe('minmax');
    expect(parseScaleMethod('none')).toBeUndefined();
    expect(() => parseScaleMethod('z')).toThrow(/unknown scaling 'z' \(use standard, minmax or none\)/);
  });
});

describe('train / validation split', () => {
  const layout = rowLayout({ inputs: { x: [2] }, targets: { y: [] } });
  const n = 50;
  const all = { X: Float64Array.from({ length: 2 * n }, (_, k) => k), Y: Float64Array.from({ length: n }, (_, i) => i), count: n };

  it('is deterministic for a seed, disjoint, complete, in file order, and differs between seeds', () => {
    const a = splitRows(all, layout, 0.2, 42), b = splitRows(all, layout, 0.2, 42), c = splitRows(all, layout, 0.2, 43);
    expect(rows(a.validation)).toEqual(rows(b.validation));
    expect(rows(a.train)).toEqual(rows(b.train));
    expect(rows(a.validation)).not.toEqual(rows(c.validation));
    expect([a.train.count, a.validation.count]).toEqual([40, 10]);
    const ids = [...a.train.Y, ...a.validation.Y];
    expect([...ids].sort((p, q) => p - q)).toEqual([...all.Y]);
    expect([...a.validation.Y]).toEqual([...a.validationIndex]);
    expect([...a.validation.Y]).toEqual([...a.validation.Y].sort((p, q) => p - q));
    for (let i = 0; i < a.train.count; i++) expect([a.train.X[2 * i], a.train.X[2 * i + 1]]).toEqual([2 * a.train.Y[i], 2 * a.train.Y[i] + 1]);
  });

  it('refuses a fraction outside (0, 1) or one that leaves a part empty', () => {
    for (const f of [0, 1, -0.1, 1.5, NaN]) expect(() => splitRows(all, layout, f, 1)).toThrow(/between 0 and 1/);
    expect(() => splitRows(all, layout, 0.001, 1)).toThrow(/of 50 samples leaves no validation samples/);
    expect(() => splitRows(all, layout, 0.999, 1)).toThrow(/leaves no training samples/);
  });
});

describe('writing rows as CSV (predictions)', () => {
  it('names vector columns as the readers read them and round-trips every float64 exactly', async () => {
    const layout = rowLayout({ inputs: { a: [], v: [3] }, targets: {} });
    const header = csvHeader(layout.inputs);
    expect(header).toEqual(['a', 'v_1', 'v_2', 'v_3']);
    const values = Float64Array.of(0.1 + 0.2, 1e-300, -5e-324, 123456789.123456789, Math.PI, -0, 1 / 3, 2 ** 53 + 2);
    const path = join(dir, 'pred.csv');
    writeFileSync(path, 'old content');
    await writeCsv(path, header, values, 2);
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('a,v_1,v_2,v_3');
    const back = await readInputRows(path, layout);
    expect(back.count).toBe(2);
    for (let k = 0; k < values.length; k++) expect(Object.is(back.X[k], values[k])).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a failed write leaves neither a file nor a temporary file', async () => {
    const path = join(dir, 'missing-dir', 'pred.csv');
    await expect(writeCsv(path, ['a'], [1], 1)).rejects.toThrow(/ENOENT/);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
