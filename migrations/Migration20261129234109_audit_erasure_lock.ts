import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Erasure could race the audit writer: an append_audit_events transaction that read
 * audit_erased_actors before an erasure committed, and committed after the erasure's UPDATE
 * had run, left that event's personal data in place (seen in CI under load). The erasure now
 * takes the chain heads' table in EXCLUSIVE mode first: appends in flight (which lock their
 * chain head) finish before it, and appends that start later wait until it commits, when
 * they see the erased actor and store the pseudonym instead.
 */
export const pseudonymise = (lock: boolean) =>
  definerFunctionSql(
    'pseudonymise_audit_actor(p_actor_id text, p_pseudonym text) returns bigint',
    `language sql volatile security definer as $$
       ${lock ? 'lock table audit_chain_heads in exclusive mode;' : ''}
       insert into audit_erased_actors (actor_id, pseudonym) values (p_actor_id, p_pseudonym) on conflict (actor_id) do nothing;
       with changed as (
         update audit_events set personal = jsonb_build_object('erased', true, 'pseudonym', p_pseudonym)
          where actor_id = p_actor_id and not coalesce((personal->>'erased')::boolean, false)
         returning 1)
       select count(*) from changed
     $$;`,
  );

export class Migration20261129234109_audit_erasure_lock extends Migration {
  override async up(): Promise<void> {
    for (const statement of pseudonymise(true)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of pseudonymise(false)) this.addSql(statement);
  }
}
