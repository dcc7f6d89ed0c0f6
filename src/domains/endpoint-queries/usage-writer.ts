/**
 * An endpoint query's usage record (endpoints/usage-record.entity.ts), written in one statement
 * by `record_query_usage` (Migration20261202213000_record_query_usage) instead of a transaction
 * of four (BEGIN, tenant binding, insert, COMMIT): it runs after the answer, once per query,
 * on every surface. The function binds the record's tenant for its own statement and inserts
 * under row-level security as the app role, like the ORM would.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import type { Caller } from '../endpoints/endpoint-access.js';

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

/** Writes the record outside any transaction of `em` (autocommit): call it with no transaction open. */
export async function recordQueryUsage(em: EntityManager, row: QueryUsageRow): Promise<void> {
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
