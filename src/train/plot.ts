/**
 * The loss curve of a training run as an SVG picture.
 *
 * Guarantees: `lossCurveSvg` returns a standalone SVG document (an XML declaration-free
 * `<svg xmlns=...>` element) with one line per series, "training" and, when given,
 * "validation", the epoch (from 1) on x and the loss on y, a legend and axis titles. The
 * y axis is logarithmic when `log` says so ('auto', the default: every finite value is
 * positive and the largest is at least 100 times the smallest). Non-finite values (a
 * diverged epoch) are left out of the lines. Long runs are thinned to MAX_POINTS points
 * per series, keeping each stretch's lowest and highest loss. The picture is a Vega-Lite specification
 * compiled to Vega and rendered by Vega's headless SVG renderer (no browser, no canvas;
 * text widths are estimated), so the same curve gives byte-identical SVG. Vega and
 * Vega-Lite are loaded on the first call, not when this module is imported.
 */

export interface LossCurve {
  /** Training loss per epoch. */
  readonly loss: readonly number[];
  /** Validation loss per epoch, if there was validation data. */
  readonly valLoss?: readonly number[] | undefined;
}

export interface PlotOptions {
  readonly title?: string | undefined;
  /** Size of the plotting area in pixels (default 480 x 300). */
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  readonly log?: boolean | 'auto' | undefined;
  /** The y axis title (default "loss"). */
  readonly yTitle?: string | undefined;
}

/**
 * Points drawn per series at most: a longer run is cut into equal runs of epochs, each
 * drawn by its lowest and its highest loss (in epoch order), so spikes stay visible while
 * the picture stays small and quick to render (Vega takes about half a second per
 * thousand points).
 */
export const MAX_POINTS = 1000;

/** The finite points of one series, thinned to at most MAX_POINTS (see above). */
function points(losses: readonly number[]): { epoch: number; loss: number }[] {
  const out: { epoch: number; loss: number }[] = [];
  const per = losses.length <= MAX_POINTS ? 1 : Math.ceil(losses.length / (MAX_POINTS / 2));
  for (let start = 0; start < losses.length; start += per) {
    let lo = -1, hi = -1;
    for (let i = start; i < Math.min(start + per, losses.length); i++) {
      const v = losses[i]!;
      if (!Number.isFinite(v)) continue;
      if (lo < 0 || v < losses[lo]!) lo = i;
      if (hi < 0 || v > losses[hi]!) hi = i;
    }
    if (lo < 0) continue;
    for (const i of lo === hi ? [lo] : lo < hi ? [lo, hi] : [hi, lo]) out.push({ epoch: i + 1, loss: losses[i]! });
  }
  return out;
}

/** The Vega-Lite specification of the plot (exported for inspection and tests). */
export function lossCurveSpec(curve: LossCurve, options: PlotOptions = {}): Record<string, unknown> {
  const values: { epoch: number; loss: number; series: string }[] = [];
  const add = (series: string, losses: readonly number[]): void => {
    for (const p of points(losses)) values.push({ ...p, series });
  };
  add('training', curve.loss);
  if (curve.valLoss) add('validation', curve.valLoss);
  let lo = Infinity, hi = -Infinity; // a loop: Math.min(...values) overflows the stack past about 1e5 values
  for (const v of values) {
    lo = Math.min(lo, v.loss);
    hi = Math.max(hi, v.loss);
  }
  const mode = options.log ?? 'auto';
  const log = values.length > 0 && lo > 0 && (mode === true || (mode === 'auto' && hi >= 100 * lo));
  const epochs = Math.max(curve.loss.length, curve.valLoss?.length ?? 0, 1);
  const series = curve.valLoss ? ['training', 'validation'] : ['training'];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title ? { title: options.title } : {}),
    width: options.width ?? 480,
    height: options.height ?? 300,
    background: 'white',
    config: { font: 'sans-serif', axis: { grid: true, gridOpacity: 0.5 } },
    data: { values },
    mark: { type: 'line', point: epochs <= 60, interpolate: 'linear', strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', scale: { domain: [1, Math.max(2, epochs)], nice: false }, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'loss', type: 'quantitative', title: options.yTitle ?? 'loss', scale: log ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: ['#1f77b4', '#ff7f0e'] }, legend: { orient: 'top-right' } },
    },
  };
}

/** The plot as SVG text. */
export async function lossCurveSvg(curve: LossCurve, options: PlotOptions = {}): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const spec = vegaLite.compile(lossCurveSpec(curve, options) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
