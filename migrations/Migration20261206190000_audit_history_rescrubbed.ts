import { Migration } from '@mikro-orm/migrations';
import { rescrubAuditHistory } from '../src/db/audit-history-rescrub.js';

/**
 * Hand-written. Events written before 2026-12-06 keep what today's rules mask: `config.*`
 * change events kept values through a narrower copy of the rules (an `slk_` key in an
 * endpoint's name, `Bearer …` or `sk-proj-…` in a model config, `?access_token=` in a JWKS URL,
 * a model's system prompt verbatim), operation events kept the operation's name and field
 * aliases as sent, and keys glued to other text (`ab-slk_…`) escaped redaction. This applies
 * the rules to the stored events and records each chain's rewrite on it
 * (src/db/audit-history-rescrub.ts; docs/audit.md, "Chain rewrites"). It runs the rules
 * of the build that applies it, which are never weaker than this one's.
 */
export class Migration20261206190000_audit_history_rescrubbed extends Migration {
  override async up(): Promise<void> {
    // The ORM's raw queries take knex's `?` placeholders; the module writes PostgreSQL's `$n`.
    await rescrubAuditHistory(async (sql, params = []) => {
      const ordered: unknown[] = [];
      const knexSql = sql.replace(/\$(\d+)\b/g, (_, n: string) => {
        ordered.push(params[Number(n) - 1]);
        return '?';
      });
      return (await this.execute(knexSql, ordered)) as Record<string, unknown>[];
    });
  }

  override async down(): Promise<void> {
    // What was removed is gone for good.
  }
}
