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
