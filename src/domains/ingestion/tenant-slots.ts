/**
 * At most `slots` ingestion jobs of one tenant run at once, across every worker process.
 *
 * The queue runs a dataset's jobs one at a time, but nothing bounded a tenant's: its jobs in
 * several datasets could take every worker slot, and a job can be slow for reasons the tenant
 * chooses (an embeddings server that answers nothing holds a batch for the model timeout). A
 * tenant with a hanging server and two datasets held both default slots, and another tenant's
 * one-line upload waited a minute. Each running job now holds one of its tenant's slots: a
 * session-level advisory lock (tenant, k) for some k below `slots`, taken once the job's lease
 * is (a second runner of the same job steps back for the lease, not for the slot), on the same
 * connection, so PostgreSQL frees it with a runner that dies. A job that finds every slot taken
 * does not run (and so costs no attempt); the caller parks it until a slot frees
 * (waiting-jobs.ts), and `released` runs once a slot is let go, to wake the next.
 */
import type { LeaseConnection } from './job-lease.js';

/** What a slot's advisory lock is named after: the prefix, the tenant's id, `:`, the slot's number (waiting-jobs.ts reads them from pg_locks). */
export const TENANT_SLOT_PREFIX = 'ingestion-tenant-slot:';

const tenantSlotKey = (tenantId: string, slot: number) => `${TENANT_SLOT_PREFIX}${tenantId}:${slot}`;

/** `run`'s value, or not run: every slot of the tenant is taken. */
export type Slotted<T> = { ran: true; value: T } | { ran: false };

export async function withTenantSlot<T>(connection: LeaseConnection, tenantId: string, slots: number, run: () => Promise<T>, released?: () => Promise<void>): Promise<Slotted<T>> {
  for (let slot = 0; slot < slots; slot += 1) {
    const key = tenantSlotKey(tenantId, slot);
    const { rows } = await connection.query<{ taken: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as taken', [key]);
    if (!rows[0]?.taken) continue;
    try {
      return { ran: true, value: await run() };
    } finally {
      // A connection that failed mid-run has lost the lock with its session already.
      await connection.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => undefined);
      await released?.();
    }
  }
  return { ran: false };
}
