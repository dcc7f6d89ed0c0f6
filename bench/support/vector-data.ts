/**
 * The vector benchmark's data, as the owner role (tenant named, since row-level security is
 * FORCEd on the owner too): chunks written by PostgreSQL itself, a numbering of them so slices
 * can be embedded in order as the dataset grows, and clustered embeddings made in Node and
 * written by binary COPY. The numbering
 * (`bench_vector_chunks`) lives beside the app's tables in the scratch database.
 */
import type pg from 'pg';
import { copyEmbeddings, type CopiedRows } from './vector-copy.js';

export interface VectorDataset {
  tenantId: string;
  datasetId: string;
  /** The model the searched embeddings are written under. */
  modelId: string;
  dimensions: number;
}

/** Names the only tenant for the session (RLS) and finds the dataset by slug. */
export async function openDatasetAsOwner(client: pg.Client, slug: string): Promise<{ tenantId: string; datasetId: string }> {
  const { rows: tenants } = await client.query<{ id: string }>('select id from tenants');
  if (tenants.length !== 1) throw new Error(`expected one tenant, found ${tenants.length}`);
  const tenantId = tenants[0]!.id;
  await client.query(`select set_config('app.tenant_id', $1, false)`, [tenantId]);
  const { rows } = await client.query<{ id: string }>('select id from datasets where slug = $1', [slug]);
  return { tenantId, datasetId: rows[0]!.id };
}

/**
 * `count` chunks in documents of 100 (the content is short: vector search never reads it),
 * numbered 1…count in `bench_vector_chunks` so the embedding slices below can follow them.
 */
export async function generateChunks(client: pg.Client, tenantId: string, datasetId: string, count: number): Promise<void> {
  const documents = Math.ceil(count / 100);
  await client.query(
    `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
     select gen_random_uuid(), $1, $2, 'doc-' || lpad(g::text, 9, '0'), 'Document ' || g, 'text/plain', md5(g::text), 0, least(100, $3 - (g - 1) * 100), '{}', now(), now()
       from generate_series(1, $4) g`,
    [tenantId, datasetId, count, documents],
  );
  await client.query('create table bench_vector_chunks (n int primary key, chunk_id uuid not null)');
  const slice = 2000;
  for (let first = 0; first < documents; first += slice) {
    await client.query(
      `with inserted as (
         insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
         select gen_random_uuid(), d.tenant_id, d.dataset_id, d.id, o, 'Passage ' || o || ' of ' || d.title || '.', 0, 20, 'english'
           from (select *, row_number() over (order by source_key) - 1 as k from documents where dataset_id = $1 order by source_key offset $2 limit $3) d
           cross join generate_series(0, 99) o
          where d.k * 100 + o < $4
         returning id, document_id, ordinal)
       insert into bench_vector_chunks (n, chunk_id)
       select $2 * 100 + row_number() over (order by document_id, ordinal), id from inserted`,
      [datasetId, first, slice, count],
    );
    if ((first / slice) % 2 === 1) console.log(`  ${Math.min(count, (first + slice) * 100)} chunks`);
  }
  await client.query('vacuum analyze chunks');
  await client.query('vacuum analyze bench_vector_chunks');
  await client.query('update datasets set chunk_count = $1, document_count = $2 where id = $3', [count, documents, datasetId]);
}

/** The first `count` chunks' ids, in their numbering. */
export async function firstChunkIds(client: pg.Client, count: number): Promise<string[]> {
  const { rows } = await client.query<{ chunk_id: string }>('select chunk_id from bench_vector_chunks where n <= $1 order by n', [count]);
  return rows.map((row) => row.chunk_id);
}

/**
 * Embeds chunks (from, to] of the numbering: each picks a cluster at random and gets its
 * centroid plus noise, normalised (vectors.ts clusterMember, as the questions are drawn),
 * written by binary COPY (vector-copy.ts) in slices of 100 000 so progress shows.
 */
export async function generateEmbeddings(client: pg.Client, rows: CopiedRows, from: number, to: number): Promise<void> {
  const slice = 100_000;
  for (let first = from; first < to; first += slice) {
    const last = Math.min(to, first + slice);
    const { rows: numbered } = await client.query<{ chunk_id: string }>('select chunk_id from bench_vector_chunks where n > $1 and n <= $2 order by n', [first, last]);
    const written = await copyEmbeddings(client, rows, numbered.map((row) => row.chunk_id));
    if (written !== last - first) throw new Error(`COPY wrote ${written} embeddings for chunks ${first + 1} to ${last}`);
    if (to - from > slice) console.log(`  ${last} embeddings`);
  }
  await client.query('vacuum analyze chunk_embeddings');
  // Identical vectors would make ties of the exact answers and shrink the HNSW graph.
  const { rows: sample } = await client.query(`select count(*)::int as sampled, count(distinct embedding)::int as distinct from (select embedding from chunk_embeddings where model_id = $1 limit 10000) s`, [rows.modelId]);
  if (sample[0].sampled !== sample[0].distinct) throw new Error(`only ${sample[0].distinct} distinct of ${sample[0].sampled} embeddings sampled`);
}
