/**
 * Training progress for `gradc train`.
 *
 * Guarantees: on a terminal (the stream's isTTY), one live cli-progress bar redrawn at
 * most 10 times a second: `epoch i/n`, the bar of progress through the epoch, samples/s,
 * the last loss, validation loss and metrics, and the ETA of the whole training; it is
 * left on screen, showing the last epoch, by `stop()`. Anywhere else (a pipe, a file, CI)
 * no control characters at all: exactly one plain line per epoch, written when the epoch
 * ends, `epoch 3/20  loss 0.12345  val_loss 0.23456  accuracy 0.91200  lr 0.001
 * 5210 samples/s  2.3s`, and nothing per batch. Output goes to stderr unless another
 * stream is given, so stdout stays free for results.
 */
import { SingleBar } from 'cli-progress';

export interface EpochSummary {
  /** 1-based. */
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss?: number | undefined;
  /** Metric name -> value, e.g. { accuracy: 0.91, val_accuracy: 0.9 }, in display order. */
  readonly metrics?: Readonly<Record<string, number>> | undefined;
  readonly learningRate?: number | undefined;
  /** Samples trained in the epoch, when fewer than samplesPerEpoch (stopped early). */
  readonly samples?: number | undefined;
}

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean | undefined;
}

export interface ProgressOptions {
  readonly epochs: number;
  readonly samplesPerEpoch: number;
  /** Where to write (default process.stderr). */
  readonly stream?: ProgressStream | undefined;
  /** Force the terminal (true) or plain-line (false) display; default: the stream's isTTY. */
  readonly tty?: boolean | undefined;
  /** Milliseconds clock (default performance.now), for tests. */
  readonly now?: (() => number) | undefined;
}

export class TrainingProgress {
  private readonly epochs: number;
  private readonly perEpoch: number;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly bar: SingleBar | undefined;
  private started: number;
  private epochStarted: number;
  private epochIndex = 1; // the epoch under way
  private done = 0; // samples done in it
  private last: EpochSummary | undefined;
  private runningLoss: number | undefined;
  private stopped = false;

  constructor(options: ProgressOptions) {
    this.epochs = options.epochs;
    this.perEpoch = Math.max(1, options.samplesPerEpoch);
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.started = this.epochStarted = this.now();
    if (options.tty ?? this.stream.isTTY === true) {
      this.bar = new SingleBar({
        stream: this.stream as NodeJS.WritableStream,
        format: () => this.barLine(),
        fps: 10,
        hideCursor: true,
        linewrap: false,
        clearOnComplete: false,
        stopOnComplete: false,
      });
      this.bar.start(this.perEpoch, 0);
    }
  }

  /** Training starts now (after set-up such as starting a worker): the clocks of the rates and the ETA restart. */
  restart(): void {
    this.started = this.epochStarted = this.now();
  }

  /** After a batch: `samplesDone` samples of the current epoch are done; `loss` is its running mean, if known. */
  batch(samplesDone: number, loss?: number): void {
    this.done = samplesDone;
    if (loss !== undefined) this.runningLoss = loss;
    this.bar?.update(Math.min(samplesDone, this.perEpoch));
  }

  /** After an epoch, with its results. */
  epoch(summary: EpochSummary): void {
    const t = this.now();
    const seconds = (t - this.epochStarted) / 1000;
    this.last = summary;
    this.runningLoss = undefined;
    if (this.bar) {
      this.done = this.perEpoch;
      this.bar.update(this.perEpoch);
      if (summary.epoch < this.epochs) {
        this.epochIndex = summary.epoch + 1;
        this.done = 0;
        this.bar.update(0);
      }
    } else {
      const parts = [`epoch ${summary.epoch}/${this.epochs}`, results(summary)];
      if (seconds > 0) parts.push(`${Math.round((summary.samples ?? this.perEpoch) / seconds)} samples/s`);
      parts.push(duration(seconds));
      this.stream.write(`${parts.join('  ')}\n`);
    }
    this.epochStarted = t;
  }

  /** Ends the display (leaves the bar on screen); safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar?.stop();
  }

  private barLine(): string {
    const t = this.now();
    const width = 24;
    const fill = Math.round((Math.min(this.done, this.perEpoch) / this.perEpoch) * width);
    const epochSeconds = (t - this.epochStarted) / 1000;
    const totalDone = (this.epochIndex - 1) * this.perEpoch + this.done;
    const elapsed = (t - this.started) / 1000;
    const rate = epochSeconds > 0.2 && this.done > 0 ? this.done / epochSeconds : elapsed > 0 && totalDone > 0 ? totalDone / elapsed : 0;
    const left = this.epochs * this.perEpoch - totalDone;
    const parts = [
      `epoch ${this.epochIndex}/${this.epochs} ${'█'.repeat(fill)}${'░'.repeat(width - fill)} ${Math.floor((100 * this.done) / this.perEpoch)}%`,
      rate > 0 ? `${Math.round(rate)} samples/s` : '',
      this.runningLoss !== undefined ? `loss ${num(this.runningLoss)}` : '',
      this.last ? results(this.last, this.runningLoss !== undefined) : '',
      rate > 0 && left > 0 ? `ETA ${duration(left / rate)}` : left <= 0 ? `done in ${duration(elapsed)}` : '',
    ];
    return parts.filter((p) => p !== '').join(' | ');
  }
}

/** `loss 0.12 val_loss 0.2 accuracy 0.9 lr 0.001` (without the loss when `noLoss`). */
function results(s: EpochSummary, noLoss = false): string {
  const parts: string[] = [];
  if (!noLoss) parts.push(`loss ${num(s.loss)}`);
  if (s.valLoss !== undefined) parts.push(`val_loss ${num(s.valLoss)}`);
  for (const [name, value] of Object.entries(s.metrics ?? {})) parts.push(`${name} ${num(value)}`);
  if (s.learningRate !== undefined) parts.push(`lr ${num(s.learningRate)}`);
  return parts.join('  ');
}

/** Five significant digits: 0.12346, 1234.6, 1.2346e-7. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-4 && a < 1e6 ? String(Number(x.toPrecision(5))) : x.toExponential(4);
}

/** 0.8s, 12s, 3m05s, 1h02m. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
