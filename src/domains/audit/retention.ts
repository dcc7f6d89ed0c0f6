/**
 * Retention, run daily by the job worker (as the owner role) and by `sluice retention`:
 *
 * - Audit events older than their tenant's `auditRetentionDays` (90 for the platform's chain)
 *   go, always as a prefix of the chain (by sequence, so the remaining chain stays whole); a
 *   monthly partition whose every event has expired is dropped whole, anything else is
 *   deleted row by row. Each chain head records where the kept chain now starts and the hash
 *   before it, and each chain cut gets an `audit.retention_applied` event naming that cut, in
 *   the same transaction: the verifier accepts a chain that does not start at its first event
 *   only when such an event says where it was cut, so a removed head is never silent (attacker
 *   review: a 1-day retention once erased the settings change that set it, with no trace).
 * - Usage records and policy decisions older than `usageRetentionDays` are deleted.
 * - Monthly audit partitions are made three months ahead.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { auditEventRow, PLATFORM_CHAIN } from './audit-log.js';

const PLATFORM_RETENTION_DAYS = 90;
/** The action of the event each chain cut appends (chain-verifier.ts checks the cut against it). */
export const RETENTION_APPLIED = 'audit.retention_applied';
export const AUDIT_RETENTION_ACTOR = { kind: 'system', id: 'audit-retention', email: null } as const;

export interface RetentionReport {
  partitionsDropped: string[];
  auditEventsDeleted: number;
  usageRecordsDeleted: number;
  policyDecisionsDeleted: number;
}

type Client = Pick<pg.Client, 'query'>;

interface Cut {
  tenantId: string;
  removedEvents: number;
  fromSeq: string;
  keptFromSeq: string;
  lastRemovedHash: Buffer;
  retentionDays: number;
  cutOff: Date;
}

export async function applyRetention(client: Client, secrets: SecretBox, now = new Date()): Promise<RetentionReport> {
  const report: RetentionReport = { partitionsDropped: [], auditEventsDeleted: 0, usageRecordsDeleted: 0, policyDecisionsDeleted: 0 };
  await client.query('begin');
  try {
    await client.query('select ensure_audit_partitions($1::date, 3)', [now.toISOString()]);
    // Per chain: the first sequence number to keep (every event before it has expired).
    const { rows: chains } = await client.query<{ tenant_id: string; keep_from: string | null; days: number; cut_off: Date }>(
      `select h.tenant_id, d.days, $1::timestamptz - make_interval(days => d.days) as cut_off,
              (select coalesce(min(e.seq), h.seq + 1) from audit_events e
                where e.tenant_id = h.tenant_id and e.created_at >= $1::timestamptz - make_interval(days => d.days)) as keep_from
         from audit_chain_heads h left join tenants t on t.id = h.tenant_id
        cross join lateral (select coalesce(t.audit_retention_days, $2) as days) d`,
      [now.toISOString(), PLATFORM_RETENTION_DAYS],
    );
    const cuts: Cut[] = [];
    for (const chain of chains) {
      if (!chain.keep_from) continue;
      const { rows } = await client.query<{ hash: Buffer }>('select hash from audit_events where tenant_id = $1 and seq = $2', [chain.tenant_id, String(BigInt(chain.keep_from) - 1n)]);
      if (!rows[0]) continue; // nothing before keep_from is left
      const moved = await client.query('update audit_chain_heads set retained_from_seq = $2, retained_prev_hash = $3 where tenant_id = $1 and retained_from_seq < $2', [
        chain.tenant_id,
        chain.keep_from,
        rows[0].hash,
      ]);
      // A run beside this one made this cut first (and recorded it): the head's row lock waited for it.
      if (moved.rowCount !== 1) continue;
      const { rows: removed } = await client.query<{ n: number; first: string }>(
        'select count(*)::int as n, min(seq)::text as first from audit_events where tenant_id = $1 and seq < $2',
        [chain.tenant_id, chain.keep_from],
      );
      cuts.push({ tenantId: chain.tenant_id, removedEvents: removed[0]!.n, fromSeq: removed[0]!.first, keptFromSeq: chain.keep_from, lastRemovedHash: rows[0].hash, retentionDays: chain.days, cutOff: chain.cut_off });
    }
    report.partitionsDropped = await dropExpiredPartitions(client);
    const deleted = await client.query(
      `delete from audit_events e using audit_chain_heads h where e.tenant_id = h.tenant_id and e.seq < h.retained_from_seq`,
    );
    report.auditEventsDeleted = deleted.rowCount ?? 0;
    if (cuts.length > 0) await client.query('select append_audit_events($1::jsonb)', [JSON.stringify(cuts.map((cut) => retentionEvent(secrets, cut, now)))]);
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

/**
 * The record of one chain cut, appended after it: how many events went, the cut-off, the
 * retention setting in force (the `config.tenant.settings` event that set it may be among those
 * removed) and where the kept chain starts, with the hash its first event links to.
 */
function retentionEvent(secrets: SecretBox, cut: Cut, now: Date) {
  return auditEventRow(secrets, {
    id: randomUUID(),
    createdAt: now.toISOString(),
    storeEmails: true,
    record: {
      tenantId: cut.tenantId,
      action: RETENTION_APPLIED,
      outcome: 'ok',
      actor: AUDIT_RETENTION_ACTOR,
      details: {
        removedEvents: cut.removedEvents,
        fromSeq: cut.fromSeq,
        keptFromSeq: cut.keptFromSeq,
        lastRemovedHash: cut.lastRemovedHash.toString('hex'),
        retentionDays: cut.retentionDays,
        cutOff: new Date(cut.cutOff).toISOString(),
      },
    },
  });
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
