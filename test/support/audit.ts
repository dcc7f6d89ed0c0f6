/** Reading the audit trail over the real API, waiting for the asynchronous writer; seeding it as older code wrote it. */
import { randomUUID } from 'node:crypto';
import { must } from './endpoints.js';
import type { TestServer } from './server.js';

export const AUDIT_FIELDS = 'id sequence action outcome actorKind actorId actorEmail ip userAgent requestId details hash';

/** The tenant's events (oldest first) once at least `atLeast` match `filter`. */
export async function auditEventsOf(
  server: TestServer,
  token: string,
  atLeast: number,
  filter: Record<string, unknown> = {},
  timeoutMs = 10_000,
  /** Also wait until one of the events satisfies this (the writer is batched: an earlier event may already be there). */
  until?: (event: Record<string, any>) => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const data = await must(server, token, `query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { events { ${AUDIT_FIELDS} } } }`, { f: filter });
    const events = [...data.auditEvents.events].reverse() as Record<string, any>[];
    if ((events.length >= atLeast && (!until || events.some(until))) || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * An audit event as older writers stored it, a row to insert for the tests of the migrations that
 * rewrite such history: `details` kept whole in the payload, no actor, no request.
 */
export function oldAuditEvent(tenantId: string, action: string, details: Record<string, unknown>) {
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  return {
    id,
    tenantId,
    createdAt,
    personal: { email: null, ip: null, userAgent: null },
    payload: { id, at: createdAt, action, outcome: 'ok', actorKind: 'user', actorId: null, requestId: null, traceId: null, details },
  };
}
