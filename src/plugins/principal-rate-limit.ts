/**
 * A token bucket per principal (user, API key or external identity, within its tenant), for
 * every operation over HTTP, SSE and graphql-ws, checked as the operation's context is built:
 * after authentication, before any resolver or transaction. The tenant's own settings
 * (`updateTenantSettings`: rateLimitPerSecond, rateLimitBurst) override the server default.
 * Anonymous callers have no principal; the per-IP limit covers them.
 *
 * An operation costs one request per endpoint query it asks (each aliased or fragment-wrapped
 * `queryEndpoint` / `endpointQuery` root field; at least one), taken all at once or not at all:
 * what its queries would cost sent one by one, as the MCP route charges each call of a batch
 * and the endpoints' own rate_limit policies count each query. One token per operation once
 * let `{ a0: queryEndpoint(…) … a14: queryEndpoint(…) }` run 15 queries for one. A refused
 * operation runs nothing. A refused operation that
 * asks endpoints (queryEndpoint, endpointQuery) is recorded in their decision logs first
 * (endpoint-refusals.ts): the owner sees that the caller was refused, and by which rule.
 */
import type { Plugin } from 'graphql-yoga';
import type { AuthContext, ScopeContext } from './context.js';
import type { PrincipalLimit } from '../platform/rate-limits/principal-limit.js';
import type { RuleOverride } from '../platform/rate-limits/tenant-rules.js';
import { codedErrorToGraphQL } from '../platform/errors/index.js';
import { operationOf, rootFieldsOf } from '../graphql/root-fields.js';
import { endpointQueriesIn } from '../graphql/endpoint-references.js';
import type { Logger } from '../platform/logging/logger.js';
import { recordEndpointRefusals } from './endpoint-refusals.js';

type Context = AuthContext & ScopeContext & { logger?: Logger };

export interface PrincipalRateLimitOptions {
  /** The server's one per-principal limit, shared with the consumer routes. */
  limit: PrincipalLimit;
  /** Reads the tenant's override of the server default (null: none). */
  loadOverride: (context: Context) => Promise<RuleOverride>;
}

/** The mutation that changes the override: running it drops this process's cached copy. */
const SETTINGS_MUTATION = 'updateTenantSettings';

export function usePrincipalRateLimit({ limit, loadOverride }: PrincipalRateLimitOptions): Plugin<Context> {
  // The endpoint queries of each operation, counted from the document as it is parsed (the
  // context is the same object from parsing to execution, over HTTP and graphql-ws alike).
  const endpointQueries = new WeakMap<object, number>();
  return {
    onParse({ context }) {
      return ({ result }) => {
        if (!result || result instanceof Error) return;
        const operationName = (context as { params?: { operationName?: string | null } }).params?.operationName;
        endpointQueries.set(context, endpointQueriesIn(result, operationName));
      };
    },
    async onContextBuilding({ context }) {
      const requests = Math.max(1, endpointQueries.get(context) ?? 1);
      const refused = await limit.take(context.actor, () => loadOverride(context), requests);
      if (!refused) return;
      await recordEndpointRefusals(context, refused, await limit.describe(context.actor, () => loadOverride(context)));
      throw codedErrorToGraphQL(refused);
    },
    onExecute({ args }) {
      const tenantId = (args.contextValue as Context).actor.tenantId;
      const operation = operationOf(args.document, args.operationName);
      if (!tenantId || operation?.operation !== 'mutation') return;
      if (!rootFieldsOf(args.document, operation).some((field) => field.name.value === SETTINGS_MUTATION)) return;
      // After execution, so after the commit: a reload then sees the new values.
      return { onExecuteDone: () => limit.forget(tenantId) };
    },
  };
}
