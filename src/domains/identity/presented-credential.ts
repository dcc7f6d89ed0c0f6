/**
 * Which headers (or graphql-ws `connection_init` parameters) carry a credential: the same for
 * every door (GraphQL over HTTP, SSE and WebSocket, and the REST routes).
 */
import type { PresentedCredential } from './authenticator.js';

/** The credential from HTTP headers, or from graphql-ws `connection_init` parameters. */
export function presentedCredential(context: { request?: Request; connectionParams?: Record<string, unknown> }): PresentedCredential {
  const params = context.connectionParams ?? {};
  const fromParams = (...names: string[]) => {
    for (const name of names) if (typeof params[name] === 'string') return params[name] as string;
    return null;
  };
  const headers = context.request?.headers;
  return {
    authorization: headers?.get('authorization') ?? fromParams('authorization', 'Authorization'),
    apiKey: headers?.get('x-api-key') ?? fromParams('apiKey', 'x-api-key', 'X-API-Key'),
    tenant: headers?.get('x-sluice-tenant') ?? fromParams('tenant', 'x-sluice-tenant'),
  };
}
