/**
 * An endpoint's retrieval mode (KEYWORD, SEMANTIC, HYBRID) and the engine that serves it.
 * The mode is the tenant's choice; the engine follows from the server (pgvector or not) and
 * the datasets' embeddings, and is reported so a tenant can see what answers its consumers.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import { vectorSupport } from '../../db/vector-index.js';
import { ValidationError } from '../errors.js';
import { RETRIEVAL_MODES } from './endpoint.entity.js';
import { engineFor } from './semantic-retriever.js';

export { RETRIEVAL_MODES };
export type RetrievalMode = (typeof RETRIEVAL_MODES)[number];

/**
 * KEYWORD_BM25: full-text ranking only. VECTOR_HNSW / VECTOR_EXACT: embedding similarity by
 * pgvector's HNSW index, or by comparing every vector. HYBRID_BM25_HNSW / HYBRID_BM25_EXACT:
 * both, fused. Where an endpoint's vectors are served by both engines (datasets embedded at
 * several dimensions, one above HNSW's limit), the slower one, EXACT, is reported.
 * VECTOR_NONE: SEMANTIC with no vectors to compare yet (it answers nothing); HYBRID_BM25_ONLY:
 * HYBRID whose semantic half has nothing to search (no vectors yet, or every serving embeddings
 * model DOWN), so it ranks by keyword alone (user review stop45, F7: both said nothing of it).
 */
export const RETRIEVAL_ENGINES = ['KEYWORD_BM25', 'VECTOR_HNSW', 'VECTOR_EXACT', 'HYBRID_BM25_HNSW', 'HYBRID_BM25_EXACT', 'VECTOR_NONE', 'HYBRID_BM25_ONLY'] as const;
export type RetrievalEngine = (typeof RETRIEVAL_ENGINES)[number];

export function validRetrievalMode(mode: string): RetrievalMode {
  if (!(RETRIEVAL_MODES as readonly string[]).includes(mode)) {
    throw new ValidationError(`mode must be one of ${RETRIEVAL_MODES.join(', ')}`, { field: 'mode' });
  }
  return mode as RetrievalMode;
}

export const usesVectors = (mode: RetrievalMode) => mode !== 'KEYWORD';

/** Reciprocal rank fusion's constant: score = Σ 1 / (RRF_K + rank), the value of Cormack et al. (SIGIR 2009). */
export const RRF_K = 60;

/**
 * The scores each mode gives: KEYWORD's BM25 rank from 0 up, unbounded; SEMANTIC's cosine
 * similarity −1 to 1; HYBRID's fused score 0 to 2 / (RRF_K + 1), first in both rankings.
 */
export const SCORE_RANGES: Record<RetrievalMode, { min: number; max: number | null }> = {
  KEYWORD: { min: 0, max: null },
  SEMANTIC: { min: -1, max: 1 },
  HYBRID: { min: 0, max: 2 / (RRF_K + 1) },
};

/**
 * A minScore within the mode's scores, or null for none. One outside them would keep every
 * passage or none (1.5 under HYBRID, whose scores stay under 0.033), which is never meant:
 * BAD_USER_INPUT `MIN_SCORE_OUT_OF_RANGE` with the mode's range.
 */
export function validMinScore(minScore: number | null | undefined, mode: RetrievalMode): number | null {
  if (minScore == null) return null;
  const { min, max } = SCORE_RANGES[mode];
  if (Number.isFinite(minScore) && minScore >= min && (max === null || minScore <= max)) return minScore;
  const range = max === null ? `at least ${min}` : `${min} to ${Number(max.toFixed(4))}`;
  throw new ValidationError(`minScore must be a number ${range} for ${mode} retrieval (its scores' range), or null for none`, {
    field: 'minScore',
    reason: 'MIN_SCORE_OUT_OF_RANGE',
    mode,
    min,
    max,
  });
}

/**
 * SEMANTIC and HYBRID need embeddings: every dataset must name an embedding model (being
 * embedded counts; until its vectors are complete it contributes nothing to the semantic
 * ranking). BAD_USER_INPUT `NO_EMBEDDING_MODEL` lists the datasets that name none.
 */
export async function assertDatasetsEmbedded(em: EntityManager, mode: RetrievalMode, datasetIds: readonly string[]): Promise<void> {
  if (!usesVectors(mode)) return;
  const rows = await boundSql<{ id: string }>(
    em,
    'select id from datasets where id = any(?::uuid[]) and embedding_model_id is null and serving_embedding_model_id is null order by id',
    [pgArray(datasetIds)],
  );
  if (rows.length === 0) return;
  throw new ValidationError(`${mode} retrieval needs an embedding model on every dataset; ${rows.length} of the endpoint's datasets have none`, {
    field: 'mode',
    reason: 'NO_EMBEDDING_MODEL',
    datasetIds: rows.map((row) => row.id),
  });
}

/**
 * The engine serving an endpoint now: its datasets' serving models, the dimension of their
 * stored vectors (one row each, by the (tenant, dataset, model) index) and the server's indexes.
 * Datasets with no vectors yet do not count, nor, in HYBRID (which then ranks them by keyword
 * only), those whose embeddings model a fresh health check found DOWN (`isModelDown`); with none
 * left the engine is VECTOR_NONE or HYBRID_BM25_ONLY.
 */
export async function retrievalEngine(
  em: EntityManager,
  mode: RetrievalMode,
  datasetIds: readonly string[],
  /** Whether a fresh health check found an embeddings model DOWN (model-health/health-rules.ts's isDown); absent: none is. */
  isModelDown?: (model: { healthStatus: string | null; healthCheckedAt: Date | null }) => boolean,
): Promise<RetrievalEngine> {
  if (!usesVectors(mode)) return 'KEYWORD_BM25';
  const serving = await boundSql<{ dimensions: number | null; health_status: string | null; health_checked_at: string | Date | null }>(
    em,
    `select (select e.dimensions from chunk_embeddings e where e.dataset_id = d.id and e.model_id = d.serving_embedding_model_id limit 1) as dimensions,
            m.health_status, m.health_checked_at
       from datasets d join models m on m.id = d.serving_embedding_model_id
      where d.id = any(?::uuid[])`,
    [pgArray(datasetIds)],
  );
  const searched = serving.filter(
    (row) => !(mode === 'HYBRID' && isModelDown?.({ healthStatus: row.health_status, healthCheckedAt: row.health_checked_at === null ? null : new Date(row.health_checked_at) })),
  );
  const present = searched.map((row) => row.dimensions).filter((value): value is number => value !== null);
  if (present.length === 0) return mode === 'SEMANTIC' ? 'VECTOR_NONE' : 'HYBRID_BM25_ONLY';
  const support = await vectorSupport(em);
  const vector = present.length > 0 && present.every((value) => engineFor(support, value) === 'VECTOR_HNSW') ? 'HNSW' : 'EXACT';
  return mode === 'SEMANTIC' ? `VECTOR_${vector}` : `HYBRID_BM25_${vector}`;
}
