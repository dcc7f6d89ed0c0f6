import { Migration } from '@mikro-orm/migrations';
import { embeddingIndexFunctionSql, PGVECTOR_DEFAULT_BUILD } from '../src/db/vector-index.js';

/**
 * Generated (an endpoint's retrieval mode, KEYWORD for every existing endpoint), plus the
 * SECURITY DEFINER function that builds a dimension's HNSW index where pgvector exists
 * (src/db/vector-index.ts; last line of `up`).
 */

export class Migration20261202145635_retrieval_modes extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "endpoints" add column "retrieval_mode" text check ("retrieval_mode" in ('KEYWORD', 'SEMANTIC', 'HYBRID')) not null default 'KEYWORD';`);

    // The settings of the time: a later migration (…_hnsw_build_settings) raises them.
    for (const statement of embeddingIndexFunctionSql(PGVECTOR_DEFAULT_BUILD)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists ensure_embedding_index(integer);`);
    this.addSql(`alter table "endpoints" drop column "retrieval_mode";`);
  }

}
