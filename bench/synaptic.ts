/**
 * synaptic 1.1.4 in the benchmark: `new Architect.Perceptron(inputs, hidden, outputs)`
 * with a tanh hidden layer and an identity output layer, trained one sample at a time
 * with the network's own `activate(x)` then `propagate(rate, y)` (what its `Trainer`
 * does per sample, without the Trainer's per-epoch shuffling and error bookkeeping).
 * On first use synaptic compiles the whole network to one straight-line JavaScript
 * function (`Network.optimize`, a `new Function` over a Float64Array of every
 * activation, weight and trace); that compiled code is what is timed.
 *
 * The same math as the others, with one difference in order. synaptic's output error
 * is (target - output), the negative gradient of ½·Σ(out - y)², and its update is
 * w += rate · responsibility · input, plain SGD with no momentum. The benchmark's loss
 * is mean over outputs of (out - y)², whose gradient is 2/outputs times synaptic's, so
 * the rate given to synaptic is `2 · lr / outputs` (`synapticRate`); with it the output
 * layer's update equals gradc's batch-1 step to rounding. The difference: synaptic
 * updates the output layer first and then backpropagates the error to the hidden layer
 * through the output weights *already updated* (its Eq. 21 reads `connection.weight`
 * after the output neurons adjusted it), where SGD uses the weights before the step.
 * That cannot be configured away; it changes the hidden layer's update by O(lr) of
 * itself (0.4% on a 3-5-2 net at lr 0.01) and costs the same operations, so as a
 * throughput comparison it is the same work. test/bench-peers.test.ts checks both
 * layers to 1e-9: the output layer against gradc, the hidden layer against gradc's
 * rule with the updated output weights. Weights and biases are set from the shared
 * initial weights before the network is compiled (its compiled code embeds them).
 * Per-sample only: it is reported at batch 1.
 */
import synaptic, { type Connection, type Network, type Neuron } from 'synaptic';
import { LEARNING_RATE, type Net, type Stepper, type Weights } from './setup.js';

/** synaptic's rate giving the same step as SGD with `lr` on mean over outputs of (out - y)². */
export const synapticRate = (net: Net, lr = LEARNING_RATE) => (2 * lr) / net.outputs;

/** The connection from `from` to `to` (Perceptron layers are fully connected). */
function connection(from: Neuron, to: Neuron): Connection {
  const c = from.connected(to);
  if (!c || !c.connection) throw new Error('synaptic: layers not connected');
  return c.connection;
}

/** A synaptic Perceptron for `net` holding the shared weights (before its first compile). */
export function synapticNet(net: Net, w: Weights): Network {
  const { Architect, Neuron } = synaptic;
  const nn = new Architect.Perceptron(net.inputs, net.hidden, net.outputs);
  const input = nn.layers.input.list;
  const hidden = nn.layers.hidden[0]!;
  const output = nn.layers.output;
  hidden.set({ squash: Neuron.squash.TANH });
  output.set({ squash: Neuron.squash.IDENTITY });
  hidden.list.forEach((h, j) => {
    h.bias = w.b1[j]!;
    input.forEach((x, i) => { connection(x, h).weight = w.W1[j * net.inputs + i]!; });
  });
  output.list.forEach((o, k) => {
    o.bias = w.b2[k]!;
    hidden.list.forEach((h, j) => { connection(h, o).weight = w.W2[k * net.hidden + j]!; });
  });
  return nn;
}

/** The weights of `nn` in the shared layout ([out x in]); for the tests. */
export function synapticWeights(nn: Network, net: Net): Weights {
  nn.restore();
  const input = nn.layers.input.list;
  const hidden = nn.layers.hidden[0]!.list;
  const output = nn.layers.output.list;
  const W1 = new Float64Array(net.hidden * net.inputs);
  const W2 = new Float64Array(net.outputs * net.hidden);
  hidden.forEach((h, j) => input.forEach((x, i) => { W1[j * net.inputs + i] = connection(x, h).weight; }));
  output.forEach((o, k) => hidden.forEach((h, j) => { W2[k * net.hidden + j] = connection(h, o).weight; }));
  return { W1, b1: Float64Array.from(hidden, (h) => h.bias), W2, b2: Float64Array.from(output, (o) => o.bias) };
}

export interface SynapticTrainer {
  readonly step: Stepper;
  /** Loss (mean over outputs of (out - y)²) of the first sample, before its update. */
  readonly firstLoss: number;
  readonly net: Network;
}

/**
 * A per-sample synaptic trainer cycling through the `rows` rows of X, Y (as plain arrays,
 * as its documentation passes them). The first step (row 0) is taken here; it also
 * compiles the network.
 */
export function synapticTrainer(net: Net, w: Weights, X: Float64Array, Y: Float64Array, rows: number, lr = LEARNING_RATE): SynapticTrainer {
  const nn = synapticNet(net, w);
  const rate = synapticRate(net, lr);
  const xs = Array.from({ length: rows }, (_, r) => Array.from(X.subarray(r * net.inputs, (r + 1) * net.inputs)));
  const ys = Array.from({ length: rows }, (_, r) => Array.from(Y.subarray(r * net.outputs, (r + 1) * net.outputs)));
  const out = nn.activate(xs[0]!);
  nn.propagate(rate, ys[0]!);
  const firstLoss = out.reduce((s, o, k) => s + (o - ys[0]![k]!) ** 2, 0) / net.outputs;
  return {
    step: (i) => {
      const r = (i + 1) % rows;
      nn.activate(xs[r]!);
      nn.propagate(rate, ys[r]!);
    },
    firstLoss,
    net: nn,
  };
}
