/**
 * Forgets sign-in addresses (sign-in-addresses.ts) unused for `KNOWN_ADDRESS_DAYS`. A sign-in
 * already ignores them and forgets its own user's, but a user who never signs in again would
 * keep them for ever. graphile-worker's cron runs the `sign-in-address-retention` task daily,
 * once across all workers, as the owner role (the queue's connection); `sluice retention` runs
 * it now.
 */
import type { Task } from 'graphile-worker';
import type pg from 'pg';
import type { Logger } from '../../platform/logging/logger.js';
import { KNOWN_ADDRESS_DAYS } from './sign-in-addresses.js';

export const SIGN_IN_ADDRESS_RETENTION_TASK = 'sign-in-address-retention';
/**
 * graphile-worker crontab: daily at 03:10 (after the audit retention's 03:00), one job per day
 * across all workers; `?max=3` is its attempts (graphile-worker's `max`), so a database blip
 * is retried with backoff rather than left to the next day (the deletion is idempotent).
 */
export const SIGN_IN_ADDRESS_RETENTION_CRONTAB = `10 3 * * * ${SIGN_IN_ADDRESS_RETENTION_TASK} ?max=3`;

/** Deletes the addresses last used `KNOWN_ADDRESS_DAYS` or more before `now`; how many it deleted. */
export async function forgetUnusedSignInAddresses(client: Pick<pg.Client, 'query'>, now = new Date()): Promise<{ signInAddressesDeleted: number }> {
  const result = await client.query(`delete from sign_in_addresses where last_signed_in_at <= $1::timestamptz - make_interval(days => $2)`, [now.toISOString(), KNOWN_ADDRESS_DAYS]);
  return { signInAddressesDeleted: result.rowCount ?? 0 };
}

export function signInAddressRetentionTask(log: Logger): Task {
  return async (_payload, helpers) => {
    const report = await helpers.withPgClient((client) => forgetUnusedSignInAddresses(client));
    if (report.signInAddressesDeleted > 0) log.info(report, 'unused sign-in addresses forgotten');
  };
}
