import { Migration } from '@mikro-orm/migrations';
import { embeddingIndexFunctionSql, HNSW_BUILD, PGVECTOR_DEFAULT_BUILD } from '../src/db/vector-index.js';

/**
 * `ensure_embedding_index` builds new HNSW indexes with m 24 and ef_construction 128 instead
 * of pgvector's 16 and 64 (issue 19: recall@10 0.870 → 0.981 at 1 M vectors, ef_search 200;
 * src/db/vector-index.ts). Indexes already built keep their settings until an operator
 * rebuilds them (docs/operations.md#vector-search-pgvector): rebuilding here would hold a lock
 * on chunk_embeddings for as long as a build of every vector takes.
 */
export class Migration20261203101028_hnsw_build_settings extends Migration {

  override async up(): Promise<void> {
    for (const statement of embeddingIndexFunctionSql(HNSW_BUILD)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of embeddingIndexFunctionSql(PGVECTOR_DEFAULT_BUILD)) this.addSql(statement);
  }

}
