/** The audit trail: events (newest first), a live feed, and the chain's verification (ADMIN). */
import type { AuditEventRow } from '../domains/audit/audit.service.js';
import type { ChainRewrite, VerifyResult } from '../domains/audit/chain-verifier.js';
import { builder } from './builder.js';
import { bounded } from './string-bounds.js';

const AuditEventRef = builder.objectRef<AuditEventRow>('AuditEvent').implement({
  description: 'One entry of the tamper-evident audit trail.',
  fields: (t) => ({
    id: t.exposeID('id'),
    sequence: t.string({ description: 'Its place in the tenant’s chain (a 64-bit integer, as a string).', resolve: (event) => String(event.seq) }),
    createdAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.createdAt) }),
    action: t.exposeString('action', { description: '`graphql.query`, `auth.login`, `authz.denied`, `policy.denied`, `endpoint.query`, `config.*`…' }),
    outcome: t.exposeString('outcome', { description: '`ok`, or the error codes.' }),
    actorKind: t.exposeString('actorKind'),
    actorId: t.exposeString('actorId', { nullable: true }),
    actorEmail: t.string({
      nullable: true,
      description: 'The actor’s email, `digest:…` where the tenant keeps no emails, null once erased.',
      resolve: (event) => (typeof event.personal.email === 'string' ? event.personal.email : null),
    }),
    ip: t.string({ nullable: true, resolve: (event) => (typeof event.personal.ip === 'string' ? event.personal.ip : null) }),
    userAgent: t.string({ nullable: true, resolve: (event) => (typeof event.personal.userAgent === 'string' ? event.personal.userAgent : null) }),
    personalValues: t.field({
      type: ['String'],
      nullable: { list: false, items: true },
      description:
        'Personal data the details refer to as `{ "personal": n }` (emails, names given as arguments): kept outside the hashed payload, `digest:…` where the tenant keeps no emails, null once erased.',
      resolve: (event) => (Array.isArray(event.personal.values) ? event.personal.values.map((value) => (typeof value === 'string' ? value : null)) : []),
    }),
    requestId: t.string({ nullable: true, resolve: (event) => (event.payload.requestId as string | null) ?? null }),
    traceId: t.string({ nullable: true, resolve: (event) => (event.payload.traceId as string | null) ?? null }),
    details: t.field({ type: 'JSONObject', resolve: (event) => (event.payload.details as Record<string, unknown>) ?? {} }),
    hash: t.exposeString('hash', { description: 'sha256(previous hash ‖ payload), hex.' }),
  }),
});

const AuditEventPageRef = builder.objectRef<{ items: AuditEventRow[]; hasNextPage: boolean }>('AuditEventPage').implement({
  fields: (t) => ({
    events: t.field({ type: [AuditEventRef], resolve: (page) => page.items }),
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.string({ nullable: true, description: 'Pass as `after` for the next (older) page.', resolve: (page) => page.items.at(-1)?.seq?.toString() ?? null }),
  }),
});

const ChainRewriteRef = builder.objectRef<ChainRewrite>('AuditChainRewrite').implement({
  description: 'A recorded rewrite of the chain (an `audit.chain.rewritten` event): what was stored before it no longer hashes to the old head.',
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    previousHeadHash: t.exposeString('previousHeadHash', { description: 'The head hash before the rewrite (hex).' }),
    rewrittenHeadHash: t.exposeString('rewrittenHeadHash', { description: 'The same head, re-hashed (hex).' }),
  }),
});

const VerifyResultRef = builder.objectRef<VerifyResult>('AuditChainVerification').implement({
  fields: (t) => ({
    rewrites: t.field({ type: [ChainRewriteRef], resolve: (result) => result.rewrites }),
    ok: t.exposeBoolean('ok'),
    checked: t.exposeInt('checked'),
    firstBrokenEventId: t.exposeID('firstBrokenEventId', { nullable: true }),
    problem: t.exposeString('problem', { nullable: true }),
  }),
});

const AuditEventFilterInput = builder.inputType('AuditEventFilter', {
  fields: (t) => ({
    actor: t.string({ required: false, description: 'The actor id (user, API key, issuer#subject).', ...bounded('actor') }),
    action: t.string({ required: false, description: 'Exact, or a prefix ending in * (`config.*`).', ...bounded('keyword') }),
    outcome: t.string({ required: false, ...bounded('keyword') }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

builder.queryFields((t) => ({
  auditEvents: t.field({
    type: AuditEventPageRef,
    description: 'The tenant’s audit trail, newest first (ADMIN). JSON Lines export: GET /api/v1/audit/events.jsonl.',
    authScopes: { permission: 'audit:read' },
    args: {
      filter: t.arg({ type: AuditEventFilterInput, required: false }),
      first: t.arg.int({ required: false, description: 'Default 50, at most 100.' }),
      after: t.arg.string({ required: false, ...bounded('cursor') }),
    },
    resolve: (_root, { filter, first, after }, ctx) => ctx.services.audit.list(filter ?? {}, { first, after }),
  }),
  verifyAuditChain: t.field({
    type: VerifyResultRef,
    description: 'Recomputes the tenant’s hash chain (all of it, or the events in [from, to)) and reports the first broken link.',
    authScopes: { permission: 'audit:read' },
    args: { from: t.arg({ type: 'DateTime', required: false }), to: t.arg({ type: 'DateTime', required: false }) },
    resolve: (_root, { from, to }, ctx) => ctx.services.audit.verify({ from, to }),
  }),
}));

builder.subscriptionField('auditEvents', (t) =>
  t.field({
    type: AuditEventRef,
    description: 'New audit events of the tenant as they are written (ADMIN), only those the filter selects (as in the `auditEvents` query).',
    authScopes: { permission: 'audit:read' },
    args: { filter: t.arg({ type: AuditEventFilterInput, required: false }) },
    // A plain async function: a refusal ends this operation only. The stream ends, and its
    // shared reader lets go of it, as soon as the client goes (audit-tail.ts).
    subscribe: (_root, { filter }, ctx) => ctx.services.audit.live(filter ?? {}),
    resolve: (event) => event as AuditEventRow,
  }),
);
