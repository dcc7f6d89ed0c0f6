/**
 * The stages an ingestion job moves through, in order; the last three are terminal. EMBEDDING
 * runs only for a dataset with an embedding model (and is the only stage of a re-embed job).
 */
export const INGESTION_STAGES = ['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'EMBEDDING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type IngestionStage = (typeof INGESTION_STAGES)[number];

export const TERMINAL_STAGES: readonly IngestionStage[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export function isTerminal(stage: IngestionStage): boolean {
  return TERMINAL_STAGES.includes(stage);
}

/** What happened to one input (a file or an inline document). */
export const ITEM_STATUSES = ['PENDING', 'PARSED', 'DONE', 'FAILED', 'CANCELLED'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** For a DONE input: whether its documents were new, replaced or already there. */
export const ITEM_OUTCOMES = ['INDEXED', 'REPLACED', 'UNCHANGED'] as const;
export type ItemOutcome = (typeof ITEM_OUTCOMES)[number];

/** INGEST: an `ingestDocuments` call; REEMBED: embedding a dataset's chunks again (a new embedding model, or a repair). */
export const INGESTION_JOB_KINDS = ['INGEST', 'REEMBED'] as const;
export type IngestionJobKind = (typeof INGESTION_JOB_KINDS)[number];

/**
 * A job's status in one word, for people and dashboards: the stage alone says COMPLETED for a
 * job that indexed some inputs and failed others, which reads as all good. QUEUED and RUNNING
 * until it ends; then COMPLETED (every input settled without failure),
 * COMPLETED_WITH_FAILURES (some, not all, inputs failed), FAILED or CANCELLED.
 */
export const INGESTION_JOB_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED'] as const;
export type IngestionJobStatus = (typeof INGESTION_JOB_STATUSES)[number];

export function jobStatus(stage: IngestionStage, documentsFailed: number): IngestionJobStatus {
  if (stage === 'QUEUED') return 'QUEUED';
  if (stage === 'COMPLETED') return documentsFailed > 0 ? 'COMPLETED_WITH_FAILURES' : 'COMPLETED';
  if (stage === 'FAILED' || stage === 'CANCELLED') return stage;
  return 'RUNNING';
}
