/**
 * Building audit records from what a service knows: the actor and the request's facts.
 * Services call `auditChange` for configuration changes (before/after, kept as marks.ts keeps
 * any value) and `auditEvent` for anything else the operation event cannot show.
 */
import type { Actor } from '../actor.js';
import type { RequestFacts, ServiceContext } from '../service-context.js';
import type { AuditActor, AuditRecord, AuditRequest } from './audit-log.js';
import { KeptValues, type MemberMarks } from './marks.js';

/** How an external actor of another tenant is named on a trail (`tenant:<id>/issuer#subject`); no issuer may begin so. */
export const QUALIFIED_ACTOR_PREFIX = 'tenant:';

/**
 * The actor as the events of `trail` (the tenant whose chain they go on) name it. An external
 * identity's `issuer#subject` is unique only within the tenant that registered the issuer:
 * another tenant may register the same issuer (with an audience of its own) under its own key
 * and sign any subject. On another tenant's trail it is therefore qualified with its own
 * tenant, `tenant:<id>/issuer#subject`, so it neither reads as nor is filtered with the trail
 * tenant's own user of that name (an attacker review: a tenant's forged `sub` was written on a
 * victim tenant's trail as exactly its user's id). User and API key ids are UUIDs, unique anyway.
 */
export function auditActorOf(actor: Actor, trail: string | null): AuditActor {
  switch (actor.kind) {
    case 'user':
      return { kind: 'user', id: actor.userId, email: actor.email };
    case 'apiKey':
      return { kind: 'apiKey', id: actor.apiKeyId, email: null };
    case 'external':
      return { kind: 'external', id: `${actor.tenantId === trail ? '' : `${QUALIFIED_ACTOR_PREFIX}${actor.tenantId}/`}${actor.issuer}#${actor.subject}`.slice(0, 255), email: actor.email };
    default:
      return { kind: 'anonymous', id: null, email: null };
  }
}

export function auditRequestOf(request: RequestFacts | undefined): AuditRequest | null {
  if (!request) return null;
  return { ip: request.ip ?? null, userAgent: request.userAgent ?? null, requestId: request.requestId ?? null, traceId: request.traceId ?? null };
}

export function auditEvent(
  ctx: ServiceContext,
  record: Omit<AuditRecord, 'actor' | 'request' | 'tenantId'> & { tenantId?: string | null },
): void {
  const tenantId = record.tenantId !== undefined ? record.tenantId : ctx.actor.tenantId;
  ctx.deps.audit?.record({
    tenantId,
    action: record.action,
    outcome: record.outcome,
    details: record.details,
    personalValues: record.personalValues,
    actor: auditActorOf(ctx.actor, tenantId),
    request: auditRequestOf(ctx.request),
  });
}

/**
 * A configuration change: what changed, before and after (only the fields whose values differ).
 * `marks` says what a field is, as the GraphQL input field it comes from is marked (marks.ts): an
 * invitee's email `personal`, a description `text`; for a JSON field, the marks of its members
 * (`{ config: MODEL_CONFIG_MARKS }`).
 * Each value kept goes through the rules of every other audit event (marks.ts): marked fields
 * by their mark (a personal value outside the hashed payload, where erasure finds it), the rest
 * as an unmarked argument is kept (`bounded`): secret-named members at any depth omitted, strings
 * and keys redacted and cut. Until 2026-12-06 they went through a narrower copy of those
 * rules, which kept `slk_…` keys, `Bearer` values and `?access_token=` verbatim.
 */
export function auditChange(
  ctx: ServiceContext,
  action: string,
  target: { type: string; id: string },
  before: object | null,
  after: object | null,
  marks: MemberMarks = {},
): void {
  const audit = ctx.deps.audit;
  if (!audit) return;
  const change = changeEvent((text) => audit.digestText(text), action, target, before, after, marks);
  auditEvent(ctx, { ...change, outcome: 'ok' });
}

/**
 * The action, details and personal values of a configuration change (`auditChange`), for the
 * writers that are not a service's request: an operator command appends it in its own
 * transaction, so its events read as the API's do.
 */
export function changeEvent(
  digestText: (text: string) => { keyId: string; digest: string },
  action: string,
  target: { type: string; id: string },
  before: object | null,
  after: object | null,
  marks: MemberMarks = {},
): { action: string; details: Record<string, unknown>; personalValues: string[] } {
  const [old, now] = [(before ?? {}) as Record<string, unknown>, (after ?? {}) as Record<string, unknown>];
  // Compared as given, not as kept: a change past a cut, or of a secret, is still a change.
  const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].filter((key) => canonical(old[key]) !== canonical(now[key]));
  const kept = new KeptValues(digestText);
  const side = (values: Record<string, unknown>) => kept.keepMembers(marks, Object.fromEntries(keys.map((key) => [key, values[key] ?? null])));
  const details = { target, before: before ? side(old) : null, after: after ? side(now) : null };
  return { action: `config.${action}`, details, personalValues: kept.personal };
}

/**
 * JSON with object members in one order (a config read back from jsonb has its keys reordered);
 * a field that is absent is not one that is null (a creation lists its null fields).
 */
function canonical(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? String(item) : item != null && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}
