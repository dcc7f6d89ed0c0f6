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
}
