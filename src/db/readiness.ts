/**
 * Start-up and readiness checks on the API's own connection.
 */
import type { Orm } from './orm.js';
import { MIGRATIONS_TABLE } from './orm.js';
import { latestMigrationName } from './migrate.js';

/**
 * Refuses a connection that would make row-level security moot: a superuser, a BYPASSRLS
 * role, or the owner of any table in the schema.
 */
export async function assertRestrictedAppRole(orm: Orm): Promise<void> {
  const [role] = await orm.em.getConnection().execute<{ name: string; super: boolean; bypass: boolean; owns: number }[]>(
    `select current_user as name, r.rolsuper as super, r.rolbypassrls as bypass,
            (select count(*)::int from pg_tables t where t.schemaname = 'public' and t.tableowner = current_user) as owns
       from pg_roles r where r.rolname = current_user`,
  );
  if (!role) throw new Error('Cannot read the app role from pg_roles');
  const problems = [
    role.super && 'is a superuser',
    role.bypass && 'has BYPASSRLS',
    role.owns > 0 && `owns ${role.owns} table(s)`,
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new Error(
      `The API's database role "${role.name}" ${problems.join(', ')}: row-level security would not apply. ` +
        'Connect the API as a restricted role (DATABASE_APP_URL); see docs/operations.md.',
    );
  }
}

/** Ready: the database answers, and the newest migration this build ships has been applied. */
export async function isDatabaseReady(orm: Orm): Promise<boolean> {
  const latest = latestMigrationName();
  const rows = await orm.em
    .getConnection()
    .execute<{ name: string }[]>(`select name from ${MIGRATIONS_TABLE} where name = ?`, [latest ?? '']);
  return latest === undefined || rows.length === 1;
}

/**
 * Whether full-text search can use its GIN index under row-level security: only when
 * ts_match_vq is LEAKPROOF (see the search_index_under_rls migration). Without it search
 * works, but reads every chunk of the tenant.
 */
export async function searchIndexUsable(orm: Orm): Promise<boolean> {
  const [row] = await orm.em
    .getConnection()
    .execute<{ leakproof: boolean }[]>(`select proleakproof as leakproof from pg_proc where oid = 'pg_catalog.ts_match_vq(tsvector, tsquery)'::regprocedure`);
  return row?.leakproof === true;
}

/**
 * Readiness as every probe sees it: one answer shared by all callers for `ttlMs` (the check
 * still running included), so a flood of `/readyz` costs at most one query per `ttlMs`,
 * however many ask. A probe sees the database's state at most `ttlMs` late.
 */
export function sharedReadiness(orm: Orm, ttlMs = READINESS_TTL_MS): () => Promise<boolean> {
  let last: { at: number; ready: Promise<boolean> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at >= ttlMs) last = { at: now, ready: isDatabaseReady(orm).catch(() => false) };
    return last.ready;
  };
}

/** How long one readiness answer is shared (docs/operations.md). */
export const READINESS_TTL_MS = 1_000;
