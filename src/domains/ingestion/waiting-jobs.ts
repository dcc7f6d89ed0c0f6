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
 * Free slots are read from pg_locks (the slots are advisory locks), so a sweep of a tenant
 * whose slots are all taken wakes nothing: a waiting job is looked at once when queued, and
 * once per slot that frees for it, however long it waits (test/ingestion/fair-scheduling.test.ts).
 *
 * A woken job is not guaranteed its slot (a new job of the tenant may take it first): it parks
 * again. Waking skips a job whose dataset queue another job is running in (it could not start),
 * but not the queue of the job waking it, which is about to finish.
 */
import type { LeaseConnection } from './job-lease.js';
import { INGEST_TASK, MAX_QUEUE_ATTEMPTS, type IngestPayload } from './queue.js';
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

/** Queues the job again, parked, in its dataset's queue, under its key (replacing the entry being run, which is then completed). */
export async function parkJob(connection: LeaseConnection, payload: IngestPayload & { queuedAt: string }, queueName: string | null): Promise<void> {
  await connection.query(
    `select graphile_worker.add_job($1, $2::json, queue_name := $3, run_at := $4::timestamptz + ${PARKED_AHEAD}, max_attempts := $5,
            job_key := $6, job_key_mode := 'replace', flags := array[$7])`,
    [INGEST_TASK, JSON.stringify(payload), queueName, payload.queuedAt, MAX_QUEUE_ATTEMPTS, `ingest:${payload.jobId}`, `${WAITING_TENANT_FLAG}${payload.tenantId}`],
  );
}

/**
 * Wakes parked jobs into the tenant's free slots (`tenantId` null: every tenant with parked
 * jobs, the heartbeat's sweep): its slots, less those held (pg_locks, this database's) and
 * those its woken jobs not yet started will take. `running`: the queue entry of the job
 * calling, about to finish: its own queue does not hold back a job of its dataset. Resolves
 * to how many it woke.
 */
export async function wakeWaitingJobs(connection: LeaseConnection, { tenantId, slots, running }: { tenantId: string | null; slots: number; running?: string }): Promise<number> {
  const { rows } = await connection.query<{ woken: number }>(
    `with busy_queues as (
       -- The queues a job is running in (a few: one per worker slot), the caller's own excepted.
       select queue_name from graphile_worker.jobs where locked_at is not null and queue_name is not null and id::text is distinct from $4
     ),
     waiting as (
       select j.id, j.run_at, substr(f.flag, length($2) + 1) as tenant
         from graphile_worker.jobs j
         cross join lateral (select k as flag from jsonb_object_keys(j.flags) k where starts_with(k, $2) limit 1) f
        where j.task_identifier = $1 and j.flags is not null and j.locked_at is null and j.attempts < j.max_attempts
          and ($3::text is null or j.flags ? ($2 || $3))
          and (j.queue_name is null or j.queue_name not in (select queue_name from busy_queues))
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
          select w.id from waiting w where w.tenant = r.tenant and w.run_at > ${PARKED_FROM} order by w.run_at, w.id limit greatest(r.free, 0)
        ) next
     )
     select count(*)::int as woken from graphile_worker.reschedule_jobs(array(select id from chosen)::bigint[], run_at := now())`,
    [INGEST_TASK, WAITING_TENANT_FLAG, tenantId, running ?? null, slots, TENANT_SLOT_PREFIX],
  );
  return rows[0]?.woken ?? 0;
}
