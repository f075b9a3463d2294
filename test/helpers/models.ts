/**
 * Whole models for the end-to-end tests: every example in examples/*.model.ts (found
 * by listing the folder, so a new example is tested without touching the tests) and a
 * small corpus that covers what the examples do not (kinks at exactly 0, MLPs with each
 * activation, a softmax classifier written three ways, the tensor ops of formulas), plus
 * the reference side: a model's loss, outputs and gradients by the interpreter.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineModel, type ModelDefinition } from '../../src/2-build/define.js';
import type { Node } from '../../src/ir/node.js';
import { sizeOf } from '../../src/ir/shape.js';
import type { Derived } from '../../src/model.js';
import { type Env, evaluate } from '../../src/interp/evaluate.js';
import type { Model } from '../../src/model.js';
import { uniform } from './numeric.js';

export interface NamedModel {
  readonly name: string;
  readonly def: ModelDefinition;
}

export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));

/** Every examples/*.model.ts, by file name, default export. */
export async function exampleModels(): Promise<NamedModel[]> {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.model.ts')).sort();
  const out: NamedModel[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(EXAMPLES_DIR + f).href)) as { default: ModelDefinition };
    out.push({ name: f.replace(/\.model\.ts$/, ''), def: mod.default });
  }
  return out;
}

/** Models written for the tests. */
export const CORPUS: readonly NamedModel[] = [
  {
    // Every kink at once when x = 0 and the biases are exactly 0 (their initial values).
    name: 'kinks',
    def: defineModel({
      name: 'kinks',
      inputs: ['x'],
      targets: ['y'],
      params: { w: 0.5, b: 0, v: -1.5, c: 0 },
      formulas: `
        r = relu(w * x + b)
        q = abs(v * x + c)
        m = max(w * x, v * x)
        n = min(r, q)
        yhat = r + q + m - n + b
        loss = (yhat - y)^2
      `,
    }),
  },
  {
    name: 'smooth',
    def: defineModel({
      name: 'smooth',
      inputs: ['x1', 'x2'],
      targets: ['y'],
      params: { a: 0.3, b: -0.2, c: 0.1, d: 0.7 },
      formulas: `
        u = a * x1 + b * x2
        z = sqrt(u^2 + 1) + log(c^2 + 1) * exp(-d * x1) / (1 + x2^2)
        p = sigmoid(z - 1) ^ 1.5 + softplus(d * x2) - tanh(a * b) + sin(c) * cos(d)
        loss = (p - y)^2 + 0.01 * (a^2 + b^2 + c^2 + d^2)
      `,
    }),
  },
  {
    // A variable exponent: at x = 0 (the all-zero input point) d((x^2)^p)/dp = log(0) * 0^p
    // must come out 0, not NaN.
    name: 'power',
    def: defineModel({
      name: 'power',
      inputs: ['x'],
      targets: ['y'],
      params: { p: 2.5, c: 1 },
      formulas: `
        yhat = c * (x^2)^p + (x^2 + 1)^(c / 2)
        loss = (yhat - y)^2
      `,
    }),
  },
  {
    name: 'mlp_tanh',
    def: defineModel('mlp_tanh', (m) => {
      const x = m.input('x', 3);
      m.target('y');
      m.def('out', m.mlp(x, [5, 4, 1], 'tanh'));
      m.loss('(out[1] - y)^2');
      m.output('out');
    }, { seed: 5 }),
  },
  {
    name: 'mlp_relu_sigmoid',
    def: defineModel('mlp_relu_sigmoid', (m) => {
      const x = m.input('x', 3);
      m.target('y');
      const h = m.dense(x, 4, 'relu', { init: { kind: 'uniform', low: -1, high: 1 }, biasInit: 0 });
      const g = m.dense(h, 3, 'softplus');
      m.def('p', m.dense(g, 1, 'sigmoid'));
      m.loss('-(y * log(p[1]) + (1 - y) * log(1 - p[1]))');
      m.output('p');
    }, { seed: 9 }),
  },
  {
    name: 'softmax_log_softmax',
    def: defineModel({
      name: 'softmax_log_softmax',
      inputs: { x: 4 },
      targets: { y: 3 },
      params: { W: { shape: [3, 4], init: 'glorot' }, b: { shape: [3], init: 0 } },
      formulas: `
        logits = W * x + b
        loss = -dot(y, log_softmax(logits))
      `,
    }),
  },
  {
    // log(softmax(.)) is rewritten to log_softmax by the simplifier's stability rules.
    name: 'softmax_log_of_softmax',
    def: defineModel({
      name: 'softmax_log_of_softmax',
      inputs: { x: 4 },
      targets: { y: 3 },
      params: { W: { shape: [3, 4], init: 'glorot' }, b: { shape: [3], init: 0 } },
      formulas: `
        logits = W * x + b
        loss = -dot(y, log(softmax(logits)))
      `,
    }),
  },
  {
    name: 'softmax_logsumexp',
    def: defineModel({
      name: 'softmax_logsumexp',
      inputs: { x: 4 },
      targets: { y: 3 },
      params: { W: { shape: [3, 4], init: 'glorot' }, b: { shape: [3], init: 0 } },
      formulas: `
        logits = W * x + b
        loss = logsumexp(logits) - dot(y, logits)
      `,
    }),
  },
  {
    name: 'tensor_ops',
    def: defineModel({
      name: 'tensor_ops',
      inputs: { x: 3 },
      targets: ['y'],
      params: { u: { shape: [2], init: [0.5, -0.3] }, M: { shape: [3, 2], init: 'glorot' }, s: 0.4, V: { shape: [2, 2], init: [1, 0.5, -0.5, 2] } },
      formulas: `
        A = outer(u, x)
        t = transpose(M) * x
        z = concat(sum(A), V * t, u[2] * s, mean(x .* x))
        w = matmul(t, V) .* u - max(t, u) ./ (1 + min(t, u).^2)
        loss = logsumexp(z) + dot(w, w) * y - z[1] * s
      `,
    }),
  },
];

/** Random values for a leaf of shape `shape` (a number for a scalar). */
export function randomValue(rand: () => number, shape: readonly number[], low = -1, high = 1): number | Float64Array {
  if (shape.length === 0) return uniform(rand, low, high);
  return Float64Array.from({ length: sizeOf(shape) }, () => uniform(rand, low, high));
}

export function randomValues(rand: () => number, shapes: Readonly<Record<string, readonly number[]>>, low = -1, high = 1, ids: Readonly<Record<string, number>> = {}, lengths: Readonly<Record<string, number>> = {}): Record<string, number | Float64Array> {
  return Object.fromEntries(Object.entries(shapes).map(([k, s]) => {
    if (Object.hasOwn(lengths, k)) return [k, 1 + Math.floor(rand() * lengths[k]!)]; // a length input: 1..T
    if (!Object.hasOwn(ids, k)) return [k, randomValue(rand, s, low, high)];
    const id = () => Math.floor(rand() * ids[k]!); // an integer input: random ids in range
    return [k, s.length === 0 ? id() : Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, id)];
  }));
}

export interface Reference {
  readonly loss: number;
  /** dloss/dp by parameter name. */
  readonly grad: Record<string, Float64Array>;
  readonly outputs: Record<string, Float64Array>;
}

/** Loss, gradients and outputs of a derived model, by the reference interpreter. */
export function interpret(derived: Derived, env: Env): Reference {
  const { model, grads } = derived;
  const roots: Node[] = [model.loss, ...grads, ...model.outputs.map((o) => o.node)];
  const values = evaluate(roots, env);
  return {
    loss: values.get(model.loss)![0],
    grad: Object.fromEntries(model.params.map((p, i) => [p.name, values.get(grads[i])!])),
    outputs: Object.fromEntries(model.outputs.map((o) => [o.name, values.get(o.node)!])),
  };
}

/** Leaf values for the interpreter from the emitted module's argument objects. */
export function envOf(...parts: Readonly<Record<string, number | ArrayLike<number>>>[]): Env {
  const env: Record<string, number | number[]> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) env[k] = typeof v === 'number' ? v : Array.from(v);
  return env;
}

/** Parameter elements as one flat list of [name, index] pairs (index null for scalars). */
export function paramElements(model: Model): [string, number | null][] {
  return model.params.flatMap((p): [string, number | null][] => (p.shape.length === 0 ? [[p.name, null]] : Array.from({ length: sizeOf(p.shape) }, (_, k): [string, number | null] => [p.name, k])));
}
