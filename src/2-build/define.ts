/**
 * Model definitions: what a `*.model.ts` file default-exports, and what `compile` takes.
 *
 * A definition is lazy: it is built when a phase needs the Model, with the file it came
 * from, so errors can name that file. Two forms, one result:
 *   defineModel({ name, inputs, targets, params, formulas })    formulas only
 *   defineModel('name', (m) => { ...builder calls... })         TypeScript builder
 * Guarantees: `buildModel` returns a checked Model (builder.ts) or throws a GradcError.
 */
import { GradcError } from '../errors.js';
import type { Node } from '../ir/node.js';
import type { Model } from '../model.js';
import { ModelBuilder, type InitSpec, type ParamOptions, type ShapeSpec } from './builder.js';

export interface ModelSpec {
  readonly name: string;
  /** Input names, or names with shapes (`{ x: 4 }` is a vector of 4). */
  readonly inputs: readonly string[] | Readonly<Record<string, ShapeSpec>>;
  readonly targets: readonly string[] | Readonly<Record<string, ShapeSpec>>;
  /** Parameter names with their initial value (a number) or options. */
  readonly params: Readonly<Record<string, number | readonly number[] | ParamOptions>>;
  /** Assignment lines; one of them defines `loss`. */
  readonly formulas: string;
  readonly outputs?: readonly string[];
  readonly seed?: number;
}

export interface ModelDefinition {
  readonly kind: 'gradc-model';
  readonly name: string;
  build(options?: { source?: string }): Model;
}

function entries(x: readonly string[] | Readonly<Record<string, ShapeSpec>>): [string, ShapeSpec | undefined][] {
  return Array.isArray(x) ? x.map((n) => [n, undefined]) : Object.entries(x);
}

export function defineModel(spec: ModelSpec): ModelDefinition;
export function defineModel(name: string, body: (m: ModelBuilder) => Node | void, options?: { seed?: number }): ModelDefinition;
export function defineModel(a: ModelSpec | string, body?: (m: ModelBuilder) => Node | void, options: { seed?: number } = {}): ModelDefinition {
  if (typeof a === 'string') {
    return {
      kind: 'gradc-model',
      name: a,
      build: ({ source } = {}) => {
        const m = new ModelBuilder(a, { source, seed: options.seed });
        const result = body!(m);
        if (result && typeof result === 'object' && 'op' in result && !hasLoss(m)) m.loss(result);
        return m.build();
      },
    };
  }
  const spec = a;
  return {
    kind: 'gradc-model',
    name: spec.name,
    build: ({ source } = {}) => {
      const m = new ModelBuilder(spec.name, { source, seed: spec.seed });
      for (const [n, s] of entries(spec.inputs)) m.input(n, s);
      for (const [n, s] of entries(spec.targets)) m.target(n, s);
      for (const [n, p] of Object.entries(spec.params)) {
        m.param(n, typeof p === 'number' || Array.isArray(p) ? { init: p as InitSpec, shape: Array.isArray(p) ? [p.length] : undefined } : (p as ParamOptions));
      }
      m.formulas(spec.formulas);
      if (spec.outputs) m.output(...spec.outputs);
      return m.build();
    },
  };
}

function hasLoss(m: ModelBuilder): boolean {
  try {
    m.expr('loss');
    return true;
  } catch {
    return false;
  }
}

export function isModelDefinition(x: unknown): x is ModelDefinition {
  return typeof x === 'object' && x !== null && (x as ModelDefinition).kind === 'gradc-model';
}

/** A Model from a definition or a Model. */
export function buildModel(x: ModelDefinition | Model, source?: string): Model {
  if (isModelDefinition(x)) return x.build({ source });
  if (typeof x === 'object' && x !== null && 'loss' in x && 'params' in x) return x;
  throw new GradcError(`expected a model (defineModel(...)), got ${typeof x}`, { file: source });
}
