/**
 * `POST /api/v1/auth/login` for plain HTTP clients: `{email, password, tenant?}` in, an
 * OAuth2-style token response out (`access_token`, `token_type`, `expires_in`, plus the
 * refresh token). Same service, same rules and the same errors as the `logIn` mutation.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Plugin } from 'graphql-yoga';
import { z } from 'zod';
import type { Orm } from '../db/orm.js';
import { ANONYMOUS } from '../domains/actor.js';
import { DomainError } from '../domains/errors.js';
import type { ServiceDependencies } from '../domains/service-context.js';
import { createServices } from '../domains/services.js';
import type { Logger } from '../logger.js';

export const REST_LOGIN_PATH = '/api/v1/auth/login';

const LoginBody = z.object({
  email: z.string().max(320),
  password: z.string().max(4096),
  tenant: z.string().max(100).optional(),
});

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, BAD_USER_INPUT: 400, RATE_LIMITED: 429 };

export function useRestLogin(options: { orm: Orm; deps: ServiceDependencies; logger: Logger }): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== REST_LOGIN_PATH) return;
      const json = (status: number, body: unknown) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify(body), {
            status,
            headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
          }),
        );
      if (request.method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'Use POST' });
      let body: z.infer<typeof LoginBody>;
      try {
        body = LoginBody.parse(await request.json());
      } catch {
        return json(400, { error: 'invalid_request', error_description: 'Send JSON: {"email": "...", "password": "..."}' });
      }
      const em = options.orm.em.fork({ clear: true }) as EntityManager;
      try {
        const payload = await em.transactional((tx) =>
          createServices({ actor: ANONYMOUS, em: tx as EntityManager, deps: options.deps }).accounts.logIn(body),
        );
        return json(200, {
          access_token: payload.accessToken,
          token_type: 'bearer',
          expires_in: Math.max(0, Math.ceil((payload.expiresAt.getTime() - Date.now()) / 1000)),
          refresh_token: payload.refreshToken,
          tenant: payload.tenant.slug,
          role: payload.role,
        });
      } catch (error) {
        if (!(error instanceof DomainError)) {
          options.logger.error({ err: error }, 'REST login failed unexpectedly');
          return json(500, { error: 'server_error', error_description: 'Unexpected error' });
        }
        const status = STATUS[error.code] ?? 400;
        return json(status, { error: status === 401 ? 'invalid_grant' : 'invalid_request', error_description: error.message, code: error.code });
      }
    },
  };
}
