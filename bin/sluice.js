#!/usr/bin/env node
// The `sluice` command. It runs the compiled JavaScript in dist/ (scripts/compile.js, built by
// `npm install`), recompiling first when a source changed since: compiling TypeScript on every
// run, as tsx did, cost seconds per command (issue 22).
import { compile, isCompiledFresh } from '../scripts/compile.js';

let compiled = isCompiledFresh();
if (!compiled) {
  try {
    await compile();
    compiled = true;
  } catch (error) {
    // dist/ not writable (an install owned by another user): run the sources, slowly but right.
    if (process.env.LOG_LEVEL === 'debug') console.error('sluice: compiling dist/ failed, running the sources through tsx:', error);
  }
}
if (compiled) {
  await import('../dist/src/entry.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/entry.ts');
}
