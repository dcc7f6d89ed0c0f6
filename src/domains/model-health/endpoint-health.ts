/**
 * Endpoints' health by id, in bulk and across tenants: for the catalog, which lists other
 * tenants' endpoints. One SECURITY DEFINER function (`endpoint_health`, migration
 * 20261202181500) answers for published endpoints and the bound tenant's own, and nothing but
 * their health columns; RLS stays on everything else. Ids it does not answer for are absent
 * from the map (as are endpoints not checked yet): show them as "no health yet".
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import type { Health, HealthStatus } from './health-rules.js';

interface HealthRow {
  endpoint_id: string;
  status: HealthStatus;
  checked_at: Date;
  latency_ms: number | null;
  error: string | null;
}

/** One statement, whatever the number of ids; in `em`'s transaction if one is open. */
export async function endpointHealthByIds(em: EntityManager, endpointIds: readonly string[]): Promise<Map<string, Health>> {
  if (endpointIds.length === 0) return new Map();
  const rows = await boundSql<HealthRow>(em, 'select * from endpoint_health(?::uuid[])', [pgArray(endpointIds)]);
  return new Map(
    rows.map((row) => [row.endpoint_id, { status: row.status, lastCheckedAt: new Date(row.checked_at), latencyMs: row.latency_ms, lastError: row.error }]),
  );
}
