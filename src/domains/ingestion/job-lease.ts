/**
 * One runner per ingestion job, whatever the queue does. The queue's own lock can be lifted
 * under a live runner (a process whose heartbeat lags is presumed dead and its jobs unlocked:
 * see platform/queue/job-runner.ts), so the runner also holds a session-level advisory lock on the job for the
 * whole run, on a connection of its own. PostgreSQL drops the lock with the session: a runner
 * that dies, dies with its lease, and the next runner takes the job without waiting for any
 * timeout. A second runner that finds the lease taken does not run the job (and so costs it
 * no attempt); the caller reschedules a later look.
 */

/** A connection held for the run (a pg PoolClient). */
export interface LeaseConnection {
  query<R extends Record<string, unknown>>(sql: string, values: unknown[]): Promise<{ rows: R[] }>;
}

export type Leased<T> = { held: true; value: T } | { held: false };

export async function withJobLease<T>(connection: LeaseConnection, jobId: string, run: () => Promise<T>): Promise<Leased<T>> {
  const key = `ingestion-job:${jobId}`;
  const { rows } = await connection.query<{ taken: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as taken', [key]);
  if (!rows[0]?.taken) return { held: false };
  try {
    return { held: true, value: await run() };
  } finally {
    // A connection that failed mid-run has lost the lock with its session already.
    await connection.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => undefined);
  }
}
