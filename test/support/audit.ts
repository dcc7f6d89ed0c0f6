/** Reading the audit trail over the real API, waiting for the asynchronous writer. */
import { must } from './endpoints.js';
import type { TestServer } from './server.js';

export const AUDIT_FIELDS = 'id sequence action outcome actorKind actorId actorEmail ip userAgent requestId details hash';

/** The tenant's events (oldest first) once at least `atLeast` match `filter`. */
export async function auditEventsOf(server: TestServer, token: string, atLeast: number, filter: Record<string, unknown> = {}, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const data = await must(server, token, `query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { events { ${AUDIT_FIELDS} } } }`, { f: filter });
    const events = [...data.auditEvents.events].reverse();
    if (events.length >= atLeast || Date.now() > deadline) return events as Record<string, any>[];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
