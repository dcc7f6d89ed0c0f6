/**
 * The worker's side of a job: PARSING checks every pending input (parse errors and unchanged
 * content are settled here, and cost nothing later; an input that can only add a document is
 * left to CHUNKING unparsed: JobRun.parse), CHUNKING splits and writes the rest,
 * INDEXING merges the search index's pending entries, EMBEDDING (for a dataset with an
 * embedding model: embedding-stage.ts) gives the chunks without a vector one, then the job
 * ends. A re-embed job (kind REEMBED) has no inputs and runs EMBEDDING alone.
 *
 * What each stage does to an input is job-run.ts. Inputs are settled in groups, each in one
 * transaction that also updates the job and dataset counters (item-groups.ts): a worker that
 * dies mid-group loses only that group's uncommitted work, and the job resumes from the inputs
 * still pending, so the dataset ends with exactly its chunks. Progress inside a group (inputs
 * parsed, a large one's text chunked and its chunks written) is credited as it happens:
 * processed-bytes.ts.
 */
import type { Orm } from '../../db/orm.js';
import { TenantScope } from '../../db/tenant-scope.js';
import type { ProductMeter } from '../../platform/telemetry/product-metrics.js';
import type { DocumentParser } from './document-parser.js';
import { EmbeddingStage, type EmbedderFactory } from './embedding-stage.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { JobRun } from './job-run.js';
import { lockJob } from './job-lock.js';
import { snapshotOf, type JobSnapshot, type ProgressBus } from './progress.js';
import { ProgressReporter } from './progress-reporter.js';
import type { IngestPayload } from './queue.js';
import { isTerminal } from './stages.js';
import { WriteRate } from './write-rate.js';
import { DatasetChunkWriter } from './writer.js';

export interface PipelineDependencies {
  /** The app role's ORM: each job opens a tenant scope on it for the job's tenant. */
  orm: Orm;
  progress: ProgressBus;
  progressIntervalMs: number;
  /** Parses and chunks in worker threads, within a time and memory budget per input. */
  parser: DocumentParser;
  /** Embeds with a dataset's embedding model (its key opened, usage priced). */
  embedders: EmbedderFactory;
  /** The vector sizes the EMBEDDING stage builds an HNSW index for (SLUICE_VECTOR_INDEX_DIMENSIONS); any other is searched exactly. */
  vectorIndexDimensions: ReadonlySet<number>;
  /** Counts each settled input's bytes, documents and chunks for `/metrics`; absent: not counted. */
  meter?: Pick<ProductMeter, 'ingestedInput'>;
  /** How often a job waiting on a model server is looked at, to abandon the call once it is cancelled (the worker's heartbeat). */
  watchMs: number;
  /** The worker's chunk INSERT rate, learned across its jobs (write-rate.ts); absent: learned per job. */
  writeRate?: WriteRate;
  /** Rows (documents and chunks) one group of inputs writes at most, unless one input writes more alone (SLUICE_INGEST_GROUP_ROWS); absent: GROUP_ROWS. */
  groupRows?: number;
}

/** Runs the job on from where it is; resolves to how it ended (COMPLETED or FAILED), or null if it stopped short (cancelled, deleted, already ended). */
export async function runIngestionJob(deps: PipelineDependencies, payload: IngestPayload): Promise<JobSnapshot | null> {
  const scope = TenantScope.open(deps.orm, { tenantId: payload.tenantId, userId: null });
  try {
    return await runInScope(scope, deps, payload);
  } finally {
    scope.close();
  }
}

async function runInScope(scope: TenantScope, deps: PipelineDependencies, payload: IngestPayload): Promise<JobSnapshot | null> {
  const start = await scope.write(async (tx) => {
    const job = await tx.findOne(IngestionJob, { id: payload.jobId });
    if (!job || isTerminal(job.stage)) return null;
    job.attempts += 1;
    job.startedAt ??= new Date();
    return snapshotOf(job);
  });
  if (!start) return null;
  const reporter = new ProgressReporter(deps.progress, deps.progressIntervalMs, start);
  try {
    const run = new JobRun(scope, payload.jobId, reporter, deps.parser, deps.writeRate ?? new WriteRate(), deps.meter);
    // A job resumed in EMBEDDING has settled its inputs already.
    if (start.kind === 'INGEST' && start.stage !== 'EMBEDDING') {
      if (!(await run.enter('PARSING'))) return null;
      await run.beginParsing();
      const parsing = await run.eachItem(
        'PENDING',
        (next) => run.parse(next),
        (tx, job) => ({ settle: (item, parsed) => run.check(tx, job, item, parsed), finish: async () => {} }),
        // An input PARSING leaves unparsed is read with its content once, in CHUNKING. A group's
        // parsed documents are held until it settles: bounded as CHUNKING's writes are.
        { needsContent: (header) => run.unparsedKey(header) === null, rowsOf: (parsed) => ('documents' in parsed ? parsed.documents.length : 0), maxRows: deps.groupRows },
      );
      if (parsing === 'stopped') return null;
      if (!(await run.enter('CHUNKING'))) return null;
      const chunking = await run.eachItem('PARSED', (next) => run.chunk(next), (tx, job, yieldCheck) => {
        const chunks = new DatasetChunkWriter(tx, job.tenant.id, job.dataset.id, { rate: run.writeRate, yieldCheck });
        return { settle: (item, chunked) => run.index(tx, job, item, chunked, chunks), finish: () => chunks.finish() };
      }, {
        keysOf: (chunked) => ('documents' in chunked ? chunked.documents.map((document) => document.sourceKey) : []),
        rowsOf: (chunked) => ('documents' in chunked ? chunked.documents.reduce((rows, document) => rows + 1 + document.chunks.length, 0) : 0),
        maxRows: deps.groupRows,
      });
      if (chunking === 'stopped') return null;
      if (!(await run.enter('INDEXING'))) return null;
      if (!(await run.mergeSearchIndex())) return null;
    }
    const embedding = await new EmbeddingStage(scope, payload.jobId, reporter, deps.embedders, deps.vectorIndexDimensions, deps.watchMs).run();
    if (embedding !== 'done') return null;
    return (await run.finish()) ?? null;
  } finally {
    reporter.flush();
  }
}

/**
 * The queue gave up on the job (its attempts are spent): the job ends FAILED with `message`,
 * and its subscribers hear it. A job that ended meanwhile is left as it is.
 */
export async function failIngestionJob(deps: Pick<PipelineDependencies, 'orm' | 'progress'>, payload: IngestPayload, message: string): Promise<void> {
  const scope = TenantScope.open(deps.orm, { tenantId: payload.tenantId, userId: null });
  const ended = await scope.write(async (tx) => {
    const job = await lockJob(tx, payload.jobId);
    if (!job || isTerminal(job.stage)) return undefined;
    Object.assign(job, { stage: 'FAILED', error: message.slice(0, 2000), finishedAt: new Date(), sequence: job.sequence + 1 });
    await tx.flush();
    return snapshotOf(job);
  });
  scope.close();
  if (ended) deps.progress.publish({ snapshot: ended, previousSequence: ended.sequence - 1, outcomes: [] });
}
