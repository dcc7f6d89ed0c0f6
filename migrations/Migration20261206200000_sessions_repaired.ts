import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written. Sessions made before switchTenant stopped issuing refresh tokens and removal
 * started ending sessions (2026-12-06) are repaired, so the fixes hold for them too:
 *
 * 1. A session active in a tenant its user is no longer a member of is ended (`membership`):
 *    until now removal left it live, refused only while the membership was gone, so inviting
 *    the person again brought the old access and refresh tokens back.
 * 2. A session holding more than one unused refresh token was forked by switchTenant (each call
 *    issued one more without using the last up): two live chains that reuse detection never
 *    saw, one of them possibly minted from a stolen access token. Which chain is the owner's
 *    cannot be told, so the session is ended (`forked`); its user signs in again.
 */
export class Migration20261206200000_sessions_repaired extends Migration {
  override async up(): Promise<void> {
    this.addSql(`update sessions s set revoked_at = now(), revoked_reason = 'membership'
                  where s.revoked_at is null
                    and not exists (select 1 from memberships m where m.user_id = s.user_id and m.tenant_id = s.active_tenant_id);`);
    this.addSql(`update sessions s set revoked_at = now(), revoked_reason = 'forked'
                  where s.revoked_at is null
                    and (select count(*) from refresh_tokens r where r.session_id = s.id and r.used_at is null and r.expires_at > now()) > 1;`);
  }

  override async down(): Promise<void> {
    // Ended sessions stay ended.
  }
}
