import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../src/db/bootstrap.js';
import { definerFunctionSql } from '../src/db/rls.js';
import { editedSql } from './function-edits.js';
import { APPEND_AUDIT_EVENTS } from './Migration20261124105804_audit_trail.js';
import { pseudonymise } from './Migration20261129234109_audit_erasure_lock.js';
import { eraseUser } from './Migration20261206170000_erasure_in_own_tenants.js';

const NAME = 'Migration20261207100000_audit_trust_boundary';

/**
 * Hand-written. The audit trail's SECURITY DEFINER functions trusted what the app role passed
 * them (an attacker review): as the app role, `pseudonymise_audit_actor(<a live owner's id>, …)`
 * wiped that owner's email and IP from their whole history, and `append_audit_events` stored
 * whatever `createdAt` and `personal` it was given. Now:
 *
 * 1. Pseudonymising is part of erasing an account and nothing else: the app role may no longer
 *    call `pseudonymise_audit_actor`, which refuses an actor whose account still exists, and
 *    `erase_user` (what deleteMyAccount calls) refuses an id that is no account and pseudonymises
 *    only after it has deleted the account's row, in the same transaction. Actors listed as
 *    erased while their account still exists (what that misuse left) are no longer listed: their
 *    later events keep their personal data again, and the verifier reports the rewritten ones.
 * 2. `append_audit_events` takes an event's id and time from its hashed payload (`id`, `at`, an
 *    ISO 8601 date-time), so the row's `created_at` cannot disagree with what is hashed, and it
 *    refuses personal data marked `erased` or `valuesErased`: only the erasure functions write
 *    those marks. Refusals are data errors (class 22), which the writer drops rather than retries.
 * 3. `audit_erased_pseudonym(actor)`: the verifier accepts an event's personal data as erased only
 *    when its actor is listed as erased, under that pseudonym; the list stays out of the app
 *    role's reach otherwise.
 */
export const APPEND_CHECKED = {
  signature: APPEND_AUDIT_EVENTS.signature,
  definition: editedSql(
    APPEND_AUDIT_EVENTS.definition,
    [
      ['written bigint := 0;', 'written bigint := 0;\n             at timestamptz;'],
      [
        "tenant := (event->>'tenantId')::uuid;",
        `tenant := (event->>'tenantId')::uuid;
               if coalesce(event->'payload'->>'at', '') !~ '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' then
                 raise exception 'audit event %: payload.at must be an ISO 8601 date-time', event->>'id' using errcode = '22007';
               end if;
               if event->'payload'->>'id' is null then
                 raise exception 'audit event without payload.id' using errcode = '22004';
               end if;
               if coalesce(jsonb_typeof(event->'personal'), '') <> 'object' or jsonb_exists_any(event->'personal', array['erased', 'valuesErased']) then
                 raise exception 'audit event %: personal data must be an object, and only erasure marks it erased', event->>'id' using errcode = '22023';
               end if;
               at := (event->'payload'->>'at')::timestamptz;`,
      ],
      ["(event->>'id')::uuid, (event->>'createdAt')::timestamptz,", "(event->'payload'->>'id')::uuid, at,"],
    ],
    NAME,
  ),
};

const PSEUDONYMISE_ERASED_ONLY = definerFunctionSql(
  'pseudonymise_audit_actor(p_actor_id text, p_pseudonym text) returns bigint',
  `language plpgsql volatile security definer as $$
     declare
       listed text;
       changed bigint;
     begin
       -- As audit_erasure_lock: appends in flight finish first, later ones see the listing.
       lock table audit_chain_heads in exclusive mode;
       if exists (select 1 from users u where u.id::text = p_actor_id) then
         raise exception 'audit actor % still has an account: erase_user pseudonymises, after deleting it', p_actor_id using errcode = '42501';
       end if;
       insert into audit_erased_actors (actor_id, pseudonym) values (p_actor_id, p_pseudonym) on conflict (actor_id) do nothing;
       -- An actor erased before keeps its first pseudonym, the one the verifier expects.
       select x.pseudonym into listed from audit_erased_actors x where x.actor_id = p_actor_id;
       update audit_events set personal = jsonb_build_object('erased', true, 'pseudonym', listed)
        where actor_id = p_actor_id and not coalesce((personal->>'erased')::boolean, false);
       get diagnostics changed = row_count;
       return changed;
     end $$;`,
);

function eraseUserAfterDelete(): string[] {
  const [create, ...grants] = eraseUser(true);
  const edited = editedSql(
    create!,
    [
      [
        'begin\n',
        `begin
         -- Only an account that exists is erased (the caller passes any id it likes).
         select u.email into email from users u where u.id = p_user for update;
         if not found then
           raise exception 'no account %', p_user using errcode = 'P0002';
         end if;\n`,
      ],
      ['         select u.email into email from users u where u.id = p_user;\n', ''],
      ['         delete from users where id = p_user;\n', ''],
      [
        '         perform pseudonymise_audit_actor(p_user::text, p_pseudonym);\n',
        `         -- Deleted first: pseudonymise_audit_actor refuses an actor whose account exists. It
         -- still runs before the values are erased, its lock waiting for appends in flight.
         delete from users where id = p_user;
         perform pseudonymise_audit_actor(p_user::text, p_pseudonym);\n`,
      ],
    ],
    NAME,
  );
  return [edited, ...grants];
}

export class Migration20261207100000_audit_trust_boundary extends Migration {
  override async up(): Promise<void> {
    for (const statement of definerFunctionSql(APPEND_CHECKED.signature, APPEND_CHECKED.definition)) this.addSql(statement);
    for (const statement of PSEUDONYMISE_ERASED_ONLY) this.addSql(statement);
    // Called by erase_user only, which runs as the owner.
    this.addSql(`revoke execute on function pseudonymise_audit_actor(text, text) from ${APP_ROLE};`);
    for (const statement of eraseUserAfterDelete()) this.addSql(statement);
    for (const statement of definerFunctionSql(
      'audit_erased_pseudonym(p_actor_id text) returns text',
      'language sql stable security definer as $$ select x.pseudonym from audit_erased_actors x where x.actor_id = p_actor_id $$;',
    ))
      this.addSql(statement);
    this.addSql('delete from audit_erased_actors x where exists (select 1 from users u where u.id::text = x.actor_id);');
  }

  override async down(): Promise<void> {
    // The listings removed by up() stay removed: they named accounts that were never erased.
    this.addSql('drop function if exists audit_erased_pseudonym(text);');
    for (const statement of eraseUser(true)) this.addSql(statement);
    for (const statement of pseudonymise(true)) this.addSql(statement);
    for (const statement of definerFunctionSql(APPEND_AUDIT_EVENTS.signature, APPEND_AUDIT_EVENTS.definition)) this.addSql(statement);
  }
}
