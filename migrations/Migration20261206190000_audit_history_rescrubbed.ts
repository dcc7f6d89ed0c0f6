import { Migration } from '@mikro-orm/migrations';
import { rescrubAuditHistory } from './support/audit-history-rescrub.js';
import { ownerQuery } from './support/owner-query.js';

/**
 * Hand-written. Events written before 2026-12-06 keep what today's rules mask: `config.*`
 * change events kept values through a narrower copy of the rules (an `slk_` key in an
 * endpoint's name, `Bearer …` or `sk-proj-…` in a model config, `?access_token=` in a JWKS URL,
 * a model's system prompt verbatim), operation events kept the operation's name and field
 * aliases as sent, and keys glued to other text (`ab-slk_…`) escaped redaction. This applies
 * the rules to the stored events and records each chain's rewrite on it
 * (migrations/support/audit-history-rescrub.ts; docs/audit.md, "Chain rewrites"). It runs the rules
 * of the build that applies it, which are never weaker than this one's.
 */
export class Migration20261206190000_audit_history_rescrubbed extends Migration {
  override async up(): Promise<void> {
    await rescrubAuditHistory(ownerQuery(this));
  }

  override async down(): Promise<void> {
    // What was removed is gone for good.
  }
}
