/**
 * The spam example (examples/spam.ts) on a subsample of the SpamAssassin corpus: the
 * groups are the ones the example assumes, the tokenizer and vocabulary do what they say,
 * and the mean-pooled embedding classifier beats the majority class on the held-out mails
 * and comes within a few points of the bag-of-words logistic regression (both compiled by
 * gradc). The full run's numbers are in the demo (examples/demo.ts, section 8).
 */
import { describe, expect, it } from 'vitest';
import { scores, spamCorpus, tokenIds, trainSpam, vocabulary, words } from '../examples/spam.js';

describe('spam example', () => {
  it('reads the corpus: 6,046 mails in the groups easy-ham-1/2, hard-ham-1 (ham) and spam-1/2 (spam)', () => {
    const mails = spamCorpus();
    expect(mails).toHaveLength(6046);
    const groups = new Map<string, number>();
    for (const m of mails) groups.set(m.group, (groups.get(m.group) ?? 0) + 1);
    expect(Object.fromEntries(groups)).toEqual({ 'easy-ham-1': 2500, 'easy-ham-2': 1400, 'hard-ham-1': 250, 'spam-1': 500, 'spam-2': 1396 });
    expect(mails.filter((m) => m.spam)).toHaveLength(1896);
  });

  it('tokenizes simply: subject and body, lowercase words, top-N vocabulary, 0 pads, 1 is out of vocabulary', () => {
    const raw = 'From: a@b.c\nSubject: Cheap PILLS now\nX-Mailer: zzz\n\nBuy cheap pills, don\'t wait! 100% free';
    expect(words(raw)).toEqual(['cheap', 'pills', 'now', 'buy', 'cheap', 'pills', "don't", 'wait', 'free']);
    const vocab = vocabulary([words(raw)], 2);
    expect([...vocab]).toEqual([['cheap', 2], ['pills', 3]]);
    expect(Array.from(tokenIds(words(raw), vocab, 12))).toEqual([2, 3, 1, 1, 2, 3, 1, 1, 1, 0, 0, 0]);
    expect(scores([1, 0, 1, 1], [1, 0, 0, 1])).toEqual({ accuracy: 0.75, f1: 0.8, precision: 2 / 3, recall: 1 });
  });

  it('embeddings beat the majority class and come close to bag-of-words logistic regression (subsample)', () => {
    const r = trainSpam({ limit: 1500, vocab: 500, length: 100, epochs: 6, bowEpochs: 6 });
    expect(r.testCount).toBe(300);
    expect(r.majority.f1).toBe(0);
    expect(r.embeddings.lowering).toBe('loops');
    expect(r.embeddings.accuracy).toBeGreaterThan(r.majority.accuracy + 0.2);
    expect(r.bow.accuracy).toBeGreaterThan(r.majority.accuracy + 0.2);
    expect(r.embeddings.accuracy).toBeGreaterThan(r.bow.accuracy - 0.04);
    expect(r.embeddings.f1).toBeGreaterThan(0.85);
    console.log(`spam (1,500 mails): majority ${r.majority.accuracy.toFixed(3)}, bow ${r.bow.accuracy.toFixed(3)} (F1 ${r.bow.f1.toFixed(3)}), embeddings ${r.embeddings.accuracy.toFixed(3)} (F1 ${r.embeddings.f1.toFixed(3)})`);
  }, 120_000);
});
