/**
 * Embeddings for a dataset's chunks, written straight into chunk_embeddings on the owner
 * connection, until the EMBEDDING ingestion stage lands (issue 19, item 3): at the merge this
 * is replaced by real ingestion with an embeddings model. The vectors are the fake OpenAI
 * server's own (`trigramVector`, what its `/v1/embeddings` answers for the same text), so the
 * question the server embeds over HTTP at query time lands among them as the real thing would.
 * Like the stage, it names the model on the dataset (embedding and serving) and ensures the
 * dimension's HNSW index through the app's SECURITY DEFINER function (a no-op without pgvector).
 */
import { withClient } from '../../src/db/bootstrap.js';
import { trigramVector } from './fake-openai.js';

/** The database id inside a Relay global id ("Dataset:<uuid>", base64). */
export const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

export interface EmbeddedChunk {
  id: string;
  content: string;
  vector: number[];
}

export async function seedEmbeddings(ownerUrl: string, datasetGlobalId: string, modelGlobalId: string, dimensions: number): Promise<EmbeddedChunk[]> {
  const datasetId = rawId(datasetGlobalId);
  const modelId = rawId(modelGlobalId);
  return withClient(ownerUrl, async (client) => {
    await client.query('begin');
    const { rows } = await client.query<{ id: string; tenant_id: string; content: string }>(
      'select id, tenant_id, content from chunks where dataset_id = $1 order by id',
      [datasetId],
    );
    const chunks = rows.map((row) => ({ id: row.id, content: row.content, vector: trigramVector(row.content, dimensions) }));
    for (const [index, chunk] of chunks.entries()) {
      await client.query(
        `insert into chunk_embeddings (id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at)
         values (gen_random_uuid(), $1, $2, $3, $4, $5, $6::real[], now())`,
        [rows[index]!.tenant_id, datasetId, chunk.id, modelId, dimensions, `{${chunk.vector.join(',')}}`],
      );
    }
    await client.query('update datasets set embedding_model_id = $2, serving_embedding_model_id = $2 where id = $1', [datasetId, modelId]);
    await client.query('select ensure_embedding_index($1::int)', [dimensions]);
    await client.query('commit');
    return chunks;
  });
}

/** Whether the test database's server has pgvector (the migrations create it where available). */
export async function hasPgvector(ownerUrl: string): Promise<boolean> {
  return withClient(ownerUrl, async (client) => (await client.query(`select 1 from pg_extension where extname = 'vector'`)).rows.length > 0);
}

/** The ids of `chunks` ordered by dot product with `question` (exact search, computed here): ties by id. */
export function exactRanking(chunks: EmbeddedChunk[], question: number[]): string[] {
  const dot = (vector: number[]) => vector.reduce((sum, value, index) => sum + value * question[index]!, 0);
  return chunks
    .map((chunk) => ({ id: chunk.id, score: dot(chunk.vector) }))
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
    .map((chunk) => chunk.id);
}
