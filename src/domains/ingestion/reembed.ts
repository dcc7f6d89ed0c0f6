/**
 * Re-embedding: an ingestion job of kind REEMBED, with no inputs, that runs the EMBEDDING stage
 * alone (embedding-stage.ts). It is queued on the dataset's ingestion queue, so it runs after
 * the jobs before it and never beside them, and its progress reaches the same subscriptions
 * (`ingestionProgress`, `datasetIngestion`) as any job's. Started when a dataset's embedding
 * model changes, and by `reembedDataset` to complete the vectors a failed embedding left out.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Dataset } from '../datasets/dataset.entity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import type { ServiceContext } from '../service-context.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { DEFAULT_INGESTION_OPTIONS } from './options.js';
import { enqueueIngestion } from './queue.js';

/** Queues a re-embed job for the dataset in the caller's transaction (like `ingestDocuments`, the worker publishes its progress). */
export async function queueReembed(ctx: ServiceContext, datasetId: string): Promise<IngestionJob> {
  const { actor, em } = ctx;
  const job = em.create(IngestionJob, {
    tenant: actor.tenantId!,
    dataset: datasetId,
    kind: 'REEMBED',
    options: DEFAULT_INGESTION_OPTIONS,
    documentsTotal: 0,
    bytesTotal: 0,
    createdBy: actor.userId,
  });
  await em.flush();
  await enqueueIngestion(em as EntityManager, job.id);
  return job;
}

export class ReembedService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Embeds the dataset's chunks that have no vector by its embedding model (BAD_USER_INPUT, NO_EMBEDDING_MODEL, without one). */
  async reembed(datasetId: string): Promise<IngestionJob> {
    assertCan(this.ctx.actor, 'data:write');
    const dataset = await this.ctx.em.findOne(Dataset, { id: datasetId });
    if (!dataset) throw new NotFoundError('Dataset');
    if (!dataset.embeddingModel) {
      throw new ValidationError('The dataset has no embedding model: set embeddingModelId first', { field: 'datasetId', reason: 'NO_EMBEDDING_MODEL' });
    }
    return queueReembed(this.ctx, dataset.id);
  }
}
