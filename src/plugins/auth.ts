import type { Plugin } from 'graphql-yoga';
import type { IncomingMessage } from 'node:http';
import type { AuthContext, ClientContext, ConnectionContext, RequestContext } from './context.js';
import type { AuditRequest } from '../domains/audit/audit-log.js';
import type { Authenticator } from '../domains/identity/authenticator.js';
import { presentedCredential } from '../domains/identity/presented-credential.js';
import { unstorableTextPath } from '../platform/input/unstorable-text.js';
import { CodedError, codedErrorToGraphQL } from '../platform/errors/index.js';
import { unstorableTextError } from './unstorable-text-refusal.js';

export interface AuthOptions {
  authenticator: Authenticator;
}

/**
 * Puts the caller's `Actor` on the context. The credential comes from the `Authorization`
 * header over HTTP and from `connectionParams.authorization` over graphql-ws (browsers cannot
 * set WebSocket headers). A bad credential fails the operation with UNAUTHENTICATED (HTTP 401).
 */
export function useAuth({ authenticator }: AuthOptions): Plugin<AuthContext & ConnectionContext> {
  return {
    async onContextBuilding({ context, extendContext }) {
      // graphql-ws connection parameters are JSON a client chose, read before any argument rule
      // runs (the tenant picked among an issuer's tenants reaches a database lookup): the same
      // NUL rule as every argument. HTTP headers cannot carry NUL.
      const nul = unstorableTextPath(context.connectionParams ?? {}, ['connectionParams']);
      if (nul) throw unstorableTextError(`The connection parameter "${nul.slice(1).join('.')}"`, nul);
      const credential = presentedCredential(context);
      try {
        const { actor, expiresAt } = await authenticator.authenticate(credential, refusalRequestOf(context));
        extendContext({ actor, credentialExpiresAt: expiresAt, credential });
      } catch (error) {
        throw error instanceof CodedError ? codedErrorToGraphQL(error) : error;
      }
    },
  };
}

/** Where a credential came from, for the audit event of a refusal (client-ip and request-id ran first). */
function refusalRequestOf(context: Partial<ClientContext & RequestContext> & { request?: Request; req?: IncomingMessage }): AuditRequest {
  const userAgent = context.request?.headers?.get('user-agent') ?? context.req?.headers['user-agent'] ?? null;
  return { ip: context.clientIp ?? null, userAgent, requestId: context.requestId ?? null, traceId: context.traceId ?? null };
}
