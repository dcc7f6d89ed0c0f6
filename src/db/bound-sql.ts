/**
 * SQL with bound parameters, in the EntityManager's current transaction.
 *
 * MikroORM 6's `Connection.execute` (and every flush) inlines parameters into the SQL text
 * with pg's `escapeLiteral`, which rebuilds each string one character at a time
 * (mikro-orm#6829 and #8001, node-postgres#3194). For megabyte values (document text, chunk
 * batches) that costs about 30 bytes of heap per character and most of the CPU: 10 MB of
 * uploads held 155 MB of string fragments. Bound parameters ($1, $2…) go to PostgreSQL as
 * they are. Use this for statements that carry large text; `?` marks a parameter.
 */
import type { EntityManager, Knex } from '@mikro-orm/postgresql';

export async function boundSql<T = unknown>(em: EntityManager, sql: string, params: readonly Knex.RawBinding[]): Promise<T[]> {
  const query = em.getConnection().getKnex().raw(sql, params);
  const transaction = em.getTransactionContext();
  if (transaction) query.transacting(transaction);
  const result = (await query) as { rows: T[] };
  return result.rows;
}

/** A PostgreSQL array literal, so a list binds as one parameter (`?::uuid[]`, `?::text[]`). */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}
