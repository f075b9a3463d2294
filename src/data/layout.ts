/**
 * The row layout of a generated module, as a plain description, and packed rows.
 *
 * Guarantees: `rowLayout(shapes)` describes exactly the flat rows a generated module's
 * `packSamples` / `gradientBatch` / `stepBatch` / `fitRows` use: every input at its
 * offset in an X row of INPUT_SIZE values, every target at its offset in a Y row of
 * TARGET_SIZE values, fields in declaration order (the key order of the module's
 * `shapes` export), each field's elements row-major (a [2x3] matrix fills offsets
 * o..o+5 as (0,0) (0,1) (0,2) (1,0) ...). A scalar field has shape [] and size 1.
 * When the module's sizes are given they are checked against the description.
 */
import { GradcError } from '../errors.js';

/** One input or target: its name, declared shape, offset in its row and number of values. */
export interface Field {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  /** An integer input: its ids are 0 .. ids - 1 (never scaled); a length input's ids are T + 1 (its values 1 .. T). */
  readonly ids?: number;
  /** A length input: its least value, 1 (token ids start at 0). */
  readonly low?: number;
}

/** Where every input and target sits in the flat X and Y rows. */
export interface RowLayout {
  readonly inputs: readonly Field[];
  readonly targets: readonly Field[];
  /** Values per X row (INPUT_SIZE) and per Y row (TARGET_SIZE). */
  readonly inputSize: number;
  readonly targetSize: number;
}

/** Samples packed as rows: X holds count * inputSize values, Y count * targetSize. */
export interface Rows {
  readonly X: Float64Array;
  readonly Y: Float64Array;
  readonly count: number;
}

/** Inputs only (for predict): X holds count * inputSize values. */
export interface InputRows {
  readonly X: Float64Array;
  readonly count: number;
}

/** What `rowLayout` reads: the `shapes` export of a generated module (params and outputs are ignored). */
export interface ModuleShapes {
  readonly inputs: Readonly<Record<string, readonly number[]>>;
  readonly targets: Readonly<Record<string, readonly number[]>>;
  /** Integer inputs and their vocabulary sizes (the `ids` of a module's `shapes`). */
  readonly ids?: Readonly<Record<string, number>>;
  /** Length inputs and their sequences' T (the `lengths` of a module's `shapes`): integers, never scaled either. */
  readonly lengths?: Readonly<Record<string, number>>;
}

/**
 * The layout of a module with these shapes. Pass `sizes` (the module's INPUT_SIZE and
 * TARGET_SIZE) to have them checked: a mismatch is a bug in the caller or the module.
 */
export function rowLayout(shapes: ModuleShapes, sizes?: { readonly INPUT_SIZE: number; readonly TARGET_SIZE: number }): RowLayout {
  const lengthIds = Object.fromEntries(Object.entries(shapes.lengths ?? {}).map(([k, T]) => [k, T + 1])); // 1..T within ids 0..T
  const inputs = fields(shapes.inputs, { ...shapes.ids, ...lengthIds }, new Set(Object.keys(lengthIds)));
  const targets = fields(shapes.targets);
  const layout: RowLayout = { inputs, targets, inputSize: total(inputs), targetSize: total(targets) };
  if (sizes && (sizes.INPUT_SIZE !== layout.inputSize || sizes.TARGET_SIZE !== layout.targetSize)) {
    throw new Error(`row layout mismatch: shapes give ${layout.inputSize} + ${layout.targetSize} values, the module says ${sizes.INPUT_SIZE} + ${sizes.TARGET_SIZE}`);
  }
  return layout;
}

function fields(shapes: Readonly<Record<string, readonly number[]>>, ids?: Readonly<Record<string, number>>, lengths?: ReadonlySet<string>): Field[] {
  const out: Field[] = [];
  let offset = 0;
  for (const name of Object.keys(shapes)) {
    const shape = [...shapes[name]];
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new GradcError(`field '${name}' has a bad shape [${shape.join('x')}]`, { symbol: name });
    const size = shape.reduce((a, b) => a * b, 1);
    const limit = ids && Object.prototype.hasOwnProperty.call(ids, name) ? ids[name] : undefined;
    out.push(limit === undefined ? { name, shape, offset, size } : lengths?.has(name) ? { name, shape, offset, size, ids: limit, low: 1 } : { name, shape, offset, size, ids: limit });
    offset += size;
  }
  return out;
}

const total = (fs: readonly Field[]): number => fs.reduce((a, f) => a + f.size, 0);

/** `[784]`, `[2x3]`, or `scalar`: a shape as the messages print it. */
export function shapeText(shape: readonly number[]): string {
  return shape.length ? `[${shape.join('x')}]` : 'scalar';
}
