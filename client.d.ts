/**
 * Types for `?gradc` imports (the gradc bundler plugin: gradc/vite, gradc/rollup,
 * gradc/esbuild). Add `/// <reference types="gradc/client" />` to a .d.ts file of your
 * project, or `"types": ["gradc/client"]` to its tsconfig.json.
 *
 * These are the exports every generated module has, with the model-specific parts
 * widened (parameter, input and output names are strings, values numbers or arrays);
 * for the exact types of one model, generate its module with `gradc build` instead.
 */
declare module '*?gradc' {
  import type { GeneratedModule, Params as GradcParams, Sample as GradcSample, FitOptions as GradcFitOptions, FitResult as GradcFitResult, Values } from 'gradc';

  export type Floats = Float64Array | Float32Array;
  export type Params = GradcParams;
  export type Inputs = Values;
  export type Targets = Values;
  export type Outputs = Record<string, number | Floats>;
  export type Sample = GradcSample;
  export type FitOptions = GradcFitOptions;
  export type FitResult = GradcFitResult;

  export const shapes: GeneratedModule['shapes'];
  export const INPUT_SIZE: number;
  export const TARGET_SIZE: number;
  export const OUTPUT_SIZE: number;
  export const initParams: GeneratedModule['initParams'];
  export const copyParams: GeneratedModule['copyParams'];
  export const zeroParams: GeneratedModule['zeroParams'];
  export function packInputs(src: Inputs, into: Floats, at: number, where?: string): void;
  export function packTargets(src: Targets, into: Floats, at: number, where?: string): void;
  export const forward: GeneratedModule['forward'];
  export const loss: GeneratedModule['loss'];
  export const gradient: GeneratedModule['gradient'];
  export const step: GeneratedModule['step'];
  export const gradientBatch: GeneratedModule['gradientBatch'];
  export const stepBatch: GeneratedModule['stepBatch'];
  export const packSamples: GeneratedModule['packSamples'];
  export const fit: GeneratedModule['fit'];
  export const fitRows: GeneratedModule['fitRows'];
  export const predict: GeneratedModule['predict'];
  export const evaluate: GeneratedModule['evaluate'];
  /** Thrown for bad run-time data (a missing input, a wrong length, a non-finite value). */
  export class SampleError extends Error {}
}
