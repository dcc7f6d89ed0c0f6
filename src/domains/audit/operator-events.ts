/**
 * Events an operator command writes on a tenant's chain. The API's writer (audit-log.ts) is
 * asynchronous and absent from operator commands, so a command appends its events itself, with
 * `append_audit_events` in the transaction of the change they record: both commit or neither
 * does, as document retention's do. Without them an operator's change (a key minted with
 * `sluice keys create`) reached a tenant with nothing on its trail (attacker review).
 */
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { auditEventRow, type AuditRecord } from './audit-log.js';
import { changeEvent } from './record.js';

/** The actor of an operator command's events: the command, as `sluice <command>`. */
export function operatorActor(command: string): AuditRecord['actor'] {
  return { kind: 'system', id: `sluice ${command}`, email: null };
}

/** The rows `append_audit_events(?::jsonb)` takes for `records`, as JSON. */
export function operatorEventsJson(secrets: SecretBox, records: AuditRecord[]): string {
  const createdAt = new Date().toISOString();
  // They name no person (no email, no personal value): nothing for `auditStoreEmails` to hide.
  return JSON.stringify(records.map((record) => auditEventRow(secrets, { id: randomUUID(), createdAt, storeEmails: true, record })));
}

/** A configuration change by an operator command, in the form `auditChange` gives the API's. */
export function operatorChange(
  secrets: SecretBox,
  command: string,
  tenantId: string,
  change: { action: string; target: { type: string; id: string }; before: object | null; after: object | null },
): AuditRecord {
  const event = changeEvent((text) => secrets.digest('audit text', text), change.action, change.target, change.before, change.after);
  return { tenantId, ...event, outcome: 'ok', actor: operatorActor(command) };
}
