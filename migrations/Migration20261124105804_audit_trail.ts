import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../src/db/bootstrap.js';
import { definerFunctionSql } from '../src/db/rls.js';

/** append_audit_events as first written (later migrations restate it with edits). */
export const APPEND_AUDIT_EVENTS = {
  signature: 'append_audit_events(p_events jsonb) returns bigint',
  definition: `language plpgsql volatile security definer as $$
           declare
             event jsonb;
             head audit_chain_heads%rowtype;
             chained bytea;
             tenant uuid;
             written bigint := 0;
           begin
             for event in select value from jsonb_array_elements(p_events) loop
               tenant := (event->>'tenantId')::uuid;
               insert into audit_chain_heads (tenant_id, hash, retained_prev_hash)
                 values (tenant, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))
                 on conflict (tenant_id) do nothing;
               select * into head from audit_chain_heads where tenant_id = tenant for update;
               chained := sha256(head.hash || convert_to((event->'payload')::text, 'UTF8'));
               insert into audit_events (tenant_id, seq, id, created_at, action, outcome, actor_kind, actor_id, payload, personal, prev_hash, hash)
                 values (tenant, head.seq + 1, (event->>'id')::uuid, (event->>'createdAt')::timestamptz,
                         event->'payload'->>'action', event->'payload'->>'outcome', event->'payload'->>'actorKind', event->'payload'->>'actorId',
                         event->'payload',
                         coalesce((select jsonb_build_object('erased', true, 'pseudonym', x.pseudonym) from audit_erased_actors x where x.actor_id = event->'payload'->>'actorId'),
                                  event->'personal'),
                         head.hash, chained);
               update audit_chain_heads set seq = head.seq + 1, hash = chained where tenant_id = tenant;
               written := written + 1;
             end loop;
             return written;
           end $$;`,
};

/**
 * Hand-written: the audit trail (docs/audit.md). Events are partitioned by month, hash-chained
 * per tenant, and append-only for the app role: it may read its tenant's events (RLS) and add
 * events only through append_audit_events, which chains them under a lock on the tenant's
 * chain head, so any number of API processes extend one chain. The owner alone removes
 * expired events (retention) and pseudonymises an erased user's personal data, which lies
 * outside the hashed payload.
 */
export class Migration20261124105804_audit_trail extends Migration {
  override async up(): Promise<void> {
    const sql = [
      `create table audit_chain_heads (
         tenant_id uuid primary key,
         seq bigint not null default 0,
         hash bytea not null,
         -- Retention removes a chain's oldest events: verification starts here.
         retained_from_seq bigint not null default 1,
         retained_prev_hash bytea not null
       );`,
      `create table audit_events (
         tenant_id uuid not null,
         seq bigint not null,
         id uuid not null,
         created_at timestamptz not null,
         action varchar(64) not null,
         outcome varchar(128) not null,
         actor_kind varchar(16) not null,
         actor_id varchar(255),
         payload jsonb not null,
         personal jsonb not null,
         prev_hash bytea not null,
         hash bytea not null,
         primary key (tenant_id, seq, created_at)
       ) partition by range (created_at);`,
      // Erased accounts (deleteMyAccount): their later events, from any instance, get the pseudonym.
      'create table audit_erased_actors (actor_id varchar(255) primary key, pseudonym text not null, erased_at timestamptz not null default now());',
      'create index audit_events_tenant_time on audit_events (tenant_id, created_at, seq);',
      'create index audit_events_actor on audit_events (actor_id, created_at);',
      // Catches events outside the monthly partitions made ahead of time, so a write never fails.
      'create table audit_events_default partition of audit_events default;',
      `create or replace function ensure_audit_partitions(p_from date, p_months int) returns int language plpgsql as $$
         declare
           month date := date_trunc('month', p_from)::date;
           made int := 0;
         begin
           for i in 0 .. p_months - 1 loop
             if to_regclass(format('audit_events_%s', to_char(month, 'YYYY_MM'))) is null then
               begin
                 execute format('create table %I partition of audit_events for values from (%L) to (%L)',
                                format('audit_events_%s', to_char(month, 'YYYY_MM')), month, (month + interval '1 month')::date);
                 made := made + 1;
               exception when others then
                 -- Rows for that month already sit in the default partition: leave them there.
                 null;
               end;
             end if;
             month := (month + interval '1 month')::date;
           end loop;
           return made;
         end $$;`,
      `select ensure_audit_partitions((now() - interval '1 month')::date, 4);`,
      'alter table audit_events enable row level security;',
      'alter table audit_events force row level security;',
      `create policy tenant_select on audit_events for select to ${APP_ROLE} using (tenant_id = app_current_tenant());`,
      'create policy owner_all on audit_events to current_user using (true) with check (true);',
      `grant select on audit_events to ${APP_ROLE};`,
      ...definerFunctionSql(APPEND_AUDIT_EVENTS.signature, APPEND_AUDIT_EVENTS.definition),
      // The chain heads, for verification under the caller's tenant only.
      ...definerFunctionSql(
        'audit_chain_head(p_tenant uuid) returns table (seq bigint, hash bytea, retained_from_seq bigint, retained_prev_hash bytea)',
        `language sql stable security definer as $$
           select seq, hash, retained_from_seq, retained_prev_hash from audit_chain_heads where tenant_id = p_tenant
         $$;`,
      ),
      // Erasure: replaces an actor's personal data (outside the hashed payload) with a pseudonym.
      ...definerFunctionSql(
        'pseudonymise_audit_actor(p_actor_id text, p_pseudonym text) returns bigint',
        `language sql volatile security definer as $$
           insert into audit_erased_actors (actor_id, pseudonym) values (p_actor_id, p_pseudonym) on conflict (actor_id) do nothing;
           with changed as (
             update audit_events set personal = jsonb_build_object('erased', true, 'pseudonym', p_pseudonym)
              where actor_id = p_actor_id and not coalesce((personal->>'erased')::boolean, false)
             returning 1)
           select count(*) from changed
         $$;`,
      ),
    ];
    for (const statement of sql) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists pseudonymise_audit_actor(text, text);');
    this.addSql('drop function if exists audit_chain_head(uuid);');
    this.addSql('drop function if exists append_audit_events(jsonb);');
    this.addSql('drop function if exists ensure_audit_partitions(date, int);');
    this.addSql('drop table if exists audit_events;');
    this.addSql('drop table if exists audit_chain_heads;');
    this.addSql('drop table if exists audit_erased_actors;');
  }
}
