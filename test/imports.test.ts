/**
 * The layering of src/ (scripts/imports.ts): the pipeline reads top to bottom and nothing
 * beside it reaches into it. Asserted on the real import graph, parsed by TypeScript:
 * - no phase imports a later phase, the pipeline, or a tool beside the pipeline;
 * - the IR and the core (model, naming, errors, options, ...) import only each other;
 * - pipeline.ts imports nothing of inspect/ or cli/, and index.ts only hands them on;
 * - inspect/, cli/ and plugin/ import no phase (they use pipeline.ts);
 * - no CLI command imports another command.
 * And the rules themselves catch a bad edge (so this test can fail).
 */
import { describe, expect, it } from 'vitest';
import { commandImports, type Edge, importEdges, ruleBreaks } from '../scripts/imports.js';

const edge = (from: string, to: string, kind: keyof Edge['count'] = 'value'): Edge => ({
  from, to, count: { value: 0, type: 0, dynamic: 0, reexport: 0, [kind]: 1 }, files: [`${from}/x.ts -> ${to}/y.ts (${kind})`],
});

describe('the import graph of src/', () => {
  it('breaks no layering rule', () => {
    const edges = importEdges();
    expect(edges.length).toBeGreaterThan(20);
    expect(ruleBreaks(edges).map((b) => `${b.why}: ${b.edge.files.join(', ')}`)).toEqual([]);
  });

  it('has no command importing another command', () => {
    expect(commandImports()).toEqual([]);
  });

  it('the pipeline goes through every phase, and inspect/ and cli/ reach the phases through it', () => {
    const edges = importEdges();
    const to = (from: string) => new Set(edges.filter((e) => e.from === from).map((e) => e.to));
    for (const phase of ['2-build', '3-diff', '4-simplify', '5-lower', '6-emit']) expect(to('pipeline').has(phase), phase).toBe(true);
    expect(to('inspect').has('pipeline')).toBe(true);
    expect(to('cli').has('pipeline')).toBe(true);
  });

  it('the rules catch each kind of bad edge', () => {
    const bad = [
      edge('3-diff', '4-simplify'), // a phase importing a later phase
      edge('5-lower', 'pipeline'), // a phase importing the pipeline
      edge('5-lower', 'inspect', 'type'), // a phase importing a side tool, even for a type
      edge('ir', '3-diff'), // the IR importing a phase
      edge('core', 'cli'), // the core importing a side tool
      edge('pipeline', 'inspect'), // the pipeline importing a side tool
      edge('inspect', '4-simplify'), // a side tool reaching into a phase
      edge('cli', '2-build', 'type'),
      edge('index', 'inspect'), // the public entry computing with a side tool
    ];
    expect(bad.map((e) => ruleBreaks([e]).length > 0)).toEqual(bad.map(() => true));
    const fine = [edge('6-emit', '5-lower'), edge('2-build', 'core'), edge('inspect', 'pipeline'), edge('index', 'inspect', 'reexport'), edge('pipeline', 'load')];
    expect(fine.flatMap((e) => ruleBreaks([e]))).toEqual([]);
  });
});
