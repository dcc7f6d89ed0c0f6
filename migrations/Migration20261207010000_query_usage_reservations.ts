import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * `settle_query_usage`: turns a query's reservation into its usage record, in one statement.
 *
 * An `accounting` quota counts usage records, and a query's record used to be written only
 * after the model answered, so queries still running were invisible to the quota: twenty sent
 * at once by a caller at 0 with a quota of one flat charge were all admitted. A query with a
 * flat charge now writes its record at admission (outcome RUNNING, charged the flat part), in
 * the transaction that decides it under the endpoint's lock, and this settles it when the query
 * ends: tokens, cost, the real charge, latency and outcome.
 *
 * The app role may still not update usage records (they are a billing record): SECURITY
 * DEFINER, it changes only a RUNNING record of a query, once, of the tenant it binds for its
 * own statement; like record_query_usage it refuses to run inside another tenant's binding and
 * leaves none behind. Returns whether a reservation was settled.
 */
const SIGNATURE = `settle_query_usage(p_tenant uuid, p_id uuid, p_prompt_tokens integer, p_completion_tokens integer, p_total_tokens integer,
  p_cost_micros bigint, p_charged_micros bigint, p_latency_ms integer, p_outcome text)`;

export class Migration20261207010000_query_usage_reservations extends Migration {
  override async up(): Promise<void> {
    const [create, ...grants] = definerFunctionSql(
      `${SIGNATURE} returns boolean`,
      `language plpgsql volatile security definer as $$
       declare
         bound text := nullif(current_setting('app.tenant_id', true), '');
         settled boolean;
       begin
         if bound is not null and bound <> p_tenant::text then
           raise exception 'settle_query_usage: the transaction is bound to another tenant' using errcode = '42501';
         end if;
         if p_outcome = 'RUNNING' then
           raise exception 'settle_query_usage: a settled query has an outcome' using errcode = '22023';
         end if;
         perform set_config('app.tenant_id', p_tenant::text, true);
         update usage_records
            set prompt_tokens = p_prompt_tokens, completion_tokens = p_completion_tokens, total_tokens = p_total_tokens,
                cost_micros = p_cost_micros, charged_micros = p_charged_micros, latency_ms = p_latency_ms, outcome = p_outcome
          where id = p_id and tenant_id = p_tenant and kind = 'query' and outcome = 'RUNNING';
         settled := found;
         perform set_config('app.tenant_id', coalesce(bound, ''), true);
         return settled;
       end $$`,
    );
    this.addSql(create!);
    for (const statement of grants) this.addSql(statement);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists ${SIGNATURE};`);
  }
}
