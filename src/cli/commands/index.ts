/** Every CLI command, by name. Each lives in its own file in this folder. */
import type { Command } from '../command.js';
import { build } from './build.js';

export const COMMANDS: readonly Command[] = [build];
