/**
 * The vector benchmark writes its embeddings as COPY's binary rows built by hand
 * (bench/support/vector-copy.ts): a wrong length, byte order or array header would either be
 * refused or, worse, stored as other numbers. PostgreSQL reads the rows back here.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyEmbeddings } from '../../bench/support/vector-copy.js';
import { clusterCentroids, clusterMember, dot, noiseAmplitudes, seededRandom } from '../../bench/support/vectors.js';
import { createEmptyDatabase } from '../support/database.js';

// The suite's own PostgreSQL (embedded, or DATABASE_URL's server): a database of this file's own.
let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
let client: pg.Client;

beforeAll(async () => {
  database = await createEmptyDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  // A temporary table comes first on the search path: COPY into `chunk_embeddings` lands here.
  await client.query(`create temporary table chunk_embeddings (id uuid primary key, tenant_id uuid not null, dataset_id uuid not null, chunk_id uuid not null,
                        model_id uuid not null, dimensions int not null, embedding real[] not null, created_at timestamptz not null)`);
});
afterAll(async () => {
  await client?.end();
  await database?.drop();
});

describe('embeddings by binary COPY', () => {
  it('stores each chunk its cluster member as float4, with the owners, dimensions and a fresh id', async () => {
    const dimensions = 384;
    const centroids = clusterCentroids(seededRandom(1), dimensions, 5, 2);
    const amplitudes = noiseAmplitudes(dimensions, 0.8, 1);
    const owners = { tenantId: randomUUID(), datasetId: randomUUID(), modelId: randomUUID() };
    const chunkIds = Array.from({ length: 2_500 }, () => randomUUID());
    const before = new Date();

    const written = await copyEmbeddings(client, { ...owners, dimensions, centroids, amplitudes, random: seededRandom(5) }, chunkIds);

    expect(written).toBe(2_500);
    // The same stream of random numbers gives the vectors COPY should have written, in order.
    const random = seededRandom(5);
    const expected = chunkIds.map(() => {
      const cluster = Math.floor(random() * centroids.length);
      return clusterMember(random, centroids[cluster]!, amplitudes, cluster);
    });
    const { rows } = await client.query(`select id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at from chunk_embeddings`);
    expect(rows.map((row) => row.chunk_id).sort()).toEqual([...chunkIds].sort());
    const byChunk = new Map(rows.map((row) => [row.chunk_id as string, row]));
    for (const [index, chunkId] of chunkIds.entries()) {
      const row = byChunk.get(chunkId)!;
      expect([row.tenant_id, row.dataset_id, row.model_id, row.dimensions]).toEqual([owners.tenantId, owners.datasetId, owners.modelId, dimensions]);
      const stored = (row.embedding as string[]).map((x) => Math.fround(Number(x)));
      expect(stored).toEqual(expected[index]!.map((x) => Math.fround(x)));
      expect(dot(stored, stored)).toBeCloseTo(1, 5);
    }
    expect(new Set(rows.map((row) => row.id)).size).toBe(2_500);
    expect(rows.every((row) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(row.id))).toBe(true);
    const created = rows[0].created_at as Date;
    expect(created.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1);
    expect(created.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
