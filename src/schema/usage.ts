/** Usage statistics, a caller's own usage and allowances, and the policy decision log. */
import type { PolicyDecision } from '../domains/policies/policy-decision.entity.js';
import type { Allowance } from '../domains/policies/policy-type.js';
import type { UsageTotals } from '../domains/policies/usage.service.js';
import { builder } from './builder.js';
import { toConnection } from './pagination.js';
import { bounded } from './string-bounds.js';

const TimeRangeInput = builder.inputType('TimeRangeInput', {
  description: 'A half-open range [from, to). Default: the 30 days up to now; at most 400 days.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

const UsageGroupingEnum = builder.enumType('UsageGrouping', { values: ['ENDPOINT', 'CALLER', 'DAY'] as const });
const UsageIntervalEnum = builder.enumType('UsageInterval', { description: 'The width of one bucket of a usage timeline, in UTC.', values: ['HOUR', 'DAY'] as const });
const UsageSeriesGroupingEnum = builder.enumType('UsageSeriesGrouping', { values: ['ENDPOINT', 'CALLER'] as const });
const DecisionEnum = builder.enumType('PolicyDecisionOutcome', { values: ['ALLOW', 'DENY'] as const });

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The figures a usage row and a timeline's point share. */
function totalsFields<Shape extends UsageTotals>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, Shape>) {
  return {
    queries: t.int({ resolve: (row) => row.queries }),
    promptTokens: t.field({ type: 'SafeInt', resolve: (row) => row.promptTokens }),
    completionTokens: t.field({ type: 'SafeInt', resolve: (row) => row.completionTokens }),
    totalTokens: t.field({ type: 'SafeInt', resolve: (row) => row.totalTokens }),
    costMicros: t.field({ type: 'SafeInt', description: 'By the models’ prices.', resolve: (row) => row.costMicros }),
    chargedMicros: t.field({ type: 'SafeInt', description: 'By the endpoints’ accounting policies.', resolve: (row) => row.chargedMicros }),
    denials: t.int({ description: 'Queries the policies refused.', resolve: (row) => row.denials }),
  };
}

const UsageRowRef = builder.objectRef<UsageTotals & { key: string }>('UsageRow').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The endpoint slug, the caller (`kind:id`) or the day (YYYY-MM-DD, UTC).' }),
    ...totalsFields(t),
  }),
});

const UsagePointRef = builder.objectRef<UsageTotals & { start: Date; key: string }>('UsagePoint').implement({
  description: 'One bucket of one series of a usage timeline.',
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: 'The bucket’s start (UTC hour or day); it ends where the next one starts.' }),
    key: t.exposeString('key', { description: 'The endpoint slug or the caller (`kind:id`); `(other)` sums the series beyond the busiest; `(embedding)` is ingestion’s embedding calls.' }),
    ...totalsFields(t),
  }),
});

type AllowanceRow = Allowance & { policyId: string | null; policyType: string };
const AllowanceRef = builder.objectRef<AllowanceRow>('Allowance').implement({
  description: 'One limit on the endpoint and how much of it the caller has used.',
  fields: (t) => ({
    policyId: t.globalID({
      nullable: true,
      description: 'The policy that sets the limit, for a caller who may read the endpoint’s tenant’s policies (its own members and keys); null for anyone else.',
      resolve: (row) => (row.policyId ? { type: 'Policy', id: row.policyId } : null),
    }),
    policyType: t.exposeString('policyType'),
    unit: t.exposeString('unit', { description: '`QUERIES` (rate limits) or `MICROS` (quotas, charged micro-units).' }),
    limit: t.expose('limit', { type: 'SafeInt' }),
    used: t.expose('used', { type: 'SafeInt' }),
    remaining: t.field({ type: 'SafeInt', resolve: (row) => Math.max(0, row.limit - row.used) }),
    periodSeconds: t.exposeInt('periodSeconds'),
    freesAt: t.expose('freesAt', { type: 'DateTime', nullable: true, description: 'When the oldest counted use leaves the window.' }),
  }),
});

const MyUsageRef = builder.objectRef<UsageTotals & { allowances: AllowanceRow[] }>('MyUsage').implement({
  fields: (t) => ({
    queries: t.exposeInt('queries'),
    totalTokens: t.expose('totalTokens', { type: 'SafeInt' }),
    costMicros: t.expose('costMicros', { type: 'SafeInt' }),
    chargedMicros: t.expose('chargedMicros', { type: 'SafeInt' }),
    denials: t.exposeInt('denials'),
    allowances: t.field({ type: [AllowanceRef], resolve: (usage) => usage.allowances }),
  }),
});

const PolicyDecisionRef = builder.objectRef<PolicyDecision>('PolicyDecision').implement({
  description: 'One evaluation of an endpoint’s policies for a query: why it was let through or refused.',
  authScopes: (decision) => ({ $all: { tenant: decision.tenant.id, permission: 'usage:read' } }),
  fields: (t) => ({
    id: t.exposeID('id'),
    decision: t.field({ type: DecisionEnum, resolve: (decision) => decision.decision as 'ALLOW' | 'DENY' }),
    endpointId: t.globalID({ resolve: (decision) => ({ type: 'Endpoint', id: decision.endpointId }) }),
    endpointSlug: t.exposeString('endpointSlug'),
    policyId: t.globalID({ nullable: true, description: 'The policy that refused; null when allowed.', resolve: (d) => (d.policyId ? { type: 'Policy', id: d.policyId } : null) }),
    policyType: t.exposeString('policyType', { nullable: true }),
    rule: t.exposeString('rule', { nullable: true }),
    reasonCode: t.exposeString('reasonCode', { nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
    verdicts: t.field({ type: ['JSONObject'], description: 'Every policy’s verdict: policyId, type, decision, rule.', resolve: (d) => d.verdicts as Record<string, unknown>[] }),
    callerTenantId: t.exposeString('callerTenantId', { nullable: true, description: 'Null for anonymous callers.' }),
    callerKind: t.exposeString('callerKind', { description: 'user, apiKey, external or anonymous.' }),
    callerId: t.exposeString('callerId', { description: 'The user, API key or issuer#subject; for anonymous callers a keyed digest of their address (IPv6: its /64).' }),
    operationHash: t.exposeString('operationHash', { nullable: true, description: "The GraphQL document's keyed digest (HMAC-SHA256 under the deployment's master key; the audit events' documentHash of the same document)." }),
    costMicros: t.expose('costMicros', { type: 'SafeInt', description: 'The flat charge known before the query ran.' }),
    retryAfterSeconds: t.exposeInt('retryAfterSeconds', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const DecisionFilterInput = builder.inputType('PolicyDecisionFilter', {
  fields: (t) => ({
    endpointId: t.globalID({ required: false }),
    decision: t.field({ type: DecisionEnum, required: false }),
    callerId: t.string({ required: false, ...bounded('actor') }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

builder.queryFields((t) => ({
  usage: t.field({
    type: [UsageRowRef],
    description: 'The tenant’s queries, tokens, cost and denials in a range, grouped (ADMIN).',
    authScopes: { permission: 'usage:read' },
    args: { range: t.arg({ type: TimeRangeInput, required: false }), groupBy: t.arg({ type: UsageGroupingEnum, required: true }) },
    resolve: (_root, { range, groupBy }, ctx) => ctx.services.usage.usage(range ?? {}, groupBy),
  }),
  usageOverTime: t.field({
    type: [UsagePointRef],
    description:
      'The tenant’s queries, tokens, cost and denials over time (ADMIN): per bucket and per endpoint or caller, oldest first; only buckets with activity. Hourly buckets over at most 31 days.',
    authScopes: { permission: 'usage:read' },
    args: {
      range: t.arg({ type: TimeRangeInput, required: false }),
      interval: t.arg({ type: UsageIntervalEnum, required: true }),
      by: t.arg({ type: UsageSeriesGroupingEnum, required: true }),
      series: t.arg.int({ required: false, description: 'How many of the busiest endpoints or callers keep their own series, 1 to 50 (default 8); the rest are summed as `(other)`.' }),
    },
    resolve: (_root, { range, interval, by, series }, ctx) => ctx.services.usage.usageOverTime(range ?? {}, interval, by, series ?? undefined),
  }),
  myUsage: t.field({
    type: MyUsageRef,
    description: 'Your own use of an endpoint ("tenantSlug/endpointSlug") and what is left of each limit on it.',
    authScopes: { permission: 'endpoint:query' },
    args: { endpoint: t.arg.string({ required: true, ...bounded('reference') }), range: t.arg({ type: TimeRangeInput, required: false }) },
    resolve: (_root, { endpoint, range }, ctx) => ctx.services.usage.myUsage(endpoint, range ?? {}),
  }),
  policyDecisions: t.connection({
    type: PolicyDecisionRef,
    description: 'The decision log: every evaluation of the tenant’s endpoints’ policies, oldest first (ADMIN).',
    authScopes: { permission: 'usage:read' },
    args: { filter: t.arg({ type: DecisionFilterInput, required: false }) },
    resolve: async (_root, { filter, ...page }, ctx) =>
      toConnection(await ctx.services.usage.decisions({ ...filter, endpointId: filter?.endpointId?.id }, page)),
  }),
}));
