/**
 * The one place that owns generated names.
 *
 * Guarantees: every name handed out is a valid TypeScript identifier, not a reserved
 * word, not a global the generated code uses (Math, Float64Array, ...), and unique
 * within its `Names` scope. User labels are kept as written where possible (`yhat`),
 * adjoints are `d_<label>`, anonymous temporaries are `t<k>` numbered in order of
 * first request; clashes get `_2`, `_3`, ... suffixes. Names that gradc itself uses in
 * generated kernels start with `$`, which user names cannot contain (builder.ts
 * accepts only [A-Za-z_][A-Za-z0-9_]*), so they never collide.
 */

const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'yield let static implements interface package private protected public await async of any number string ' +
    'boolean symbol never unknown undefined NaN Infinity Math Float64Array Float32Array Array Object Number Error ' +
    'arguments eval globalThis console type as is keyof readonly declare namespace module require'
  ).split(' '),
);

export class Names {
  private readonly used = new Set<string>();
  private temps = 0;

  /** Reserve a name exactly (used for exported API names); throws on a clash. */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`generated name '${name}' is used twice`);
    this.used.add(name);
    return name;
  }

  /** A fresh name based on `base` (a user label or a description). */
  fresh(base: string): string {
    let b = base.replace(/[^A-Za-z0-9_$]/g, '_');
    if (!/^[A-Za-z_$]/.test(b)) b = `_${b}`;
    if (RESERVED.has(b)) b = `${b}_`;
    let name = b;
    for (let k = 2; this.used.has(name); k++) name = `${b}_${k}`;
    this.used.add(name);
    return name;
  }

  temp(): string {
    let name: string;
    do name = `t${this.temps++}`; while (this.used.has(name));
    this.used.add(name);
    return name;
  }
}

/** Name of the adjoint of a labelled node. */
export const adjointName = (label: string): string => `d_${label}`;
/** Name of an element of a tensor leaf: `W_3`. */
export const elementName = (label: string, k: number): string => `${label}_${k}`;
