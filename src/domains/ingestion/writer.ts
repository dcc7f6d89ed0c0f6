/**
 * Writes parsed documents and their chunks with a few set-based statements per input (never
 * one INSERT per chunk): new documents in one INSERT, chunks in batches of rows decoded by
 * PostgreSQL from one JSON parameter, bound rather than inlined (see bound-sql.ts). Runs inside
 * the input's transaction.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql as sql, pgArray } from '../../db/bound-sql.js';
import type { IngestionItem } from './ingestion-item.entity.js';
import type { IngestionJob } from './ingestion-job.entity.js';
import type { ChunkedDocument } from './parse-thread.js';
import type { ItemOutcome } from './stages.js';

/** Rows per chunk INSERT, and the most text one statement carries. */
const BATCH_ROWS = 2000;
const BATCH_CHARS = 4 * 1024 * 1024;

interface StoredDocument {
  id: string;
  source_key: string;
  content_hash: string;
  chunk_count: number;
  byte_count: number;
}

export async function documentHashes(tx: EntityManager, datasetId: string, sourceKeys: string[]): Promise<Map<string, string>> {
  const rows = await sql<StoredDocument>(
    tx,
    'select source_key, content_hash from documents where dataset_id = ? and source_key = any(?::text[])',
    [datasetId, pgArray(sourceKeys)],
  );
  return new Map(rows.map((row) => [row.source_key, row.content_hash]));
}

export async function writeDocuments(
  tx: EntityManager,
  { job, item, documents }: { job: IngestionJob; item: IngestionItem; documents: ChunkedDocument[] },
): Promise<{ outcome: ItemOutcome; chunks: number }> {
  const datasetId = job.dataset.id;
  const tenantId = job.tenant.id;
  // Locks the dataset row: its counters change below, and its language picks the index config.
  const [dataset] = await sql<{ language: string }>(tx, 'select language from datasets where id = ? for update', [datasetId]);
  if (!dataset) throw new Error(`dataset ${datasetId} vanished under its job`);
  const stored = new Map(
    (
      await sql<StoredDocument>(
        tx,
        'select id, source_key, content_hash, chunk_count, byte_count from documents where dataset_id = ? and source_key = any(?::text[]) for update',
        [datasetId, pgArray(documents.map((document) => document.sourceKey))],
      )
    ).map((row) => [row.source_key, row]),
  );
  // The last of several documents with one key wins, as if they had come in one after another.
  const latest = [...new Map(documents.map((document) => [document.sourceKey, document])).values()];
  const changed = latest.filter((document) => stored.get(document.sourceKey)?.content_hash !== document.hash);
  const replaced = changed.filter((document) => stored.has(document.sourceKey));
  const added = changed.filter((document) => !stored.has(document.sourceKey));

  // Chunked in a parser thread (document-parser.ts), never here on the event loop.
  const chunked = changed.map((document) => ({ document, chunks: document.chunks, bytes: Buffer.byteLength(document.text) }));
  const byKey = new Map(chunked.map((entry) => [entry.document.sourceKey, entry]));

  if (replaced.length > 0) {
    const ids = replaced.map((document) => stored.get(document.sourceKey)!.id);
    await sql(tx, 'delete from chunks where document_id = any(?::uuid[])', [pgArray(ids)]);
  }
  const rows = changed.map((document) => ({
    id: stored.get(document.sourceKey)?.id ?? null,
    source_key: document.sourceKey,
    title: document.title,
    mime_type: item.mimeType,
    content_hash: document.hash,
    byte_count: byKey.get(document.sourceKey)!.bytes,
    chunk_count: byKey.get(document.sourceKey)!.chunks.length,
    metadata: document.metadata,
  }));
  const written = await sql<{ id: string; source_key: string }>(
    tx,
    `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
     select coalesce(r.id, gen_random_uuid()), ?, ?, r.source_key, r.title, r.mime_type, r.content_hash, r.byte_count, r.chunk_count, coalesce(r.metadata, '{}'), now(), now()
       from json_to_recordset(?::json) as r(id uuid, source_key text, title text, mime_type text, content_hash text, byte_count int, chunk_count int, metadata jsonb)
     on conflict (tenant_id, dataset_id, source_key) do update set
       title = excluded.title, mime_type = excluded.mime_type, content_hash = excluded.content_hash, byte_count = excluded.byte_count,
       chunk_count = excluded.chunk_count, metadata = excluded.metadata, updated_at = now()
     returning id, source_key`,
    [tenantId, datasetId, JSON.stringify(rows)],
  );
  const documentIds = new Map(written.map((row) => [row.source_key, row.id]));

  let batch: unknown[][] = [];
  let batchChars = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await sql(
      tx,
      `insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
       select gen_random_uuid(), ?, ?, r.d, r.o, r.c, r.s, r.e, ?::regconfig
         from json_to_recordset(?::json) as r(d uuid, o int, c text, s int, e int)`,
      [tenantId, datasetId, dataset.language, JSON.stringify(batch.map(([d, o, c, s, e]) => ({ d, o, c, s, e })))],
    );
    batch = [];
    batchChars = 0;
  };
  let chunkTotal = 0;
  for (const { document, chunks } of chunked) {
    const documentId = documentIds.get(document.sourceKey)!;
    for (const [ordinal, chunk] of chunks.entries()) {
      batch.push([documentId, ordinal, chunk.content, chunk.start, chunk.end]);
      batchChars += chunk.content.length;
      chunkTotal += 1;
      if (batch.length >= BATCH_ROWS || batchChars >= BATCH_CHARS) await flush();
    }
  }
  await flush();

  const chunkDelta = chunkTotal - replaced.reduce((sum, document) => sum + stored.get(document.sourceKey)!.chunk_count, 0);
  const byteDelta =
    chunked.reduce((sum, entry) => sum + entry.bytes, 0) - replaced.reduce((sum, document) => sum + stored.get(document.sourceKey)!.byte_count, 0);
  await sql(
    tx,
    `update datasets set document_count = document_count + ?, chunk_count = chunk_count + ?, byte_count = byte_count + ?,
       last_ingested_at = now(), updated_at = now() where id = ?`,
    [added.length, chunkDelta, byteDelta, datasetId],
  );
  const outcome: ItemOutcome = changed.length === 0 ? 'UNCHANGED' : replaced.length > 0 ? 'REPLACED' : 'INDEXED';
  return { outcome, chunks: chunkTotal };
}
