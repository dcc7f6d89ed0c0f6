/**
 * Document retention: a document is kept `documentRetentionHours` after it was last ingested
 * (its dataset's setting, else its tenant's; null in both: until deleted), then removed with
 * its chunks, embeddings and search statistics by `delete_documents`. Each removal is one audit
 * event (`document.expired`), appended in the same transaction as the removal, so the trail
 * never misses one and never records one that did not happen.
 *
 * Run as the owner role (across tenants) by the worker's `document-retention` task every five
 * minutes and by `sluice retention`; `now` is injectable (tests). Expired documents go in
 * batches, each its own transaction, locked with SKIP LOCKED so two workers never share one.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { auditEventRow } from '../audit/audit-log.js';

export interface DocumentRetentionReport {
  documentsDeleted: number;
  chunksDeleted: number;
}

type Client = Pick<pg.Client, 'query'>;

const BATCH = 500;

/** The retention job's actor in the audit trail. */
export const RETENTION_ACTOR = { kind: 'system', id: 'document-retention', email: null } as const;

export async function applyDocumentRetention(client: Client, secrets: SecretBox, now = new Date(), batch = BATCH): Promise<DocumentRetentionReport> {
  const report: DocumentRetentionReport = { documentsDeleted: 0, chunksDeleted: 0 };
  for (;;) {
    const removed = await removeBatch(client, secrets, now, batch);
    report.documentsDeleted += removed.documents;
    report.chunksDeleted += removed.chunks;
    if (removed.documents < batch) return report;
  }
}

interface Expired {
  id: string;
  tenant_id: string;
  dataset_id: string;
  hours: number;
  ingested_at: Date;
}

async function removeBatch(client: Client, secrets: SecretBox, now: Date, batch: number): Promise<{ documents: number; chunks: number }> {
  await client.query('begin');
  try {
    // The running ingestion jobs of the datasets with expired documents come first, as in
    // delete_documents (Migration20261204193000_document_delete_lock_order): a group of inputs
    // holds its job's row before the documents it replaces, so taking a document first and the
    // job after deadlocked with it (test/ingestion/delete-during-ingestion.test.ts). This waits
    // for the groups being written, then for no one: their next group waits for this batch.
    await client.query(
      `select 1 from ingestion_jobs j
        where j.stage not in ('COMPLETED', 'FAILED', 'CANCELLED')
          and j.dataset_id in (
            select s.id from datasets s join tenants t on t.id = s.tenant_id
             cross join lateral (select coalesce(s.document_retention_hours, t.document_retention_hours) as hours) r
             where r.hours is not null
               and exists (select 1 from documents d where d.dataset_id = s.id and d.updated_at < $1::timestamptz - make_interval(hours => r.hours)))
        order by j.id
          for update of j`,
      [now.toISOString()],
    );
    // Per dataset with a period, its oldest documents past it (the (dataset_id, updated_at) index).
    const { rows: expired } = await client.query<Expired>(
      `select d.id, d.tenant_id, d.dataset_id, r.hours, d.updated_at as ingested_at
         from datasets s join tenants t on t.id = s.tenant_id
        cross join lateral (select coalesce(s.document_retention_hours, t.document_retention_hours) as hours) r
        cross join lateral (
          select d.id, d.tenant_id, d.dataset_id, d.updated_at from documents d
           where d.dataset_id = s.id and d.updated_at < $1::timestamptz - make_interval(hours => r.hours)
           order by d.updated_at limit $2 for update skip locked
        ) d
        where r.hours is not null
        limit $2`,
      [now.toISOString(), batch],
    );
    if (expired.length === 0) {
      await client.query('commit');
      return { documents: 0, chunks: 0 };
    }
    const { rows: removed } = await client.query<{ id: string; chunk_count: number }>('select id, chunk_count from delete_documents($1::uuid[])', [
      expired.map((row) => row.id),
    ]);
    const gone = new Map(removed.map((row) => [row.id, row.chunk_count]));
    const createdAt = now.toISOString();
    // No file name or title: they may name a person; the ids say which document it was.
    const events = expired
      .filter((row) => gone.has(row.id))
      .map((row) =>
        auditEventRow(secrets, {
          id: randomUUID(),
          createdAt,
          storeEmails: true,
          record: {
            tenantId: row.tenant_id,
            action: 'document.expired',
            outcome: 'ok',
            actor: RETENTION_ACTOR,
            details: {
              documentId: row.id,
              datasetId: row.dataset_id,
              chunks: gone.get(row.id),
              retentionHours: row.hours,
              ingestedAt: new Date(row.ingested_at).toISOString(),
            },
          },
        }),
      );
    if (events.length > 0) await client.query('select append_audit_events($1::jsonb)', [JSON.stringify(events)]);
    await client.query('commit');
    return { documents: removed.length, chunks: removed.reduce((sum, row) => sum + row.chunk_count, 0) };
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}
