/**
 * How far an ingest job is through its input bytes, counting the work done inside inputs not
 * yet settled (issue 21: a job of one large file went from 0 to 100 % in one step, since bytes
 * counted only when an input's group committed). Each input's bytes are credited in shares as
 * it goes: PARSED_SHARE once it is parsed, CHUNKED_SHARE as its text is chunked (the parser
 * thread reports where it is), WRITTEN_SHARE as its chunks are inserted (writer.ts: measured
 * after each INSERT, estimated while one runs), and the rest only when the transaction that
 * settles it commits.
 *
 * Honest by construction: a share is credited for work finished (the one estimate, of an
 * INSERT still running, stops short of that INSERT's part), an input reaches its full bytes
 * only once settled, so `bytesProcessed` stays below `bytesTotal` until the last input has
 * committed. The parsed share is durable (the input is PARSED in the database); the
 * chunked and written shares live in the worker until their input settles. `bytes_processed`
 * is only ever raised while the job runs: when a worker dies and the job resumes, its progress
 * holds where it was until the new worker's work passes it, and a resumed job's durable counts
 * are exact.
 *
 * A step is saved (one short transaction: the job's row, its sequence raised) only when the
 * reporter would publish it at once, so steps come no faster than progress events do, and an
 * input too small to be seen between events costs nothing more. A step of written chunks is
 * saved while the settling transaction is open: that transaction holds the job's row with a
 * KEY SHARE lock only (item-groups.ts), which a plain UPDATE does not wait for, while a cancel or
 * retry (FOR UPDATE) still waits for the group.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { lockJob } from './job-lock.js';
import { snapshotOf } from './progress.js';
import type { ProgressReporter } from './progress-reporter.js';
import { isTerminal, TERMINAL_STAGES } from './stages.js';

/**
 * Shares of an input's bytes for being parsed and for being chunked; writing its chunks and
 * settling it earns the rest. From the timeline of one 4 MB Markdown file on 2 shared cores
 * (load average 11.5; test/ingestion/progress-inside-input.test.ts): parsing took about 27 %
 * of the job, chunking 5 %, writing the chunks (search index, BM25 statistics) 62 %.
 */
export const PARSED_SHARE = 0.25;
export const CHUNKED_SHARE = 0.1;
/** Earned as an input's chunks are inserted, by characters; the last 5 % waits for the commit that settles it. */
export const WRITTEN_SHARE = 0.6;

export class ProcessedBytes {
  /** Bytes of the job's PARSED inputs, as committed (those a settling group is taking out of PARSED already gone): each credited PARSED_SHARE. */
  private parsedBytes = 0;
  /** Credit for the inputs of the groups in hand (two at most are being settled at once), by input, until each settles. */
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
    this.track(this.save());
  }

  /**
   * In the transaction settling the group, which holds `job` (KEY SHARE): the input `itemId`
   * has earned `bytes` of credit with its chunks inserted so far. A step, if due, takes the
   * transaction's next sequence (below every outcome it will record, and kept by its commit)
   * and is saved beside it. Not awaited there: the step needs a connection of its own.
   */
  written(job: IngestionJob, itemId: string, bytes: number): void {
    const value = Math.floor(bytes);
    if (value <= (this.inHand.get(itemId) ?? 0)) return;
    this.inHand.set(itemId, value);
    if (this.saving || !this.reporter.due()) return;
    job.sequence += 1;
    const sequence = job.sequence;
    // The group's outcomes are counted after its writes (item-groups.ts): `bytesDone` is still the committed one.
    const target = this.worked(job.bytesDone);
    raise(job, target);
    this.track(this.saveBeside(sequence, target));
  }

  /** Before the group in hand settles, and once it has: a step being saved commits first (it holds the job's row briefly). */
  async settling(): Promise<void> {
    await this.saving;
    if (this.failure) throw this.failure;
  }

  /**
   * In the transaction settling a group, under the job's row lock (item-groups.ts): raises the
   * job's `bytesProcessed` to its settled bytes plus the parsed share of its PARSED inputs
   * (`parsedDelta`: this group's change to them); true if it rose. What the commit will move
   * into `bytesDone` leaves the hand here, before it: the group's credit, and the bytes of its
   * inputs leaving PARSED (CHUNKING). A step taken in between (a group beside this one is being
   * prepared meanwhile) counts them in neither place, lower but never twice. Inputs becoming
   * PARSED (PARSING) are counted once committed (`settled`).
   */
  settle(job: IngestionJob, parsedDelta: number, itemIds: string[]): boolean {
    for (const id of itemIds) this.inHand.delete(id);
    if (parsedDelta < 0) this.parsedBytes = Math.max(0, this.parsedBytes + parsedDelta);
    return raise(job, job.bytesDone + Math.floor((this.parsedBytes + Math.max(parsedDelta, 0)) * PARSED_SHARE));
  }

  /** Once a settle has committed: inputs it made PARSED count from now on. */
  settled(parsedDelta: number): void {
    if (parsedDelta > 0) this.parsedBytes += parsedDelta;
  }

  /** The job's bytes settled (`bytesDone`), plus the parsed share of its PARSED inputs and the credit in hand. */
  private worked(bytesDone: number): number {
    let credit = 0;
    for (const bytes of this.inHand.values()) credit += bytes;
    return bytesDone + Math.floor(this.parsedBytes * PARSED_SHARE) + credit;
  }

  private track(saving: Promise<void>): void {
    this.saving = saving
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.saving = undefined;
      });
  }

  private async save(): Promise<void> {
    const snapshot = await this.scope.write(async (tx: EntityManager) => {
      // NO KEY UPDATE: a step waits for no settling group (they hold KEY SHARE until their counts).
      const job = await lockJob(tx, this.jobId, 'no key update');
      if (!job || isTerminal(job.stage)) return undefined;
      if (!raise(job, this.worked(job.bytesDone))) return undefined;
      job.sequence += 1;
      await tx.flush();
      return snapshotOf(job);
    });
    // Published after the commit, like every change.
    if (snapshot) this.reporter.record(snapshot);
  }

  /**
   * A step taken inside the settling transaction, saved in one of its own. It never waits for
   * the job's row (SKIP LOCKED: anyone else holding it is a reason to drop an advisory step),
   * and applies only while the row's sequence is below the step's: once the settling
   * transaction has committed (its sequence is higher) a late step changes nothing.
   */
  private async saveBeside(sequence: number, value: number): Promise<void> {
    const snapshot = await this.scope.write(async (tx: EntityManager) => {
      const [saved] = await boundSql<{ id: string }>(
        tx,
        `update ingestion_jobs set sequence = ?, bytes_processed = greatest(bytes_processed, least(bytes_total, ?))
          where id = (select id from ingestion_jobs where id = ? and sequence < ? and stage <> all(?::text[]) for no key update skip locked)
          returning id`,
        [sequence, value, this.jobId, sequence, pgArray(TERMINAL_STAGES)],
      );
      if (!saved) return undefined;
      const job = await tx.findOne(IngestionJob, { id: this.jobId }, { refresh: true });
      return job ? snapshotOf(job) : undefined;
    });
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
