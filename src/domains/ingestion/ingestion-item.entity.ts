import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { ITEM_OUTCOMES, ITEM_STATUSES } from './stages.js';

/**
 * One input of a job (a file or an inline document), kept durably until it is processed so a
 * worker that dies loses nothing. `content` is cleared once the input is indexed; a failed
 * input keeps it, so the job can be retried. `sequence` is the job sequence at which its
 * outcome was recorded: what a reconnecting subscriber replays.
 */
export const IngestionItem = defineTenantOwnedEntity({
  name: 'IngestionItem',
  tableName: 'ingestion_items',
  properties: (p) => ({
    job: () => p.manyToOne(IngestionJob).deleteRule('cascade'),
    ordinal: p.integer(),
    name: p.text(),
    format: p.string().length(16),
    mimeType: p.string().length(100),
    content: p.text().nullable(),
    metadata: p.json<Record<string, unknown>>().default('{}'),
    byteCount: p.integer(),
    status: p.enum([...ITEM_STATUSES]).default('PENDING'),
    outcome: p.enum([...ITEM_OUTCOMES]).nullable(),
    documentCount: p.integer().default(0),
    chunkCount: p.integer().default(0),
    error: p.text().nullable(),
    /** Why a FAILED input failed: PARSE_ERROR, PARSE_LIMIT, PARSE_TIMEOUT or PARSE_MEMORY (parse-thread.ts). */
    errorReason: p.string().length(32).nullable(),
    sequence: p.bigint('number').nullable(),
    finishedAt: p.datetime().nullable(),
  }),
  uniques: [{ properties: ['tenant', 'job', 'ordinal'] }],
  indexes: [{ properties: ['job', 'sequence'] }],
});
export type IngestionItem = InferEntity<typeof IngestionItem>;
