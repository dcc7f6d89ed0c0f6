/**
 * The process-wide bounds on ingestion (config.ts `ingestion`), as services see them. Its own
 * file so service-context.ts can name it without importing an ingestion service (which
 * imports service-context.ts back).
 */
export interface IngestionLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxRequestBytes: number;
  progressPollMs: number;
  /** A tenant's ingestion and re-embed jobs not yet ended, at most (SLUICE_INGEST_MAX_QUEUED_JOBS; queue.ts). */
  maxQueuedJobs: number;
}

/**
 * Rows (documents and chunks) one group of a job's inputs writes in its transaction, unless one
 * input writes more alone (SLUICE_INGEST_GROUP_ROWS; item-groups.ts). Items and bytes alone did
 * not bound a group's work: 8 inputs of 250 000 one-character records fit both and made one
 * transaction of 2 million documents and as many chunks, which a review saw run for many
 * minutes, report no input done until its commit, and outlast every cancel's lock timeout. A
 * full group of default-sized chunks (8 MB of input, about 10 500 chunks) is well inside it; a
 * group of one-chunk documents ends at about 16 000 of them.
 */
export const DEFAULT_GROUP_ROWS = 32_768;
