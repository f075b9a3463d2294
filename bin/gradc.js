#!/usr/bin/env node
// The gradc CLI: model files are TypeScript, so the CLI runs under tsx's loader.
import { register } from 'tsx/esm/api';
register();
process.env.GRADC_CLI = '1';
await import('../src/cli/main.ts');
