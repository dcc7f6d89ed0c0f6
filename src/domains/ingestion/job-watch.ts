/**
 * A long call a job makes outside any transaction (a batch sent to an embeddings server) is
 * abandoned when the job ends meanwhile. Cancelling is a state in the database, written by the
 * API (job-commands.service.ts), which the worker does not otherwise watch while it waits on a
 * model server: without this, a cancelled job went on waiting for the server's answer for up to
 * the model's timeout on each retry, holding a worker slot and one of its tenant's slots
 * (tenant-slots.ts), and the provider went on computing what nobody would keep.
 *
 * The job's stage is read every `everyMs` while the call runs (the worker's heartbeat: one
 * indexed read of one row); once it is terminal, or the job is gone (its dataset deleted), the
 * call's signal is aborted, which closes the upstream connection.
 */
import type { TenantScope } from '../../db/tenant-scope.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { isTerminal } from './stages.js';

/** What `call` answered, or 'stopped' when the job ended while it ran (and the call was aborted). */
export async function whileJobRuns<T>(scope: TenantScope, jobId: string, everyMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T | 'stopped'> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let watching = true;
  const look = async () => {
    try {
      const job = await scope.read((tx) => tx.findOne(IngestionJob, { id: jobId }, { fields: ['stage'] }));
      if (!job || isTerminal(job.stage)) controller.abort();
    } catch {
      // A failed look is not a reason to stop the call; the next one may see the job.
    }
    // One look at a time: the next is scheduled when this one is done.
    if (watching && !controller.signal.aborted) timer = setTimeout(() => void look(), everyMs);
  };
  timer = setTimeout(() => void look(), everyMs);
  try {
    return await call(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return 'stopped';
    throw error;
  } finally {
    watching = false;
    clearTimeout(timer);
  }
}
