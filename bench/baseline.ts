/**
 * The hand-written baseline: a one-hidden-layer MLP trained by minibatch SGD, written
 * the straightforward way a competent JavaScript developer would, without a library.
 *
 * Float64Array weights stored row-major [out x in], plain nested loops, one forward
 * pass, one backward pass and gradient accumulation per sample, one update per batch.
 * Same math as the other implementations: tanh hidden layer, linear output,
 * loss = mean over outputs of (out - y)^2, gradient averaged over the batch.
 */
import type { Net, Weights } from './setup.js';

export class LoopMlp {
  readonly nIn: number;
  readonly nHid: number;
  readonly nOut: number;
  readonly W1: Float64Array;
  readonly b1: Float64Array;
  readonly W2: Float64Array;
  readonly b2: Float64Array;
  // gradient accumulators
  private readonly gW1: Float64Array;
  private readonly gb1: Float64Array;
  private readonly gW2: Float64Array;
  private readonly gb2: Float64Array;
  // per-sample work space
  private readonly h: Float64Array;
  private readonly out: Float64Array;
  private readonly dOut: Float64Array;
  private readonly dHid: Float64Array;

  constructor(net: Net, w: Weights) {
    this.nIn = net.inputs;
    this.nHid = net.hidden;
    this.nOut = net.outputs;
    this.W1 = w.W1.slice();
    this.b1 = w.b1.slice();
    this.W2 = w.W2.slice();
    this.b2 = w.b2.slice();
    this.gW1 = new Float64Array(this.W1.length);
    this.gb1 = new Float64Array(this.b1.length);
    this.gW2 = new Float64Array(this.W2.length);
    this.gb2 = new Float64Array(this.b2.length);
    this.h = new Float64Array(this.nHid);
    this.out = new Float64Array(this.nOut);
    this.dOut = new Float64Array(this.nOut);
    this.dHid = new Float64Array(this.nHid);
  }

  /** One SGD step on rows first .. first+count-1 of X and Y; returns the mean loss before the step. */
  stepBatch(X: Float64Array, Y: Float64Array, first: number, count: number, lr: number): number {
    const { nIn, nHid, nOut, W1, b1, W2, b2, gW1, gb1, gW2, gb2, h, out, dOut, dHid } = this;
    let total = 0;
    for (let s = first; s < first + count; s++) {
      const xo = s * nIn;
      const yo = s * nOut;
      // forward
      for (let j = 0; j < nHid; j++) {
        let z = b1[j];
        for (let i = 0; i < nIn; i++) z += W1[j * nIn + i] * X[xo + i];
        h[j] = Math.tanh(z);
      }
      for (let k = 0; k < nOut; k++) {
        let z = b2[k];
        for (let j = 0; j < nHid; j++) z += W2[k * nHid + j] * h[j];
        out[k] = z;
      }
      // loss and its gradient (mean over outputs, averaged over the batch)
      for (let k = 0; k < nOut; k++) {
        const e = out[k] - Y[yo + k];
        total += (e * e) / nOut;
        dOut[k] = (2 * e) / nOut / count;
      }
      // backward
      dHid.fill(0);
      for (let k = 0; k < nOut; k++) {
        const d = dOut[k];
        gb2[k] += d;
        for (let j = 0; j < nHid; j++) {
          gW2[k * nHid + j] += d * h[j];
          dHid[j] += W2[k * nHid + j] * d;
        }
      }
      for (let j = 0; j < nHid; j++) {
        const d = dHid[j] * (1 - h[j] * h[j]);
        gb1[j] += d;
        for (let i = 0; i < nIn; i++) gW1[j * nIn + i] += d * X[xo + i];
      }
    }
    // update and clear the accumulators
    for (let i = 0; i < W1.length; i++) { W1[i] -= lr * gW1[i]; gW1[i] = 0; }
    for (let i = 0; i < b1.length; i++) { b1[i] -= lr * gb1[i]; gb1[i] = 0; }
    for (let i = 0; i < W2.length; i++) { W2[i] -= lr * gW2[i]; gW2[i] = 0; }
    for (let i = 0; i < b2.length; i++) { b2[i] -= lr * gb2[i]; gb2[i] = 0; }
    return total / count;
  }
}
