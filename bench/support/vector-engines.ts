/**
 * The three ways the vector benchmark asks for the top 10: exact over `real[]` in plain SQL
 * (no extension: the embedded default), exact with pgvector's `<=>` (no index), and pgvector's
 * HNSW index at a given ef_search. Each question is one transaction as the app role with the
 * tenant set, so row-level security and the dataset and model filters are in every plan.
 */
import type pg from 'pg';
import type { VectorDataset } from './vector-data.js';
import { vectorLiteral } from './vectors.js';

export const TOP_K = 10;

export interface Engine {
  name: string;
  /** Statement with $1 the question vector, $2 the dataset, $3 the model. */
  sql: string;
  /** `set local` statements before it. */
  settings: string[];
  parameter(vector: readonly number[]): unknown;
}

const filter = (data: VectorDataset) => `e.dataset_id = $2 and e.model_id = $3 and e.dimensions = ${data.dimensions}`;

/** Cosine similarity of unit vectors is their dot product: one `unnest` of both arrays per row. */
export const exactSql = (data: VectorDataset): Engine => ({
  name: 'exact, plain SQL (dot product over real[])',
  sql: `select e.chunk_id from chunk_embeddings e where ${filter(data)}
        order by (select sum(a * b) from unnest(e.embedding, $1::real[]) as t(a, b)) desc limit ${TOP_K}`,
  settings: [],
  parameter: (vector) => vector,
});

/**
 * The expression the HNSW indexes are built on (without an index, an exact scan), with the
 * similarity beside each id as the app's query has it (semantic-retriever.ts).
 */
const pgvectorSql = (data: VectorDataset, limit = TOP_K) =>
  `select e.chunk_id, 1 - (e.embedding::vector(${data.dimensions}) <=> $1::vector(${data.dimensions})) as score
     from chunk_embeddings e where ${filter(data)}
    order by e.embedding::vector(${data.dimensions}) <=> $1::vector(${data.dimensions}) limit ${limit}`;

/** Exact, the ground truth. `depth` over 10 gives the ranks after the top 10 too (separation), from the same scan. */
export const exactPgvector = (data: VectorDataset, depth = TOP_K): Engine => ({
  name: `exact, pgvector \`<=>\` (no index${depth === TOP_K ? '' : `; top ${depth} asked`})`,
  sql: pgvectorSql(data, depth),
  // Measured before the index exists; this keeps it exact if it is ever asked after.
  settings: ['set local enable_indexscan = off'],
  parameter: vectorLiteral,
});

export const hnsw = (data: VectorDataset, efSearch: number): Engine => ({
  name: `HNSW, ef_search ${efSearch}`,
  sql: pgvectorSql(data),
  settings: [`set local hnsw.ef_search = ${efSearch}`, 'set local hnsw.iterative_scan = relaxed_order'],
  parameter: vectorLiteral,
});

export function hnswIndexSql(data: VectorDataset, m: number, efConstruction: number): string {
  return `create index bench_chunk_embeddings_hnsw on chunk_embeddings using hnsw ((embedding::vector(${data.dimensions})) vector_cosine_ops)
          with (m = ${m}, ef_construction = ${efConstruction}) where dimensions = ${data.dimensions}`;
}

/** One question: its ids best first (and their similarities where the engine gives them), and the milliseconds from `begin` to `commit`. */
export async function ask(client: pg.Client, engine: Engine, data: VectorDataset, vector: readonly number[]): Promise<{ ids: string[]; scores: number[]; ms: number }> {
  const started = performance.now();
  await client.query('begin');
  try {
    await client.query(`select set_config('app.tenant_id', $1, true)`, [data.tenantId]);
    for (const setting of engine.settings) await client.query(setting);
    const { rows } = await client.query<{ chunk_id: string; score?: number }>(engine.sql, [engine.parameter(vector), data.datasetId, data.modelId]);
    await client.query('commit');
    return { ids: rows.map((row) => row.chunk_id), scores: rows.map((row) => Number(row.score)), ms: performance.now() - started };
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}

/** The plan PostgreSQL picks for `engine` (to check an index is used), as the app role; `analyze` runs it. */
export async function explain(client: pg.Client, engine: Engine, data: VectorDataset, vector: readonly number[], analyze = false): Promise<string> {
  await client.query('begin');
  try {
    await client.query(`select set_config('app.tenant_id', $1, true)`, [data.tenantId]);
    for (const setting of engine.settings) await client.query(setting);
    const { rows } = await client.query(`explain ${analyze ? '(analyze, buffers, timing off) ' : ''}${engine.sql}`, [engine.parameter(vector), data.datasetId, data.modelId]);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('rollback');
  }
}

export interface Measured {
  engine: string;
  size: number;
  samples: number[];
  answers: string[][];
  /** Each answer's similarities, where the engine gives them. */
  scores: number[][];
}

/**
 * Asks questions in order after one untimed warm-up: all of them when `all`, else as many as
 * fit `budgetMs` at the first one's pace (at least `least`), so slow sizes stay bounded.
 */
export async function measure(
  client: pg.Client,
  engine: Engine,
  data: VectorDataset,
  size: number,
  questions: readonly number[][],
  options: { all: boolean; budgetMs: number; least: number },
): Promise<Measured> {
  await ask(client, engine, data, questions[questions.length - 1]!);
  const result: Measured = { engine: engine.name, size, samples: [], answers: [], scores: [] };
  let count = questions.length;
  for (const [index, question] of questions.entries()) {
    if (index >= count) break;
    const { ids, scores, ms } = await ask(client, engine, data, question);
    result.samples.push(ms);
    result.answers.push(ids);
    result.scores.push(scores);
    if (index === 0 && !options.all) count = Math.max(options.least, Math.min(questions.length, Math.floor(options.budgetMs / Math.max(ms, 1))));
  }
  return result;
}
