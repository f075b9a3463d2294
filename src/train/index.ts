/**
 * What `gradc train` shows while and after it trains: a progress bar or one line per
 * epoch (progress.ts), a one-line sparkline of the loss (sparkline.ts), and the loss
 * curve as an SVG picture (plot.ts, Vega-Lite rendered headless by Vega, loaded lazily).
 */
export { duration, num, TrainingProgress, type EpochSummary, type ProgressOptions, type ProgressStream } from './progress.js';
export { sparkline, type SparklineOptions } from './sparkline.js';
export { lossCurveSpec, lossCurveSvg, type LossCurve, type PlotOptions } from './plot.js';
