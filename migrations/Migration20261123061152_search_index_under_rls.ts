import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written. Under row-level security PostgreSQL evaluates the policy before any condition
 * whose function is not LEAKPROOF, so `search @@ query` (ts_match_vq) cannot use the GIN
 * index and every search reads every chunk of the tenant. ts_match_vq only compares its two
 * arguments and raises no data-dependent error, so it is safe to mark LEAKPROOF; that needs a
 * superuser. The migrating role does it when it is one (embedded PostgreSQL, most
 * self-hosted servers); otherwise it warns, and `sluice serve` warns at every start until a
 * superuser runs the statement (docs/operations.md).
 */
export class Migration20261123061152_search_index_under_rls extends Migration {
  override async up(): Promise<void> {
    this.addSql(`do $$
      begin
        if (select rolsuper from pg_roles where rolname = current_user) then
          alter function pg_catalog.ts_match_vq(tsvector, tsquery) leakproof;
        else
          raise warning 'Sluice: a superuser should run: ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF; until then full-text search cannot use its index under row-level security';
        end if;
      end $$;`);
  }
}
