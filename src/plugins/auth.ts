import type { Plugin } from 'graphql-yoga';
import type { AuthContext, ConnectionContext } from '../context.js';
import { DomainError } from '../domains/errors.js';
import type { Authenticator } from '../domains/identity/authenticator.js';
import { domainErrorToGraphQL } from '../schema/errors.js';

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
      const request = (context as { request?: Request }).request;
      const fromParams = context.connectionParams?.authorization ?? context.connectionParams?.Authorization;
      const authorization = request?.headers.get('authorization') ?? (typeof fromParams === 'string' ? fromParams : null);
      try {
        const { actor, expiresAt } = await authenticator.authenticate(authorization);
        extendContext({ actor, credentialExpiresAt: expiresAt });
      } catch (error) {
        throw error instanceof DomainError ? domainErrorToGraphQL(error) : error;
      }
    },
  };
}
