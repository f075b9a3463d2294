/**
 * Phase 6, emit (structure hash): a fingerprint of what a model computes, pasted into the
 * generated module so that `loadParams` can tell a parameter file saved from another model.
 *
 * Guarantees: the hash is the SHA-256 (hex) of a canonical text made of the parameter,
 * input, target and output names with their shapes, in declaration order, followed by the
 * model's forward graph (loss and outputs) printed by `printIr` without intermediate labels
 * (so renaming an intermediate definition keeps the hash; leaves print by name). Initial
 * values, initializers, the seed, the lowering and the precision are not part of it, so
 * one file loads into every build of the same model. Same model, same hash, on every run.
 */
import { createHash } from 'node:crypto';
import { printIr } from '../ir/print.js';
import type { Model } from '../model.js';

/** The canonical text that `structureHash` hashes (exported for tests and debugging). */
export function structureText(model: Model): string {
  const shape = (s: readonly number[]) => `[${s.join('x')}]`;
  const lines = [
    'gradc-structure 1',
    ...model.params.map((p) => `param ${p.name} ${shape(p.shape)}`),
    ...model.inputs.map((p) => `input ${p.name} ${shape(p.shape)}`),
    ...model.targets.map((p) => `target ${p.name} ${shape(p.shape)}`),
    ...model.outputs.map((p) => `output ${p.name} ${shape(p.node.shape)}`),
    printIr([model.loss, ...model.outputs.map((o) => o.node)], new Map(), ['loss', ...model.outputs.map((o) => o.name)]),
  ];
  return lines.join('\n');
}

/** SHA-256 (64 hex digits) of `structureText(model)`. */
export function structureHash(model: Model): string {
  return createHash('sha256').update(structureText(model)).digest('hex');
}
