import { Migration } from '@mikro-orm/migrations';
import { RESCRUB_2026_12_07, rescrubAuditHistory } from './support/audit-history-rescrub.js';
import { ownerQuery } from './support/owner-query.js';

/**
 * Hand-written. Until 2026-12-07 an identity provider's `jwks` had no audit mark: a private key
 * pasted by mistake (`{"kty":"EC",…,"d":"…"}`, an RSA key's `p`, `q`, `dp`, `dq`, `qi`, an `oct`
 * key's `k`) was kept in the refused operation's `graphql.mutation` event, readable by every
 * ADMIN. Today `jwks` is kept only as what identifies each key (marks.ts, `keySet`), and a JSON
 * Web Key's private members are omitted from any unmarked value. This removes them from the
 * stored events (operation arguments, configuration changes) and records each chain's rewrite
 * on it (migrations/support/audit-history-rescrub.ts; docs/audit.md, "Chain rewrites").
 */
export class Migration20261207140000_audit_history_without_private_keys extends Migration {
  override async up(): Promise<void> {
    await rescrubAuditHistory(ownerQuery(this), RESCRUB_2026_12_07);
  }

  override async down(): Promise<void> {
    // What was removed is gone for good.
  }
}
