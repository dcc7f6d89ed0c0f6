/**
 * Progress of an ingestion job as clients see it, and the bus it travels on.
 *
 * The database is the truth: a worker records every change (stage, an input's outcome, a step
 * through inputs not yet settled: processed-bytes.ts) with
 * the job's next `sequence` and only then publishes it. Published events are hints that save
 * subscribers a read; a subscriber that misses one (a gap in `previousSequence`) or hears
 * nothing for a while reads the job again, so a lost event delays an update but loses none.
 */
import type { DatasetChangeMessage } from '../../platform/events/event-bus.js';
import type { IngestionJob } from './ingestion-job.entity.js';
import type { IngestionItem } from './ingestion-item.entity.js';
import { isTerminal, type IngestionJobKind, type IngestionStage, type ItemOutcome, type ItemStatus } from './stages.js';

export interface DocumentOutcome {
  /** The input's position in the `ingestDocuments` call (files first, then inline documents). */
  index: number;
  name: string;
  status: ItemStatus;
  outcome: ItemOutcome | null;
  documents: number;
  chunks: number;
  error: string | null;
  /** For a FAILED input: PARSE_ERROR, PARSE_LIMIT, PARSE_TIMEOUT or PARSE_MEMORY. */
  reason: string | null;
  sequence: number;
}

export interface JobSnapshot {
  jobId: string;
  tenantId: string;
  datasetId: string;
  kind: IngestionJobKind;
  stage: IngestionStage;
  documentsTotal: number;
  documentsDone: number;
  documentsFailed: number;
  chunksDone: number;
  bytesDone: number;
  /** `bytesDone` plus credit for the steps inputs not yet settled have been through (processed-bytes.ts). */
  bytesProcessed: number;
  bytesTotal: number;
  chunksEmbedded: number;
  chunksToEmbed: number;
  error: string | null;
  errorReason: string | null;
  sequence: number;
  startedAt: string | null;
}

export interface ProgressEvent {
  snapshot: JobSnapshot;
  /** The sequence of the event before this one: a subscriber that saw less has missed something. */
  previousSequence: number;
  /** Inputs that finished since the previous event. */
  outcomes: DocumentOutcome[];
}

/** What a subscriber receives: the snapshot with derived figures and the outcomes it has not seen. */
export interface ProgressUpdate extends JobSnapshot {
  percent: number;
  etaSeconds: number | null;
  /** Input bytes settled per second since the job started; null until there is a rate, after it ends, and for REEMBED jobs. */
  bytesPerSecond: number | null;
  documents: DocumentOutcome[];
}

/**
 * The transport: in-process by default, Redis with REDIS_URL (platform/events/event-bus.ts).
 * It carries hints that a dataset itself changed too (datasets/dataset-feed.ts): the page that
 * follows a dataset's jobs follows the dataset, and both must cross processes alike.
 */
export interface ProgressBus {
  publish(event: ProgressEvent): void;
  /** Starts listening at once; the iterator yields events published from then on. */
  listen(topic: { jobId: string } | { datasetId: string }): AsyncIterableIterator<ProgressEvent>;
  publishDatasetChange(change: DatasetChangeMessage): void;
  listenDatasetChanges(datasetId: string): AsyncIterableIterator<DatasetChangeMessage>;
}

export function snapshotOf(job: IngestionJob): JobSnapshot {
  return {
    jobId: job.id,
    tenantId: job.tenant.id,
    datasetId: job.dataset.id,
    kind: job.kind,
    stage: job.stage,
    documentsTotal: job.documentsTotal,
    documentsDone: job.documentsDone,
    documentsFailed: job.documentsFailed,
    chunksDone: job.chunksDone,
    bytesDone: job.bytesDone,
    bytesProcessed: Math.max(job.bytesProcessed, job.bytesDone),
    bytesTotal: job.bytesTotal,
    chunksEmbedded: job.chunksEmbedded,
    chunksToEmbed: job.chunksToEmbed,
    error: job.error ?? null,
    errorReason: job.errorReason ?? null,
    sequence: job.sequence,
    startedAt: job.startedAt?.toISOString() ?? null,
  };
}

export type ItemSummary = Pick<IngestionItem, 'ordinal' | 'name' | 'status' | 'outcome' | 'documentCount' | 'chunkCount' | 'error' | 'errorReason' | 'sequence'>;

export function outcomeOf(item: ItemSummary): DocumentOutcome {
  return {
    index: item.ordinal,
    name: item.name,
    status: item.status,
    outcome: item.outcome ?? null,
    documents: item.documentCount,
    chunks: item.chunkCount,
    error: item.error ?? null,
    reason: item.errorReason ?? null,
    sequence: item.sequence ?? 0,
  };
}

export function toUpdate(snapshot: JobSnapshot, documents: DocumentOutcome[], now = Date.now()): ProgressUpdate {
  const done = isTerminal(snapshot.stage);
  // A re-embed job has no inputs: its progress is in chunks. An ingest job's counts the work
  // done inside inputs not yet settled too, so one large input does not jump from 0 to 100 %.
  const [doneUnits, totalUnits] = snapshot.kind === 'REEMBED' ? [snapshot.chunksEmbedded, snapshot.chunksToEmbed] : [snapshot.bytesProcessed, snapshot.bytesTotal];
  const fraction = totalUnits > 0 ? doneUnits / totalUnits : done ? 1 : 0;
  let etaSeconds: number | null = null;
  let bytesPerSecond: number | null = null;
  // An ingest job's bytes are all processed before its EMBEDDING stage: its rate says nothing of
  // the chunks left to embed (chunksEmbedded of chunksToEmbed), so no ETA rather than "0 s".
  const embeddingLeft = snapshot.kind === 'INGEST' && snapshot.stage === 'EMBEDDING' && snapshot.chunksEmbedded < snapshot.chunksToEmbed;
  if (!done && !embeddingLeft && snapshot.startedAt && doneUnits > 0) {
    const elapsed = (now - Date.parse(snapshot.startedAt)) / 1000;
    etaSeconds = Math.max(0, Math.round((elapsed * (totalUnits - doneUnits)) / doneUnits));
    if (snapshot.kind === 'INGEST' && elapsed > 0 && snapshot.bytesDone > 0) bytesPerSecond = Math.round(snapshot.bytesDone / elapsed);
  }
  return { ...snapshot, percent: Math.round(fraction * 1000) / 10, etaSeconds, bytesPerSecond, documents };
}
