/**
 * An endpoint query's usage record (endpoints/usage-record.entity.ts), written in one statement
 * by `record_query_usage` (Migration20261202213000_record_query_usage) instead of a transaction
 * of four (BEGIN, tenant binding, insert, COMMIT): it runs after the answer, once per query,
 * on every surface. The function binds the record's tenant for its own statement and inserts
 * under row-level security as the app role, like the ORM would.
 *
 * A query with a flat charge has its record written at admission instead, as a reservation
 * (`reserveQueryUsage`, outcome RUNNING, charged the flat part), so the accounting quotas count
 * it while it runs; the end settles that same record (`settle_query_usage`,
 * Migration20261207010000_query_usage_reservations), one statement as well.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import type { Caller } from '../endpoints/endpoint-access.js';
import { UsageRecord } from '../endpoints/usage-record.entity.js';

/** The outcome of a reserved record whose query has not ended (or whose process died before it did). */
export const RUNNING = 'RUNNING';

export interface QueryUsageRow extends Caller {
  tenantId: string;
  endpointId: string;
  endpointSlug: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costMicros: number;
  chargedMicros: number;
  latencyMs: number;
  /** `ok`, or the error code the query ended with. */
  outcome: string;
  createdAt: Date;
}

/**
 * The most an `integer` column holds. Reported counts are bounded far below it (models/provider.ts,
 * MAX_REPORTED_TOKENS) and estimates by what an answer may be; clamped here as well, because a
 * value past it fails the statement and the query would go unrecorded: uncounted and uncharged.
 */
const MAX_INTEGER = 2_147_483_647;
const stored = (count: number) => Math.min(count, MAX_INTEGER);

/**
 * The query's record, written in `tx` (the transaction that admitted it, bound to the endpoint's
 * tenant, under the policies' lock: the next query's admission sees it) with the flat charge
 * and no usage yet. Stamped with the admission's time: the quota's window counts the charge from
 * there, and a record whose process died mid-query leaves the window like any other.
 * Returns the record's id, for `recordQueryUsage` to settle.
 */
export function reserveQueryUsage(tx: EntityManager, row: Caller & { tenantId: string; endpointId: string; endpointSlug: string; flatMicros: number; createdAt: Date }): string {
  // The id now, not at flush (the entity's onCreate): the query settles this record by it.
  const id = randomUUID();
  tx.create(UsageRecord, {
    id,
    tenant: row.tenantId,
    kind: 'query',
    endpoint: row.endpointId,
    endpointSlug: row.endpointSlug,
    callerTenantId: row.callerTenantId,
    callerKind: row.callerKind,
    callerId: row.callerId,
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    costMicros: 0,
    chargedMicros: row.flatMicros,
    latencyMs: 0,
    outcome: RUNNING,
    createdAt: row.createdAt,
  });
  return id;
}

/**
 * Writes the record outside any transaction of `em` (autocommit): call it with no transaction
 * open. With `reservation` (reserveQueryUsage's id) that record is settled with `row`'s usage,
 * charge, latency and outcome (its time stays the admission's); otherwise a record is inserted.
 */
export async function recordQueryUsage(em: EntityManager, row: QueryUsageRow, reservation: string | null = null): Promise<void> {
  if (reservation) {
    await boundSql(em, 'select settle_query_usage(?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      row.tenantId,
      reservation,
      stored(row.promptTokens),
      stored(row.completionTokens),
      stored(row.totalTokens),
      row.costMicros,
      row.chargedMicros,
      stored(row.latencyMs),
      row.outcome.slice(0, 32),
    ]);
    return;
  }
  await boundSql(em, 'select record_query_usage(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
    row.tenantId,
    row.endpointId,
    row.endpointSlug,
    row.callerTenantId,
    row.callerKind,
    row.callerId,
    stored(row.promptTokens),
    stored(row.completionTokens),
    stored(row.totalTokens),
    row.costMicros,
    row.chargedMicros,
    stored(row.latencyMs),
    row.outcome.slice(0, 32),
    row.createdAt,
  ]);
}
