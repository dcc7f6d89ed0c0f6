/** Ingestion: documents in, live progress out. */
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { IngestionJob } from '../domains/ingestion/ingestion-job.entity.js';
import { outcomeOf, toUpdate, snapshotOf, type DocumentOutcome, type ProgressUpdate } from '../domains/ingestion/progress.js';
import { PARSE_FAILURE_REASONS, type ParseFailureReason } from '../domains/ingestion/parse-thread.js';
import { INGESTION_JOB_KINDS, INGESTION_JOB_STATUSES, INGESTION_STAGES, ITEM_OUTCOMES, ITEM_STATUSES, jobStatus } from '../domains/ingestion/stages.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { DatasetRef } from './datasets.js';
import { toConnection } from './pagination.js';
import { bounded, boundedList } from './string-bounds.js';

const IngestionStageEnum = builder.enumType('IngestionStage', {
  values: INGESTION_STAGES,
  description:
    'QUEUED → PARSING → CHUNKING → INDEXING → EMBEDDING → COMPLETED | FAILED | CANCELLED. EMBEDDING only for a dataset with an embedding model; a REEMBED job goes from QUEUED to EMBEDDING.',
});
const IngestionJobKindEnum = builder.enumType('IngestionJobKind', {
  values: INGESTION_JOB_KINDS,
  description: 'INGEST: an ingestDocuments call; REEMBED: embedding the dataset’s chunks again (new embedding model, or reembedDataset).',
});
const IngestionJobStatusEnum = builder.enumType('IngestionJobStatus', {
  values: INGESTION_JOB_STATUSES,
  description:
    'The job in one word: QUEUED, RUNNING, then COMPLETED (no input failed), COMPLETED_WITH_FAILURES (some inputs failed, the rest are indexed: see `documentsFailed` and each document’s `error`), FAILED or CANCELLED.',
});
const DocumentStatusEnum = builder.enumType('IngestionDocumentStatus', { values: ITEM_STATUSES });
const DocumentOutcomeEnum = builder.enumType('IngestionDocumentOutcome', {
  values: ITEM_OUTCOMES,
  description: 'INDEXED: new; REPLACED: changed content replaced the old chunks; UNCHANGED: same content already there.',
});
const FailureReasonEnum = builder.enumType('IngestionFailureReason', {
  values: PARSE_FAILURE_REASONS,
  description:
    'Why an input FAILED: PARSE_ERROR: not valid for its format; PARSE_LIMIT: over a structural bound (nesting, columns, line length); PARSE_TIMEOUT: over the time budget; PARSE_MEMORY: over the memory budget. Final: the queue does not retry it.',
});
const CsvModeEnum = builder.enumType('CsvMode', { values: ['ROW', 'FILE'] as const });

const DocumentOutcomeRef = builder.objectRef<DocumentOutcome>('IngestionDocument').implement({
  description: 'One input of a job (a file or an inline document) and what became of it.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position in the call: files first, then inline documents.' }),
    name: t.exposeString('name'),
    status: t.field({ type: DocumentStatusEnum, resolve: (outcome) => outcome.status }),
    outcome: t.field({ type: DocumentOutcomeEnum, nullable: true, resolve: (outcome) => outcome.outcome }),
    documents: t.exposeInt('documents', { description: 'Stored documents it became (a CSV file may become many).' }),
    chunks: t.exposeInt('chunks'),
    error: t.exposeString('error', { nullable: true }),
    reason: t.field({ type: FailureReasonEnum, nullable: true, resolve: (outcome) => outcome.reason as ParseFailureReason | null }),
    sequence: t.exposeInt('sequence', { description: 'The job sequence at which this outcome was recorded.' }),
  }),
});

/** Fields a job and a progress event share. */
const ProgressFields = builder.interfaceRef<ProgressUpdate>('IngestionProgressFields').implement({
  fields: (t) => ({
    jobId: t.id({ description: "The job's global id.", resolve: (update) => encodeGlobalID('IngestionJob', update.jobId) }),
    stage: t.field({ type: IngestionStageEnum, resolve: (update) => update.stage }),
    status: t.field({ type: IngestionJobStatusEnum, resolve: (update) => jobStatus(update.stage, update.documentsFailed) }),
    kind: t.field({ type: IngestionJobKindEnum, resolve: (update) => update.kind }),
    documentsTotal: t.exposeInt('documentsTotal'),
    documentsDone: t.exposeInt('documentsDone', { description: 'Inputs settled, failed ones included.' }),
    documentsFailed: t.exposeInt('documentsFailed'),
    chunksDone: t.exposeInt('chunksDone'),
    bytesDone: t.exposeInt('bytesDone', { description: 'Input bytes of the inputs settled (durable: their outcomes are recorded).' }),
    bytesProcessed: t.exposeInt('bytesProcessed', {
      description:
        'bytesDone plus a share of each input not yet settled for the steps it has been through (parsed, chunked); reaches bytesTotal only when the last input is settled, and never goes back while the job runs (not even when a worker dies and the job resumes).',
    }),
    bytesTotal: t.exposeInt('bytesTotal'),
    chunksEmbedded: t.exposeInt('chunksEmbedded', { description: 'EMBEDDING: chunks given a vector by this job.' }),
    chunksToEmbed: t.exposeInt('chunksToEmbed', { description: 'EMBEDDING: chunksEmbedded plus the chunks still without a vector when the stage (re)started.' }),
    percent: t.exposeFloat('percent', { description: 'bytesProcessed / bytesTotal (REEMBED jobs: chunksEmbedded / chunksToEmbed), 0 to 100.' }),
    etaSeconds: t.exposeInt('etaSeconds', { nullable: true, description: 'From the rate so far; null until there is one.' }),
    bytesPerSecond: t.exposeInt('bytesPerSecond', {
      nullable: true,
      description: 'INGEST jobs: input bytes settled per second since the job started; null until there is a rate and once the job has ended.',
    }),
    error: t.exposeString('error', { nullable: true }),
    errorReason: t.exposeString('errorReason', {
      nullable: true,
      description: 'For a job FAILED in EMBEDDING: EMBEDDING_TIMEOUT, EMBEDDING_HTTP_ERROR, EMBEDDING_NETWORK, EMBEDDING_BAD_RESPONSE, ...; for a REEMBED job CANCELLED because the dataset\'s embedding model changed again: SUPERSEDED (docs/errors.md).',
    }),
    sequence: t.exposeInt('sequence', { description: 'Grows with every recorded change; resume with `after:`.' }),
  }),
});

const ProgressRef = builder.objectRef<ProgressUpdate>('IngestionProgress').implement({
  interfaces: [ProgressFields],
  description: 'A progress event. `documents` holds the inputs settled since the previous event (or since `after`).',
  fields: (t) => ({
    documents: t.field({ type: [DocumentOutcomeRef], resolve: (update) => update.documents }),
  }),
});

export const IngestionJobRef = builder.loadableNodeRef('IngestionJob', {
  id: { resolve: (job: IngestionJob) => job.id },
  load: (ids: string[], ctx) => ctx.services.ingestionProgress.byIds(ids),
});

IngestionJobRef.implement({
  description: 'One ingestDocuments call (or re-embedding of a dataset) and its progress.',
  authScopes: (job) => ({ $all: { tenant: job.tenant.id, permission: 'tenant:read' } }),
  fields: (t) => ({
    dataset: t.field({ type: DatasetRef, resolve: (job) => job.dataset.id }),
    progress: t.field({ type: ProgressRef, resolve: (job) => toUpdate(snapshotOf(job), []) }),
    stage: t.field({ type: IngestionStageEnum, resolve: (job) => job.stage }),
    status: t.field({ type: IngestionJobStatusEnum, resolve: (job) => jobStatus(job.stage, job.documentsFailed) }),
    documentsFailed: t.exposeInt('documentsFailed', { description: 'Inputs that FAILED (each names its reason in `documents`).' }),
    documents: t.field({
      type: [DocumentOutcomeRef],
      description: 'Every input with its outcome, in order.',
      resolve: async (job, _args, ctx) => (await ctx.services.ingestionProgress.items(job.id)).map(outcomeOf),
    }),
    chunkSize: t.int({ resolve: (job) => job.options.chunking.size, description: 'In characters.' }),
    chunkOverlap: t.int({ resolve: (job) => job.options.chunking.overlap, description: 'In characters.' }),
    attempts: t.exposeInt('attempts'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const InlineDocumentInput = builder.inputType('InlineDocumentInput', {
  fields: (t) => ({
    // Kept as a digest in the audit trail: a title may name a person, and the trail outlives the document.
    title: t.string({ required: true, ...displayText('title', 'text'), description: 'Also names the document in its dataset: the same title again replaces it.' }),
    text: t.string({ required: true, ...audited.text }),
    mimeType: t.string({ required: false, description: 'How to parse `text`; default text/plain.', ...bounded('keyword') }),
    metadata: t.field({ type: 'JSONObject', required: false, ...audited.text }),
  }),
});

const IngestionOptionsInput = builder.inputType('IngestionOptionsInput', {
  fields: (t) => ({
    chunkSize: t.int({ required: false, description: 'Chunk size in characters (100–20000, default 1000); a rest under half of it at the end of a document joins the last chunk, which may then reach 1.5 × chunkSize.' }),
    chunkOverlap: t.int({ required: false, description: 'Characters repeated between neighbouring chunks (default 150, at most half of chunkSize).' }),
    jsonTextField: t.string({ required: false, description: 'JSON/JSONL: the field with the text (dotted path, default "text").', ...bounded('keyword') }),
    jsonTitleField: t.string({ required: false, description: 'JSON/JSONL: the title field (default "title").', ...bounded('keyword') }),
    jsonIdField: t.string({ required: false, description: 'JSON/JSONL: a stable id that names each record (default: its position).', ...bounded('keyword') }),
    csvMode: t.field({ type: CsvModeEnum, required: false, description: 'One document per ROW (default) or per FILE.' }),
    csvTextColumns: t.stringList({ required: false, description: 'Columns with the text (default: all, as "column: value" lines).', ...boundedList('keyword') }),
    csvTitleColumn: t.string({ required: false, ...bounded('keyword') }),
    csvIdColumn: t.string({ required: false, description: 'A stable id per row (default: the row number).', ...bounded('keyword') }),
  }),
});

builder.queryFields((t) => ({
  ingestionJob: t.field({
    type: IngestionJobRef,
    nullable: true,
    authScopes: { permission: 'tenant:read' },
    args: { id: t.arg.globalID({ required: true, for: [IngestionJobRef] }) },
    resolve: async (_root, { id }, ctx) => (await ctx.services.ingestionProgress.byIds([id.id]))[0] ?? null,
  }),
  ingestionJobs: t.connection({
    type: IngestionJobRef,
    authScopes: { permission: 'tenant:read' },
    args: { datasetId: t.arg.globalID({ required: true, for: [DatasetRef] }) },
    resolve: async (_root, { datasetId, ...page }, ctx) => toConnection(await ctx.services.ingestionProgress.list(datasetId.id, page)),
  }),
}));

builder.mutationFields((t) => ({
  ingestDocuments: t.field({
    type: IngestionJobRef,
    description: 'Queues files (multipart upload) and inline documents for ingestion; returns the job at once. RATE_LIMITED (QUEUED_JOBS) when the tenant has SLUICE_INGEST_MAX_QUEUED_JOBS jobs queued or running.',
    authScopes: { permission: 'data:write' },
    args: {
      datasetId: t.arg.globalID({ required: true, for: [DatasetRef] }),
      files: t.arg({ type: ['File'], required: false }),
      fileNames: t.arg.stringList({
        required: false,
        description:
          "The names to keep the files under, in the files' order: a path below the folder uploaded, say (multipart parsers keep only the last segment of a file's own name). Omitted, or for files past its end: each file's own name.",
        ...boundedList('fileName'),
      }),
      documents: t.arg({ type: [InlineDocumentInput], required: false }),
      options: t.arg({ type: IngestionOptionsInput, required: false }),
    },
    resolve: (_root, { datasetId, files, fileNames, documents, options }, ctx) =>
      ctx.services.ingestionInput.ingest(datasetId.id, files ?? [], documents ?? [], options ?? undefined, fileNames ?? undefined),
  }),
  cancelIngestion: t.field({
    type: IngestionJobRef,
    description: 'Stops the job: the input in progress finishes, the rest are CANCELLED (and can be retried).',
    authScopes: { permission: 'data:write' },
    args: { jobId: t.arg.globalID({ required: true, for: [IngestionJobRef] }) },
    resolve: (_root, { jobId }, ctx) => ctx.services.ingestionCommands.cancel(jobId.id),
  }),
  reembedDataset: t.field({
    type: IngestionJobRef,
    description:
      'Queues a REEMBED job: embeds the chunks without a vector by the dataset’s embedding model (after a failed EMBEDDING stage, say); while the dataset has one queued or running, answers that job instead. BAD_USER_INPUT (NO_EMBEDDING_MODEL) for a keyword-only dataset; RATE_LIMITED (QUEUED_JOBS) when the tenant has SLUICE_INGEST_MAX_QUEUED_JOBS jobs queued or running.',
    authScopes: { permission: 'data:write' },
    args: { datasetId: t.arg.globalID({ required: true, for: [DatasetRef] }) },
    resolve: (_root, { datasetId }, ctx) => ctx.services.reembedding.reembed(datasetId.id),
  }),
  retryIngestion: t.field({
    type: IngestionJobRef,
    description:
      'Runs the failed and cancelled inputs of an ended job again: the same job, QUEUED again. CONFLICT when it has none; ' +
      'for a job that failed in its EMBEDDING stage, `reason` EMBEDDING_FAILED and `retryWith` reembedDataset (which embeds the chunks left, as a new job).',
    authScopes: { permission: 'data:write' },
    args: { jobId: t.arg.globalID({ required: true, for: [IngestionJobRef] }) },
    resolve: (_root, { jobId }, ctx) => ctx.services.ingestionCommands.retry(jobId.id),
  }),
}));

builder.subscriptionFields((t) => ({
  ingestionProgress: t.field({
    type: ProgressRef,
    description:
      'The job now, then each change (at most about 10 a second), completing when the job ends. ' +
      'Reconnecting with `after: <last sequence>` replays the document outcomes missed meanwhile.',
    authScopes: { permission: 'tenant:read' },
    args: {
      jobId: t.arg.globalID({ required: true, for: [IngestionJobRef] }),
      after: t.arg.int({ required: false, description: 'The last sequence the client saw (0 or more).' }),
    },
    // A plain async function: refusing here ends this operation only, not the whole socket.
    subscribe: (_root, { jobId, after }, ctx) => ctx.services.ingestionProgress.follow(jobId.id, after ?? null),
    resolve: (update) => update,
  }),
  datasetIngestion: t.field({
    type: ProgressRef,
    description: "Progress of every job of a dataset: running jobs' state at once, then each change.",
    authScopes: { permission: 'tenant:read' },
    args: { datasetId: t.arg.globalID({ required: true, for: [DatasetRef] }) },
    subscribe: (_root, { datasetId }, ctx) => ctx.services.ingestionProgress.followDataset(datasetId.id),
    resolve: (update) => update,
  }),
}));
