/**
 * Semantic retrieval: the chunks whose embeddings are nearest the question's, by cosine
 * similarity (vectors are stored at unit length, and the question's is scaled to it, so it is
 * their dot product).
 *
 * The question is embedded once per serving embedding model (by the caller, outside any
 * transaction: it is an HTTP call); here each model's datasets are searched with that model's
 * vector, in the caller's transaction (RLS confines it to the endpoint's tenant, as it does the
 * keyword retriever), and the groups merged by rank (`mergedByRank`): cosines of different
 * models are not on one scale.
 *
 * Two engines, chosen per group from what the server has (db/vector-index.ts):
 * - VECTOR_HNSW: pgvector with the HNSW index for the dimension, `order by
 *   embedding::vector(D) <=> q` (the index's own expression, so the planner uses it). With
 *   `hnsw.iterative_scan = relaxed_order` (pgvector 0.8) the scan goes on past ef_search
 *   candidates until the tenant/dataset/model filters leave enough rows; the outer query puts
 *   the relaxed order right. That scan ends after `hnsw.max_scan_tuples` index tuples, whoever's
 *   they are: where another tenant's vectors crowd the question's neighbourhood it ends before
 *   reaching this tenant's, short of rows or with none. A search that found fewer rows than
 *   its filters hold is run again by the exact engine (`stoppedShort`).
 * - VECTOR_EXACT: every stored vector of the datasets compared. With pgvector but no index
 *   (over 2 000 dimensions, or not built yet) pgvector's distance computes it; without pgvector,
 *   a dot product in SQL over `real[]`, in doubles. Its `order by distance, chunk_id` is one
 *   the HNSW index cannot give (it orders by the distance alone), so the planner compares
 *   every vector the filters hold.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import { vectorSupport, type VectorSupport } from '../../db/vector-index.js';
import type { ProductMeter } from '../../platform/telemetry/product-metrics.js';
import { UpstreamError } from '../errors.js';
import { unitVector, vectorProblem } from '../models/unit-vector.js';
import { passageFrom, searchTimedOut, type PassageRow, type RetrievedPassage } from './retriever.js';
import { escapedForMarks } from './highlight-marks.js';

export interface VectorSearchSettings {
  /** pgvector's `hnsw.ef_search`: candidates the HNSW scan keeps; raised to the rows a query asks for. */
  hnswEfSearch: number;
  /**
   * pgvector's `hnsw.max_scan_tuples`: index tuples an iterative scan visits before it stops.
   * A scan that stops short of the rows the filters hold is searched again exactly.
   * @default 20000 (pgvector's)
   */
  hnswMaxScanTuples: number;
}

/**
 * 200, not pgvector's 40 (docs/endpoints.md, "HNSW recall and the defaults"): at 100 000
 * vectors it gave recall@10 0.996 where 100 lost whole questions on mutually orthogonal
 * clusters (0.976), and 0.984 where 100 gave 0.948 on a dataset a tenth of its index; on
 * vectors shaped more like real embeddings 40 to 400 all gave 0.99. The index keeps pgvector's
 * ef_construction 64: 128 bought the same recall for 2.4 times the build (and insert) cost.
 */
export const DEFAULT_VECTOR_SEARCH: VectorSearchSettings = { hnswEfSearch: 200, hnswMaxScanTuples: 20_000 };

export type VectorEngine = 'VECTOR_HNSW' | 'VECTOR_EXACT';

/** The datasets whose serving embedding model is `modelId`, and the question embedded by it. */
export interface EmbeddedQuestion {
  modelId: string;
  datasetIds: readonly string[];
  vector: Float32Array | readonly number[];
}

export interface SemanticRequest {
  questions: readonly EmbeddedQuestion[];
  limit: number;
  /** Passages less similar than this (cosine, -1 to 1) are dropped. */
  minScore: number | null;
  settings?: VectorSearchSettings;
  /** Longest each search statement may run (QUERY_TOO_COSTLY past it). */
  timeoutMs?: number;
  /** The query's exclusions as search syntax ('-harbour -"clockwork lamp"'): passages holding one are left out (retriever.ts readSemanticQuery). */
  exclusions?: string | null;
  /** Where an HNSW search searched again exactly is counted; absent: not counted. */
  meter?: Pick<ProductMeter, 'vectorSearchExactFallback'>;
}

/** The engine that serves vectors of `dimensions` on a server with `support`. */
export function engineFor(support: VectorSupport, dimensions: number): VectorEngine {
  return support.vectorSchema !== null && support.indexedDimensions.has(dimensions) ? 'VECTOR_HNSW' : 'VECTOR_EXACT';
}

interface Row extends PassageRow {
  score: number;
}

/** A statement's row: one with nulls but `found` when it placed nothing. */
interface SearchRow extends Omit<Row, 'chunk_id'> {
  chunk_id: string | null;
  /** The rows the vector scan itself found (before exclusions), out of `depth`. */
  found: number;
}

export async function semanticSearch(em: EntityManager, request: SemanticRequest): Promise<RetrievedPassage[]> {
  const questions = request.questions.filter((question) => question.datasetIds.length > 0 && question.vector.length > 0);
  if (questions.length === 0) return [];
  const support = await vectorSupport(em);
  const groups: Row[][] = [];
  for (const question of questions) {
    const engine = engineFor(support, question.vector.length);
    if (engine === 'VECTOR_HNSW') {
      const settings = request.settings ?? DEFAULT_VECTOR_SEARCH;
      const efSearch = Math.min(1000, Math.max(settings.hnswEfSearch, request.limit));
      await boundSql(
        em,
        `select set_config('hnsw.ef_search', ?, true), set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.max_scan_tuples', ?, true)`,
        [String(efSearch), String(settings.hnswMaxScanTuples)],
      );
    }
    let searched = await search(em, question, request, engine, support.vectorSchema);
    if (engine === 'VECTOR_HNSW' && (await stoppedShort(em, question, searched, request.timeoutMs))) {
      request.meter?.vectorSearchExactFallback();
      searched = await search(em, question, request, 'VECTOR_EXACT', support.vectorSchema);
    }
    const nearest = searched.rows;
    // Nothing of the question's length: not "no match" if the model's vectors here have another.
    if (nearest.length === 0) await assertStoredDimension(em, question);
    groups.push(
      nearest.map((row) => ({ ...row, score: Number(row.score) })).filter((row) => request.minScore === null || row.score >= request.minScore),
    );
  }
  return (
    mergedByRank(groups)
      .slice(0, request.limit)
      // Nothing matched word for word: the passage's opening stands for the highlight.
      .map((row) => passageFrom(row, escapedForMarks(opening(row.content))))
  );
}

/** One model group's search by `engine`: its passages, and how many rows the vector scan found out of how deep it read. */
async function search(em: EntityManager, question: EmbeddedQuestion, request: SemanticRequest, engine: VectorEngine, vectorSchema: string | null) {
  const { sql, params, depth } = semanticSearchSql(question, request.limit, engine, vectorSchema, request.exclusions ?? null);
  const rows = await boundSql<SearchRow>(em, sql, params, request.timeoutMs).catch(searchTimedOut(request.timeoutMs));
  return { rows: rows.filter((row): row is Row & SearchRow => row.chunk_id !== null), found: Number(rows[0]?.found ?? 0), depth };
}

/**
 * Whether an HNSW search ended before the rows its filters hold: pgvector's iterative scan
 * stops after `hnsw.max_scan_tuples` index tuples, and the index is shared by every tenant of
 * the dimension, so a tenant with many vectors near a question (ingested on purpose, or not)
 * could leave another's searches short, or empty. Counted only when the scan found fewer than
 * it was asked (a dataset smaller than the limit, or a scan cut short), and only up to the
 * depth asked: the tenant's own rows, through the (tenant, dataset, model) index.
 */
async function stoppedShort(em: EntityManager, question: EmbeddedQuestion, searched: { found: number; depth: number }, timeoutMs?: number): Promise<boolean> {
  if (searched.found >= searched.depth) return false;
  const [row] = await boundSql<{ held: number }>(
    em,
    `select count(*)::int as held from (select 1 from chunk_embeddings e where ${FILTERS} limit ?) held`,
    [...filterParams(question), searched.depth],
    timeoutMs,
  ).catch(searchTimedOut(timeoutMs));
  return (row?.held ?? 0) > searched.found;
}

const FILTERS = 'e.dimensions = ?::int and e.model_id = ?::uuid and e.dataset_id = any(?::uuid[])';
const filterParams = (question: EmbeddedQuestion) => [question.vector.length, question.modelId, pgArray(question.datasetIds)];

/**
 * One ranking from each model's, each already in order (similarity, then chunk id). A cosine is
 * only comparable with cosines of the same model: another model (shorter vectors, another
 * training) gives higher or lower similarities to everything, and merging by score would let
 * its datasets crowd out the rest. So passages are merged by their place in their own model's
 * ranking, as reciprocal rank fusion does (its lists are disjoint here, so it interleaves
 * them), ties between models by similarity, then chunk id. With one model this is its ranking.
 */
export function mergedByRank<T extends { score: number; chunk_id: string }>(groups: readonly (readonly T[])[]): T[] {
  return groups
    .flatMap((group) => group.map((row, index) => ({ row, place: index })))
    .sort((a, b) => a.place - b.place || b.row.score - a.row.score || a.row.chunk_id.localeCompare(b.row.chunk_id))
    .map(({ row }) => row);
}

/**
 * A question vector must have the length of the vectors its model stored for these datasets.
 * A server that changed (another model behind the same address, `dimensions` not configured)
 * answers with another length, and the search, which compares vectors of one length, would
 * find nothing and say so as an empty ranking: refused as the server's bad answer instead.
 */
async function assertStoredDimension(em: EntityManager, question: EmbeddedQuestion): Promise<void> {
  const [other] = await boundSql<{ dimensions: number }>(
    em,
    'select e.dimensions from chunk_embeddings e where e.model_id = ?::uuid and e.dataset_id = any(?::uuid[]) and e.dimensions <> ?::int limit 1',
    [question.modelId, pgArray(question.datasetIds), question.vector.length],
  );
  if (other) {
    throw new UpstreamError(
      `The embeddings model's server sent a question vector of dimension ${question.vector.length} where the dataset's vectors have ${other.dimensions}: it no longer answers as the model they were embedded with`,
      { reason: 'BAD_RESPONSE' },
    );
  }
}

/**
 * One model group's nearest chunks. `materialized` keeps the limit on the vector scan alone,
 * before the joins that fetch the text; ties break on the chunk id so both engines agree.
 * Every row says how many the scan found (`found`, out of `depth`), and a statement that
 * places nothing still answers one row (nulls and `found`): exclusions may leave out all the
 * scan found, which is not a scan cut short. Exported for the test that checks the HNSW index serves it.
 */
export function semanticSearchSql(question: EmbeddedQuestion, wanted: number, engine: VectorEngine, vectorSchema: string | null, exclusions: string | null = null) {
  const dimensions = question.vector.length;
  // With exclusions, the nearest are read deeper and those holding an excluded word left out.
  const limit = exclusions === null ? wanted : EXCLUSION_DEPTH * wanted;
  const filtered = filterParams(question);
  const unit = unitQuestion(question.vector);
  const literal = `[${unit.join(',')}]`;
  let nearest: string;
  let params: (string | number)[];
  if (vectorSchema !== null) {
    // The cast's dimension is an integer we computed (not input), and must be a literal to
    // match the index expression; the schema is pgvector's own, quoted.
    const type = `"${vectorSchema.replace(/"/g, '""')}".vector(${Math.trunc(dimensions)})`;
    const distance = `e.embedding::${type} OPERATOR("${vectorSchema.replace(/"/g, '""')}".<=>) ?::${type}`;
    nearest = `select e.chunk_id, 1 - (${distance}) as score from chunk_embeddings e where ${FILTERS} order by ${distance}${engine === 'VECTOR_EXACT' ? ', e.chunk_id' : ''} limit ?`;
    params = [literal, ...filtered, literal, limit];
  } else {
    // In doubles: two float4 numbers' product can underflow, which PostgreSQL's float4 multiply refuses as an error.
    nearest = `select e.chunk_id, (select sum(a::float8 * b::float8) from unnest(e.embedding, ?::real[]) as v(a, b)) as score
                 from chunk_embeddings e where ${FILTERS} order by score desc, e.chunk_id limit ?`;
    params = [`{${unit.join(',')}}`, ...filtered, limit];
  }
  return {
    sql: `with nearest as materialized (${nearest}),
          passages as (
            select c.id as chunk_id, c.document_id, c.dataset_id, d.title, d.metadata, c.content, n.score
              from nearest n join chunks c on c.id = n.chunk_id join documents d on d.id = c.document_id
             ${exclusions === null ? '' : `cross join lateral (select websearch_to_tsquery(c.language, ?) as excluded) x
             where numnode(x.excluded) = 0 or c.search @@ x.excluded`}
             order by n.score desc, c.id
             limit ?)
          select p.*, (select count(*) from nearest)::int as found
            from (values (1)) as one (x) left join passages p on true
           order by p.score desc, p.chunk_id`,
    params: [...params, ...(exclusions === null ? [] : [exclusions]), wanted],
    depth: limit,
  };
}

/**
 * The question's vector at unit length, as the stored ones are (unit-vector.ts), so `score` is
 * their cosine whatever length the server sent: it was searched as sent, and ×1000 gave scores
 * of 735 that `minScore` could not bound. A vector with no direction float4 can hold is the
 * server's bad answer (the embeddings answer is refused for it first: this keeps the search's
 * own promise for any embeddings client).
 */
function unitQuestion(vector: ArrayLike<number>): number[] {
  const problem = vectorProblem(vector);
  if (problem !== null) throw new UpstreamError(`Embedding the question failed: ${problem}`, { reason: 'BAD_RESPONSE' });
  return unitVector(vector);
}

/** How much deeper the nearest are read when the query excludes words (what is left out is made up for, mostly). */
const EXCLUSION_DEPTH = 3;

const OPENING_WORDS = 30;

function opening(text: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  return words.length <= OPENING_WORDS ? words.join(' ') : `${words.slice(0, OPENING_WORDS).join(' ')} …`;
}
