/**
 * The part of synaptic 1.1.4's API the benchmark uses (the package ships no types).
 */
declare module 'synaptic' {
  export type Squash = (x: number, derivate?: boolean) => number;
  export class Connection {
    weight: number;
  }
  export class Neuron {
    static squash: { readonly LOGISTIC: Squash; readonly TANH: Squash; readonly IDENTITY: Squash };
    bias: number;
    squash: Squash;
    connected(other: Neuron): false | { type: string | null; connection: Connection | false };
  }
  export class Layer {
    readonly list: Neuron[];
    set(options: { squash?: Squash; bias?: number }): this;
  }
  export class Network {
    readonly layers: { readonly input: Layer; readonly hidden: Layer[]; readonly output: Layer };
    activate(input: ArrayLike<number>): number[];
    propagate(rate: number, target: ArrayLike<number>): void;
    /** Copies the compiled network's state back into the neuron objects. */
    restore(): void;
  }
  export const Architect: {
    readonly Perceptron: new (...sizes: number[]) => Network;
  };
  const synaptic: { Neuron: typeof Neuron; Layer: typeof Layer; Network: typeof Network; Architect: typeof Architect };
  export default synaptic;
}
