import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One graphql module for project code and dependencies alike: otherwise Vite loads
    // index.mjs for us and index.js for Yoga, giving two GraphQLError classes (a 401 becomes
    // a masked 500 in tests only).
    // Only the bare name: a deep import (graphql/language/printer.js, as the SDK does) is the
    // same CommonJS file Yoga's copy loads already.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each worker keeps its module cache from one test file to the next: with isolation every
    // file compiled and imported the server afresh (about 3.7 s a file, 556 s a run on 2 cores).
    // Safe because nothing module-level carries state between files: servers, pools, registries
    // (prom-client), the parser threads and test databases are made per server or per file;
    // the module registries (model, policy and retriever types) are filled once at import and
    // never by tests; no test writes process.env, mocks a module or fakes timers.
    // test/suite-hygiene.test.ts keeps it so (a test that needs any of that: its own project).
    isolate: false,
    // Two cores: more workers only fight over the CPU and the database.
    maxWorkers: 2,
  },
});
