/**
 * pgvector where the server has it, nothing where it does not. Embeddings are stored as plain
 * `real[]` (chunk_embeddings), so a server without the extension (the embedded default) still
 * answers semantic queries by exact search; with it, HNSW indexes serve them.
 *
 * - At migrate time (owner role) `enableVectorExtension` creates the extension when
 *   pg_available_extensions lists it, and builds the indexes for the dimensions already
 *   stored (an extension installed after embeddings were written).
 * - The indexes are partial expression indexes, one per dimension:
 *   `using hnsw ((embedding::vector(D)) vector_cosine_ops) where dimensions = D`. The app role
 *   owns no table and cannot create them: it calls `ensure_embedding_index(D)`, a SECURITY
 *   DEFINER function owned by the migrating role (rls.ts definerFunctionSql: search_path
 *   pinned, execute granted to the app role only), from a read-write transaction (the
 *   EMBEDDING stage, when it writes vectors of a dimension).
 * - Only the dimensions the operator lists (SLUICE_VECTOR_INDEX_DIMENSIONS) get one. Every
 *   index is on the table all tenants share: each is planned (and locked) by every semantic
 *   query, and each build reads the whole table under a SHARE lock. A tenant picks its model's
 *   `dimensions` (or its embeddings server picks the vector length), so building one per
 *   dimension seen let one tenant add up to 2 000 of them, slow every tenant's query planning
 *   30-fold and exhaust the lock table. Any other dimension is searched exactly. Indexes that
 *   exist already stay, and serve.
 * - Above pgvector's 2 000-dimension HNSW limit there is no index: exact search.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../platform/logging/logger.js';
import { withClient } from './bootstrap.js';
import { boundSql } from './bound-sql.js';
import { definerFunctionSql } from './rls.js';

/** pgvector's limit for an HNSW index on `vector` (https://github.com/pgvector/pgvector#hnsw). */
export const MAX_HNSW_DIMENSIONS = 2000;

/**
 * SLUICE_VECTOR_INDEX_DIMENSIONS' default: the common embedding sizes (OpenAI text-embedding-3
 * shortened to 256, 512 or 1024, and -small's 1536; 384 MiniLM / bge-small; 768 nomic / bge-base;
 * 1024 bge-large / Cohere v3 / Voyage). 3072 (-large) is above pgvector's limit: exact search.
 */
export const DEFAULT_VECTOR_INDEX_DIMENSIONS: readonly number[] = [256, 384, 512, 768, 1024, 1536];

export const embeddingIndexName = (dimensions: number) => `chunk_embeddings_hnsw_${dimensions}`;

/**
 * The graph's build settings, above pgvector's defaults (m 16, ef_construction 64): at 1 M
 * vectors shaped like real embeddings those gave recall@10 0.870 at ef_search 200 and 0.933 at
 * 800, whole questions lost in the wrong cluster; m 24 with ef_construction 128 gave 0.981 at
 * 200 (one question under 0.5 of 100) and 0.989 at 400 (docs/endpoints.md, "HNSW recall and
 * the defaults"). The price: a build about 2.8 times as long, and each vector written into the
 * index costs more. An index built before 2026-12-03 keeps its settings until rebuilt
 * (docs/operations.md#vector-search-pgvector).
 */
export const HNSW_BUILD = { m: 24, efConstruction: 128 };

/** pgvector's own defaults, which indexes built before 2026-12-03 have. */
export const PGVECTOR_DEFAULT_BUILD = { m: 16, efConstruction: 64 };

/**
 * The function the app calls to ensure the HNSW index for one dimension: false (and nothing
 * done) without the extension or outside 1..2000. The extension's schema is looked up, not
 * assumed (managed servers often install it in `extensions`). An existing index returns at
 * once from the catalogue, so the EMBEDDING stage calls it before every batch it writes.
 * Concurrent callers for the same dimension wait on an advisory lock, so `if not exists`
 * never races into a duplicate name. Built in the caller's transaction, before that
 * dimension's first vectors are written: the partial index then holds no rows yet (it holds a
 * SHARE lock on chunk_embeddings only while it reads the table once), and pgvector adds the
 * vectors as they are written.
 */
export function embeddingIndexFunctionSql(build: { m: number; efConstruction: number } = HNSW_BUILD): string[] {
  return definerFunctionSql(
    'ensure_embedding_index(p_dimensions integer) returns boolean',
    `language plpgsql volatile security definer as $$
       declare
         vector_schema text;
       begin
         if p_dimensions is null or p_dimensions < 1 or p_dimensions > ${MAX_HNSW_DIMENSIONS} then return false; end if;
         select n.nspname into vector_schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector';
         if vector_schema is null then return false; end if;
         -- Already there (every call but the first for a dimension): no lock on the table at all.
         if exists (select from pg_index i join pg_class c on c.oid = i.indexrelid
                     where i.indrelid = 'chunk_embeddings'::regclass and c.relname = 'chunk_embeddings_hnsw_' || p_dimensions) then
           return true;
         end if;
         perform pg_advisory_xact_lock(hashtext('sluice:embedding-index'), p_dimensions);
         execute format(
           'create index if not exists %I on chunk_embeddings using hnsw ((embedding::%I.vector(%s)) %I.vector_cosine_ops) with (m = ${build.m}, ef_construction = ${build.efConstruction}) where dimensions = %s',
           'chunk_embeddings_hnsw_' || p_dimensions, vector_schema, p_dimensions, vector_schema, p_dimensions);
         return true;
       end $$;`,
  );
}

/** What the server offers vector search: pgvector's schema (null: not installed) and the dimensions with a valid HNSW index. */
export interface VectorSupport {
  vectorSchema: string | null;
  indexedDimensions: ReadonlySet<number>;
}

/** Read from the catalogue on each call (two small lookups): an index built meanwhile is used at once. */
export async function vectorSupport(em: EntityManager): Promise<VectorSupport> {
  const [row] = await boundSql<{ vector_schema: string | null; indexed: number[] }>(
    em,
    `select (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector') as vector_schema,
            coalesce((select array_agg(substring(c.relname from '(\\d+)$')::int)
                        from pg_index i join pg_class c on c.oid = i.indexrelid
                       where i.indrelid = 'chunk_embeddings'::regclass and i.indisvalid and c.relname ~ '^chunk_embeddings_hnsw_\\d+$'), '{}') as indexed`,
    [],
  );
  return { vectorSchema: row?.vector_schema ?? null, indexedDimensions: new Set(row?.indexed ?? []) };
}

/**
 * Ensures the HNSW index for `dimensions` in `em`'s (read-write) transaction when the operator
 * lists that dimension in `indexed` (SLUICE_VECTOR_INDEX_DIMENSIONS); true when one is built or
 * exists. For the code that writes embeddings (ingestion/embedding-stage.ts).
 */
export async function ensureVectorIndex(em: EntityManager, dimensions: number, indexed: ReadonlySet<number>): Promise<boolean> {
  // Checked before any SQL: a dimension not listed costs no catalogue lookup and takes no lock.
  if (!indexed.has(dimensions)) return false;
  const [row] = await boundSql<{ ensured: boolean }>(em, 'select ensure_embedding_index(?::int) as ensured', [dimensions]);
  return row?.ensured === true;
}

/**
 * At migrate time, as the owner: `create extension if not exists vector` when the server offers
 * it, then the indexes for the dimensions already stored that `indexed` lists. Reading those
 * needs an owner that bypasses row-level security (a superuser, as the embedded server's and
 * most self-hosted owners are); any other owner sees no rows and the indexes come with the next
 * vectors written.
 * A server that refuses the extension (no privilege) is logged and answers by exact search.
 */
export async function enableVectorExtension(ownerUrl: string, logger: Logger, indexed: ReadonlySet<number>): Promise<'pgvector' | 'exact'> {
  return withClient(ownerUrl, async (client) => {
    const available = await client.query<{ default_version: string }>(`select default_version from pg_available_extensions where name = 'vector'`);
    if (available.rows.length === 0) {
      logger.info({ vectorSearch: 'exact' }, 'vector search: exact (the server has no pgvector extension)');
      return 'exact';
    }
    try {
      await client.query('create extension if not exists vector');
    } catch (error) {
      logger.warn({ vectorSearch: 'exact', err: error }, 'vector search: exact (pgvector is available but could not be created)');
      return 'exact';
    }
    const stored = await client.query<{ dimensions: number }>('select distinct dimensions from chunk_embeddings where dimensions = any($1::int[])', [[...indexed]]);
    for (const { dimensions } of stored.rows) await client.query('select ensure_embedding_index($1::int)', [dimensions]);
    const version = await client.query<{ extversion: string }>(`select extversion from pg_extension where extname = 'vector'`);
    logger.info({ vectorSearch: 'pgvector', version: version.rows[0]?.extversion, dimensions: stored.rows.map((row) => row.dimensions) }, 'vector search: pgvector HNSW');
    return 'pgvector';
  });
}
