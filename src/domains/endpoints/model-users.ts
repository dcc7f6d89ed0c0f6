/**
 * Which endpoints answer with a model, or rank a dataset by its vectors. The model service asks
 * before deleting a model, the dataset service before clearing a dataset's embedding model;
 * neither knows endpoints (an endpoint points at its model and datasets, not the reverse), so
 * services.ts hands them these questions.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import { Endpoint } from './endpoint.entity.js';

/** The slugs of up to five of the tenant's endpoints that answer with `modelId`. */
export async function endpointSlugsUsingModel(em: EntityManager, modelId: string): Promise<string[]> {
  const users = await em.find(Endpoint, { model: modelId }, { fields: ['slug'], limit: 5 });
  return users.map((endpoint) => endpoint.slug);
}

/** The slugs of the tenant's endpoints that rank `datasetId` by its vectors (SEMANTIC or HYBRID), in order. */
export async function endpointSlugsRankingByVectors(em: EntityManager, datasetId: string): Promise<string[]> {
  const rows = await boundSql<{ slug: string }>(em, `select slug from endpoints where ?::uuid = any(dataset_ids) and retrieval_mode <> 'KEYWORD' order by slug`, [datasetId]);
  return rows.map((row) => row.slug);
}
