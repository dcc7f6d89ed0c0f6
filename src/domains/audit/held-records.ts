/**
 * Audit records held back until the work that made them is sure to stand. The writer
 * (audit-log.ts) takes a record at once, off the request's transaction; work that records
 * events and may still be undone after (account erasure records each tenant's removals before
 * erase_user says whether the erasure goes through) writes to a held log instead and releases
 * it once its outcome is known.
 */
import type { AuditLog, AuditRecord } from './audit-log.js';

export interface HeldRecords {
  /** Records here wait; everything else (digests, settings) is the real log's. */
  readonly audit: AuditLog | undefined;
  /** Hands the records held so far to the real log, each as `finish` makes it. */
  release(finish?: (record: AuditRecord) => AuditRecord): void;
}

export function holdRecords(audit: AuditLog | undefined): HeldRecords {
  if (!audit) return { audit, release: () => undefined };
  const held: AuditRecord[] = [];
  // The real log with `record` shadowed: its other methods run on it unchanged.
  const holding = Object.create(audit, { record: { value: (record: AuditRecord) => void held.push(record) } }) as AuditLog;
  return { audit: holding, release: (finish = (record) => record) => held.splice(0).forEach((record) => audit.record(finish(record))) };
}
