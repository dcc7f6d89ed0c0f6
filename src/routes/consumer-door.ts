/**
 * The door of every non-GraphQL consumer surface (REST query and catalog, OpenAI-compatible,
 * MCP): what a GraphQL operation meets in plugin-list.ts, in one call, so every surface meets
 * the same things in the same order.
 *
 *  - the per-address limit already ran (plugins/ip-rate-limit.ts counts every HTTP request
 *    in `onRequest`, whatever its path);
 *  - the credential (`Authorization: Bearer <token or key>` or `X-API-Key`) becomes the Actor
 *    through the one Authenticator; none is the anonymous actor, a bad one is UNAUTHENTICATED;
 *  - the per-principal limit takes from the same buckets as GraphQL (PrincipalLimit);
 *  - the caller's tenant's IP allow-list (IpAllowListCheck);
 *  - a tenant scope and the services around it, with the request's facts (id, address, agent);
 *  - one audit event per request on the caller's chain (`<surface>.<route>`, outcome, duration),
 *    like the GraphQL audit plugin's one per operation, its details kept as unmarked arguments
 *    are (cut, redacted); what the services record (the query on the endpoint owner's chain,
 *    policy refusals) they record themselves. A request refused by limits (outcome
 *    RATE_LIMITED) goes through the refusal log's flood limit instead (`limitedRefusals`): a
 *    caller at its limit is refused at once however fast it asks. A request that carries
 *    several (an MCP batch) gives each one's outcome, and goes there only when every one was
 *    refused by a limit: one that ran is recorded in full, as a GraphQL operation one root field
 *    of which succeeded (plugins/audit.ts);
 *  - from the door to `finish`, the credential watch that holds GraphQL subscriptions
 *    (plugins/credential-watch.ts): `standing` aborts with UNAUTHENTICATED when the key is
 *    revoked, the session logged out, the member removed or the token expires, or FORBIDDEN when
 *    the allow-list drops the address, and each route ends its response with that error; the
 *    shutdown's cut (UNAVAILABLE) aborts it too, and the shutdown waits for `finish`'s event.
 *
 * A refusal is thrown as a CodedError: each surface writes it in its own error format.
 */
import type { IncomingMessage } from 'node:http';
import type { Orm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import type { Actor } from '../domains/actor.js';
import type { AuditLog, AuditRequest } from '../domains/audit/audit-log.js';
import { bounded } from '../domains/audit/marks.js';
import { auditActorOf } from '../domains/audit/record.js';
import type { Authenticator } from '../domains/identity/authenticator.js';
import type { LimitedRefusals } from '../domains/identity/refused-credentials.js';
import type { CredentialWatch } from '../plugins/credential-watch.js';
import { presentedCredential } from '../domains/identity/presented-credential.js';
import type { RequestFacts, ServiceDependencies } from '../domains/service-context.js';
import { createServices, type Services } from '../domains/services.js';
import type { IpAllowListCheck } from '../domains/tenancy/ip-allow-check.js';
import { CodedError, codedFailure } from '../platform/errors/index.js';
import { clientIpOf } from '../platform/http/client-address.js';
import { carriedRefusalOf } from '../platform/rate-limits/sampled-address-refusals.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import type { Logger } from '../platform/logging/logger.js';
import type { PrincipalLimit } from '../platform/rate-limits/principal-limit.js';
import { whenAborted } from '../platform/lifecycle/when-aborted.js';

export interface ConsumerDoorOptions {
  orm: Orm;
  deps: ServiceDependencies;
  authenticator: Authenticator;
  audit: AuditLog;
  /** Where a RATE_LIMITED request's event goes (the refusal log's flood limit); absent: written like any other. */
  limitedRefusals?: LimitedRefusals;
  logger: Logger;
  trustProxyHops: number;
  /** The server's per-principal limit; undefined when rate limits are off. */
  principalLimit: PrincipalLimit | undefined;
  ipAllowList: IpAllowListCheck;
  /** The server's one credential watch, shared with GraphQL subscriptions (server.ts). */
  credentialWatch: CredentialWatch;
  /**
   * Aborted when the shutdown timeout cuts what is still in flight (server.ts): every open
   * request's `standing` aborts with its reason (UNAVAILABLE), so each route ends its response
   * with that error in its own format before the connection closes. Absent: never cut.
   */
  shutdownCut?: AbortSignal;
}

export interface DoorRequest {
  request: Request;
  /** Yoga's server context: the Node request, for the client's address. */
  serverContext: unknown;
  /** The audit action of this request: `rest.query`, `openai.chat`, `mcp.request`… */
  action: string;
  /**
   * The endpoint the request asks (`tenant/endpoint`), when the route knows it before opening
   * the door: a refusal here (per-caller limit, IP allow-list) is then recorded in that
   * endpoint's decision log (QueryService.recordRefusal: only where the caller could reach it).
   */
  endpointRef?: string;
}

/** A request let in: who is calling, their services, and how to end the request. */
export interface OpenedDoor {
  actor: Actor;
  services: Services;
  facts: RequestFacts & { requestId: string; ip: string };
  logger: Logger;
  /**
   * Aborted, its reason the CodedError the response must end with, when the caller may no
   * longer be answered (credential gone, address no longer allowed, the server shutting down
   * past its timeout), until `finish`. A route
   * that streams or waits on a model joins it to its own cancellation and answers the reason in
   * its own error format.
   */
  standing: AbortSignal;
  /**
   * Records the request's audit event (`ok` or the error codes) and ends its scope. Call it
   * once the response is complete (after the last streamed byte); later calls do nothing.
   * `outcome`: the request's, or one per request it carried (an MCP batch's messages), which
   * the event keeps as `details.outcomes` (see `auditedOutcome`).
   */
  finish(outcome: string | readonly string[], details?: Record<string, unknown>): void;
  /**
   * Takes one more request from the caller's per-caller bucket, for an HTTP request that
   * carries several (a JSON-RPC batch's further tool calls): null when allowed, else the
   * refusal. A batch then costs what its calls sent one by one would.
   */
  takeAnother(): Promise<CodedError | null>;
}

export class ConsumerDoor {
  constructor(private readonly options: ConsumerDoorOptions) {}

  async open({ request, serverContext, action, endpointRef }: DoorRequest): Promise<OpenedDoor> {
    const { orm, deps, authenticator, audit, limitedRefusals, logger, trustProxyHops, principalLimit, ipAllowList, credentialWatch, shutdownCut } = this.options;
    const started = performance.now();
    const ip = clientIpOf((serverContext as { req?: IncomingMessage } | undefined)?.req, trustProxyHops);
    const requestId = requestIdOf(request);
    const userAgent = request.headers.get('user-agent');
    const auditRequest: AuditRequest = { ip, userAgent, requestId, traceId: null };
    const credential = presentedCredential({ request });
    // A refused credential is audited by the authenticator itself (auth.credential_refused).
    const { actor, expiresAt } = await authenticator.authenticate(credential, auditRequest);
    const scope = TenantScope.open(orm, actor);
    const facts = { operationHash: null, requestId, traceId: null, ip, userAgent, signal: request.signal };
    const services = createServices({ actor, scope, deps, request: facts });
    // Ended by `finish`, which every route calls when its response has ended, however it ended.
    // Not joined to `facts.signal` with AbortSignal.any: over whatwg-node's request signal that
    // left a client who went away with its model call still running (the routes' abort tests).
    const live = credentialWatch.watch(credential, actor, expiresAt, {
      tenantId: actor.tenantId,
      ip,
      readAllowList: () => services.tenancy.ipAllowList(),
      logger,
    });
    // The watch's cut or the shutdown's, whichever comes first. Listeners, not AbortSignal.any:
    // the shutdown signal lives as long as the server, and `finish` removes what it was given.
    const standing = new AbortController();
    const onLost = () => standing.abort(live.signal.reason);
    const onShutdownCut = () => standing.abort(shutdownCut?.reason);
    const stopLost = whenAborted(live.signal, onLost);
    const stopShutdownCut = whenAborted(shutdownCut, onShutdownCut);
    // The shutdown closes the audit log only once this request's event is in (server.ts).
    const settled = audit.expect();
    let finished = false;
    const finish = (outcomes: string | readonly string[], details: Record<string, unknown> = {}) => {
      if (finished) return;
      finished = true;
      stopLost();
      stopShutdownCut();
      live.end();
      const { outcome, each, refusedByLimits } = auditedOutcome(outcomes);
      const record = {
        tenantId: actor.tenantId,
        action,
        outcome,
        actor: auditActorOf(actor, actor.tenantId),
        request: auditRequest,
        // What a route records comes from the client's request (an endpoint reference, a tool
        // name): kept as GraphQL keeps an unmarked argument, cut and redacted, never a secret.
        // The outcomes are the server's own codes.
        details: { ...(bounded(details, 0) as Record<string, unknown>), ...(each ? { outcomes: each } : {}), durationMs: Math.round(performance.now() - started) },
      };
      if (refusedByLimits && limitedRefusals) limitedRefusals.refusedOverLimit(record);
      else audit.record(record);
      settled();
      scope.close();
    };
    const loadOverride = () => services.tenancy.rateLimitOverride();
    try {
      // Refused by the per-address limit and let on to be recorded (plugins/ip-rate-limit.ts).
      const carried = carriedRefusalOf(request);
      if (carried) {
        if (endpointRef) await this.recordRefusal(services, endpointRef, carried.error, carried.rule, logger);
        throw carried.error;
      }
      const limited = await principalLimit?.take(actor, loadOverride);
      if (limited) {
        if (endpointRef) await this.recordRefusal(services, endpointRef, limited, await principalLimit!.describe(actor, loadOverride), logger);
        throw limited;
      }
      const refused = await ipAllowList.refusal(actor.tenantId, ip, () => services.tenancy.ipAllowList());
      if (refused) {
        if (endpointRef) await this.recordRefusal(services, endpointRef, refused, 'the caller tenant’s IP allow-list', logger);
        throw refused;
      }
    } catch (error) {
      finish(outcomeOf(error));
      throw error;
    }
    const takeAnother = async () => (await principalLimit?.take(actor, loadOverride)) ?? null;
    return { actor, services, facts, standing: standing.signal, logger: logger.child({ requestId }), finish, takeAnother };
  }

  /** The refusal goes on the endpoint's decision log; failing to write it never changes the answer. */
  private async recordRefusal(services: Services, endpointRef: string, error: CodedError, rule: string, logger: Logger): Promise<void> {
    await services.queries.recordRefusal(endpointRef, error, rule).catch((failure: unknown) => {
      logger.warn({ err: failure, endpoint: endpointRef }, 'a refusal could not be written to the endpoint decision log');
    });
  }
}

/** The error a response must end with because the credential watch cut it, else undefined. */
export function lostStanding(opened: OpenedDoor): CodedError | undefined {
  return opened.standing.aborted ? (opened.standing.reason as CodedError) : undefined;
}

/**
 * A request's audit outcome: `ok`, or the distinct error codes in the order met, comma-joined (as
 * a GraphQL operation's: `RATE_LIMITED` for a batch of a call answered and one refused by a
 * limit); `each`, the list given, kept whole; `refusedByLimits` when every one was RATE_LIMITED.
 */
function auditedOutcome(outcomes: string | readonly string[]): { outcome: string; each?: readonly string[]; refusedByLimits: boolean } {
  if (typeof outcomes === 'string') return { outcome: outcomes, refusedByLimits: outcomes === 'RATE_LIMITED' };
  const codes = [...new Set(outcomes.filter((outcome) => outcome !== 'ok'))];
  return { outcome: codes.length === 0 ? 'ok' : codes.join(','), each: outcomes, refusedByLimits: outcomes.length > 0 && outcomes.every((outcome) => outcome === 'RATE_LIMITED') };
}

/** The audit outcome of a failure: its code, or INTERNAL. */
export function outcomeOf(error: unknown): string {
  return codedFailure(error)?.code ?? 'INTERNAL';
}
