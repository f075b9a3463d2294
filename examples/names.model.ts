// Names: is a first name in the female or the male list? A character-level GRU reads the
// name one letter a step (a one-hot row of NAME_SYMBOLS per step, the letters first and
// zero rows after them), for as many steps as the name has letters (`len`, a length input:
// the state is kept after the last letter), and one dense unit turns the state after the
// last letter into a logit; the loss is binary cross-entropy with logits:
//   h[t] = gru(x[t], h[t-1]) for t <= len, h[t-1] after,  h[0] = 0   (m.gru: TF.js's gate layout z, r, h)
//   z = dot(v, h[T]) + c,  loss = softplus(z) - y z   (y = 1 for the female list)
// `lengths = false` is the model without a length input: the name padded with zero rows in
// front, so the last step is the last letter, and the cell runs over the padding too.
// One definition of the cell whatever the length: its gradient is backpropagation through
// time, emitted as two loops over t. Data: examples/names.ts.
import { defineModel } from '../src/index.js';

/** The characters names are written in (examples/names.ts encodes them). */
export const NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz-';
/** Width of one time step: one column per character. */
export const NAME_SYMBOLS = NAME_ALPHABET.length;
/** Time steps per name (the longest name in the lists has 15 letters). */
export const NAME_LENGTH = 15;

/** Hidden units of the GRU. */
export const NAMES_HIDDEN = 16;

export function namesModel(hidden = NAMES_HIDDEN, length = NAME_LENGTH, lengths = true) {
  return defineModel('names', (m) => {
    m.input('x', [length, NAME_SYMBOLS]);
    if (lengths) m.lengthInput('len', 'x');
    m.target('y');
    const { h } = m.gru('x', hidden, { name: 'gru' }).last;
    m.param('v', { shape: [hidden], init: 'glorot' });
    m.param('c', 0);
    m.def('z', m.add(m.dot('v', h), 'c'));
    m.loss('softplus(z) - y * z');
    m.output('z');
  }, { seed: 5 });
}

export default namesModel();
