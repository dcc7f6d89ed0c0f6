/**
 * `POST /api/v1/auth/login` for plain HTTP clients: `{email, password, tenant?}` in, an
 * OAuth2-style token response out (`access_token`, `token_type`, `expires_in`, plus the
 * refresh token). Same service, same rules and the same errors as the `logIn` mutation.
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
  logger: Logger;
  /** Proxies in front of Sluice whose X-Forwarded-For is believed (SLUICE_TRUST_PROXY). */
  trustProxyHops: number;
  /**
   * The brute-force limits the `logIn` mutation has, on the same buckets (see
   * plugins/attempt-limits.ts): null to go ahead, or the refusal. Absent: no limit.
   */
  checkAttempt?: (ip: string, email: string) => Promise<RateLimitedError | null>;
}

export function useRestLogin(options: RestLoginOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== REST_LOGIN_PATH) return;
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify(body), {
            status,
            headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
          }),
        );
      if (request.method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'Use POST' });
      let body: z.infer<typeof LoginBody>;
      try {
        const parsed = LoginBody.safeParse(JSON.parse(await jsonTextOf(request)));
        if (!parsed.success) {
          // A field too long names itself and the limit; any other shape gets the usage line.
          const tooLong = parsed.error.issues.find((issue) => issue.code === 'too_big');
          if (tooLong) return json(400, { error: 'invalid_request', error_description: `${tooLong.path.join('.')}: ${tooLong.message}`, code: 'BAD_USER_INPUT' });
          throw parsed.error;
        }
        body = parsed.data;
      } catch (error) {
        if (error instanceof RefusedBodyError) return json(400, { error: 'invalid_request', error_description: error.message, code: 'BAD_REQUEST' });
        return json(400, { error: 'invalid_request', error_description: 'Send JSON: {"email": "...", "password": "..."}' });
      }
      const nul = unstorableTextPath(body);
      if (nul) return json(400, { error: 'invalid_request', error_description: unstorableTextMessage(`Field "${describePath(nul)}"`), code: 'BAD_USER_INPUT' });
      const ip = clientIpOf((serverContext as { req?: IncomingMessage }).req, options.trustProxyHops);
      // What the mutation's services are told of their request: the audit event and the sign-in address need it.
      const facts = { operationHash: null, requestId: requestIdOf(request), traceId: null, ip, userAgent: request.headers.get('user-agent') };
      const scope = TenantScope.open(options.orm, ANONYMOUS);
      try {
        const refused = await options.checkAttempt?.(ip, body.email);
        if (refused) throw refused;
        const payload = await scope.transaction({ readOnly: false }, () => createServices({ actor: ANONYMOUS, scope, deps: options.deps, request: facts }).accounts.logIn(body));
        return json(200, {
          access_token: payload.accessToken,
          token_type: 'bearer',
          // The token's lifetime as issued: time spent answering (a busy machine) must not make it 899 for 900.
          expires_in: payload.expiresInSeconds,
          refresh_token: payload.refreshToken,
          tenant: payload.tenant.slug,
          role: payload.role,
        });
      } catch (failure) {
        // Logged with the request id the response's x-request-id header carries, and named in the body.
        const requestId = requestIdOf(request);
        const error = codedOrMasked(failure, (err) => options.logger.error({ err, requestId }, 'REST login failed unexpectedly'));
        return endResponse(oauthErrorResponse(fetchAPI, error, requestId));
      } finally {
        scope.close();
      }
    },
  };
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
