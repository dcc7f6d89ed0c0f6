/**
 * Migrations-local: a module written with PostgreSQL's `$n` placeholders, run through a
 * migration's `execute`, which takes knex's `?` ones. Each `$n` becomes a `?` with its value
 * in the order written, so a value used twice is passed twice.
 */
import type { Migration } from '@mikro-orm/migrations';

/** Runs one statement (PostgreSQL's `$n` parameters) as the database owner, in the caller's transaction. */
export type OwnerQuery = (sql: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/** `migration.execute` as an OwnerQuery. */
export function ownerQuery(migration: Pick<Migration, 'execute'>): OwnerQuery {
  return async (sql, params = []) => {
    const ordered: unknown[] = [];
    const knexSql = sql.replace(/\$(\d+)\b/g, (_, n: string) => {
      ordered.push(params[Number(n) - 1]);
      return '?';
    });
    return (await migration.execute(knexSql, ordered)) as Record<string, unknown>[];
  };
}
