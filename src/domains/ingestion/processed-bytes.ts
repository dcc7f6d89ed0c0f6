/**
 * How far an ingest job is through its input bytes, counting the work done inside inputs not
 * yet settled (issue 21: a job of one large file went from 0 to 100 % in one step, since bytes
 * counted only when an input's group committed). Each input's bytes are credited in shares as
 * it goes: PARSED_SHARE once it is parsed, CHUNKED_SHARE as its text is chunked (the parser
 * thread reports where it is), and the rest only when the transaction that writes its chunks
 * and settles it commits. No progress shows inside that transaction: its chunks go in one
 * statement per batch (writer.ts), and splitting them for progress would cost throughput.
 *
 * Honest by construction: a share is credited for work finished, an input reaches its full
 * bytes only once settled, so `bytesProcessed` stays below `bytesTotal` until the last input
 * has committed. The parsed share is durable (the input is PARSED in the database); the
 * chunked share lives in the worker until its input settles. `bytes_processed` is only ever
 * raised while the job runs: when a worker dies and the job resumes, its progress holds where
 * it was until the new worker's work passes it, and a resumed job's durable counts are exact.
 *
 * A step is saved (one short transaction: the job's row, its sequence raised) only when the
 * reporter would publish it at once, so steps come no faster than progress events do, and an
 * input too small to be seen between events costs nothing more.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { IngestionJob } from './ingestion-job.entity.js';
import { lockJob } from './job-lock.js';
import { snapshotOf } from './progress.js';
import type { ProgressReporter } from './progress-reporter.js';
import { isTerminal } from './stages.js';

/**
 * Shares of an input's bytes for being parsed and for being chunked; writing its chunks and
 * settling it earns the rest. From the timeline of one 4 MB Markdown file on 2 shared cores
 * (load average 11.5; test/ingestion/progress-inside-input.test.ts): parsing took about 27 %
 * of the job, chunking 5 %, writing the chunks (search index, BM25 statistics) 62 %.
 */
export const PARSED_SHARE = 0.25;
export const CHUNKED_SHARE = 0.1;

export class ProcessedBytes {
  /** Bytes of the job's PARSED inputs, as committed: each credited PARSED_SHARE. */
  private parsedBytes = 0;
  /** Credit for the inputs of the group in hand, by input, since its last settle. */
  private readonly inHand = new Map<string, number>();
  private saving: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly scope: TenantScope,
    private readonly jobId: string,
    private readonly reporter: ProgressReporter,
  ) {}

  /** Reads how many bytes of the job's inputs are PARSED: as a stage begins (a resumed job may have some). */
  async load(): Promise<void> {
    const [row] = await this.scope.read((tx) =>
      boundSql<{ bytes: string }>(tx, `select coalesce(sum(byte_count), 0) as bytes from ingestion_items where job_id = ? and status = 'PARSED'`, [this.jobId]),
    );
    this.parsedBytes = Number(row?.bytes ?? 0);
    this.inHand.clear();
  }

  /** The input `itemId` has earned `bytes` of credit in the group in hand (never less than before); saved if a step is due. */
  credit(itemId: string, bytes: number): void {
    const value = Math.floor(bytes);
    if (value <= (this.inHand.get(itemId) ?? 0)) return;
    this.inHand.set(itemId, value);
    if (this.saving || !this.reporter.due()) return;
    this.saving = this.save()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.saving = undefined;
      });
  }

  /** Before the group in hand settles: a step being saved commits first (it holds the job's row briefly). */
  async settling(): Promise<void> {
    await this.saving;
    if (this.failure) throw this.failure;
  }

  /**
   * In the transaction settling the group: raises the job's `bytesProcessed` to its settled
   * bytes plus the parsed share of `parsedBytes + parsedDelta`; true if it rose.
   */
  settle(job: IngestionJob, parsedDelta: number): boolean {
    return raise(job, job.bytesDone + Math.floor((this.parsedBytes + parsedDelta) * PARSED_SHARE));
  }

  /** Once the settle has committed: its PARSED inputs counted, the group's credit now in the job's counts. */
  settled(parsedDelta: number): void {
    this.parsedBytes += parsedDelta;
    this.inHand.clear();
  }

  private async save(): Promise<void> {
    const snapshot = await this.scope.write(async (tx: EntityManager) => {
      const job = await lockJob(tx, this.jobId);
      if (!job || isTerminal(job.stage)) return undefined;
      let credit = 0;
      for (const bytes of this.inHand.values()) credit += bytes;
      if (!raise(job, job.bytesDone + Math.floor(this.parsedBytes * PARSED_SHARE) + credit)) return undefined;
      job.sequence += 1;
      await tx.flush();
      return snapshotOf(job);
    });
    // Published after the commit, like every change.
    if (snapshot) this.reporter.record(snapshot);
  }
}

/** Raises `bytesProcessed` to `value` (never past `bytesTotal`, never down); true if it rose. */
function raise(job: IngestionJob, value: number): boolean {
  const next = Math.min(job.bytesTotal, value);
  if (next <= job.bytesProcessed) return false;
  job.bytesProcessed = next;
  return true;
}
