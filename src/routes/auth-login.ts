/**
 * `POST /api/v1/auth/login` for plain HTTP clients: `{email, password, tenant?}` in, an
 * OAuth2-style token response out (`access_token`, `token_type`, `expires_in`, plus the
 * refresh token). Same service, same rules and the same errors as the `logIn` mutation.
 *
 * Every request here leaves one `rest.login` event on the platform chain (actor anonymous,
 * outcome `ok` or the code answered, duration; never the body), as the `logIn` mutation
 * leaves its `graphql.mutation` one, by the same rules: a refused sign-in (UNAUTHENTICATED, or
 * RATE_LIMITED by the attempt limits) goes through the refused sign-ins' flood limit, as
 * GraphQL's does; a body that cannot be read (GraphQL's invalid document) through the refused
 * requests'. Recorded each, one address hammering the login wrote a row per attempt.
 */
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { z } from 'zod';
import type { Orm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import { ANONYMOUS } from '../domains/actor.js';
import { codedOrMasked, httpStatusOf, requestNamedBy, type CodedError, type RateLimitedError } from '../platform/errors/index.js';
import { clientIpOf } from '../platform/http/client-address.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import type { ServiceDependencies } from '../domains/service-context.js';
import type { AuditLog, AuditRecord } from '../domains/audit/audit-log.js';
import { SIGN_IN_REFUSALS, type RefusedRequests, type RefusedSignIns } from '../domains/identity/refused-credentials.js';
import { outcomeOf } from './consumer-door.js';
import { createServices } from '../domains/services.js';
import type { Logger } from '../platform/logging/logger.js';
import { jsonTextOf, RefusedBodyError } from '../platform/input/utf8-text.js';
import { describePath, unstorableTextPath, unstorableTextMessage } from '../platform/input/unstorable-text.js';
import { STRING_BOUNDS } from '../schema/string-bounds.js';

export const REST_LOGIN_PATH = '/api/v1/auth/login';

/** The `logIn` mutation's bounds (schema/string-bounds.ts): a longer value is refused before any lookup. */
const within = (kind: 'email' | 'password' | 'tenant') => z.string().max(STRING_BOUNDS[kind], { message: `must be at most ${STRING_BOUNDS[kind]} characters` });
const LoginBody = z.object({ email: within('email'), password: within('password'), tenant: within('tenant').optional() });

export interface RestLoginOptions {
  orm: Orm;
  deps: ServiceDependencies;
  /** Where each request's `rest.login` event goes. */
  audit: Pick<AuditLog, 'record' | 'expect'>;
  /** The flood limits of requests refused before they ran and of refused sign-ins (domains/identity/refused-credentials.ts). */
  refusals: RefusedRequests & RefusedSignIns;
  logger: Logger;
  /** Proxies in front of Sluice whose X-Forwarded-For is believed (SLUICE_TRUST_PROXY). */
  trustProxyHops: number;
  /**
   * The brute-force limits the `logIn` mutation has, on the same buckets (see
   * plugins/attempt-limits.ts): null to go ahead, or the refusal. Absent: no limit.
   */
  checkAttempt?: (ip: string, email: string) => Promise<RateLimitedError | null>;
}

type FetchAPI = { Response: typeof Response };

export function useRestLogin(options: RestLoginOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== REST_LOGIN_PATH) return;
      const started = performance.now();
      const ip = clientIpOf((serverContext as { req?: IncomingMessage }).req, options.trustProxyHops);
      const requestId = requestIdOf(request);
      const userAgent = request.headers.get('user-agent');
      // The shutdown closes the audit log only once this request's event is in (server.ts).
      const settled = options.audit.expect();
      const event = (outcome: string): AuditRecord => ({
        tenantId: null,
        action: 'rest.login',
        outcome,
        actor: { kind: 'anonymous', id: null, email: null },
        request: { ip, userAgent, requestId, traceId: null },
        details: { durationMs: Math.round(performance.now() - started) },
      });
      try {
        const { response, outcome } = await answer(request, fetchAPI, ip, requestId, userAgent);
        const record = event(outcome);
        if (outcome === 'BAD_REQUEST' || outcome === 'BAD_USER_INPUT') options.refusals.refusedRequest(record);
        else if (SIGN_IN_REFUSALS.has(outcome)) options.refusals.refusedSignIn(record);
        else options.audit.record(record);
        return endResponse(response);
      } catch (error) {
        // Not expected (answer maps every failure to a response), but never without its event.
        options.audit.record(event('INTERNAL'));
        throw error;
      } finally {
        settled();
      }
    },
  };

  /** The response, and the outcome its event records. */
  async function answer(request: Request, fetchAPI: FetchAPI, ip: string, requestId: string, userAgent: string | null): Promise<{ response: Response; outcome: string }> {
    const json = (status: number, body: { error: string; error_description: string; code?: string } | Record<string, unknown>, outcome: string, headers: Record<string, string> = {}) => ({
      outcome,
      response: new fetchAPI.Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
      }),
    });
    if (request.method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'Use POST' }, 'BAD_REQUEST');
    let body: z.infer<typeof LoginBody>;
    try {
      const parsed = LoginBody.safeParse(JSON.parse(await jsonTextOf(request)));
      if (!parsed.success) {
        // A field too long names itself and the limit; any other shape gets the usage line.
        const tooLong = parsed.error.issues.find((issue) => issue.code === 'too_big');
        if (tooLong) return json(400, { error: 'invalid_request', error_description: `${tooLong.path.join('.')}: ${tooLong.message}`, code: 'BAD_USER_INPUT' }, 'BAD_USER_INPUT');
        throw parsed.error;
      }
      body = parsed.data;
    } catch (error) {
      if (error instanceof RefusedBodyError) return json(400, { error: 'invalid_request', error_description: error.message, code: 'BAD_REQUEST' }, 'BAD_REQUEST');
      return json(400, { error: 'invalid_request', error_description: 'Send JSON: {"email": "...", "password": "..."}' }, 'BAD_REQUEST');
    }
    const nul = unstorableTextPath(body);
    if (nul) return json(400, { error: 'invalid_request', error_description: unstorableTextMessage(`Field "${describePath(nul)}"`), code: 'BAD_USER_INPUT' }, 'BAD_USER_INPUT');
    // What the mutation's services are told of their request: the audit event and the sign-in address need it.
    const facts = { operationHash: null, requestId, traceId: null, ip, userAgent };
    const scope = TenantScope.open(options.orm, ANONYMOUS);
    try {
      const refused = await options.checkAttempt?.(ip, body.email);
      if (refused) throw refused;
      const payload = await scope.transaction({ readOnly: false }, () => createServices({ actor: ANONYMOUS, scope, deps: options.deps, request: facts }).accounts.logIn(body));
      return json(
        200,
        {
          access_token: payload.accessToken,
          token_type: 'bearer',
          // The token's lifetime as issued: time spent answering (a busy machine) must not make it 899 for 900.
          expires_in: payload.expiresInSeconds,
          refresh_token: payload.refreshToken,
          tenant: payload.tenant.slug,
          role: payload.role,
        },
        'ok',
      );
    } catch (failure) {
      // Logged with the request id the response's x-request-id header carries, and named in the body.
      const error = codedOrMasked(failure, (err) => options.logger.error({ err, requestId }, 'REST login failed unexpectedly'));
      return { response: oauthErrorResponse(fetchAPI, error, requestId), outcome: outcomeOf(error) };
    } finally {
      scope.close();
    }
  }
}

/**
 * The login's OAuth2-style error for a coded error: `error` in OAuth's names (a refused
 * credential, the database briefly unable, ours, or the request), `error_description`, the
 * Sluice `code`, `requestId` where an operator needs it, `retryAfterSeconds` with Retry-After.
 * Also what a refusal before the route gets (routes/door-refusals.ts).
 */
export function oauthErrorResponse(fetchAPI: { Response: typeof Response }, error: CodedError, requestId: string): Response {
  const status = httpStatusOf(error.code);
  const retryAfter = typeof error.details.retryAfterSeconds === 'number' ? error.details.retryAfterSeconds : undefined;
  const oauthError = status === 401 ? 'invalid_grant' : status === 503 ? 'temporarily_unavailable' : status === 500 ? 'server_error' : 'invalid_request';
  const named = requestNamedBy(error, requestId);
  const answer = { error: oauthError, error_description: error.message, code: error.code, ...(named ? { requestId: named } : {}), ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }) };
  return new fetchAPI.Response(JSON.stringify(answer), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...(retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }) },
  });
}
