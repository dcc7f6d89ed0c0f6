/**
 * A dataset's embedding model: which model its chunks are embedded with, which model's vectors
 * answer its semantic queries, and how far the first has got.
 *
 * Changing the model keeps the serving model's vectors (queries go on using them) and starts a
 * re-embed job, which switches the serving model when the new one covers every chunk
 * (ingestion/embedding-stage.ts). Clearing it (null) makes the dataset keyword-only at once:
 * every vector goes. Datasets do not know ingestion jobs (ingestion knows datasets), so the
 * job is started through `EmbeddingJobs`, supplied by services.ts.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import { NotFoundError } from '../errors.js';
import type { Model } from '../models/model.entity.js';
import { lockedModel } from '../models/model-lock.js';
import { assertModelKind } from '../models/model.service.js';
import { Dataset } from './dataset.entity.js';

/** Starts a re-embed job for the dataset (in the caller's transaction, so both commit or neither). */
export type EmbeddingJobs = (datasetId: string) => Promise<void>;

/** The slugs of the endpoints that rank a dataset by its vectors (SEMANTIC or HYBRID): endpoints', supplied by services.ts. */
export type VectorUsers = (datasetId: string) => Promise<string[]>;

/** What a client can show of a dataset's embeddings. */
export interface DatasetEmbeddingState {
  datasetId: string;
  /** What new chunks are embedded with (null: keyword search only). */
  modelId: string | null;
  /** Whose vectors answer semantic queries: set once every chunk has one by it. */
  servingModelId: string | null;
  /** Chunks with a vector by `modelId`. */
  embeddedChunks: number;
  totalChunks: number;
  /** A job of the dataset (an ingestion or a re-embed) is queued or running: the counts may still move. */
  inProgress: boolean;
}

/**
 * The tenant's embeddings model `id` (NOT_FOUND for an unknown or another tenant's; BAD_USER_INPUT,
 * WRONG_MODEL_KIND, for a chat model), locked FOR SHARE until the transaction ends: a dataset about
 * to embed with it cannot lose it to a concurrent deleteModel (models/model-lock.ts).
 */
export async function embeddingModelNamed(em: EntityManager, id: string): Promise<Model> {
  const model = await lockedModel(em, id, 'share');
  if (!model) throw new NotFoundError('Model');
  assertModelKind(model, 'embeddings', 'embeddingModelId');
  return model;
}

/** A change of a dataset's embedding model, validated: the new model, or null to clear it. */
export interface EmbeddingModelChange {
  model: Model | null;
}

/** The change `modelId` asks for (`null` clears the model), validated; undefined when it is the model already. */
export async function embeddingModelChange(em: EntityManager, dataset: Dataset, modelId: string | null): Promise<EmbeddingModelChange | undefined> {
  if (modelId === (dataset.embeddingModel?.id ?? null)) return undefined;
  return { model: modelId === null ? null : await embeddingModelNamed(em, modelId) };
}

/**
 * Applies `change` to the dataset: the vectors it leaves without use go first (every one when
 * the model is cleared; else those of models that are neither the new one nor the serving one,
 * so a re-embed overtaken by another change leaves none behind), then `flush` writes the
 * dataset's row, then a new model's re-embed job starts.
 *
 * The vectors before the row: a group of inputs replacing a document deletes its chunks, whose
 * cascade takes their vectors' rows before the statistics trigger takes the dataset's. Taken
 * the other way round, a change during an ingestion deadlocked with it
 * (test/ingestion/embedding-model-change-during-ingestion.test.ts). The caller has locked the
 * dataset's running jobs before (ingestion-locks.ts), which covers a job that starts its group
 * or its switch of serving model (dataset row, then vectors) before this change.
 */
export async function changeEmbeddingModel(em: EntityManager, dataset: Dataset, change: EmbeddingModelChange, flush: () => Promise<void>, startJob: EmbeddingJobs): Promise<void> {
  const keep = change.model ? [change.model.id, dataset.servingEmbeddingModel?.id].filter((id): id is string => Boolean(id)) : [];
  await boundSql(em, 'delete from chunk_embeddings where tenant_id = ?::uuid and dataset_id = ?::uuid and model_id <> all(?::uuid[])', [
    dataset.tenant.id,
    dataset.id,
    pgArray(keep),
  ]);
  dataset.embeddingModel = change.model;
  if (!change.model) dataset.servingEmbeddingModel = null;
  await flush();
  if (change.model) await startJob(dataset.id);
}

/**
 * The embedding state of each dataset in `ids` (in order; null for one with no model and no serving model, or not found).
 * `inProgress` reads `ingestion_jobs` in SQL, as ingestion-locks.ts does: datasets do not import the ingestion domain.
 */
export async function embeddingStates(em: EntityManager, tenantId: string, ids: readonly string[]): Promise<(DatasetEmbeddingState | null)[]> {
  const rows = await boundSql<DatasetEmbeddingState>(
    em,
    `select d.id as "datasetId", d.embedding_model_id as "modelId", d.serving_embedding_model_id as "servingModelId",
            d.chunk_count::bigint as "totalChunks",
            (select count(*) from chunk_embeddings e
              where e.tenant_id = d.tenant_id and e.dataset_id = d.id and e.model_id = d.embedding_model_id)::bigint as "embeddedChunks",
            exists(select 1 from ingestion_jobs j
                    where j.tenant_id = d.tenant_id and j.dataset_id = d.id and j.stage not in ('COMPLETED', 'FAILED', 'CANCELLED')) as "inProgress"
       from datasets d
      where d.tenant_id = ?::uuid and d.id = any(?::uuid[])`,
    [tenantId, pgArray(ids)],
  );
  const byId = new Map(rows.map((row) => [row.datasetId, { ...row, totalChunks: Number(row.totalChunks), embeddedChunks: Number(row.embeddedChunks) }]));
  return ids.map((id) => {
    const state = byId.get(id);
    return state && (state.modelId || state.servingModelId) ? state : null;
  });
}

/** The slugs of up to five of the tenant's datasets that embed with `modelId` or are served by it. */
export async function datasetSlugsUsingModel(em: EntityManager, modelId: string): Promise<string[]> {
  const rows = await em.find(
    Dataset,
    { $or: [{ embeddingModel: modelId }, { servingEmbeddingModel: modelId }] },
    { fields: ['slug'], limit: 5, orderBy: { slug: 'asc' } },
  );
  return rows.map((dataset) => dataset.slug);
}
