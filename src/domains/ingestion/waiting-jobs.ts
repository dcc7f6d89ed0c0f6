/**
 * A tenant's ingestion jobs waiting for one of its slots (tenant-slots.ts): parked, and woken
 * when a slot frees, so a waiting job costs the shared worker nothing while it waits.
 *
 * Before (until 2026-12-07), a job that found its tenant's slots taken was queued again a
 * heartbeat later: every waiting job cost a worker a look every heartbeat, the queue fetches in
 * `run_at` order, and another tenant's new job sorted behind all of those overdue looks. With
 * 150 of one tenant's re-embed jobs waiting behind a job it kept busy, another tenant's
 * one-line upload took about 100 s instead of 9, and growing with the count.
 *
 * Now such a job is queued again *parked*: with a `run_at` so far ahead that the queue never
 * fetches it, and a flag naming its tenant. Each time one of a tenant's slots is let go, the
 * job that let it go wakes as many of the tenant's parked jobs as it has free slots not already
 * claimed by woken jobs not yet started (`run_at` now, through graphile-worker's
 * `reschedule_jobs`), oldest first by when each was queued. A job that parks wakes the same way just after (a slot let go between its look and
 * its parking would otherwise wake nobody), and every worker process sweeps at each heartbeat
 * for the case nothing else covers: a runner that died let its slot go without waking anyone.
 * A wake-up skips the entries another transaction holds (a tenant's slow request removing its
 * own): until 2026-12-07 the sweep waited for such a transaction, and every tenant's lost
 * wake-ups with it (test/ingestion/parked-jobs.test.ts).
 * Free slots are read from pg_locks (the slots are advisory locks), so a sweep of a tenant
 * whose slots are all taken wakes nothing: a waiting job is looked at once when queued, and
 * once per slot that frees for it, however long it waits (test/ingestion/fair-scheduling.test.ts).
 *
 * A woken job is not guaranteed its slot (a new job of the tenant may take it first): it parks
 * again. Waking skips a job whose dataset queue another job is running in (it could not start),
 * but not the queue of the job waking it, which is about to finish.
 *
 * A dataset's queue stays first in, first out across parking. graphile-worker fetches by
 * `run_at`, and a parked job's is a thousand years ahead: until 2026-12-07 a job queued after
 * it in the same dataset was fetched first and, given a slot, ran first (a later upload of a
 * document overwritten by an earlier one). Now every entry is ordered by when its job was first
 * queued (kept in the payload of its parked copies, `queuedAt`), a job that finds an older
 * entry of its queue not running parks behind it before taking a slot (`placeInQueue`), and a
 * wake-up wakes only the first entry of each queue.
 */
import { inTenantTransaction } from '../../db/tenant-session.js';
import type { LeaseConnection } from './job-lease.js';
import { INGEST_TASK, MAX_QUEUE_ATTEMPTS, type IngestPayload } from './queue.js';
import { TERMINAL_STAGES } from './stages.js';
import { TENANT_SLOT_PREFIX } from './tenant-slots.js';

/**
 * The flag a parked job carries, with its tenant's id after it: graphile-worker's `jobs` view
 * shows a job's flags but not its payload. (Flags only matter to a worker told to skip some;
 * ours are not.)
 */
const WAITING_TENANT_FLAG = 'ingestion-tenant:';

/**
 * How far ahead a parked job's `run_at` is put: the time it was first queued plus this, so the
 * queue never reaches it and the tenant's parked jobs sort by when they were queued.
 */
const PARKED_AHEAD = `interval '1000 years'`;
/** A job due later than this is parked. */
const PARKED_FROM = `now() + interval '500 years'`;

/** When an entry of the queue was first queued: its parked copies carry it, an entry never parked is its own. */
const queuedAt = (jobs: string, privateJobs: string) => `coalesce((${privateJobs}.payload->>'queuedAt')::timestamptz, ${jobs}.created_at)`;

const ENDED = `(${TERMINAL_STAGES.map((stage) => `'${stage}'`).join(', ')})`;

/**
 * Where the job fetched as queue entry `queueJobId` stands, looked at before it takes a slot:
 * `ended` (cancelled, deleted, or ended otherwise: its entry has nothing to run, and costs no
 * slot), `behind` an older entry of its dataset's queue not running (it parks behind it, so
 * the queue keeps its order), or `first`.
 */
export async function placeInQueue(connection: LeaseConnection, { jobId, tenantId, queueJobId }: { jobId: string; tenantId: string; queueJobId: string }): Promise<'ended' | 'behind' | 'first'> {
  const { rows } = await inTenantTransaction(connection, tenantId, () =>
    connection.query<{ ended: boolean; behind: boolean }>(
      `with me as (
         select j.id, j.queue_name, j.key, ${queuedAt('j', 'p')} as queued_at
           from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id where j.id = $2::bigint
       )
       select coalesce((select stage in ${ENDED} from ingestion_jobs where id = $3::uuid), true) as ended,
              exists (
                select 1 from me
                  join graphile_worker.jobs o on o.queue_name = me.queue_name and o.id <> me.id
                  join graphile_worker._private_jobs op on op.id = o.id
                 where o.task_identifier = $1 and o.locked_at is null and o.attempts < o.max_attempts
                   and (${queuedAt('o', 'op')}, o.key) < (me.queued_at, me.key)
              ) as behind`,
      [INGEST_TASK, queueJobId, jobId],
    ),
  );
  return rows[0]?.ended ? 'ended' : rows[0]?.behind ? 'behind' : 'first';
}

/**
 * Queues the job again, parked, in its dataset's queue, under its key (replacing the entry being
 * run, which is then completed), unless it has ended: the job's row is held while the entry is
 * added, so a cancel either comes first (nothing is parked) or after (and removes the entry).
 * Resolves to whether it parked the job.
 */
export async function parkJob(connection: LeaseConnection, payload: IngestPayload & { queuedAt: string }, queueName: string | null): Promise<boolean> {
  return inTenantTransaction(connection, payload.tenantId, async () => {
    const { rows } = await connection.query<{ stage: string }>(`select stage from ingestion_jobs where id = $1::uuid for key share`, [payload.jobId]);
    if (!rows[0] || (TERMINAL_STAGES as readonly string[]).includes(rows[0].stage)) return false;
    await connection.query(
      `select graphile_worker.add_job($1, $2::json, queue_name := $3, run_at := $4::timestamptz + ${PARKED_AHEAD}, max_attempts := $5,
              job_key := $6, job_key_mode := 'replace', flags := array[$7])`,
      [INGEST_TASK, JSON.stringify(payload), queueName, payload.queuedAt, MAX_QUEUE_ATTEMPTS, `ingest:${payload.jobId}`, `${WAITING_TENANT_FLAG}${payload.tenantId}`],
    );
    return true;
  });
}

/** The advisory lock the heartbeat's sweeps take in turn, across every worker process. */
export const SWEEP_LOCK = 'ingestion-waiting-sweep';

/**
 * The heartbeat's sweep: wakes the parked jobs of every tenant into their free slots. One at a
 * time across processes (a transaction-level advisory lock, taken before the sweep's snapshot):
 * two at once counted the same free slots and each woke jobs into them, the extra ones only to
 * park again. A sweep that finds the lock taken does nothing (null): another process is sweeping
 * now, and waiting for it would tie this process's heartbeat (and a stopping worker, which waits
 * for its heartbeat) to a sweep that may be stuck elsewhere. Entries another transaction holds
 * are skipped, never waited for (wakeWaitingJobs).
 */
export async function sweepWaitingJobs(connection: LeaseConnection, slots: number): Promise<number | null> {
  await connection.query('begin', []);
  try {
    const { rows } = await connection.query<{ taken: boolean }>('select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as taken', [SWEEP_LOCK]);
    if (!rows[0]?.taken) {
      await connection.query('rollback', []);
      return null;
    }
    const woken = await wakeWaitingJobs(connection, { tenantId: null, slots });
    await connection.query('commit', []);
    return woken;
  } catch (error) {
    await connection.query('rollback', []).catch(() => undefined);
    throw error;
  }
}

/**
 * Wakes parked jobs into the tenant's free slots (`tenantId` null: every tenant with parked
 * jobs, the heartbeat's sweep): its slots, less those held (pg_locks, this database's) and
 * those its woken jobs not yet started will take. Only the first entry of a dataset's queue
 * (by when it was first queued) is woken, oldest first across the tenant's queues.
 * `running`: the queue entry of the job calling, about to finish: its own queue does not hold
 * back a job of its dataset. An entry another transaction holds locked is skipped, not waited
 * for, so no tenant's held rows delay another's wake-ups. Resolves to how many it woke.
 */
export async function wakeWaitingJobs(connection: LeaseConnection, { tenantId, slots, running }: { tenantId: string | null; slots: number; running?: string }): Promise<number> {
  const { rows } = await connection.query<{ woken: number }>(
    `with busy_queues as (
       -- The queues a job is running in (a few: one per worker slot), the caller's own excepted.
       select queue_name from graphile_worker.jobs where locked_at is not null and queue_name is not null and id::text is distinct from $4
     ),
     ready as (
       -- The ingestion entries not running, each with when its job was first queued.
       select j.id, j.queue_name, j.key, j.run_at, j.flags, ${queuedAt('j', 'p')} as queued_at
         from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id
        where j.task_identifier = $1 and j.locked_at is null and j.attempts < j.max_attempts
          and (j.queue_name is null or j.queue_name not in (select queue_name from busy_queues))
     ),
     waiting as (
       select r.id, r.queue_name, r.key, r.run_at, r.queued_at, substr(f.flag, length($2) + 1) as tenant
         from ready r
         cross join lateral (select k as flag from jsonb_object_keys(r.flags) k where starts_with(k, $2) limit 1) f
        where r.flags is not null and ($3::text is null or r.flags ? ($2 || $3))
     ),
     heads as (
       -- The first entry of each queue a parked job is in: a later one woken would run first.
       select distinct on (r.queue_name) r.id from ready r
        where r.queue_name in (select queue_name from waiting)
        order by r.queue_name, r.queued_at, r.key
     ),
     room as (
       select t.tenant,
              $5::int
              - (select count(*)::int from pg_locks l
                  where l.locktype = 'advisory' and l.granted and l.objsubid = 1
                    and l.database = (select oid from pg_database where datname = current_database())
                    and ((l.classid::bigint << 32) | l.objid::bigint) in
                        (select hashtextextended($6 || t.tenant || ':' || k, 0) from generate_series(0, $5 - 1) k))
              - (select count(*)::int from waiting w where w.tenant = t.tenant and w.run_at <= now()) as free
         from (select distinct tenant from waiting where run_at > ${PARKED_FROM}) t
     ),
     chosen as (
       select next.id from room r
        cross join lateral (
          select w.id from waiting w
           where w.tenant = r.tenant and w.run_at > ${PARKED_FROM} and (w.queue_name is null or w.id in (select id from heads))
           order by w.queued_at, w.key limit greatest(r.free, 0)
        ) next
     ),
     claimed as (
       -- Locked here, skipping those another transaction holds: a tenant's request removing its
       -- entries (dequeue_ingestion) in a slow transaction made every wake-up, the sweep of all
       -- tenants included, wait for its commit. A skipped entry is the next sweep's to wake.
       select p.id from graphile_worker._private_jobs p
        where p.id in (select id from chosen) and p.locked_at is null and p.run_at > ${PARKED_FROM}
        for update of p skip locked
     )
     select count(*)::int as woken from graphile_worker.reschedule_jobs(array(select id from claimed)::bigint[], run_at := now())`,
    [INGEST_TASK, WAITING_TENANT_FLAG, tenantId, running ?? null, slots, TENANT_SLOT_PREFIX],
  );
  return rows[0]?.woken ?? 0;
}
