import { Migration } from '@mikro-orm/migrations';

/**
 * What used a refresh token up: `refresh` (it was traded for its successor) or `move` (a
 * signed-in acceptInvitation rotated the session's chain). A refresh that finds its token spent
 * by a move made while it waited lost a race, not a copy, and is refused without ending the
 * session (AccountService.refreshSession). Tokens used before this say nothing (null).
 */
export class Migration20261207183000_refresh_tokens_used_by extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "refresh_tokens" add column "used_by" varchar(16) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "refresh_tokens" drop column "used_by";`);
  }

}
