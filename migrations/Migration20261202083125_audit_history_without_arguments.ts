import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Hand-written (issue 17, item 5). Until now an operation's event kept its `variables`,
 * redacted by the variable's name: `$p` carrying a password was stored in clear, on the hash
 * chain; so were refresh and invitation tokens, questions asked of endpoints and invitees'
 * emails (also in `config.member.*` diffs). Events now keep what the schema's audit marks
 * allow (src/plugins/audit-arguments.ts), with personal values outside the hashed payload.
 *
 * 1. History: every chain holding such events is rewritten from its first one: `variables`
 *    leave `graphql.*` events, string emails leave `config.member.*` diffs, and every event
 *    from there on is re-hashed. The rewrite is recorded on the chain itself, as an
 *    `audit.chain.rewritten` event naming what was removed, the events it touched and the old
 *    head hash (so a head hash noted elsewhere before the rewrite can still be matched); the
 *    verifier checks that record against the chain (docs/audit.md, "Chain rewrites"). Under
 *    an EXCLUSIVE lock on the chain heads: no append interleaves. Running it again finds
 *    nothing to remove and records nothing.
 * 2. Erasure: deleteMyAccount also removes the user's email where it was given as a personal
 *    argument value (a log-in or an invitation, often by someone else): outside the hashed
 *    payload, so the chain still verifies.
 */
const OFFENDING = `((e.action like 'graphql.%' and e.payload->'details' ? 'variables')
  or (e.action like 'config.member.%' and (jsonb_typeof(e.payload->'details'->'after'->'email') = 'string'
                                          or jsonb_typeof(e.payload->'details'->'before'->'email') = 'string')))`;

/** A diff's string email replaced by a note that it was removed. */
const withoutEmail = (json: string, side: 'before' | 'after') =>
  `case when jsonb_typeof(${json}->'details'->'${side}'->'email') = 'string' then jsonb_set(${json}, '{details,${side},email}', '{"removed": "personal"}') else ${json} end`;

const CLEANED = `case
  when e.action like 'graphql.%' then e.payload #- '{details,variables}'
  when e.action like 'config.member.%' then ${withoutEmail(withoutEmail('e.payload', 'before'), 'after')}
  else e.payload end`;

/** The history rewrite, exported for test/audit/audit-history-rewrite.test.ts. */
export const REWRITE_AUDIT_HISTORY_SQL = `do $$
declare
  chain record;
  ev record;
  prev bytea;
  first_seq bigint;
  changed bigint;
  cleaned jsonb;
  rewrite uuid;
  at text := to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  lock table audit_chain_heads in exclusive mode;
  for chain in select h.* from audit_chain_heads h
                where exists (select 1 from audit_events e where e.tenant_id = h.tenant_id and ${OFFENDING})
                order by h.tenant_id loop
    select min(e.seq), count(*) into first_seq, changed from audit_events e where e.tenant_id = chain.tenant_id and ${OFFENDING};
    if first_seq <= chain.retained_from_seq then
      prev := chain.retained_prev_hash;
    else
      select e.hash into prev from audit_events e where e.tenant_id = chain.tenant_id and e.seq = first_seq - 1;
    end if;
    for ev in select e.seq, e.created_at, ${CLEANED} as payload from audit_events e
               where e.tenant_id = chain.tenant_id and e.seq >= first_seq order by e.seq loop
      cleaned := ev.payload;
      update audit_events set payload = cleaned, prev_hash = prev, hash = sha256(prev || convert_to(cleaned::text, 'UTF8'))
       where tenant_id = chain.tenant_id and seq = ev.seq and created_at = ev.created_at;
      prev := sha256(prev || convert_to(cleaned::text, 'UTF8'));
    end loop;
    update audit_chain_heads set hash = prev where tenant_id = chain.tenant_id;
    rewrite := gen_random_uuid();
    perform append_audit_events(jsonb_build_array(jsonb_build_object(
      'tenantId', chain.tenant_id, 'id', rewrite, 'createdAt', at,
      'personal', jsonb_build_object('email', null, 'ip', null, 'userAgent', null),
      'payload', jsonb_build_object(
        'id', rewrite, 'at', at, 'action', 'audit.chain.rewritten', 'outcome', 'ok', 'actorKind', 'system', 'actorId', null,
        'requestId', null, 'traceId', null,
        'details', jsonb_build_object(
          'reason', 'arguments kept by name, not by the schema''s audit marks (issue 17)',
          'removed', jsonb_build_array('details.variables of graphql.* events', 'string emails in details.before/after of config.member.* events'),
          'changedEvents', changed,
          'fromSeq', first_seq::text,
          'toSeq', chain.seq::text,
          'previousHeadHash', encode(chain.hash, 'hex'),
          'rewrittenHeadHash', encode(prev, 'hex'))))));
  end loop;
end $$;`;

const eraseUser = (scrubValues: boolean) =>
  definerFunctionSql(
    'erase_user(p_user uuid, p_pseudonym text) returns text[]',
    `language plpgsql volatile security definer as $$
       declare
         sole text[];
         email text;
       begin
         select coalesce(array_agg(t.slug order by t.slug), '{}') into sole
           from memberships m join tenants t on t.id = m.tenant_id
          where m.user_id = p_user and m.role = 'OWNER'
            and not exists (select 1 from memberships o where o.tenant_id = m.tenant_id and o.role = 'OWNER' and o.user_id <> p_user)
            and exists (select 1 from memberships o where o.tenant_id = m.tenant_id and o.user_id <> p_user);
         if cardinality(sole) > 0 then
           return sole;
         end if;
         select u.email into email from users u where u.id = p_user;
         delete from tenants t
          where exists (select 1 from memberships m where m.tenant_id = t.id and m.user_id = p_user)
            and not exists (select 1 from memberships o where o.tenant_id = t.id and o.user_id <> p_user);
         update api_keys set revoked_at = coalesce(revoked_at, now()) where created_by_id = p_user;
         perform pseudonymise_audit_actor(p_user::text, p_pseudonym);
         ${scrubValues ? 'perform erase_audit_personal_value(email);' : ''}
         delete from users where id = p_user;
         return '{}';
       end $$;`,
  );

export class Migration20261202083125_audit_history_without_arguments extends Migration {
  override async up(): Promise<void> {
    // Personal argument values equal to `p_value` (case-insensitive) become null, in events of
    // any actor; `valuesErased` tells the verifier the personal digest no longer applies.
    this.addSql(`create or replace function erase_audit_personal_value(p_value text) returns bigint
       language sql volatile security definer set search_path = public, pg_temp as $$
         with changed as (
           update audit_events e
              set personal = e.personal || jsonb_build_object(
                    'values', (select jsonb_agg(case when lower(v #>> '{}') = lower(p_value) then 'null'::jsonb else v end order by n)
                                 from jsonb_array_elements(e.personal->'values') with ordinality as t(v, n)),
                    'valuesErased', true)
            where jsonb_typeof(e.personal->'values') = 'array'
              and exists (select 1 from jsonb_array_elements_text(e.personal->'values') x where lower(x) = lower(p_value))
           returning 1)
         select count(*) from changed
       $$;`);
    this.addSql('revoke all on function erase_audit_personal_value(text) from public;');
    for (const statement of eraseUser(true)) this.addSql(statement);
    this.addSql(REWRITE_AUDIT_HISTORY_SQL);
  }

  override async down(): Promise<void> {
    // The removed values are gone for good; only erase_user goes back.
    for (const statement of eraseUser(false)) this.addSql(statement);
    this.addSql('drop function if exists erase_audit_personal_value(text);');
  }
}
