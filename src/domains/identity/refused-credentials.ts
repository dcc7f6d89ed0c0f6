/**
 * Refused credentials, and other requests refused before they ran, in the audit trail: a
 * wrong, unknown, revoked or expired API key; a bad, expired or ended access token; an
 * external token that fails; an unknown, expired or reused refresh token. Each is recorded in the trail of the tenant the credential names (one of its
 * keys, sessions or users), where its ADMINs read it, or else in the platform's trail. Only
 * what identifies the credential is kept (key id and shown prefix, session id, user id,
 * issuer), never the secret presented. A request refused before it ran (a GraphQL document
 * that does not parse or validate, or over an operation limit; a login body that cannot be
 * read: `refusedRequest`) is recorded under limits of its own, as the record its door made.
 *
 * A flood must not flood the trail. The rule: per trail and client address (IPv6: its /64),
 * at most `rule.burst` events, refilled at `rule.perSecond` (default 10 a minute); per trail,
 * from all addresses together, ten times that. Events over either limit are not written but
 * counted; a trail that suppressed any gets one `auth.refusals_suppressed` event when the
 * period (burst / perSecond) since its first suppression ends, or at shutdown, saying how
 * many, of which kinds, from how many sources.
 *
 * Two streams, two sets of buckets: refused credentials (`refused`) and requests refused
 * before they ran (`refusedRequest`). Anyone holding any key of a tenant can have invalid
 * documents refused on its trail for free; were they counted in the same buckets, such a
 * flood would keep a stolen key's refusals (the event an ADMIN looks for) off the trail. A
 * refused request from an authenticated caller is limited per caller instead of per address:
 * one credential is one actor, however many addresses it comes from.
 *
 * The limits use the rate limits' buckets (shared through Redis when configured); the
 * suppressed counts are this process's own, so each instance writes its own summary.
 */
import { createHash } from 'node:crypto';
import type { AuditActor, AuditRecord, AuditRequest } from '../audit/audit-log.js';
import { printable } from '../audit/marks.js';

export type CredentialKind = 'apiKey' | 'accessToken' | 'externalToken' | 'refreshToken' | 'authorization';

export interface RefusedCredential {
  /** `auth.credential_refused`, or `auth.refresh_reuse` (a stolen session's security event). */
  action: 'auth.credential_refused' | 'auth.refresh_reuse';
  /** The tenant whose key, session or user the credential names; null: the platform's trail. */
  tenantId: string | null;
  credential: CredentialKind;
  /** Why, e.g. `unknown`, `wrong-secret`, `revoked`, `expired`, `creator-left`, `creator-role`, `parent-expired`, `parent-revoked`, `invalid`, `ended`, `reuse`. */
  reason: string;
  /** Whom the credential names, as far as it proves it: the key or the user; else anonymous. */
  actor: AuditActor;
  /** Identifiers only (keyId, keyPrefix, sessionId, issuer): never the secret. */
  details?: Record<string, string | null>;
}

/** Where the identity domain reports refused credentials (a small interface: the audit sink). */
export interface RefusedCredentials {
  refused(refusal: RefusedCredential, request: AuditRequest | null): void;
}

/**
 * Where the doors report a request refused before it ran: written unless the flood limit
 * keeps it out (then counted in the summary as `<action>:<outcome>`).
 */
export interface RefusedRequests {
  refusedRequest(record: AuditRecord): void;
}

export const NO_ACTOR: AuditActor = { kind: 'anonymous', id: null, email: null };

/** What the limits need of a bucket store (platform/rate-limits/token-bucket.ts is one). */
interface Buckets {
  take(key: string, rule: { perSecond: number; burst: number }): Promise<{ allowed: boolean }>;
}

export interface RefusalLogOptions {
  audit: { record(record: AuditRecord): void };
  buckets: Buckets;
  /** Per trail and source (client address, or an authenticated caller's refused requests); per trail ten times this, for each stream. */
  rule: { perSecond: number; burst: number };
  /** The address a limit counts (IPv6 by its /64). */
  sourceOf: (ip: string) => string;
  onError?: (error: unknown) => void;
}

/** Refused credentials, or requests refused before they ran: each has buckets of its own. */
type Stream = 'credential' | 'request';

/** Per trail, how many the trail's limit kept from a trail, until the summary is written. */
interface Suppressed {
  count: number;
  kinds: Record<string, number>;
  sources: Set<string>;
  since: Date;
  timer: NodeJS.Timeout;
}

/** Distinct addresses counted per summary, at most (memory stays bounded). */
const MAX_SOURCES = 10_000;
const TRAIL_FACTOR = 10;

export class RefusalLog implements RefusedCredentials, RefusedRequests {
  private readonly suppressed = new Map<string | null, Suppressed>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: RefusalLogOptions) {}

  refused(refusal: RefusedCredential, request: AuditRequest | null): void {
    const source = this.options.sourceOf(request?.ip ?? 'unknown');
    this.judged(this.judge('credential', refusal.tenantId, `${refusal.action}:${refusal.credential}:${refusal.reason}`, source, () => recordOf(refusal, request)));
  }

  refusedRequest(record: AuditRecord): void {
    const { actor } = record;
    const source = actor.kind !== 'anonymous' && actor.id ? `caller ${actor.kind}:${actor.id}` : this.options.sourceOf(record.request?.ip ?? 'unknown');
    this.judged(this.judge('request', record.tenantId, `${record.action}:${record.outcome}`, source, () => record));
  }

  private judged(judging: Promise<void>): void {
    const task = judging.catch((error: unknown) => this.options.onError?.(error));
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  /** Writes what is still being judged and every pending summary now (graceful shutdown). */
  async close(): Promise<void> {
    await Promise.all(this.pending);
    for (const trail of [...this.suppressed.keys()]) this.summarise(trail);
  }

  /** `stream`: whose buckets it draws on; `source`: the address (IPv6: its /64), or the caller. */
  private async judge(stream: Stream, trail: string | null, kind: string, source: string, record: () => AuditRecord): Promise<void> {
    const { buckets, rule } = this.options;
    const bySource = await buckets.take(keyOf(`${stream}:source`, trail, source), rule);
    const allowed =
      bySource.allowed &&
      (await buckets.take(keyOf(`${stream}:trail`, trail), { perSecond: rule.perSecond * TRAIL_FACTOR, burst: rule.burst * TRAIL_FACTOR })).allowed;
    if (allowed) this.options.audit.record(record());
    else this.count(trail, kind, source);
  }

  private count(trail: string | null, kind: string, source: string): void {
    let entry = this.suppressed.get(trail);
    if (!entry) {
      const periodMs = Math.ceil((this.options.rule.burst / this.options.rule.perSecond) * 1000);
      const timer = setTimeout(() => this.summarise(trail), periodMs);
      timer.unref();
      entry = { count: 0, kinds: {}, sources: new Set(), since: new Date(), timer };
      this.suppressed.set(trail, entry);
    }
    entry.count += 1;
    entry.kinds[kind] = (entry.kinds[kind] ?? 0) + 1;
    if (entry.sources.size < MAX_SOURCES) entry.sources.add(source);
  }

  private summarise(trail: string | null): void {
    const entry = this.suppressed.get(trail);
    if (!entry) return;
    this.suppressed.delete(trail);
    clearTimeout(entry.timer);
    this.options.audit.record({
      tenantId: trail,
      action: 'auth.refusals_suppressed',
      outcome: 'ok',
      actor: { kind: 'system', id: null, email: null },
      request: null,
      details: {
        suppressed: entry.count,
        kinds: entry.kinds,
        sources: entry.sources.size,
        since: entry.since.toISOString(),
        until: new Date().toISOString(),
        limit: { perSource: this.options.rule.burst, perTrail: this.options.rule.burst * TRAIL_FACTOR, periodSeconds: this.options.rule.burst / this.options.rule.perSecond },
      },
    });
  }
}

function recordOf(refusal: RefusedCredential, request: AuditRequest | null): AuditRecord {
  const details = Object.fromEntries(Object.entries(refusal.details ?? {}).map(([key, value]) => [key, value === null ? null : printable(value).slice(0, 255)]));
  return {
    tenantId: refusal.tenantId,
    action: refusal.action,
    outcome: 'UNAUTHENTICATED',
    actor: refusal.actor,
    request,
    details: { credential: refusal.credential, reason: refusal.reason, ...details },
  };
}

/** Bucket keys hold no address or tenant in clear (they may sit in a shared Redis). */
function keyOf(limit: string, ...parts: (string | null)[]): string {
  return `auth-refusal:${limit}:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32)}`;
}
