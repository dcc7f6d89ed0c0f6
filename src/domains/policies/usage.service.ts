/**
 * What queries cost and who was refused: the tenant's usage statistics and decision log for
 * its ADMINs, and a caller's own usage and remaining allowance on one endpoint (any tenant's
 * they may query). Reads only: the query path writes usage records and decisions, ingestion
 * writes the records of its embedding calls (tokens and cost, not counted as queries).
 * A query still running with a flat charge has its record already (outcome RUNNING, that
 * charge, no tokens): counted as a query here as in the quotas, so the two agree.
 */
import { boundSql } from '../../db/bound-sql.js';
import { callerOf, policyCaller, reachEndpoint } from '../endpoints/endpoint-access.js';
import { ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { isInsiderOf } from './consumer-disclosure.js';
import { readPolicyStates } from './policy-engine.js';
import { PolicyDecision } from './policy-decision.entity.js';
import { Policy } from './policy.entity.js';
import type { Allowance } from './policy-type.js';

export type UsageGrouping = 'ENDPOINT' | 'CALLER' | 'DAY';
/** The width of one bucket of a usage timeline (UTC). */
export type UsageInterval = 'HOUR' | 'DAY';

export interface TimeRange {
  from?: Date | null;
  to?: Date | null;
}

export interface UsageTotals {
  queries: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costMicros: number;
  chargedMicros: number;
  denials: number;
}

export interface DecisionFilter extends TimeRange {
  endpointId?: string | null;
  decision?: 'ALLOW' | 'DENY' | null;
  callerId?: string | null;
}

const DAY_MS = 86_400_000;
const MAX_RANGE_DAYS = 400;
/** Hourly buckets over at most 31 days (744 buckets per series), daily over the full 400. */
const MAX_HOURLY_RANGE_DAYS = 31;
/** Series a timeline splits into by default and at most; the rest are summed as `(other)`. */
const DEFAULT_SERIES = 8;
const MAX_SERIES = 50;

/** Per grouping: the key of a usage record or decision row (both have these columns). */
const GROUP_KEY: Record<UsageGrouping, string> = {
  // Ingestion's embedding calls have no endpoint: they group under one key of their own.
  ENDPOINT: "case when source = 'embedding' then '(embedding)' else endpoint_slug end",
  CALLER: 'caller_key',
  DAY: `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`,
};

const TOTALS = (rows: string) => `
  count(*) filter (where ${rows} = 'usage')::int as queries,
  coalesce(sum(prompt_tokens), 0)::bigint as "promptTokens",
  coalesce(sum(completion_tokens), 0)::bigint as "completionTokens",
  coalesce(sum(total_tokens), 0)::bigint as "totalTokens",
  coalesce(sum(cost_micros), 0)::bigint as "costMicros",
  coalesce(sum(charged_micros), 0)::bigint as "chargedMicros",
  count(*) filter (where ${rows} = 'denial')::int as denials`;

/**
 * `kind:id`; another tenant's external identity as `external:tenant:<its tenant>/issuer#subject`:
 * an issuer#subject is unique only within the tenant that registered the issuer, and another
 * tenant may register the same issuer and sign the same subject.
 */
const CALLER_KEY = `caller_kind || ':' || case when caller_kind = 'external' and caller_tenant_id is distinct from tenant_id then 'tenant:' || caller_tenant_id || '/' else '' end || caller_id`;

/** Usage records and denials in one row set, for one tenant and range (and optionally more). */
const ACTIVITY = (where: string) => `
  select case when kind = 'embedding' then 'embedding' else 'usage' end as source, endpoint_slug, ${CALLER_KEY} as caller_key, created_at, prompt_tokens, completion_tokens, total_tokens, cost_micros, charged_micros
    from usage_records where tenant_id = ?::uuid and created_at >= ?::timestamptz and created_at < ?::timestamptz ${where}
  union all
  select 'denial', endpoint_slug, ${CALLER_KEY}, created_at, null, null, null, null, null
    from policy_decisions where tenant_id = ?::uuid and decision = 'DENY' and created_at >= ?::timestamptz and created_at < ?::timestamptz ${where}`;

export class UsageService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The tenant's queries, tokens, cost and denials in a range, grouped. */
  async usage(range: TimeRange, groupBy: UsageGrouping): Promise<(UsageTotals & { key: string })[]> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'usage:read');
    const { from, to } = this.validRange(range);
    const span = [actor.tenantId, from.toISOString(), to.toISOString()];
    const rows = await boundSql<Record<string, string | number>>(
      em,
      `select ${GROUP_KEY[groupBy]} as key, ${TOTALS('source')} from (${ACTIVITY('')}) activity group by 1 order by 1`,
      [...span, ...span],
    );
    return rows.map((row) => ({ key: String(row.key), ...totals(row) }));
  }

  /**
   * The tenant's activity over time: per UTC bucket (hour or day) and per endpoint or caller,
   * bucketed in SQL. Only buckets with activity are returned. The `series` busiest keys (by
   * queries and denials over the whole range) keep their own rows; the rest are summed under
   * `(other)`, so a tenant with thousands of callers gets a bounded answer.
   */
  async usageOverTime(
    range: TimeRange,
    interval: UsageInterval,
    by: 'ENDPOINT' | 'CALLER',
    series = DEFAULT_SERIES,
  ): Promise<(UsageTotals & { start: Date; key: string })[]> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'usage:read');
    const { from, to } = this.validRange(range);
    if (interval === 'HOUR' && to.getTime() - from.getTime() > MAX_HOURLY_RANGE_DAYS * DAY_MS) {
      throw new ValidationError(`hourly buckets span at most ${MAX_HOURLY_RANGE_DAYS} days: choose DAY or a shorter range`, { field: 'interval' });
    }
    if (!Number.isInteger(series) || series < 1 || series > MAX_SERIES) throw new ValidationError(`series must be 1 to ${MAX_SERIES}`, { field: 'series' });
    const span = [actor.tenantId, from.toISOString(), to.toISOString()];
    const rows = await boundSql<Record<string, string | number | Date>>(
      em,
      `with keyed as (
         select date_trunc(?, created_at at time zone 'UTC') at time zone 'UTC' as start, ${GROUP_KEY[by]} as key, activity.*
           from (${ACTIVITY('')}) activity),
       ranked as (
         select key, row_number() over (order by count(*) filter (where source <> 'embedding') desc, key) as rank from keyed group by key)
       select start, case when rank <= ? then key else '(other)' end as key, ${TOTALS('source')}
         from keyed join ranked using (key) group by 1, 2 order by 1, 2`,
      [interval.toLowerCase(), ...span, ...span, series],
    );
    return rows.map((row) => ({ start: new Date(row.start as Date), key: String(row.key), ...totals(row as Record<string, string | number>) }));
  }

  /**
   * The caller's own use of one endpoint in a range, and what is left of each limit on it. A
   * limit names its policy's id to insiders only (consumer-disclosure.ts), as a refusal does.
   */
  async myUsage(endpointRef: string, range: TimeRange): Promise<UsageTotals & { allowances: (Allowance & { policyId: string | null; policyType: string })[] }> {
    const { actor } = this.ctx;
    assertCan(actor, 'endpoint:query');
    const { from, to } = this.validRange(range);
    const { em, endpoint, tenantId } = await reachEndpoint(this.ctx, endpointRef);
    const caller = callerOf(this.ctx);
    const now = this.ctx.deps.clock.now();
    const insider = isInsiderOf(actor, tenantId);
    return em.transactional(async (tx) => {
      const span = [tenantId, from.toISOString(), to.toISOString(), endpoint.id, caller.callerTenantId, caller.callerKind, caller.callerId];
      // With the caller's tenant: an external identity's issuer#subject is unique only within it.
      const mine = "and endpoint_id = ?::uuid and (caller_kind <> 'external' or caller_tenant_id is not distinct from ?::uuid) and caller_kind = ? and caller_id = ?";
      const [row] = await boundSql<Record<string, string | number>>(tx, `select ${TOTALS('source')} from (${ACTIVITY(mine)}) activity`, [...span, ...span]);
      const policies = await tx.find(Policy, { endpoint: endpoint.id, enabled: true }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      const call = {
        now,
        endpoint: { id: endpoint.id, slug: endpoint.slug, tenantId },
        caller: policyCaller(actor, caller, tenantId),
        query: '',
      };
      const allowances = (await readPolicyStates(tx, call, policies)).flatMap(({ policy, type, config, facts }) => {
        const allowance = type?.allowance?.(config, facts, now);
        return allowance ? [{ ...allowance, policyId: insider ? policy.id : null, policyType: policy.type }] : [];
      });
      return { ...totals(row!), allowances };
    });
  }

  /** The decision log, oldest first (`last` pages from the newest). */
  async decisions(filter: DecisionFilter, page: PageRequest): Promise<Page<PolicyDecision>> {
    assertCan(this.ctx.actor, 'usage:read');
    const where: Record<string, unknown> = {};
    if (filter.endpointId) where.endpointId = filter.endpointId;
    if (filter.decision) where.decision = filter.decision;
    if (filter.callerId) where.callerId = filter.callerId;
    if (filter.from || filter.to) where.createdAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
    return keysetPage(this.ctx.em, PolicyDecision, where, page);
  }

  /** Default: the last 30 days. At most 400 days; `from` before `to`. */
  private validRange(range: TimeRange): { from: Date; to: Date } {
    const to = range.to ?? new Date(this.ctx.deps.clock.now().getTime() + 1000);
    const from = range.from ?? new Date(to.getTime() - 30 * DAY_MS);
    if (from >= to) throw new ValidationError('range.from must be before range.to', { field: 'range' });
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) throw new ValidationError(`range spans at most ${MAX_RANGE_DAYS} days`, { field: 'range' });
    return { from, to };
  }
}

function totals(row: Record<string, string | number>): UsageTotals {
  const number = (key: string) => Number(row[key] ?? 0);
  return {
    queries: number('queries'),
    promptTokens: number('promptTokens'),
    completionTokens: number('completionTokens'),
    totalTokens: number('totalTokens'),
    costMicros: number('costMicros'),
    chargedMicros: number('chargedMicros'),
    denials: number('denials'),
  };
}
