/**
 * The facts a query's policies asked for, read in one statement whatever their number: each
 * request becomes a row of a JSON parameter and a correlated count over the endpoint's
 * decisions or usage. Runs in the evaluation's transaction, bound to the endpoint's tenant.
 * Anonymous callers have no tenant: per_tenant counts them together (`is not distinct from`).
 * A caller (per_user, and a content guard's violations) is its kind and id, and an external
 * identity its tenant too: its `issuer#subject` is unique only within the tenant that registered the issuer, and
 * another tenant registering the same issuer under its own key, signing its `sub`, used up a
 * victim tenant's user's allowance and got it blocked (an attacker review, 2026-12-07).
 *
 * Counted from the window's start with no upper bound: a decision is stamped with its
 * request's start time, so one that started after this request but took the endpoint's lock
 * first is stamped later than this request's `now`; bounded by `now` it went uncounted, and two
 * requests took the last slot (a review as an attacker, 2026-12-05: 4 admitted of a limit of 3,
 * one run in 6 to 8 of 40 concurrent requests).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import type { Fact, FactRequest, PolicyCall } from './policy-type.js';

/**
 * The row's caller is of the caller's tenant (the next parameter), when it is an external
 * identity: `issuer#subject` names someone only within its tenant. A user or API key is the
 * same caller whichever tenant it acts from (its id is a UUID): a user's count must not start
 * again when it switches tenant (a second read of the first fix).
 */
const sameTenantIfExternal = (alias: string) => `(${alias}.caller_kind <> 'external' or ${alias}.caller_tenant_id is not distinct from ?::uuid)`;

const inScope = (alias: string) => `(n.scope = 'global'
   or (n.scope = 'per_tenant' and ${alias}.caller_tenant_id is not distinct from ?::uuid)
   or (n.scope = 'per_user' and ${sameTenantIfExternal(alias)} and ${alias}.caller_kind = ? and ${alias}.caller_id = ?))`;

const FACTS_SQL = `
select n.key, case n.kind
  when 'allowed' then (
    select json_build_object('count', count(*), 'oldest', min(d.created_at))
      from policy_decisions d
     where d.endpoint_id = ?::uuid and d.decision = 'ALLOW' and d.created_at > n.since and ${inScope('d')})
  when 'charged' then (
    select json_build_object('count', count(*), 'total', coalesce(sum(u.charged_micros), 0), 'oldest', min(u.created_at) filter (where u.charged_micros > 0))
      from usage_records u
     where u.endpoint_id = ?::uuid and u.created_at > n.since and ${inScope('u')})
  when 'violations' then (
    select json_build_object('count', count(*), 'times', coalesce(json_agg(d.created_at), '[]'))
      from policy_decisions d
     where d.endpoint_id = ?::uuid and ${sameTenantIfExternal('d')} and d.caller_kind = ? and d.caller_id = ? and d.reason_code like 'CONTENT\\_%'
       and d.created_at > n.since)
  end as fact
  from json_to_recordset(?::json) as n(key text, kind text, scope text, since timestamptz)`;

export async function readFacts(em: EntityManager, call: PolicyCall, requests: Map<string, FactRequest>): Promise<Map<string, Fact>> {
  if (requests.size === 0) return new Map();
  const { endpoint, caller } = call;
  // per_tenant's tenant, then per_user's caller: its tenant (read for an external identity only), kind and id.
  const who = [caller.tenantId, caller.tenantId, caller.kind, caller.id];
  const rows = await boundSql<{ key: string; fact: { count: number; total?: number | string; oldest?: string | null; times?: string[] } }>(em, FACTS_SQL, [
    endpoint.id, ...who,
    endpoint.id, ...who,
    endpoint.id, caller.tenantId, caller.kind, caller.id,
    JSON.stringify([...requests].map(([key, request]) => ({ key, kind: request.kind, scope: 'scope' in request ? request.scope : null, since: request.since.toISOString() }))),
  ]);
  return new Map(
    rows.map(({ key, fact }) => [
      key,
      {
        count: Number(fact.count),
        total: Number(fact.total ?? 0),
        oldest: fact.oldest ? new Date(fact.oldest) : null,
        times: (fact.times ?? []).map((time) => new Date(time)),
      },
    ]),
  );
}
