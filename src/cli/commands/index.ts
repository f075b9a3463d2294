/** Every CLI command, by name. Each lives in its own file in this folder. */
import type { Command } from '../command.js';
import { build } from './build.js';
import { explain } from './explain.js';
import { grad } from './grad.js';
import { graph } from './graph.js';
import { evaluate, predict } from './predict.js';
import { report } from './report.js';
import { train } from './train.js';

export const COMMANDS: readonly Command[] = [build, grad, explain, graph, report, train, predict, evaluate];
