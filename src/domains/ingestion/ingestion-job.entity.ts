import type { InferEntity } from '@mikro-orm/core';
import { Dataset } from '../datasets/dataset.entity.js';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { User } from '../tenancy/user.entity.js';
import type { IngestionOptions } from './options.js';
import { INGESTION_JOB_KINDS, INGESTION_STAGES } from './stages.js';

/**
 * One `ingestDocuments` call and its progress. `sequence` grows with every recorded change
 * (a stage, an input's outcome, a step through inputs not yet settled), so a subscriber can resume after the last one it saw.
 * "Documents" here are the job's inputs: a file or an inline document (one CSV file may
 * become many stored documents).
 */
export const IngestionJob = defineTenantOwnedEntity({
  name: 'IngestionJob',
  tableName: 'ingestion_jobs',
  properties: (p) => ({
    dataset: () => p.manyToOne(Dataset).deleteRule('cascade'),
    kind: p.enum([...INGESTION_JOB_KINDS]).default('INGEST'),
    stage: p.enum([...INGESTION_STAGES]).default('QUEUED'),
    options: p.json<IngestionOptions>(),
    documentsTotal: p.integer(),
    documentsDone: p.integer().default(0),
    documentsFailed: p.integer().default(0),
    chunksDone: p.integer().default(0),
    bytesTotal: p.bigint('number'),
    bytesDone: p.bigint('number').default(0),
    /**
     * Input bytes worked through: `bytesDone` plus a share of each input not yet settled for the
     * steps it has been through (parsed, chunked); see processed-bytes.ts. Only ever raised
     * while the job runs, so it holds across a worker's crash; below `bytesTotal` until the last
     * input is settled.
     */
    bytesProcessed: p.bigint('number').default(0),
    /** EMBEDDING: chunks this job gave vectors, of `chunksToEmbed` (those without one when the stage began, plus these). */
    chunksEmbedded: p.integer().default(0),
    chunksToEmbed: p.integer().default(0),
    error: p.text().nullable(),
    /** For a FAILED job, what failed, coded (e.g. EMBEDDING_TIMEOUT); null for other endings. */
    errorReason: p.string().length(64).nullable(),
    sequence: p.bigint('number').default(0),
    /** How many times a worker has started this job (retries and crash recoveries). */
    attempts: p.integer().default(0),
    createdBy: () => p.manyToOne(User).deleteRule('set null').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  indexes: [
    { properties: ['tenant', 'dataset', 'createdAt'] },
    { properties: ['dataset'] },
    // A tenant's jobs not ended: counted at every enqueue (queue.ts), however many have ended.
    {
      name: 'ingestion_jobs_unended_index',
      expression: `create index "ingestion_jobs_unended_index" on "ingestion_jobs" ("tenant_id", "dataset_id", "kind") where "stage" not in ('COMPLETED', 'FAILED', 'CANCELLED')`,
    },
  ],
});
export type IngestionJob = InferEntity<typeof IngestionJob>;
