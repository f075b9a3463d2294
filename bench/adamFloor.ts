/**
 * What bounds gradc's Adam/SGD step cost at 2-2-1, batch 1 (issue 9's 1.5x target): a
 * measurement, not a comparison with peers (`npm run bench:adam-floor`; not part of
 * `npm run bench`).
 *
 * Every row is timed against gradc's own SGD `stepBatch` (its own module load), alternately,
 * median of ROUNDS rounds (as bench/small.ts), and shows SGD rate / row rate:
 * 1. gradc's Adam `stepBatch` as generated (the update in WebAssembly: WASM_UPDATE in
 *    src/6-emit/fusedSteps.ts).
 * 2. The same compiled with simd 'off': the update in the JavaScript fused step.
 * 3. Row 2 with the root and the division of Adam's update taken out of the fused step
 *    (`$a * $m1 / (Math.sqrt($v1) + $e)` becomes `$a * $m1 * $v1`): wrong numbers, but every
 *    other cost of the Adam path kept (dispatch, state checks, moment loads and stores, the
 *    all-or-nothing sum). The distance between rows 2 and 3 is what the 9 roots and 9
 *    divisions cost in scalar JavaScript.
 * 4. Row 3 with plain SGD's arithmetic in Adam's path (`$p1 = $wk - $a * $gk`, no moment
 *    stored): the cost of the path itself.
 * 5. A whole 2-2-1 Adam step in WebAssembly SIMD (`wholeStepModule`, built here: the
 *    forward pass with tanh from wasm/tanh.ts, the backward pass, and Adam's update two
 *    weights per f64x2 instruction), parameters and moments in its memory, the row copied in,
 *    called from a small JavaScript function that computes the bias corrections. None of
 *    gradc's per-step argument checks. Checked first: its losses match gradc's Adam over
 *    CHECK_STEPS steps within 1e-12 (relative; its tanh is within a few ulps of Math.tanh).
 * 6. The same Wasm step with SGD's update instead of Adam's.
 * Rows 3 and 4 change the generated text by replacement; a replacement that matches nothing
 * throws (the emitter changed: update this file).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generate, loadModule } from '../src/index.js';
import { type Code, F64, V128, kernelModule, op, uleb } from '../src/6-emit/wasm/encode.js';
import { tanhLanes } from '../src/6-emit/wasm/tanh.js';
import { Wasm } from './ceiling.js';
import { gradcModel, gradcParams } from './gradc.js';
import { LEARNING_RATE, NETS, initWeights, makeData, ownMeasure, type Timing } from './setup.js';

const ROUNDS = Number(process.env.BENCH_SMALL_ROUNDS ?? 7);
const ROUND: Timing = { warmupMs: 100, windowMs: 100, windows: 3 };
const CHECK_STEPS = 50;
const ADAM = { lr: 0.001, b1: 0.9, b2: 0.999, eps: 1e-8 };
const log = (s: string) => process.stderr.write(s + '\n');
const median = (xs: readonly number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

/** `text` with every `from` replaced by `to`; throws when there is none. */
function replaced(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`bench/adamFloor: '${from}' is not in the generated module (the emitter changed)`);
  return text.replaceAll(from, to);
}
const NO_ROOT = (c: string) => replaced(c, '$a * $m1 / (Math.sqrt($v1) + $e)', '$a * $m1 * $v1');
const SGD_MATH = (c: string) =>
  replaced(replaced(replaced(NO_ROOT(c), 'const $m1 = $b1 * $mk + (1 - $b1) * $gk;', 'const $m1 = $gk;'), 'const $v1 = $b2 * $vk + (1 - $b2) * $gk * $gk;', 'const $v1 = 0;'), '$wk * $keep - $a * $m1 * $v1', '$wk * $keep - $a * $gk')
    .replace(/ \$m_\w+\[\d+\] = \$m1; \$v_\w+\[\d+\] = \$v1;/g, '');

const simd = (c: number): Code => [0xfd, ...uleb(c)];
const V = { add: simd(0xf0), sub: simd(0xf1), mul: simd(0xf2), div: simd(0xf3), sqrt: simd(0xef), splat: simd(0x14), lane: (l: number) => [...simd(0x21), l], replace: (l: number) => [...simd(0x22), l] };

/** Byte addresses in the whole step's memory: parameters (W1 [2x2], b1, W2 [1x2], b2), the row, the moments. */
const AT = { W1: 0, b1: 32, W2: 48, b2: 64, x: 128, y: 144, m: 256, v: 384 };

/**
 * f(a, e, b1, b2, lr) -> loss + 0 * (every new value): one step of the 2-2-1 net on the row at
 * AT.x/AT.y, Adam's update (a = lr sqrt(1 - b2^t) / (1 - b1^t), e = eps sqrt(1 - b2^t)) or SGD's (lr).
 */
function wholeStepModule(adam: boolean): Uint8Array {
  const locals: (typeof F64 | typeof V128)[] = [];
  const local = (t: typeof F64 | typeof V128) => 5 + locals.push(t) - 1;
  const [A, E, B1, B2, LR] = [0, 1, 2, 3, 4];
  const [X, Z, H, ta, tt, tn, tr, tp, ts] = Array.from({ length: 9 }, () => local(V128));
  const err = local(F64), g = local(F64);
  const [G, DZ, chk, vA, vE, vB1, vB2, vC1, vC2, vLR, m1, v1, p1, gv] = Array.from({ length: 14 }, () => local(V128));
  const c: number[] = [];
  const at0 = op.i32(0);
  const pair = (at: number) => [...at0, ...op.v128Load(at)];
  const one = (at: number) => [...at0, ...op.v128Load64Zero(at)];
  const scalar = (at: number) => [...at0, ...op.f64Load(at)];
  const splat = (x: number) => [...op.get(x), ...V.splat];
  c.push(...splat(A), ...op.set(vA), ...splat(E), ...op.set(vE), ...splat(B1), ...op.set(vB1), ...splat(B2), ...op.set(vB2), ...splat(LR), ...op.set(vLR));
  c.push(...op.f64Const(1), ...V.splat, ...op.get(vB1), ...V.sub, ...op.set(vC1), ...op.f64Const(1), ...V.splat, ...op.get(vB2), ...V.sub, ...op.set(vC2));
  c.push(...pair(AT.x), ...op.set(X));
  const x0 = [...op.get(X), ...V.lane(0)], x1 = [...op.get(X), ...V.lane(1)];
  // Z = W1 x + b1 (two lanes), H = tanh(Z)
  c.push(...scalar(AT.W1), ...x0, ...op.f64Mul, ...scalar(AT.W1 + 8), ...x1, ...op.f64Mul, ...op.f64Add, ...scalar(AT.b1), ...op.f64Add, ...V.splat);
  c.push(...scalar(AT.W1 + 16), ...x0, ...op.f64Mul, ...scalar(AT.W1 + 24), ...x1, ...op.f64Mul, ...op.f64Add, ...scalar(AT.b1 + 8), ...op.f64Add, ...V.replace(1), ...op.set(Z));
  c.push(...tanhLanes(Z, ta, tt, tn, tr, tp, ts), ...op.set(H));
  // err = W2 H + b2 - y; dloss/dout = 2 err
  c.push(...scalar(AT.W2), ...op.get(H), ...V.lane(0), ...op.f64Mul, ...scalar(AT.W2 + 8), ...op.get(H), ...V.lane(1), ...op.f64Mul, ...op.f64Add, ...scalar(AT.b2), ...op.f64Add, ...scalar(AT.y), ...op.f64Sub, ...op.set(err));
  c.push(...op.get(err), ...op.get(err), ...op.f64Add, ...op.set(g), ...op.get(g), ...V.splat, ...op.set(G));
  // dZ = W2 g (1 - H^2)
  c.push(...pair(AT.W2), ...op.get(G), ...V.mul, ...op.f64Const(1), ...V.splat, ...op.get(H), ...op.get(H), ...V.mul, ...V.sub, ...V.mul, ...op.set(DZ));
  c.push(...op.v128Zero, ...op.set(chk));
  /** The update of the weights at `at` (two, or one when `!two`), gradient `grad`. */
  const update = (at: number, grad: Code, two: boolean) => {
    const load = two ? pair : one;
    const store = (x: number, to: number) => [...at0, ...op.get(x), ...(two ? op.v128Store(to) : op.v128Store64Lane(0, to))];
    c.push(...grad, ...op.set(gv));
    if (adam) {
      const dm = AT.m - AT.W1, dv = AT.v - AT.W1;
      c.push(...op.get(vB1), ...load(at + dm), ...V.mul, ...op.get(vC1), ...op.get(gv), ...V.mul, ...V.add, ...op.set(m1));
      c.push(...op.get(vB2), ...load(at + dv), ...V.mul, ...op.get(vC2), ...op.get(gv), ...V.mul, ...op.get(gv), ...V.mul, ...V.add, ...op.set(v1));
      c.push(...load(at), ...op.get(vA), ...op.get(m1), ...V.mul, ...op.get(v1), ...V.sqrt, ...op.get(vE), ...V.add, ...V.div, ...V.sub, ...op.set(p1));
      c.push(...store(m1, at + dm), ...store(v1, at + dv), ...store(p1, at));
      c.push(...op.get(chk), ...op.get(p1), ...op.get(v1), ...V.add, ...V.add, ...op.set(chk));
    } else {
      c.push(...load(at), ...op.get(vLR), ...op.get(gv), ...V.mul, ...V.sub, ...op.set(p1), ...store(p1, at));
      c.push(...op.get(chk), ...op.get(p1), ...V.add, ...op.set(chk));
    }
  };
  update(AT.b2, op.get(G), false);
  update(AT.W2, [...op.get(G), ...op.get(H), ...V.mul], true);
  update(AT.b1, op.get(DZ), true);
  update(AT.W1, [...op.get(DZ), ...V.lane(0), ...V.splat, ...op.get(X), ...V.mul], true);
  update(AT.W1 + 16, [...op.get(DZ), ...V.lane(1), ...V.splat, ...op.get(X), ...V.mul], true);
  c.push(...op.get(err), ...op.get(err), ...op.f64Mul, ...op.get(chk), ...V.lane(0), ...op.get(chk), ...V.lane(1), ...op.f64Add, ...op.f64Const(0), ...op.f64Mul, ...op.f64Add);
  return kernelModule([F64, F64, F64, F64, F64], locals, c, 1, [F64]);
}

/** The rows (see the header): each a name and what makes its stepper. */
const ROWS_OF_TABLE = ['gradc Adam stepBatch', 'gradc Adam stepBatch, simd off (JavaScript update)', '... without the root and division', '... with SGD arithmetic in the Adam path', 'whole step in Wasm SIMD, Adam (no checks)', 'whole step in Wasm SIMD, SGD (no checks)'] as const;

/** Child side: row `k`'s stepper, then its rates and ratio against gradc's SGD step, timed alternately. */
async function measureRow(k: number): Promise<{ sgd: number; rate: number; ratio: number }> {
  const net = NETS.find((n) => n.name === '2-2-1')!;
  const { X, Y, rows } = makeData(net);
  const w = initWeights(net);
  const { code } = generate(gradcModel(net));
  const sgd = loadModule(code);
  const ps = gradcParams(sgd, w);
  let step: (i: number) => void;
  if (k < 4) {
    const off = generate(gradcModel(net), { simd: 'off' }).code;
    const mod = loadModule([code, off, NO_ROOT(off), SGD_MATH(off)][k]!);
    const p = gradcParams(mod, w);
    const st = mod.initOptimizer(p, { kind: 'adam', learningRate: ADAM.lr });
    step = (i) => { mod.stepBatch(p, X, Y, 1, st, i % rows); };
  } else {
    // The whole step in Wasm, checked against gradc's Adam first.
    const memory = new Wasm.Memory({ initial: 1, maximum: 1 });
    const instance = (bytes: Uint8Array) => new Wasm.Instance(new Wasm.Module(bytes), { m: { m: memory } }).exports.f as unknown as (...a: number[]) => number;
    const adamF = instance(wholeStepModule(true)), sgdF = instance(wholeStepModule(false));
    const M = new Float64Array(memory.buffer);
    const ref = loadModule(code), pr = gradcParams(ref, w), sr = ref.initOptimizer(pr, { kind: 'adam', learningRate: ADAM.lr });
    M.set(pr.layer1_W as Float64Array, AT.W1 / 8); M.set(pr.layer1_b as Float64Array, AT.b1 / 8); M.set(pr.layer2_W as Float64Array, AT.W2 / 8); M.set(pr.layer2_b as Float64Array, AT.b2 / 8);
    let t = 0, steadyFrom = Infinity;
    const row = (r: number) => { M[AT.x / 8] = X[2 * r]!; M[AT.x / 8 + 1] = X[2 * r + 1]!; M[AT.y / 8] = Y[r]!; };
    const wasmAdam = (r: number): number => {
      t++;
      let a = ADAM.lr, e = ADAM.eps;
      if (t < steadyFrom) { const root = Math.sqrt(1 - Math.pow(ADAM.b2, t)); a = (ADAM.lr * root) / (1 - Math.pow(ADAM.b1, t)); e = ADAM.eps * root; }
      row(r);
      const loss = adamF(a, e, ADAM.b1, ADAM.b2, 0);
      if (loss !== loss) throw new Error('bench/adamFloor: the Wasm Adam step is not finite');
      return loss;
    };
    for (let i = 0; i < CHECK_STEPS; i++) {
      const want = ref.stepBatch(pr, X, Y, 1, sr, i), got = wasmAdam(i);
      if (!(Math.abs(want - got) <= 1e-12 * Math.max(1, Math.abs(want)))) throw new Error(`bench/adamFloor: step ${i}: the Wasm step's loss is ${got}, gradc's ${want}`);
    }
    steadyFrom = 0; // timed past the bias corrections, as gradc's step is (its $hy.steady)
    step = k === 4 ? (i) => { wasmAdam(i % rows); } : (i) => { row(i % rows); sgdF(0, 0, 0, 0, LEARNING_RATE); };
  }
  const base = ownMeasure(), own = ownMeasure();
  const sgdStep = (i: number) => { sgd.stepBatch(ps, X, Y, 1, LEARNING_RATE, i % rows); };
  await base(sgdStep, 1, ROUND);
  await own(step, 1, ROUND);
  const sgdRates: number[] = [], rates: number[] = [], ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const s = await base(sgdStep, 1, ROUND), x = await own(step, 1, ROUND);
    sgdRates.push(s); rates.push(x); ratios.push(s / x);
  }
  return { sgd: median(sgdRates), rate: median(rates), ratio: median(ratios) };
}

/** The table (markdown): each row measured in a child process of its own, with gradc's SGD module and nothing else loaded. */
export async function adamFloorTable(): Promise<string> {
  const results: { sgd: number; rate: number; ratio: number }[] = [];
  for (const [k, name] of ROWS_OF_TABLE.entries()) {
    log(`[2-2-1] ${name}`);
    results.push(await new Promise((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--row', String(k)], { execArgv: process.execArgv });
      child.on('message', (m) => resolve(m as { sgd: number; rate: number; ratio: number }));
      child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`bench/adamFloor: row ${k} exited with ${code}`))));
    }));
  }
  const fmt = (n: number) => `${(n / 1e6).toFixed(2)}M`;
  return [
    `What bounds the Adam/SGD step cost at 2-2-1, batch 1: samples/second, and gradc's SGD \`stepBatch\` rate over each row's (median of ${ROUNDS} alternating rounds, each row in its own process with the SGD module; bench/adamFloor.ts says what each row is).`,
    '',
    '| step | samples/s | gradc SGD samples/s | SGD rate / this |',
    '|---|---:|---:|---:|',
    ...ROWS_OF_TABLE.map((name, k) => `| ${name} | ${fmt(results[k]!.rate)} | ${fmt(results[k]!.sgd)} | ${results[k]!.ratio.toFixed(2)}x |`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--row');
  if (at >= 0) {
    process.send!(await measureRow(Number(process.argv[at + 1])));
    process.disconnect();
  } else process.stdout.write(`${await adamFloorTable()}\n`);
}
