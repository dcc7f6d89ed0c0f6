/**
 * The length of an embeddings model's vectors in a tenant's datasets. Every vector a model gives
 * a tenant has one length: an endpoint over several datasets searches them with one question
 * vector, and would silently miss the datasets of another length. So a server that now answers
 * with another length (another model behind the same address, `dimensions` not configured) is
 * refused where it shows: the EMBEDDING stage's batches (ingestion/embedding-stage.ts) and a
 * model's test and health check (model-health/model-check.ts).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import { UpstreamError } from '../errors.js';

/**
 * The length of the vectors `modelId` has given the tenant's datasets so far, if any: every
 * dataset's, `datasetId`'s first when given. Probed per dataset the model embeds or serves,
 * through the (tenant, dataset, model) index.
 */
export async function storedVectorDimension(em: EntityManager, tenantId: string, modelId: string, datasetId?: string): Promise<number | undefined> {
  const [row] = await boundSql<{ dimensions: number }>(
    em,
    `select probe.dimensions
       from datasets d
       cross join lateral (select e.dimensions from chunk_embeddings e
                            where e.tenant_id = d.tenant_id and e.dataset_id = d.id and e.model_id = ?::uuid limit 1) probe
      where d.tenant_id = ?::uuid and (d.id = ?::uuid or d.embedding_model_id = ?::uuid or d.serving_embedding_model_id = ?::uuid)
      order by d.id = ?::uuid desc
      limit 1`,
    [modelId, tenantId, datasetId ?? null, modelId, modelId, datasetId ?? null],
  );
  return row?.dimensions;
}

/** The model server's answer of vectors of dimension `sent` where the model's stored vectors have `stored`: BAD_RESPONSE. */
export function dimensionChanged(sent: number, stored: number): UpstreamError {
  return new UpstreamError(
    `The model server sent vectors of dimension ${sent} where the datasets' vectors by this model have ${stored}: it no longer answers as the model they were embedded with`,
    { reason: 'BAD_RESPONSE' },
  );
}
