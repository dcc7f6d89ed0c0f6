import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';
import { editedSql } from './function-edits.js';
import { AUTH_API_KEY_WITH_CREATOR } from './Migration20261205213000_api_key_creator_role.js';

const NAME = 'Migration20261207090000_key_chain_lifetimes';
const DROP = 'drop function if exists auth_api_key(text);';

/**
 * Hand-written. A key lives no longer than the keys that minted it (src/domains/identity/
 * credential-lifetimes.ts):
 *
 * 1. An API key's lookup also returns, for the keys above it (its parent, the parent's parent…),
 *    the earliest expiry and the earliest revocation, so authentication refuses a key whose
 *    parent expired (or reached the end of a rotation's grace period) or was revoked, however
 *    that came about. api_key_creator_role's function with three edits; the return type changes,
 *    so it is dropped and created again in the migration's transaction. Every name in the walk
 *    is qualified or unlike the output columns (plpgsql would find them ambiguous). `union`, not
 *    `union all`: a cycle (none can be made, but a hand edit could) ends the walk instead of
 *    looping.
 * 2. Keys minted by a key before this rule, and pending invitations a key sent, whose expiry is
 *    later than their parent chain's (or who never expire) get that chain's end as their expiry,
 *    so the key list says when they stop. Children of a key rotated earlier stop with its grace
 *    period (already over for most). Nothing is recorded in the audit trail: no one changed them.
 *    FORCEd RLS is lifted for the owner while it updates across tenants.
 */
export const AUTH_API_KEY_WITH_PARENTS = {
  signature: editedSql(
    AUTH_API_KEY_WITH_CREATOR.signature,
    [['creator_role text)', 'creator_role text, parents_expire_at timestamptz, parent_revoked_at timestamptz)']],
    NAME,
  ),
  definition: editedSql(
    AUTH_API_KEY_WITH_CREATOR.definition,
    [
      ['k.created_by_id, m.role::text\n', 'k.created_by_id, m.role::text, c.chain_ends_at, c.chain_revoked_at\n'],
      [
        'left join memberships m on m.user_id = k.created_by_id and m.tenant_id = k.tenant_id\n',
        `left join memberships m on m.user_id = k.created_by_id and m.tenant_id = k.tenant_id
               left join lateral (
                 with recursive up (up_id, up_parent_id, up_expires_at, up_revoked_at) as (
                   select p.id, p.created_by_api_key_id, p.expires_at, p.revoked_at from api_keys p where p.id = k.created_by_api_key_id
                   union
                   select p.id, p.created_by_api_key_id, p.expires_at, p.revoked_at from api_keys p join up on p.id = up.up_parent_id
                 )
                 select min(up.up_expires_at) as chain_ends_at, min(up.up_revoked_at) as chain_revoked_at from up
               ) c on true\n`,
      ],
    ],
    NAME,
  ),
};

/** For every key with a parent key: the earliest expiry of the keys above it (`chain_ends_at`). */
const PARENT_CHAINS = `with recursive chain (key_id, ancestor_id, ends_at, depth) as (
    select k.id, k.created_by_api_key_id, null::timestamptz, 0 from api_keys k where k.created_by_api_key_id is not null
    union all
    select c.key_id, p.created_by_api_key_id, least(c.ends_at, p.expires_at), c.depth + 1
      from chain c join api_keys p on p.id = c.ancestor_id
     where c.depth < 10000
  )
  select key_id, min(ends_at) as chain_ends_at from chain group by key_id`;

export class Migration20261207090000_key_chain_lifetimes extends Migration {
  override async up(): Promise<void> {
    this.addSql(DROP);
    for (const statement of definerFunctionSql(AUTH_API_KEY_WITH_PARENTS.signature, AUTH_API_KEY_WITH_PARENTS.definition)) this.addSql(statement);

    this.addSql(`alter table api_keys no force row level security;`);
    this.addSql(`alter table invitations no force row level security;`);
    this.addSql(`update api_keys k set expires_at = b.chain_ends_at
                   from (${PARENT_CHAINS}) b
                  where k.id = b.key_id and b.chain_ends_at is not null and (k.expires_at is null or k.expires_at > b.chain_ends_at);`);
    // After the keys: a sending key's own expiry is now its chain's end.
    this.addSql(`update invitations i set expires_at = k.expires_at
                   from api_keys k
                  where k.id = i.created_by_api_key_id and i.accepted_at is null and i.revoked_at is null
                    and k.expires_at is not null and i.expires_at > k.expires_at;`);
    this.addSql(`alter table api_keys force row level security;`);
    this.addSql(`alter table invitations force row level security;`);
  }

  override async down(): Promise<void> {
    // Shortened lifetimes stay shortened.
    this.addSql(DROP);
    for (const statement of definerFunctionSql(AUTH_API_KEY_WITH_CREATOR.signature, AUTH_API_KEY_WITH_CREATOR.definition)) this.addSql(statement);
  }
}
