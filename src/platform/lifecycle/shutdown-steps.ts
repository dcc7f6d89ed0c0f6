/**
 * A shutdown is a list of independent steps. Each runs whatever happened to the ones before
 * it: a step that fails (an unreachable tracing collector, a database already gone) or hangs
 * is logged with its name and the next one runs, so the pool still closes, the embedded
 * PostgreSQL still stops and the process still exits with the code of its real outcome.
 */
import type { Logger } from '../logging/logger.js';

export type ShutdownStep = readonly [name: string, run: () => unknown];

/**
 * Runs `steps` in order, each bounded by `timeoutMs` (a step still running then is left
 * behind, logged). Resolves with the names of the steps that failed; never rejects.
 */
export async function runShutdownSteps(logger: Logger, steps: readonly ShutdownStep[], { timeoutMs }: { timeoutMs: number }): Promise<string[]> {
  const failed: string[] = [];
  for (const [name, run] of steps) {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(run), timedOut]);
      if (outcome === 'timeout') {
        failed.push(name);
        logger.error({ step: name, timeoutMs }, `shutdown step "${name}" did not finish in time; going on without it`);
      }
    } catch (error) {
      failed.push(name);
      logger.error({ step: name, err: error }, `shutdown step "${name}" failed; going on with the others`);
    } finally {
      clearTimeout(timer);
    }
  }
  return failed;
}
