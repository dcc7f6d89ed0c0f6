import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Hand-written: which tenant a refused API key names. A presented key whose hash matches no key
 * but whose prefix (`slk_` + 8 characters, shown in the console and the audit trail) is one of
 * a tenant's keys is a wrong secret for that key: the refusal belongs in that tenant's audit
 * trail (issue 17, item 6). Returns ids only, at most three rows (prefixes are 48 random bits:
 * two keys sharing one is already unlikely).
 */
export class Migration20261202082902_api_key_prefix_lookup extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "api_keys_prefix_index" on "api_keys" ("prefix");`);
    const lookup = definerFunctionSql(
      `auth_api_key_prefix(p_prefix text) returns table (key_id uuid, tenant_id uuid)`,
      `language sql stable security definer as $$
         select k.id, k.tenant_id from api_keys k where k.prefix = p_prefix order by k.created_at limit 3 $$;`,
    );
    for (const statement of lookup) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists auth_api_key_prefix(text);`);
    this.addSql(`drop index if exists "api_keys_prefix_index";`);
  }
}
