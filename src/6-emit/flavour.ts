/**
 * Phase 6, emit (flavour): the module as TypeScript (`gradc build`) or as JavaScript
 * (`compile()`, which loads it without a TypeScript compile).
 *
 * Guarantees: the emitter writes every piece of model-dependent code once, through a
 * `Syntax`: `t(': Params')` is the type syntax in TypeScript and nothing in JavaScript,
 * `nn` the `!` of a typed-array read (erased when compiled). The model-independent pieces
 * are written in TypeScript and come as JavaScript from runtimeJs.ts, which
 * scripts/runtimeJs.ts generates from them with the TypeScript compiler when gradc is
 * built (`npm run gen`; `gen:check` fails when it is stale). So the two flavours are the
 * same program token for token, comments aside (test/compile.test.ts compares the
 * JavaScript with the TypeScript compiler's output for the TypeScript text).
 */

export type Flavour = 'ts' | 'js';

export interface Syntax {
  readonly flavour: Flavour;
  /** Type syntax (`: number`, ` as const`, `<T>`): itself in TypeScript, '' in JavaScript. */
  readonly t: (typeText: string) => string;
  /** The non-null assertion of a typed-array read: '!' in TypeScript, '' in JavaScript. */
  readonly nn: string;
}

const TS: Syntax = { flavour: 'ts', t: (s) => s, nn: '!' };
const JS: Syntax = { flavour: 'js', t: () => '', nn: '' };

export const syntaxOf = (flavour: Flavour): Syntax => (flavour === 'ts' ? TS : JS);
