/**
 * A request that needs an ingestion job's row goes before the worker's transaction holding it.
 *
 * A group of inputs settling holds its job's row (KEY SHARE, item-groups.ts) for as long as it
 * writes: minutes for a table of a few hundred thousand rows. Cancelling the job, deleting its
 * dataset or changing the dataset's embedding model take the row FOR UPDATE, so they waited the
 * request lock timeout and failed (`LOCK_TIMEOUT`): a runaway ingestion could not be stopped.
 *
 * Now such a request first asks the job's worker to yield (`askToYield`): a shared advisory lock
 * on the job, taken at once and held until the request's transaction ends. Between its
 * statements the group looks for one (`yieldRequested`, at most every YIELD_CHECK_MS); seeing it,
 * it rolls back, and the request takes the row. The worker then waits for every request that
 * asked to end (`awaitYieldedTo`: an exclusive lock on the same key) and runs the group again,
 * unless the request ended the job (cancelled it, deleted it with its dataset).
 *
 * An advisory lock, not a column: the request's transaction is still open while it waits, so a
 * column it set would not be seen; and a request that fails or times out takes its ask back
 * with its rollback, leaving nothing to clear. Two jobs whose keys collide (hashtext) cost a
 * group a needless run again, never a wrong result. Requests see only their tenant's jobs (the
 * statement reads `ingestion_jobs` under row-level security): nobody can make another tenant's
 * worker yield.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../db/bound-sql.js';

/** The first half of every job's advisory key (the second is the job id's hash): no other lock in Sluice uses two keys with it. */
const NAMESPACE = "hashtext('sluice:job-yield')";
const TERMINAL = `('COMPLETED', 'FAILED', 'CANCELLED')`;

/** How often at most a settling group looks for a request waiting: a request waits at most this, plus the statement running. */
export const YIELD_CHECK_MS = 250;

/** In a request's transaction: asks the worker writing the job (or each running job of the dataset) to yield, until that transaction ends. */
export async function askToYield(em: EntityManager, target: { jobId: string } | { datasetId: string }): Promise<void> {
  if (!em.isInTransaction()) throw new Error('askToYield needs a transaction: the ask lasts until it ends');
  const [column, value] = 'jobId' in target ? ['id', target.jobId] : ['dataset_id', target.datasetId];
  await boundSql(
    em,
    `select pg_advisory_xact_lock_shared(${NAMESPACE}, hashtext(id::text)) from ingestion_jobs where ${column} = ?::uuid and stage not in ${TERMINAL} order by id`,
    [value],
  );
}

/** In a worker's transaction: whether a request has asked the job's worker to yield (its transaction still open). */
export async function yieldRequested(em: EntityManager, jobId: string): Promise<boolean> {
  const [row] = await boundSql<{ asked: boolean }>(
    em,
    `select exists (
       select 1 from pg_locks
        where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())
          and classid = ${NAMESPACE}::oid and objid = hashtext(?::uuid::text)::oid and objsubid = 2 and granted
     ) as asked`,
    [jobId],
  );
  return row?.asked === true;
}

/** In a worker's transaction of its own, after yielding: waits until every request that asked has ended its transaction. */
export async function awaitYieldedTo(em: EntityManager, jobId: string): Promise<void> {
  await boundSql(em, `select pg_advisory_xact_lock(${NAMESPACE}, hashtext(?::uuid::text))`, [jobId]);
}

/** Thrown inside a worker's transaction that saw a request waiting: the transaction rolls back, and the worker yields. */
export class YieldToRequest extends Error {
  constructor() {
    super('a request asked the job to yield');
    this.name = 'YieldToRequest';
  }
}

/**
 * For a worker's long transaction: `check()` between statements throws YieldToRequest once a
 * request waits, looking at most every YIELD_CHECK_MS (most groups end before the first look).
 */
export class YieldCheck {
  private last = Date.now();

  constructor(
    private readonly em: EntityManager,
    private readonly jobId: string,
  ) {}

  async check(): Promise<void> {
    if (Date.now() - this.last < YIELD_CHECK_MS) return;
    if (await yieldRequested(this.em, this.jobId)) throw new YieldToRequest();
    this.last = Date.now();
  }
}
