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
import { createHash } from 'node:crypto';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';

/**
 * `timeoutMs`: the statement is cancelled (pg_cancel_backend, from a connection of its own)
 * once it runs longer, and the call rejects with knex's `KnexTimeoutError` (isStatementTimeout).
 */
export function boundSql<T = unknown>(em: EntityManager, sql: string, params: readonly Knex.RawBinding[], timeoutMs?: number): Promise<T[]> {
  return rowsOf<T>(em, em.getConnection().getKnex().raw(sql, params), timeoutMs);
}

/** Whether `error` is a statement cancelled by the `timeoutMs` of boundSql or preparedSql (not the pool's own acquire timeout). */
export function isStatementTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'KnexTimeoutError' && error.message.startsWith('Defined query timeout');
}

/** Runs `query` in the EntityManager's current transaction (if any). */
async function rowsOf<T>(em: EntityManager, query: Knex.Raw, timeoutMs?: number): Promise<T[]> {
  const transaction = em.getTransactionContext();
  if (transaction) query.transacting(transaction);
  if (timeoutMs !== undefined) query.timeout(timeoutMs, { cancel: true });
  const result = (await query) as { rows: T[] };
  return result.rows;
}

/** A PostgreSQL array literal, so a list binds as one parameter (`?::uuid[]`, `?::text[]`). */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}

/**
 * `boundSql` as a named prepared statement: PostgreSQL plans it once per connection (a generic
 * plan once it proves no worse than the custom ones) instead of at every call. For hot
 * statements whose planning is a large share of their cost: the keyword search's single pass
 * (sluice_keyword_search, inlined into the retriever's statement) took about as long to plan
 * as to run on a small dataset. The name is the text's digest, so one text is one statement.
 */
export function preparedSql<T = unknown>(em: EntityManager, sql: string, params: readonly Knex.RawBinding[], timeoutMs?: number): Promise<T[]> {
  const name = `sluice_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
  return rowsOf<T>(em, em.getConnection().getKnex().raw(sql, params).options({ name }), timeoutMs);
}
