/**
 * The audit trail's writer: events are queued in memory and written in batches, off the
 * request path, through `append_audit_events` (which chains each under its tenant's chain
 * head, see the audit_trail migration). `close()` writes everything still queued: graceful
 * shutdown loses no event.
 *
 * Personal data (the actor's email, IP, user agent, and the values of arguments marked
 * `personal`, see marks.ts) is kept apart from the hashed payload so
 * an erased user can be pseudonymised without breaking the chain; the payload holds a keyed
 * digest of it, so altering it is still detectable. Tenants with `auditStoreEmails: false`
 * get a keyed digest of the email instead of the address.
 */
import { randomUUID } from 'node:crypto';
import type { Orm } from '../../db/orm.js';
import type { Logger } from '../../platform/logging/logger.js';
import { redactStrings, type RedactionOptions } from '../../platform/logging/redaction.js';
import { cutAtCodePoint, wellFormed } from '../../platform/text/code-points.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { isEmailShaped, notAnEmail } from './marks.js';

/** The chain of events that belong to no tenant (log-in attempts for unknown accounts). */
export const PLATFORM_CHAIN = '00000000-0000-0000-0000-000000000000';

export interface AuditActor {
  kind: string;
  id: string | null;
  email: string | null;
}

export interface AuditRequest {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  traceId: string | null;
}

export interface AuditRecord {
  /** null: the platform chain. */
  tenantId: string | null;
  /** `graphql.query`, `auth.login`, `policy.denied`, `config.model.update`… */
  action: string;
  /** `ok`, or the error codes, comma-separated. */
  outcome: string;
  actor: AuditActor;
  request?: AuditRequest | null;
  details: Record<string, unknown>;
  /**
   * Personal values the details refer to as `{ personal: n }` (marks.ts): stored with the
   * actor's email outside the hashed payload, so erasure can remove them.
   */
  personalValues?: string[];
}

export interface AuditLogOptions {
  orm: Orm;
  secrets: SecretBox;
  logger: Logger;
  /**
   * Read national phone numbers as this country's in the details' strings too
   * (SLUICE_REDACT_PHONE_COUNTRY, as the logs do); international ones are masked anyway.
   */
  phoneCountry?: RedactionOptions['phoneCountry'];
  /** Told which tenants' trails grew, after each write (live `auditEvents` subscriptions). */
  onWritten?: (tenantIds: string[]) => void;
  /** @default 200 */
  flushIntervalMs?: number;
  /** @default 500 */
  maxBatch?: number;
}

const SETTINGS_TTL_MS = 30_000;

export class AuditLog {
  private queue: { id: string; createdAt: string; record: AuditRecord }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly storeEmails = new Map<string, { value: boolean; until: number }>();
  private closed = false;
  /** Events still to come from requests in flight (`expect`), and who waits for them on close. */
  private expected = 0;
  private onSettled: (() => void)[] = [];

  constructor(private readonly options: AuditLogOptions) {}

  record(record: AuditRecord): void {
    if (this.closed) {
      this.options.logger.error({ action: record.action }, 'audit event after the audit log closed: dropped');
      return;
    }
    this.queue.push({ id: randomUUID(), createdAt: new Date().toISOString(), record });
    if (this.queue.length >= (this.options.maxBatch ?? 500)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs ?? 200);
  }

  /** Writes what is queued (batches in order, one writer at a time). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return this.writing;
    // A failed write (only on close) must not stop the writes queued after it.
    this.writing = this.writing.catch(() => undefined).then(() => this.write(batch));
    return this.writing;
  }

  /**
   * An event is still to come: a request or stream in flight will record it when it ends.
   * `close({ settleMs })` waits for it; returns the release (later calls do nothing).
   */
  expect(): () => void {
    this.expected += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.expected -= 1;
      if (this.expected === 0) this.onSettled.splice(0).forEach((settled) => settled());
    };
  }

  /**
   * Writes everything queued and takes no more. With `settleMs`, first waits up to that long
   * for the events still expected: a shutdown cuts streams whose handlers record their event
   * asynchronously after the cut, and an event after close is lost.
   */
  async close({ settleMs = 0 }: { settleMs?: number } = {}): Promise<void> {
    if (this.expected > 0 && settleMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, settleMs);
        this.onSettled.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (this.expected > 0) this.options.logger.error({ expected: this.expected, settleMs }, 'audit log closing with events still expected from requests in flight');
    }
    this.closed = true;
    await this.flush();
  }

  /** A keyed digest of free text (a `text`-marked value): comparable, not readable. */
  digestText(text: string): { keyId: string; digest: string } {
    return this.options.secrets.digest('audit text', text);
  }

  /**
   * A GraphQL document's `documentHash`: a keyed digest, so the same document has the same
   * digest under one master key, and a reader of the trail cannot test guesses of what a
   * document held inline (a password in a `logIn` literal) as it could with a plain sha256.
   */
  digestDocument(document: string): string {
    return this.options.secrets.documentDigest(document);
  }

  /** Tenants' audit settings change (updateTenantSettings): forget the cached one. */
  forgetTenant(tenantId: string): void {
    this.storeEmails.delete(tenantId);
  }

  private async write(batch: { id: string; createdAt: string; record: AuditRecord }[]): Promise<void> {
    try {
      const events = [];
      for (const { id, createdAt, record } of batch) events.push(await this.event(id, createdAt, record));
      await this.append(events);
    } catch (error) {
      if (isDataError(error)) return this.writeOneByOne(batch);
      // Never lose events silently: put them back and say so; the next flush retries.
      this.options.logger.error({ err: error, events: batch.length }, 'audit events could not be written; retrying');
      this.queue.unshift(...batch);
      if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), 1000);
      else throw error;
    }
  }

  /**
   * One event PostgreSQL cannot store must not hold back the others: each is written alone,
   * and one that still fails is written with less, each form below the one before (its details
   * replaced by the reason; then its personal values and actor's e-mail, address and user agent
   * too). One that no form stores is dropped, logged at error: a data error is the event's
   * content, and retrying it would hold every later event of every tenant behind it for ever.
   */
  private async writeOneByOne(batch: { id: string; createdAt: string; record: AuditRecord }[]): Promise<void> {
    for (const [index, { id, createdAt, record }] of batch.entries()) {
      try {
        let failure: unknown;
        for (const form of lesserForms(record)) {
          try {
            await this.append([await this.event(id, createdAt, form(failure))]);
            failure = undefined;
            break;
          } catch (error) {
            if (!isDataError(error)) throw error;
            this.options.logger.error({ err: error, action: record.action }, 'audit event could not be stored as it was; trying with less of it');
            failure = error;
          }
        }
        if (failure) this.options.logger.error({ err: failure, action: record.action, eventId: id }, 'audit event could not be stored in any form; dropped');
      } catch (error) {
        this.options.logger.error({ err: error, events: batch.length - index }, 'audit events could not be written; retrying');
        this.queue.unshift(...batch.slice(index));
        if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), 1000);
        return;
      }
    }
  }

  private async append(events: unknown[]): Promise<void> {
    await this.options.orm.em.getConnection().getKnex().raw('select append_audit_events(?::jsonb)', [JSON.stringify(events)]);
    this.options.onWritten?.([...new Set(events.map((event) => (event as { tenantId: string }).tenantId))]);
  }

  private async event(id: string, createdAt: string, record: AuditRecord) {
    const tenantId = record.tenantId ?? PLATFORM_CHAIN;
    // Tenants that keep no emails get digests of the personal values too.
    const storeEmails = record.actor.email || record.personalValues?.length ? await this.storesEmails(tenantId) : true;
    const { phoneCountry } = this.options;
    // Off the request path: the writer's batch. The details were redacted (marks.ts) without the deployment's country.
    const kept = phoneCountry ? { ...record, details: redactStrings(record.details, { phoneCountry }) as AuditRecord['details'] } : record;
    return auditEventRow(this.options.secrets, { id, createdAt, record: kept, storeEmails });
  }

  private async storesEmails(tenantId: string): Promise<boolean> {
    if (tenantId === PLATFORM_CHAIN) return true;
    const cached = this.storeEmails.get(tenantId);
    if (cached && cached.until > Date.now()) return cached.value;
    const [row] = await this.options.orm.em
      .getConnection()
      .execute<{ audit_store_emails: boolean }[]>('select audit_store_emails from tenants where id = ?', [tenantId]);
    const value = row?.audit_store_emails ?? true;
    this.storeEmails.set(tenantId, { value, until: Date.now() + SETTINGS_TTL_MS });
    return value;
  }
}

/**
 * An event as `append_audit_events` takes it: the hashed payload, and the personal data kept
 * beside it (with its keyed digest in the payload). `storeEmails` false: emails and personal
 * values become keyed digests.
 */
export function auditEventRow(secrets: SecretBox, { id, createdAt, record: given, storeEmails }: { id: string; createdAt: string; record: AuditRecord; storeEmails: boolean }) {
  // Whole characters only, before anything is digested: half a surrogate pair (a value cut
  // between an emoji's halves) is refused by jsonb, and one such event held up the trail.
  const record = wellFormed(given);
  const tenantId = record.tenantId ?? PLATFORM_CHAIN;
  const hidden = (value: string) => (storeEmails ? value : `digest:${secrets.digest('audit email', value.toLowerCase()).digest}`);
  // An actor's email that is no address (what a failed log-in was given: a password typed into
  // the email field) is kept only as a keyed digest, as an email-marked argument is (marks.ts).
  const actorEmail = (value: string) => (isEmailShaped(value) ? hidden(value) : notAnEmail(value, (text) => secrets.digest('audit text', text)));
  const email = record.actor.email ? actorEmail(record.actor.email) : record.actor.email;
  const values = record.personalValues?.length ? { values: record.personalValues.map(hidden) } : {};
  const personal = { email, ip: record.request?.ip ?? null, userAgent: record.request?.userAgent ? cutAtCodePoint(record.request.userAgent, 512) : null, ...values };
  const { keyId, digest } = secrets.digest('audit personal data', canonicalJson(personal));
  // No createdAt beside the payload: append_audit_events stores the payload's `at` as the row's time.
  return {
    id,
    tenantId,
    personal,
    payload: {
      id,
      at: createdAt,
      action: record.action,
      outcome: cutAtCodePoint(record.outcome, 128),
      actorKind: record.actor.kind,
      actorId: record.actor.id,
      requestId: record.request?.requestId ?? null,
      traceId: record.request?.traceId ?? null,
      details: record.details,
      personalDigest: digest,
      personalKeyId: keyId,
    },
  };
}

/** JSON with keys sorted, so a digest does not depend on key order (jsonb reorders keys). */
export function canonicalJson(value: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.keys(value).sort().map((key) => [key, value[key]])));
}

/** The forms an event is tried in, whole first, each given the data error the one before met. */
function lesserForms(record: AuditRecord): ((failure: unknown) => AuditRecord)[] {
  const unrecordable = (failure: unknown) => ({ unrecordable: (failure as { code?: string })?.code ?? 'data error' });
  return [
    () => record,
    (failure) => ({ ...record, details: unrecordable(failure) }),
    (failure) => ({
      ...record,
      details: unrecordable(failure),
      actor: { ...record.actor, email: null },
      request: record.request ? { ...record.request, ip: null, userAgent: null } : record.request,
      personalValues: [],
    }),
  ];
}

/** PostgreSQL's class 22 (data exception): the event's content, not the database, is at fault. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('22');
}
