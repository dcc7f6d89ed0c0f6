import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * `record_query_usage`: an endpoint query's usage record in one statement (issue 20: a query
 * had spent four on it, BEGIN, the tenant binding, the insert and COMMIT).
 *
 * SECURITY INVOKER, so it runs as the app role under row-level security like any insert: it
 * binds the record's tenant for its own statement (transaction-local, gone when the statement's
 * implicit transaction ends) and refuses to run inside a transaction bound to another tenant,
 * so it can neither cross a binding nor leave one behind.
 */
const SIGNATURE = `record_query_usage(p_tenant uuid, p_endpoint uuid, p_endpoint_slug text, p_caller_tenant uuid, p_caller_kind text, p_caller_id text,
  p_prompt_tokens integer, p_completion_tokens integer, p_total_tokens integer, p_cost_micros bigint, p_charged_micros bigint,
  p_latency_ms integer, p_outcome text, p_created_at timestamptz)`;

export class Migration20261202213000_record_query_usage extends Migration {
  override async up(): Promise<void> {
    const [create, ...grants] = definerFunctionSql(
      `${SIGNATURE} returns void`,
      `language plpgsql volatile security invoker as $$
       declare
         bound text := nullif(current_setting('app.tenant_id', true), '');
       begin
         if bound is not null and bound <> p_tenant::text then
           raise exception 'record_query_usage: the transaction is bound to another tenant' using errcode = '42501';
         end if;
         perform set_config('app.tenant_id', p_tenant::text, true);
         insert into usage_records (id, tenant_id, kind, endpoint_id, endpoint_slug, caller_tenant_id, caller_kind, caller_id,
                                    prompt_tokens, completion_tokens, total_tokens, cost_micros, charged_micros, latency_ms, outcome, created_at)
         values (gen_random_uuid(), p_tenant, 'query', p_endpoint, p_endpoint_slug, p_caller_tenant, p_caller_kind, p_caller_id,
                 p_prompt_tokens, p_completion_tokens, p_total_tokens, p_cost_micros, p_charged_micros, p_latency_ms, p_outcome, p_created_at);
         perform set_config('app.tenant_id', coalesce(bound, ''), true);
       end $$`,
    );
    this.addSql(create!);
    for (const statement of grants) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists ${SIGNATURE};`);
  }
}
