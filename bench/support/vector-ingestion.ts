/**
 * The cost of writing embeddings: batched inserts as the app role under row-level security,
 * the EMBEDDING stage's own statement, one transaction per batch as the stage commits each
 * model answer (its job lock and usage record left out), beside
 * COPY of the very rows written into an empty table of the same shape. Vectors are made
 * before each batch's clock starts: the embedding server's time is not counted.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { pgArray } from '../../src/db/bound-sql.js';
import { unitVectorLiteral } from '../../src/domains/models/unit-vector.js';
import { clusterMember, seededRandom } from './vectors.js';

const EMBEDDING_COLUMNS = 'id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at';

export interface InsertTarget {
  appUrl: string;
  tenantId: string;
  datasetId: string;
  modelId: string;
  dimensions: number;
}

/** Writes one clustered vector per chunk id in batches of `batchSize`; returns the seconds spent in the database. */
export async function insertEmbeddings(
  target: InsertTarget,
  chunkIds: readonly string[],
  centroids: readonly number[][],
  amplitudes: readonly number[],
  batchSize: number,
  seed: number,
): Promise<number> {
  const random = seededRandom(seed);
  const client = new pg.Client({ connectionString: target.appUrl });
  await client.connect();
  let milliseconds = 0;
  try {
    for (let first = 0; first < chunkIds.length; first += batchSize) {
      const batch = chunkIds.slice(first, first + batchSize);
      const vectors = batch.map(() => {
        const cluster = Math.floor(random() * centroids.length);
        return clusterMember(random, centroids[cluster]!, amplitudes, cluster);
      });
      const started = performance.now();
      await client.query('begin');
      try {
        await client.query(`select set_config('app.tenant_id', $1, true)`, [target.tenantId]);
        // The EMBEDDING stage's statement (src/domains/ingestion/embedding-stage.ts), its
        // parameters made by its own helpers: exactly once per chunk and model.
        await client.query(
          `insert into chunk_embeddings (${EMBEDDING_COLUMNS})
           select gen_random_uuid(), c.tenant_id, c.dataset_id, c.id, $1::uuid, $2::int, v.embedding::real[], now()
             from unnest($3::uuid[], $4::text[]) as v(chunk_id, embedding)
             join chunks c on c.tenant_id = $5::uuid and c.id = v.chunk_id
           on conflict (tenant_id, chunk_id, model_id) do nothing
           returning 1`,
          [target.modelId, target.dimensions, pgArray(batch), pgArray(vectors.map(unitVectorLiteral)), target.tenantId],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      }
      milliseconds += performance.now() - started;
    }
  } finally {
    await client.end();
  }
  return milliseconds / 1000;
}

/**
 * Exports the model's rows (binary), then times COPY of them in one transaction into an empty
 * table made `like chunk_embeddings including all` (the same b-tree indexes and unique
 * constraint; no foreign keys, no row-level security: the raw limit). Owner connection, tenant set.
 */
export async function copyEmbeddingsReference(client: pg.Client, modelId: string): Promise<{ seconds: number; rows: number; bytes: number }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-vectors-'));
  const file = path.join(directory, 'embeddings.bin');
  try {
    await pipeline(client.query(copyTo(`copy (select ${EMBEDDING_COLUMNS} from chunk_embeddings where model_id = '${modelId}') to stdout (format binary)`)), createWriteStream(file));
    await client.query('create table bench_copy_embeddings (like chunk_embeddings including all)');
    try {
      const started = performance.now();
      await client.query('begin');
      const copy = client.query(copyFrom(`copy bench_copy_embeddings (${EMBEDDING_COLUMNS}) from stdin (format binary)`));
      await pipeline(createReadStream(file), copy);
      await client.query('commit');
      return { seconds: (performance.now() - started) / 1000, rows: Number(copy.rowCount), bytes: (await stat(file)).size };
    } finally {
      await client.query('drop table if exists bench_copy_embeddings');
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
