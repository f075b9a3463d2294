/**
 * The inspection tools: see the math gradc derives.
 *
 *   gradientFormulas   the simplified gradient formulas, with shared steps named    formulas.ts
 *   explain            the chain rule for one sample, in four tables with numbers   explain.ts
 *   computationalGraph the forward and backward graph, as DOT, Mermaid or SVG       graph.ts
 *   report             all of it on one self-contained HTML page (KaTeX, SVG)       report.ts
 * They sit beside the pipeline and reach it through one door (derived.ts: build, then
 * derive); LaTeX comes from tex.ts, samples and number formatting from sample.ts.
 */
export { inspectModel, type Inspected } from './derived.js';
export { gradientFormulas, formatFormulas, type GradientFormulas, type FormulaLine, type ParamGradient } from './formulas.js';
export { explain, formatWalkthrough, DEFAULT_LR, type Walkthrough } from './explain.js';
export { computationalGraph, toDot, toMermaid, toSvg, type ComputationalGraph, type GraphOptions } from './graph.js';
export { report, type ReportOptions } from './report.js';
export { tex, texName } from './tex.js';
export { parseAt, resolveSample, initialValues, showValue, type Given, type SampleValue } from './sample.js';
