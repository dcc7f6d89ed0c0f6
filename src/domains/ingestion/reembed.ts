/**
 * Re-embedding: an ingestion job of kind REEMBED, with no inputs, that runs the EMBEDDING stage
 * alone (embedding-stage.ts). It is queued on the dataset's ingestion queue, so it runs after
 * the jobs before it and never beside them, and its progress reaches the same subscriptions
 * (`ingestionProgress`, `datasetIngestion`) as any job's. Started when a dataset's embedding
 * model changes, and by `reembedDataset` to complete the vectors a failed embedding left out.
 *
 * One waiting re-embed is enough for a dataset: the stage embeds every chunk without a vector
 * by the model the dataset has when the stage begins. So `reembedDataset` answers the dataset's
 * re-embed job already queued or running, and a change of model one already queued (a running
 * one may embed with the model before the change); only otherwise is a job queued. Until
 * 2026-12-07 every call queued one more: a tenant calling it in a loop filled the queue.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Dataset } from '../datasets/dataset.entity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import type { ServiceContext } from '../service-context.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { DEFAULT_INGESTION_OPTIONS } from './options.js';
import { enqueueIngestion, lockTenantQueue } from './queue.js';
import { TERMINAL_STAGES } from './stages.js';

/** Which re-embed job of the dataset, if any, stands for a new one: one QUEUED only, or one queued or running. */
export type ReembedReuse = 'queued' | 'unended';

/** The dataset's re-embed job to answer with (see `ReembedReuse`), or a new one queued in the caller's transaction (like `ingestDocuments`, the worker publishes its progress). */
export async function queueReembed(ctx: ServiceContext, datasetId: string, reuse: ReembedReuse): Promise<IngestionJob> {
  const { actor, em } = ctx;
  const tenantId = actor.tenantId!;
  // Before the look: two calls at once must not both find none and queue two.
  await lockTenantQueue(em as EntityManager, tenantId);
  const stage = reuse === 'queued' ? 'QUEUED' : { $nin: [...TERMINAL_STAGES] };
  const waiting = await em.findOne(IngestionJob, { dataset: datasetId, kind: 'REEMBED', stage }, { orderBy: { createdAt: 'desc' } });
  if (waiting) return waiting;
  const job = em.create(IngestionJob, {
    tenant: tenantId,
    dataset: datasetId,
    kind: 'REEMBED',
    options: DEFAULT_INGESTION_OPTIONS,
    documentsTotal: 0,
    bytesTotal: 0,
    createdBy: actor.userId,
  });
  await em.flush();
  await enqueueIngestion(em as EntityManager, tenantId, job.id, ctx.deps.ingestion.maxQueuedJobs);
  return job;
}

export class ReembedService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Embeds the dataset's chunks that have no vector by its embedding model (BAD_USER_INPUT,
   * NO_EMBEDDING_MODEL, without one): the dataset's re-embed job already queued or running, or a new one.
   */
  async reembed(datasetId: string): Promise<IngestionJob> {
    assertCan(this.ctx.actor, 'data:write');
    const dataset = await this.ctx.em.findOne(Dataset, { id: datasetId });
    if (!dataset) throw new NotFoundError('Dataset');
    if (!dataset.embeddingModel) {
      throw new ValidationError('The dataset has no embedding model: set embeddingModelId first', { field: 'datasetId', reason: 'NO_EMBEDDING_MODEL' });
    }
    return queueReembed(this.ctx, dataset.id, 'unended');
  }
}
