/** Embedded datasets, and reading what the EMBEDDING stage wrote, for the retrieval-mode tests. */
import { expect } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createModel, uniqueSlug } from './endpoints.js';
import { createDataset, ingestInline, settled, type InlineDocument } from './ingestion.js';
import type { TestServer } from './server.js';
import { databaseIdOf } from './global-ids.js';


export interface EmbeddedChunk {
  id: string;
  content: string;
  vector: number[];
}

/** A dataset's chunks with their vectors by its serving embedding model, as stored (owner connection). */
export async function embeddedChunks(ownerUrl: string, datasetGlobalId: string): Promise<EmbeddedChunk[]> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ id: string; content: string; embedding: number[] }>(
      `select c.id, c.content, e.embedding from chunks c
         join datasets d on d.id = c.dataset_id
         join chunk_embeddings e on e.chunk_id = c.id and e.model_id = d.serving_embedding_model_id
        where c.dataset_id = $1 order by c.id`,
      [databaseIdOf(datasetGlobalId)],
    );
    return rows.map((row) => ({ id: row.id, content: row.content, vector: row.embedding.map(Number) }));
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

/** An `openai-compatible-embeddings` model of the model server at `baseUrl` (fake-openai), asking for vectors of `dimensions`. */
export function embeddingsModelAt(server: TestServer, token: string, baseUrl: string, dimensions: number) {
  return createModel(server, token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl, model: 'text-embedding-3-small', dimensions } });
}

/** A dataset embedded by such a model, `documents` ingested (with `options`) to COMPLETED. */
export async function embeddedDatasetAt(
  server: TestServer,
  token: string,
  baseUrl: string,
  { dimensions, documents, options }: { dimensions: number; documents: InlineDocument[]; options?: Record<string, unknown> },
): Promise<{ datasetId: string; modelId: string }> {
  const model = await embeddingsModelAt(server, token, baseUrl, dimensions);
  const dataset = await createDataset(server, token, { embeddingModelId: model.id });
  const { body } = await ingestInline(server, token, dataset.id, documents, options);
  expect((await settled(server, token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  return { datasetId: dataset.id, modelId: model.id };
}
