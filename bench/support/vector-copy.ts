/**
 * Clustered embeddings written by binary COPY: the vectors are made in Node (vectors.ts
 * clusterMember, the very function the questions come from) and streamed to PostgreSQL as
 * COPY's binary rows, so no vector is parsed from text and no SQL computes one coordinate at a
 * time (the SQL generator this replaces ran at about 100 000 vectors per 15 minutes).
 * Generating 384 coordinates takes a few microseconds, writing the row in PostgreSQL (its
 * b-tree indexes and foreign keys) far longer: the stream keeps PostgreSQL busy on one core
 * while Node makes the next rows on the other, so a worker thread would add no throughput here.
 */
import { randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { clusterMember } from './vectors.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FLOAT4_OID = 700;
/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n;

/** The columns written, in the order each row's fields come. */
export const COPIED_COLUMNS = 'id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at';

export interface CopiedRows {
  tenantId: string;
  datasetId: string;
  modelId: string;
  dimensions: number;
  centroids: readonly number[][];
  amplitudes: readonly number[];
  /** Draws each row's cluster and noise: seeded, so a run writes the same vectors again. */
  random: () => number;
}

const uuidBytes = (uuid: string) => Buffer.from(uuid.replaceAll('-', ''), 'hex');

/** The uuids every row of one dataset and model shares, as bytes. */
interface Owners {
  tenant: Buffer;
  dataset: Buffer;
  model: Buffer;
}

/** The bytes of one row of binary COPY: 8 fields, each length-prefixed; the embedding a one-dimensional float4 array. */
export function embeddingRow(fixed: Owners, id: Buffer, chunkId: string, vector: readonly number[], createdMicros: bigint): Buffer {
  const arrayBytes = 20 + vector.length * 8;
  const row = Buffer.allocUnsafe(2 + 5 * 20 + 8 + 4 + arrayBytes + 12);
  let at = row.writeInt16BE(8, 0);
  for (const uuid of [id, fixed.tenant, fixed.dataset, uuidBytes(chunkId), fixed.model]) {
    at = row.writeInt32BE(16, at);
    at += uuid.copy(row, at);
  }
  at = row.writeInt32BE(4, at);
  at = row.writeInt32BE(vector.length, at);
  at = row.writeInt32BE(arrayBytes, at);
  // Array header: dimensions 1, no nulls, element type, length, lower bound 1.
  for (const word of [1, 0, FLOAT4_OID, vector.length, 1]) at = row.writeInt32BE(word, at);
  for (const x of vector) {
    at = row.writeInt32BE(4, at);
    at = row.writeFloatBE(x, at);
  }
  at = row.writeInt32BE(8, at);
  row.writeBigInt64BE(createdMicros, at);
  return row;
}

/** A random (version 4) UUID's 16 bytes, from a block filled once per batch. */
function uuidFrom(block: Buffer, index: number): Buffer {
  const id = block.subarray(index * 16, index * 16 + 16);
  id[6] = (id[6]! & 0x0f) | 0x40;
  id[8] = (id[8]! & 0x3f) | 0x80;
  return id;
}

/** COPY's binary stream for `chunkIds`: header, rows in batches of 1 000, trailer. */
function* copyStream(rows: CopiedRows, chunkIds: readonly string[]): Generator<Buffer> {
  yield Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
  const createdMicros = BigInt(Date.now()) * 1000n - POSTGRES_EPOCH_MICROS;
  const fixed = { tenant: uuidBytes(rows.tenantId), dataset: uuidBytes(rows.datasetId), model: uuidBytes(rows.modelId) };
  const batch = 1_000;
  for (let first = 0; first < chunkIds.length; first += batch) {
    const ids = randomFillSync(Buffer.allocUnsafe(batch * 16));
    const parts: Buffer[] = [];
    for (let i = first; i < Math.min(chunkIds.length, first + batch); i += 1) {
      const cluster = Math.floor(rows.random() * rows.centroids.length);
      const vector = clusterMember(rows.random, rows.centroids[cluster]!, rows.amplitudes, cluster);
      parts.push(embeddingRow(fixed, uuidFrom(ids, i - first), chunkIds[i]!, vector, createdMicros));
    }
    yield Buffer.concat(parts);
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

/**
 * Writes one clustered unit vector per chunk id into chunk_embeddings with one COPY. The
 * client must bypass row-level security (COPY FROM refuses a table under RLS otherwise): the
 * benchmark's owner is the server's superuser. Returns the rows COPY reports.
 */
export async function copyEmbeddings(client: pg.Client, rows: CopiedRows, chunkIds: readonly string[]): Promise<number> {
  const copy = client.query(copyFrom(`copy chunk_embeddings (${COPIED_COLUMNS}) from stdin (format binary)`));
  await pipeline(Readable.from(copyStream(rows, chunkIds), { objectMode: false }), copy);
  return Number(copy.rowCount);
}
