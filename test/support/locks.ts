/**
 * The owner's connection to a test server's database, and who waits there for a lock: tests that
 * hold a row from outside and watch the server's statements queue behind it (deletes and model
 * changes during an ingestion, groups settled side by side). Counted in the test's own database
 * only: other files' servers run beside it. Each count is read on a fresh connection outside any
 * transaction (inside one, pg_stat_activity is read once and kept).
 */
import type pg from 'pg';
import { withClient } from '../../src/db/bootstrap.js';
import { pollUntil } from './poll.js';

interface HasDatabase {
  database: { ownerUrl: string };
}

/** `work` on a connection as the database's owner (row-level security does not apply). */
export function asOwner<T>(server: HasDatabase, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(server.database.ownerUrl, work);
}

export interface LockWaitFilter {
  /** Only statements this backend blocks. */
  blockedBy?: number;
  /** Only statements whose text starts with this (case-insensitive). */
  startingWith?: string;
  /** Not these backends. */
  except?: number[];
}

/** How many statements wait for a lock, as `filter` narrows them. */
export function lockWaiters(server: HasDatabase, { blockedBy, startingWith, except = [] }: LockWaitFilter): Promise<number> {
  return asOwner(server, async (client) =>
    Number(
      (
        await client.query(
          `select count(*) as n from pg_stat_activity
            where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0
              and ($1::int is null or $1 = any(pg_blocking_pids(pid)))
              and ($2::text is null or query ilike $2 || '%')
              and pid <> all($3::int[])`,
          [blockedBy ?? null, startingWith ?? null, except],
        )
      ).rows[0].n,
    ),
  );
}

/** Waits (up to 60 s) until exactly `count` statements wait for a lock as `filter` narrows them; `what` names them in the failure. */
export function untilLockWaiters(server: HasDatabase, filter: LockWaitFilter, count: number, what: string): Promise<number> {
  return pollUntil(() => lockWaiters(server, filter), (n) => n === count, { timeoutMs: 60_000, intervalMs: 50, failure: (n) => `${n} ${what} waiting, not ${count}` });
}

/** The backend that `holderPid` blocks (the first, when several are). */
export async function blockedBackend(server: HasDatabase, holderPid: number): Promise<number> {
  return asOwner(server, async (client) => (await client.query(`select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid)) order by pid limit 1`, [holderPid])).rows[0].pid as number);
}
