/**
 * Refused credentials, and other requests refused before they ran, in the audit trail: a
 * wrong, unknown, revoked or expired API key; a bad, expired or ended access token; an
 * external token that fails; an unknown, expired or reused refresh token. Each is recorded in the trail of the tenant the credential names (one of its
 * keys, sessions or users), where its ADMINs read it, or else in the platform's trail. Only
 * what identifies the credential is kept (key id and shown prefix, session id, user id,
 * issuer), never the secret presented. A request refused before it ran (a GraphQL document
 * that does not parse or validate, or over an operation limit; a login body that cannot be
 * read: `refusedRequest`) and a refused sign-in (a wrong password, an attempt over the
 * attempt limits: `refusedSignIn`) are recorded under limits of their own, as the record
 * their door made.
 *
 * A flood must not flood the trail. The rule: per trail and client address (IPv6: its /64),
 * at most `rule.burst` events, refilled at `rule.perSecond` (default 10 a minute); per trail,
 * from all addresses together, ten times that. Events over either limit are not written but
 * counted; a trail that suppressed any gets one `auth.refusals_suppressed` event when the
 * period (burst / perSecond) since its first suppression ends, or at shutdown, saying how
 * many, of which kinds, from how many sources.
 *
 * Six streams, each with buckets of its own, so that what costs a caller nothing cannot use
 * up the budget of what an ADMIN looks for:
 * - proven credentials (`refused`, `proven`): the presenter held the credential's secret (its
 *   hash matched) or our signature: a stolen, revoked key; an ended session;
 * - claims (`refused`, not `proven`): a credential named by what is no secret (a wrong secret
 *   under a key's shown prefix) or by nothing. Anyone who saw a key's prefix can make these up
 *   from as many addresses as they hold; in the same buckets, such a flood (even ten from the
 *   thief's own address) kept the revoked key's refusals off its tenant's trail;
 * - requests refused before they ran: anyone holding any key of a tenant can have invalid
 *   documents refused on its trail for free;
 * - refused sign-ins: one address hammering the login wrote an event for every attempt;
 * - requests refused by a limit (`refusedOverLimit`: RATE_LIMITED, whatever limit): a caller at
 *   its limit is refused at once, however fast it asks;
 * - an endpoint's refusals (`mayRecordDecision`: its DENY row and `policy.denied` event,
 *   written or counted together), on the endpoint's tenant's trail.
 * A refused request (or one of the last two) from an authenticated caller is limited per caller instead of per
 * address: one credential is one actor, however many addresses it comes from. A refused
 * sign-in is limited per address: the account it names is the one guessed at, not the caller.
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
  /**
   * Whether the presenter proved holding the credential it names: the secret's hash matched a
   * stored one, or the token carries our signature. Not proven (a wrong secret under a key's
   * shown prefix, an unknown key, a forged token): anyone can send it, so it has buckets apart.
   */
  proven: boolean;
  /** Identifiers only (keyId, keyPrefix, sessionId, issuer): never the secret. */
  details?: Record<string, string | null>;
}

/** Where the identity domain reports refused credentials (a small interface: the audit sink). */
export interface RefusedCredentials extends RefusedSignIns {
  refused(refusal: RefusedCredential, request: AuditRequest | null): void;
}

/**
 * Where a refused sign-in's events go (`auth.login`, and its door's: `rest.login`,
 * `graphql.mutation`): written unless the flood limit keeps them out.
 */
export interface RefusedSignIns {
  refusedSignIn(record: AuditRecord): void;
}

/** The outcomes of a refused sign-in: a wrong password, an attempt over the attempt limits. */
export const SIGN_IN_REFUSALS: ReadonlySet<string> = new Set(['UNAUTHENTICATED', 'RATE_LIMITED']);

/**
 * Where the doors report a request refused before it ran: written unless the flood limit
 * keeps it out (then counted in the summary as `<action>:<outcome>`).
 */
export interface RefusedRequests {
  refusedRequest(record: AuditRecord): void;
}

/**
 * Refusals by a limit (RATE_LIMITED: the per-caller request limit, an endpoint's rate_limit or
 * quota, the answers in progress, the queued jobs, the key-minting limit) and an endpoint's
 * refusals: a caller at its limit can ask again as fast as it likes, and each refusal is
 * refused at once, so its rows are limited as the requests refused before they ran are.
 */
export interface LimitedRefusals {
  /** The refused request's own audit event (`graphql.*`, `rest.query`…): written unless over the flood limit. */
  refusedOverLimit(record: AuditRecord): void;
  /**
   * Whether the rows recording a refusal in an endpoint's decision log (its DENY row and its
   * `policy.denied` event) may be written on `trail`, the endpoint's tenant's; false: counted
   * as `kind` in that trail's summary instead. `callerTenant`: the caller's own tenant (one of
   * the trail's own callers is judged by its own budget alone).
   */
  mayRecordDecision(trail: string, kind: string, caller: AuditActor, ip: string | null, callerTenant: string | null): Promise<boolean>;
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

/**
 * Proven credentials, claims, requests refused before they ran, refused sign-ins, requests
 * refused by a limit, endpoint decisions refused: each has buckets of its own.
 */
type Stream = 'credential' | 'claim' | 'request' | 'sign-in' | 'limited' | 'decision';

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
/** How an authenticated caller's source starts (an address's never does). */
const CALLER_SOURCE = 'caller ';
const TRAIL_FACTOR = 10;

export class RefusalLog implements RefusedCredentials, RefusedRequests, LimitedRefusals {
  private readonly suppressed = new Map<string | null, Suppressed>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: RefusalLogOptions) {}

  refused(refusal: RefusedCredential, request: AuditRequest | null): void {
    const source = this.options.sourceOf(request?.ip ?? 'unknown');
    const stream = refusal.proven ? 'credential' : 'claim';
    this.judged(this.judge(stream, refusal.tenantId, `${refusal.action}:${refusal.credential}:${refusal.reason}`, source, () => recordOf(refusal, request)));
  }

  /** Limited per authenticated caller (the record's actor), or per address for anonymous ones. */
  refusedRequest(record: AuditRecord): void {
    // On the caller's own tenant's trail (refused-operations.ts): the trail is the caller's tenant.
    this.judged(this.judge('request', record.tenantId, `${record.action}:${record.outcome}`, this.callerOf(record.actor, record.tenantId, record.request?.ip), () => record));
  }

  /** Limited per authenticated caller, or per address for anonymous ones, in buckets apart from the above. */
  refusedOverLimit(record: AuditRecord): void {
    // On the caller's own tenant's trail: an authenticated caller is one of its own.
    const source = this.callerOf(record.actor, record.tenantId, record.request?.ip);
    this.judged(this.judge('limited', record.tenantId, `${record.action}:${record.outcome}`, source, () => record, source.startsWith(CALLER_SOURCE)));
  }

  /** Per endpoint tenant and caller (or address); a bucket store that fails lets the rows be written. */
  async mayRecordDecision(trail: string, kind: string, caller: AuditActor, ip: string | null, callerTenant: string | null): Promise<boolean> {
    try {
      const source = this.callerOf(caller, callerTenant, ip);
      return await this.allowed('decision', trail, kind, source, source.startsWith(CALLER_SOURCE) && callerTenant === trail);
    } catch (error) {
      this.options.onError?.(error);
      return true;
    }
  }

  /**
   * One credential is one actor, however many addresses it sends from; an anonymous caller is its
   * address. Keyed with the caller's tenant: an external identity (`issuer#subject`) is unique
   * only within it, and another tenant registering the same issuer under its own key filled a
   * victim user's bucket on the victim tenant's own endpoints (an attacker review).
   */
  private callerOf(actor: AuditActor, callerTenant: string | null, ip: string | null | undefined): string {
    if (actor.kind === 'anonymous' || !actor.id) return this.options.sourceOf(ip ?? 'unknown');
    // A user or key is one caller whichever tenant it acts from (its id is a UUID).
    return `${CALLER_SOURCE}${actor.kind === 'external' ? `${callerTenant ?? '-'}/` : ''}${actor.kind}:${actor.id}`;
  }

  /**
   * Limited per address, whoever the record's actor is: `auth.login` names the account guessed
   * at, not the caller, and keyed by that account a stranger's guesses would use up the budget
   * of its owner's own failed sign-ins.
   */
  refusedSignIn(record: AuditRecord): void {
    this.judged(this.judge('sign-in', record.tenantId, `${record.action}:${record.outcome}`, this.addressOf(record), () => record));
  }

  private addressOf(record: AuditRecord): string {
    return this.options.sourceOf(record.request?.ip ?? 'unknown');
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
  private async judge(stream: Stream, trail: string | null, kind: string, source: string, record: () => AuditRecord, ownBudgetOnly = false): Promise<void> {
    if (await this.allowed(stream, trail, kind, source, ownBudgetOnly)) this.options.audit.record(record());
  }

  /**
   * Whether one more of `stream` may be written on `trail` from `source`; if not, it is counted.
   * A trail's own budget (ten sources' worth) is shared by every source, so a flood from others
   * could leave a caller's first refusals unwritten. For refusals by a limit and an endpoint's
   * refusals (`ownBudgetOnly`), an authenticated caller of the trail's own tenant is judged by its
   * own budget alone: ten keys each refused once every six seconds kept a victim key's first
   * policy denial off its endpoint's log (an attacker review of dd35c90), and the tenant's own
   * callers are credentials it made. Another tenant's callers (keys are cheap to mint elsewhere)
   * and anonymous addresses (free) still share the trail's budget, so they cannot fill a log.
   */
  private async allowed(stream: Stream, trail: string | null, kind: string, source: string, ownBudgetOnly = false): Promise<boolean> {
    const { buckets, rule } = this.options;
    const bySource = await buckets.take(keyOf(`${stream}:source`, trail, source), rule);
    const allowed =
      bySource.allowed &&
      (ownBudgetOnly ||
        (await buckets.take(keyOf(`${stream}:trail`, trail), { perSecond: rule.perSecond * TRAIL_FACTOR, burst: rule.burst * TRAIL_FACTOR })).allowed);
    if (!allowed) this.count(trail, kind, source);
    return allowed;
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
