import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';
import { editedSql } from './function-edits.js';
import { AUTH_API_KEY } from './Migration20261123011402_identity_security.js';

const NAME = 'Migration20261205213000_api_key_creator_role';
const DROP = 'drop function if exists auth_api_key(text);';

/**
 * Hand-written: an API key's lookup also returns who created it and that person's current role
 * in the key's tenant (null when they are no longer a member), so authentication holds the key
 * to what its creator may do now: a demoted member's keys narrow with them, a removed member's
 * keys stop (attacker review stop45, F5). identity_security's function with three edits. The
 * return type changes, so the function is dropped and created again, in the migration's
 * transaction: no request sees it missing.
 */
/** Exported for key_chain_lifetimes, which restates it with edits (function-edits.ts). */
export const AUTH_API_KEY_WITH_CREATOR = {
  signature: editedSql(AUTH_API_KEY.signature, [['revoked_at timestamptz)', 'revoked_at timestamptz, creator_id uuid, creator_role text)']], NAME),
  definition: editedSql(
    AUTH_API_KEY.definition,
    [
      ['k.expires_at, k.revoked_at\n', 'k.expires_at, k.revoked_at, k.created_by_id, m.role::text\n'],
      [
        'join tenants t on t.id = k.tenant_id\n',
        'join tenants t on t.id = k.tenant_id\n               left join memberships m on m.user_id = k.created_by_id and m.tenant_id = k.tenant_id\n',
      ],
    ],
    NAME,
  ),
};

export class Migration20261205213000_api_key_creator_role extends Migration {
  override async up(): Promise<void> {
    this.addSql(DROP);
    for (const statement of definerFunctionSql(AUTH_API_KEY_WITH_CREATOR.signature, AUTH_API_KEY_WITH_CREATOR.definition)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(DROP);
    for (const statement of definerFunctionSql(AUTH_API_KEY.signature, AUTH_API_KEY.definition)) this.addSql(statement);
  }
}
