/**
 * Commanding jobs: cancelling a running job and retrying what an ended one did not ingest.
 * Both hold the job's row lock (job-lock.ts), so they never race the input a worker is settling,
 * and publish the change only once it has committed. A cancel does not wait for that input to be
 * written: the worker rolls its group back and yields (job-preemption.ts).
 */
import { ConflictError, NotFoundError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import type { ServiceContext } from '../service-context.js';
import { IngestionItem } from './ingestion-item.entity.js';
import type { IngestionJob } from './ingestion-job.entity.js';
import { askToYield } from '../job-preemption.js';
import { waitAlone } from '../lock-waiters.js';
import { lockJob } from './job-lock.js';
import { snapshotOf } from './progress.js';
import { dequeueIngestion, enqueueIngestion } from './queue.js';
import { isTerminal } from './stages.js';

export class JobCommandsService {
  constructor(private readonly ctx: ServiceContext) {}

  async cancel(jobId: string): Promise<IngestionJob> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    // The group of inputs being written, however long, rolls back and lets the cancel go first (job-preemption.ts).
    const job = await this.lockedJob(jobId, () => askToYield(em, { jobId }));
    if (isTerminal(job.stage)) throw new ConflictError(`The job has already ended (${job.stage})`, { stage: job.stage });
    const sequence = job.sequence + 1;
    const stopped = await em.nativeUpdate(
      IngestionItem,
      { job, status: { $in: ['PENDING', 'PARSED'] } },
      { status: 'CANCELLED', sequence, finishedAt: new Date() },
    );
    Object.assign(job, { stage: 'CANCELLED', sequence, finishedAt: new Date(), documentsDone: job.documentsDone + stopped });
    await em.flush();
    // Its queue entry goes with it: an ended job's entry (a parked one waits for good) is not
    // counted by SLUICE_INGEST_MAX_QUEUED_JOBS, so "ingest, cancel" in a loop grew the queue.
    await dequeueIngestion(em, [job.id]);
    this.publishAfterCommit(job, sequence - 1);
    return job;
  }

  /** Runs the inputs that failed or were cancelled again, with the job's original options. */
  async retry(jobId: string): Promise<IngestionJob> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    const job = await this.lockedJob(jobId);
    if (!isTerminal(job.stage)) throw new ConflictError(`The job is still running (${job.stage})`, { stage: job.stage });
    const again = await em.find(IngestionItem, { job, status: { $in: ['FAILED', 'CANCELLED'] } }, { fields: ['id', 'status', 'byteCount'] });
    if (again.length === 0 && job.errorReason?.startsWith('EMBEDDING_')) {
      // Its inputs were all indexed; the vectors are the dataset's to complete, by a new REEMBED
      // job. Not queued from here: this mutation answers the job it runs again (the console's
      // card follows that same job), and a different job in its place would mislead its callers.
      throw new ConflictError(
        `Nothing to retry: every input of the job was ingested, and its EMBEDDING stage failed (${job.errorReason}). reembedDataset embeds the chunks still without a vector`,
        { reason: 'EMBEDDING_FAILED', errorReason: job.errorReason, retryWith: 'reembedDataset' },
      );
    }
    if (again.length === 0) throw new ConflictError('Nothing to retry: every input of the job was ingested');
    const failed = again.filter((item) => item.status === 'FAILED').length;
    await em.nativeUpdate(IngestionItem, { id: { $in: again.map((item) => item.id) } }, { status: 'PENDING', error: null, errorReason: null, sequence: null, finishedAt: null });
    Object.assign(job, {
      stage: 'QUEUED',
      error: null,
      finishedAt: null,
      sequence: job.sequence + 1,
      documentsDone: job.documentsDone - again.length,
      documentsFailed: job.documentsFailed - failed,
      bytesDone: job.bytesDone - again.reduce((sum, item) => sum + item.byteCount, 0),
    });
    // The run starts again from what is settled: the inputs run again earn their credit anew.
    job.bytesProcessed = job.bytesDone;
    await em.flush();
    await enqueueIngestion(em, job.tenant.id, job.id, this.ctx.deps.ingestion.maxQueuedJobs);
    this.publishAfterCommit(job, job.sequence - 1);
    return job;
  }

  /** The job, locked FOR UPDATE; `before` runs first, in the one request of this process that waits for it (lock-waiters.ts). */
  private async lockedJob(jobId: string, before?: () => Promise<void>): Promise<IngestionJob> {
    const job = await waitAlone(`ingestion-job:${jobId}`, async () => {
      await before?.();
      return lockJob(this.ctx.em, jobId);
    });
    if (!job) throw new NotFoundError('Ingestion job');
    return job;
  }

  private publishAfterCommit(job: IngestionJob, previousSequence: number): void {
    const event = { snapshot: snapshotOf(job), previousSequence, outcomes: [] };
    const publish = () => this.ctx.deps.progress.publish(event);
    this.ctx.scope.afterCommit(publish);
  }
}
