/**
 * Retention, run daily by the job worker (as the owner role) and by `sluice retention`:
 *
 * - Audit events older than their tenant's `auditRetentionDays` (90 for the platform's chain)
 *   go, always as a prefix of the chain (by sequence, so the remaining chain stays whole); a
 *   monthly partition whose every event has expired is dropped whole, anything else is
 *   deleted row by row. Each chain head records where the kept chain now starts and the hash
 *   before it, so verification of what remains still passes.
 * - Usage records and policy decisions older than `usageRetentionDays` are deleted.
 * - Monthly audit partitions are made three months ahead.
 */
import type pg from 'pg';
import { PLATFORM_CHAIN } from './audit-log.js';

const PLATFORM_RETENTION_DAYS = 90;

export interface RetentionReport {
  partitionsDropped: string[];
  auditEventsDeleted: number;
  usageRecordsDeleted: number;
  policyDecisionsDeleted: number;
}

type Client = Pick<pg.Client, 'query'>;

export async function applyRetention(client: Client, now = new Date()): Promise<RetentionReport> {
  const report: RetentionReport = { partitionsDropped: [], auditEventsDeleted: 0, usageRecordsDeleted: 0, policyDecisionsDeleted: 0 };
  await client.query('begin');
  try {
    await client.query('select ensure_audit_partitions($1::date, 3)', [now.toISOString()]);
    // Per chain: the first sequence number to keep (every event before it has expired).
    const { rows: chains } = await client.query<{ tenant_id: string; keep_from: string | null; head_seq: string }>(
      `select h.tenant_id, h.seq as head_seq,
              (select coalesce(min(e.seq), h.seq + 1) from audit_events e
                where e.tenant_id = h.tenant_id and e.created_at >= $1::timestamptz - make_interval(days => coalesce(t.audit_retention_days, $2))) as keep_from
         from audit_chain_heads h left join tenants t on t.id = h.tenant_id`,
      [now.toISOString(), PLATFORM_RETENTION_DAYS],
    );
    for (const chain of chains) {
      if (!chain.keep_from) continue;
      const { rows } = await client.query<{ hash: Buffer }>('select hash from audit_events where tenant_id = $1 and seq = $2', [chain.tenant_id, String(BigInt(chain.keep_from) - 1n)]);
      if (!rows[0]) continue; // nothing before keep_from is left
      await client.query('update audit_chain_heads set retained_from_seq = $2, retained_prev_hash = $3 where tenant_id = $1 and retained_from_seq < $2', [
        chain.tenant_id,
        chain.keep_from,
        rows[0].hash,
      ]);
    }
    report.partitionsDropped = await dropExpiredPartitions(client);
    const deleted = await client.query(
      `delete from audit_events e using audit_chain_heads h where e.tenant_id = h.tenant_id and e.seq < h.retained_from_seq`,
    );
    report.auditEventsDeleted = deleted.rowCount ?? 0;
    for (const [table, key] of [['usage_records', 'usageRecordsDeleted'], ['policy_decisions', 'policyDecisionsDeleted']] as const) {
      const result = await client.query(
        `delete from ${table} r using tenants t where r.tenant_id = t.id and r.created_at < $1::timestamptz - make_interval(days => t.usage_retention_days)`,
        [now.toISOString()],
      );
      report[key] = result.rowCount ?? 0;
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
  return report;
}

/** Monthly partitions none of whose events any chain keeps: dropped rather than emptied. */
async function dropExpiredPartitions(client: Client): Promise<string[]> {
  const { rows: partitions } = await client.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'audit_events'::regclass and c.relname ~ '^audit_events_\\d{4}_\\d{2}$' order by c.relname`,
  );
  const dropped: string[] = [];
  for (const { name } of partitions) {
    const { rows } = await client.query<{ kept: boolean; empty: boolean }>(
      `select exists (select 1 from ${name} e join audit_chain_heads h on h.tenant_id = e.tenant_id where e.seq >= h.retained_from_seq) as kept,
              not exists (select 1 from ${name}) as empty`,
    );
    // An empty partition may be one made ahead for the coming months: keep it.
    if (rows[0]!.kept || rows[0]!.empty) continue;
    await client.query(`drop table ${name}`);
    dropped.push(name);
  }
  return dropped;
}

export { PLATFORM_CHAIN };
