/**
 * EMBEDDING: gives every chunk of the dataset a vector by the dataset's embedding model.
 *
 * The chunks still without one are found by a NOT EXISTS query, a batch (the model's
 * `batchSize`) at a time in (document, ordinal) order, so a job resumed after a crash simply
 * goes on with what is missing. Each batch is embedded OUTSIDE any transaction (a slow model
 * server holds no lock and no connection), then written in one statement with
 * `on conflict do nothing` on (tenant, chunk, model), in the transaction that also counts the
 * job's progress and records the call's usage: exactly once per chunk, whatever crashes.
 *
 * When no chunk is missing a vector, the model becomes the dataset's serving model and the
 * vectors of every other model are deleted (one switch, in one transaction: queries use the
 * old model's vectors until then). A model server that fails after its retries fails the job
 * with a coded reason (EMBEDDING_TIMEOUT, ...); chunks and keyword search are untouched, and a
 * later job or `reembedDataset` completes the missing vectors.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import { ensureVectorIndex } from '../../db/vector-index.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { dimensionChanged, storedVectorDimension } from '../datasets/vector-dimension.js';
import { UsageRecord } from '../endpoints/usage-record.entity.js';
import { UpstreamError } from '../errors.js';
import { Model } from '../models/model.entity.js';
import type { Embedder } from '../models/model.service.js';
import { unitVectorLiteral } from '../models/unit-vector.js';
import type { IngestionJob } from './ingestion-job.entity.js';
import { lockJob } from './job-lock.js';
import { whileJobRuns } from './job-watch.js';
import { snapshotOf } from './progress.js';
import type { ProgressReporter } from './progress-reporter.js';
import { isTerminal } from './stages.js';

/** Makes the embedder of a stored model (models/model.service.ts embedderFor, with the process's keys and settings). */
export type EmbedderFactory = (model: Model) => Embedder;

/** How the stage ended: the job goes on to COMPLETED, was stopped (cancelled, deleted, superseded), or FAILED here. */
export type EmbeddingOutcome = 'done' | 'stopped' | 'failed';

interface PendingChunk {
  id: string;
  documentId: string;
  ordinal: number;
  content: string;
}

const MISSING = `
  from chunks c
 where c.tenant_id = ?::uuid and c.dataset_id = ?::uuid
   and not exists (select 1 from chunk_embeddings e where e.tenant_id = c.tenant_id and e.chunk_id = c.id and e.model_id = ?::uuid)`;

/** Before every document id: where a pass over the dataset starts. */
const START = { documentId: '00000000-0000-0000-0000-000000000000', ordinal: -1 };

export class EmbeddingStage {
  constructor(
    private readonly scope: TenantScope,
    private readonly jobId: string,
    private readonly reporter: ProgressReporter,
    private readonly embedders: EmbedderFactory,
    /** The vector sizes given an HNSW index (SLUICE_VECTOR_INDEX_DIMENSIONS); the tenant's model picks the size, so it cannot choose to build one. */
    private readonly indexDimensions: ReadonlySet<number>,
    /** How often the job is looked at while a batch is at the model server (job-watch.ts). */
    private readonly watchMs: number,
  ) {}

  /** The job's tenant and kind, read when the stage begins. */
  private tenantId = '';
  private kind: IngestionJob['kind'] = 'INGEST';

  /** Runs the stage if the dataset has an embedding model; 'done' at once if it has none. */
  async run(): Promise<EmbeddingOutcome> {
    const entered = await this.enter();
    if (entered === 'stopped' || entered === 'none') return entered === 'none' ? 'done' : 'stopped';
    const { model, datasetId } = entered;
    const embedder = this.embedders(model);
    const batchSize = Number(model.config.batchSize ?? 64);
    // Every vector a model gives a dataset has one length: the search compares vectors of one.
    let dimension = await this.scope.read((tx) => storedVectorDimension(tx, this.tenantId, model.id, datasetId));
    let cursor = START;
    // Two passes at most: the second only if chunks appeared behind the cursor (they cannot while
    // the dataset's queue runs one job at a time, but the switch below is only ever made exact).
    for (let pass = 0; pass < 2; pass += 1) {
      for (;;) {
        const batch = await this.scope.read((tx) => this.pending(tx, datasetId, model.id, cursor, batchSize));
        if (batch.length === 0) break;
        cursor = { documentId: batch.at(-1)!.documentId, ordinal: batch.at(-1)!.ordinal };
        let embedded: Awaited<ReturnType<Embedder['embed']>> | 'stopped';
        const started = performance.now();
        try {
          // Abandoned when the job is cancelled (or its dataset deleted) while the server works.
          embedded = await whileJobRuns(this.scope, this.jobId, this.watchMs, (signal) => embedder.embed(batch.map((chunk) => chunk.content), signal, { dimension }));
        } catch (error) {
          if (error instanceof UpstreamError) return this.fail(error);
          throw error;
        }
        if (embedded === 'stopped') return 'stopped';
        const length = embedded.vectors[0]?.length;
        if (dimension !== undefined && length !== undefined && length !== dimension) return this.fail(dimensionChanged(length, dimension));
        dimension ??= length;
        const latencyMs = Math.round(performance.now() - started);
        const written = await this.write(datasetId, model.id, batch, embedded.vectors, { ...embedded.usage, latencyMs });
        if (written === 'stopped') return 'stopped';
        if (written === 'superseded') return this.superseded();
      }
      const switched = await this.switchWhenComplete(datasetId, model.id);
      if (switched === 'superseded') return this.superseded();
      if (switched !== 'incomplete') return switched === 'stopped' ? 'stopped' : 'done';
      cursor = START;
    }
    return 'done';
  }

  /** Moves the job to EMBEDDING with its total; the dataset's embedding model, or why there is nothing to do. */
  private async enter(): Promise<{ model: Model; datasetId: string } | 'none' | 'stopped'> {
    const entered = await this.scope.write(async (tx) => {
      const job = await lockJob(tx, this.jobId);
      if (!job || isTerminal(job.stage)) return 'stopped' as const;
      const dataset = await tx.findOne(Dataset, { id: job.dataset.id }, { populate: ['embeddingModel'], refresh: true });
      const model = dataset?.embeddingModel;
      if (!dataset || !model) return 'none' as const;
      this.tenantId = job.tenant.id;
      this.kind = job.kind;
      const [row] = await boundSql<{ missing: number }>(tx, `select count(*)::int as missing ${MISSING}`, [job.tenant.id, dataset.id, model.id]);
      Object.assign(job, { stage: 'EMBEDDING', chunksToEmbed: job.chunksEmbedded + row!.missing, sequence: job.sequence + 1 });
      await tx.flush();
      return { model, datasetId: dataset.id, snapshot: snapshotOf(job) };
    });
    if (typeof entered !== 'object') return entered;
    this.reporter.record(entered.snapshot);
    return entered;
  }

  private pending(tx: EntityManager, datasetId: string, modelId: string, after: typeof START, limit: number): Promise<PendingChunk[]> {
    return boundSql<PendingChunk>(
      tx,
      `select c.id, c.document_id as "documentId", c.ordinal, c.content ${MISSING}
         and (c.document_id, c.ordinal) > (?::uuid, ?::int)
       order by c.document_id, c.ordinal
       limit ?`,
      [this.tenantId, datasetId, modelId, after.documentId, after.ordinal, limit],
    );
  }

  /**
   * One batch's vectors (unit length), the job's progress and the call's usage, in one
   * transaction. A chunk deleted meanwhile is skipped (the join); one written already is kept
   * (on conflict do nothing). 'superseded' when the dataset's embedding model changed meanwhile:
   * the re-embed job queued behind this one takes over; the call's usage is recorded all the same.
   */
  private async write(
    datasetId: string,
    modelId: string,
    batch: PendingChunk[],
    vectors: Float32Array[],
    usage: { promptTokens: number; costMicros: number; latencyMs: number },
  ): Promise<'written' | 'stopped' | 'superseded'> {
    const written = await this.scope.write(async (tx) => {
      const job = await lockJob(tx, this.jobId);
      if (!job || isTerminal(job.stage)) return 'stopped' as const;
      const [dataset] = await boundSql<{ modelId: string | null }>(tx, 'select embedding_model_id as "modelId" from datasets where id = ?::uuid for share', [datasetId]);
      if (dataset?.modelId !== modelId) {
        // Its vectors are not stored, but the provider was called and charges for it.
        recordUsage(tx, job, datasetId, usage);
        await tx.flush();
        return 'superseded' as const;
      }
      // The dimension's HNSW index where pgvector exists and the operator lists it, built while it is still empty (db/vector-index.ts).
      await ensureVectorIndex(tx, vectors[0]!.length, this.indexDimensions);
      const inserted = await boundSql(
        tx,
        `insert into chunk_embeddings (id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at)
         select gen_random_uuid(), c.tenant_id, c.dataset_id, c.id, ?::uuid, ?::int, v.embedding::real[], now()
           from unnest(?::uuid[], ?::text[]) as v(chunk_id, embedding)
           join chunks c on c.tenant_id = ?::uuid and c.id = v.chunk_id
         on conflict (tenant_id, chunk_id, model_id) do nothing
         returning 1`,
        [modelId, vectors[0]!.length, pgArray(batch.map((chunk) => chunk.id)), pgArray(vectors.map(unitVectorLiteral)), job.tenant.id],
      );
      recordUsage(tx, job, datasetId, usage);
      Object.assign(job, { chunksEmbedded: job.chunksEmbedded + inserted.length, sequence: job.sequence + 1 });
      await tx.flush();
      return snapshotOf(job);
    });
    if (typeof written === 'string') return written;
    this.reporter.record(written);
    return 'written';
  }

  /** When every chunk has a vector by the model: it serves the dataset's semantic queries, the other models' vectors go. */
  private switchWhenComplete(datasetId: string, modelId: string): Promise<'switched' | 'incomplete' | 'stopped' | 'superseded'> {
    return this.scope.write(async (tx) => {
      const job = await lockJob(tx, this.jobId);
      if (!job || isTerminal(job.stage)) return 'stopped' as const;
      const [dataset] = await boundSql<{ modelId: string | null }>(tx, 'select embedding_model_id as "modelId" from datasets where id = ?::uuid for update', [datasetId]);
      if (dataset?.modelId !== modelId) return 'superseded' as const;
      const [row] = await boundSql<{ missing: number }>(tx, `select count(*)::int as missing ${MISSING}`, [job.tenant.id, datasetId, modelId]);
      if (row!.missing > 0) return 'incomplete' as const;
      await boundSql(tx, 'update datasets set serving_embedding_model_id = ?::uuid, updated_at = now() where id = ?::uuid', [modelId, datasetId]);
      await boundSql(tx, 'delete from chunk_embeddings where tenant_id = ?::uuid and dataset_id = ?::uuid and model_id <> ?::uuid', [job.tenant.id, datasetId, modelId]);
      return 'switched' as const;
    });
  }

  /**
   * The dataset's embedding model changed while the stage ran; the re-embed job that change
   * queued embeds the chunks by the new model. An INGEST job has done its work (its documents
   * are indexed) and goes on to COMPLETED. A REEMBED job's whole work was this model's vectors,
   * now never to serve: it ends CANCELLED with `errorReason` SUPERSEDED, so nobody reads a
   * COMPLETED job with part of its chunks embedded as a finished re-embedding.
   */
  private async superseded(): Promise<'done' | 'stopped'> {
    if (this.kind !== 'REEMBED') return 'done';
    const ended = await this.scope.write(async (tx) => {
      const job = await lockJob(tx, this.jobId);
      if (!job || isTerminal(job.stage)) return undefined;
      const [dataset] = await boundSql<{ modelId: string | null }>(tx, 'select embedding_model_id as "modelId" from datasets where id = ?::uuid', [job.dataset.id]);
      // Cleared, the dataset is keyword-only and no job follows; changed, the change's job embeds it.
      const message = dataset?.modelId
        ? "Superseded: the dataset's embedding model changed while this job ran; the re-embed job queued by that change embeds its chunks by the new model."
        : "Superseded: the dataset's embedding model was cleared while this job ran; the dataset is keyword-only now.";
      Object.assign(job, { stage: 'CANCELLED', error: message, errorReason: 'SUPERSEDED', finishedAt: new Date(), sequence: job.sequence + 1 });
      await tx.flush();
      return snapshotOf(job);
    });
    if (ended) this.reporter.record(ended);
    return 'stopped';
  }

  /** The model server failed after its retries: the job ends FAILED, saying so in words a client may see. */
  private async fail(error: UpstreamError): Promise<'failed' | 'stopped'> {
    const reason = `EMBEDDING_${String(error.details.reason ?? 'UPSTREAM_ERROR')}`.slice(0, 64);
    const ended = await this.scope.write(async (tx) => {
      const job = await lockJob(tx, this.jobId);
      if (!job || isTerminal(job.stage)) return undefined;
      // UpstreamError messages name no URL, key or answer body (providers/openai-http.ts).
      const message = `Embedding failed (${reason}): ${error.message}. The documents are indexed for keyword search; a later job or reembedDataset adds the missing vectors.`;
      Object.assign(job, { stage: 'FAILED', error: message.slice(0, 2000), errorReason: reason, finishedAt: new Date(), sequence: job.sequence + 1 });
      await tx.flush();
      return snapshotOf(job);
    });
    if (!ended) return 'stopped';
    this.reporter.record(ended);
    return 'failed';
  }
}

/** The call's tokens and cost, as a usage record of kind `embedding` (the caller is the job). */
function recordUsage(tx: EntityManager, job: IngestionJob, datasetId: string, usage: { promptTokens: number; costMicros: number; latencyMs: number }): void {
  tx.create(UsageRecord, {
    tenant: job.tenant.id,
    kind: 'embedding',
    dataset: datasetId,
    endpoint: null,
    endpointSlug: '',
    callerTenantId: job.tenant.id,
    callerKind: 'ingestion',
    callerId: job.id,
    promptTokens: usage.promptTokens,
    completionTokens: 0,
    totalTokens: usage.promptTokens,
    costMicros: usage.costMicros,
    chargedMicros: 0,
    latencyMs: usage.latencyMs,
    outcome: 'ok',
  });
}
