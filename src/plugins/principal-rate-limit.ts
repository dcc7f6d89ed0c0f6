/**
 * A token bucket per principal (user, API key or external identity, within its tenant), for
 * every operation over HTTP, SSE and graphql-ws, checked as the operation's context is built:
 * after authentication, before any resolver or transaction. The tenant's own settings
 * (`updateTenantSettings`: rateLimitPerSecond, rateLimitBurst) override the server default.
 * Anonymous callers have no principal; the per-IP limit covers them. A refused operation that
 * asks endpoints (queryEndpoint, endpointQuery) is recorded in their decision logs first
 * (endpoint-refusals.ts): the owner sees that the caller was refused, and by which rule.
 */
import type { Plugin } from 'graphql-yoga';
import type { AuthContext, ScopeContext } from './context.js';
import type { PrincipalLimit } from '../platform/rate-limits/principal-limit.js';
import type { RuleOverride } from '../platform/rate-limits/tenant-rules.js';
import { codedErrorToGraphQL } from '../platform/errors/index.js';
import { operationOf, rootFieldsOf } from '../graphql/root-fields.js';
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
  return {
    async onContextBuilding({ context }) {
      const refused = await limit.take(context.actor, () => loadOverride(context));
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
