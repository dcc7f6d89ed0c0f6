/**
 * Building audit records from what a service knows: the actor and the request's facts.
 * Services call `auditChange` for configuration changes (before/after, secrets redacted) and
 * `auditEvent` for anything else the operation event cannot show.
 */
import type { Actor } from '../actor.js';
import type { RequestFacts, ServiceContext } from '../service-context.js';
import type { AuditActor, AuditRecord, AuditRequest } from './audit-log.js';
import { KeptValues, printable, type AuditMark } from './marks.js';

/** Field names whose values never reach the audit trail (a second net under the marks): `[REDACTED]`. */
const SECRET_FIELD = /pass(word)?|secret|token|api_?key|authorization|credential|ciphertext|private/i;

export function auditActorOf(actor: Actor): AuditActor {
  switch (actor.kind) {
    case 'user':
      return { kind: 'user', id: actor.userId, email: actor.email };
    case 'apiKey':
      return { kind: 'apiKey', id: actor.apiKeyId, email: null };
    case 'external':
      return { kind: 'external', id: `${actor.issuer}#${actor.subject}`.slice(0, 255), email: actor.email };
    default:
      return { kind: 'anonymous', id: null, email: null };
  }
}

export function auditRequestOf(request: RequestFacts | undefined): AuditRequest | null {
  if (!request) return null;
  return { ip: request.ip ?? null, userAgent: request.userAgent ?? null, requestId: request.requestId ?? null, traceId: request.traceId ?? null };
}

/**
 * A copy with secret-named fields replaced and long strings cut: the second net for
 * configuration diffs, under the marks `auditChange` is given (see marks.ts).
 */
export function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[…]';
  if (typeof value === 'string') return printable(value.length > 1000 ? `${value.slice(0, 1000)}…` : value);
  if (Array.isArray(value)) return value.slice(0, 100).map((item) => withoutSecrets(item, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [
        printable(key),
        SECRET_FIELD.test(key) ? (item == null ? null : '[REDACTED]') : withoutSecrets(item, depth + 1),
      ]),
    );
  }
  return value;
}

export function auditEvent(
  ctx: ServiceContext,
  record: Omit<AuditRecord, 'actor' | 'request' | 'tenantId'> & { tenantId?: string | null },
): void {
  ctx.deps.audit?.record({
    tenantId: record.tenantId !== undefined ? record.tenantId : ctx.actor.tenantId,
    action: record.action,
    outcome: record.outcome,
    details: record.details,
    personalValues: record.personalValues,
    actor: auditActorOf(ctx.actor),
    request: auditRequestOf(ctx.request),
  });
}

/**
 * A configuration change: what changed, before and after (only the fields that differ).
 * `marks` says what a field is (marks.ts), as the GraphQL input field it came from is marked:
 * an invitee's email is `personal` (outside the hashed payload), a description `text`.
 * Unmarked fields go through `withoutSecrets`.
 */
export function auditChange(
  ctx: ServiceContext,
  action: string,
  target: { type: string; id: string },
  before: object | null,
  after: object | null,
  marks: Record<string, AuditMark> = {},
): void {
  const [old, now] = [withoutSecrets(before ?? {}), withoutSecrets(after ?? {})] as Record<string, unknown>[];
  const raw = [(before ?? {}) as Record<string, unknown>, (after ?? {}) as Record<string, unknown>];
  const keys = [...new Set([...Object.keys(old!), ...Object.keys(now!)])].filter((key) => JSON.stringify(old![key]) !== JSON.stringify(now![key]));
  const kept = ctx.deps.audit ? new KeptValues((text) => ctx.deps.audit!.digestText(text)) : undefined;
  const side = (shown: Record<string, unknown>, original: Record<string, unknown>) =>
    Object.fromEntries(keys.map((key) => [key, marks[key] && kept ? kept.keep(marks[key], original[key]) : (shown[key] ?? null)]));
  auditEvent(ctx, {
    action: `config.${action}`,
    outcome: 'ok',
    details: { target, before: before ? side(old!, raw[0]!) : null, after: after ? side(now!, raw[1]!) : null },
    personalValues: kept?.personal,
  });
}
