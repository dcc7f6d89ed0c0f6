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
    // Two cores: more workers only fight over the CPU and the database.
    maxWorkers: 2,
  },
});
