/**
 * A token bucket per principal (user, API key or external identity, within its tenant), for
 * every operation over HTTP, SSE and graphql-ws, checked as the operation's context is built:
 * after authentication, before any resolver or transaction. The tenant's own settings
 * (`updateTenantSettings`: rateLimitPerSecond, rateLimitBurst) override the server default.
 * Anonymous callers have no principal; the per-IP limit covers them.
 */
import type { Plugin } from 'graphql-yoga';
import type { AuthContext, ScopeContext } from '../context.js';
import type { Logger } from '../logger.js';
import { bucketKey, principalOf } from '../rate-limits/keys.js';
import { TenantRules, type RuleOverride } from '../rate-limits/tenant-rules.js';
import type { BucketRule, BucketStore } from '../rate-limits/token-bucket.js';
import { codedErrorToGraphQL } from '../platform/errors/index.js';
import { rateLimited } from './rate-limited.js';
import { operationOf, rootFieldsOf } from './root-fields.js';

type Context = AuthContext & ScopeContext;

export interface PrincipalRateLimitOptions {
  buckets: BucketStore;
  /** The server default per principal. @default { perSecond: 10, burst: 20 } */
  rule?: BucketRule;
  /** Reads the tenant's override of `rule` (null: none); called at most once per tenant per `overrideTtlMs`. */
  loadOverride: (context: Context) => Promise<RuleOverride>;
  /** How long a tenant's override is reused before it is read again. @default 5000 */
  overrideTtlMs?: number;
  logger: Logger;
}

/** The mutation that changes the override: running it drops this process's cached copy. */
const SETTINGS_MUTATION = 'updateTenantSettings';

export function usePrincipalRateLimit({
  buckets,
  rule = { perSecond: 10, burst: 20 },
  loadOverride,
  overrideTtlMs = 5_000,
  logger,
}: PrincipalRateLimitOptions): Plugin<Context> {
  const rules = new TenantRules(rule, overrideTtlMs, (error, tenantId) =>
    logger.warn({ err: error, tenantId }, 'could not read the tenant rate-limit settings; using the server default'),
  );
  return {
    async onContextBuilding({ context }) {
      const principal = principalOf(context.actor);
      if (!principal || !context.actor.tenantId) return;
      const tenantRule = await rules.ruleFor(context.actor.tenantId, () => loadOverride(context));
      const result = await buckets.take(bucketKey('principal', principal), tenantRule);
      if (!result.allowed) throw codedErrorToGraphQL(rateLimited('requests', result));
    },
    onExecute({ args }) {
      const tenantId = (args.contextValue as Context).actor.tenantId;
      const operation = operationOf(args.document, args.operationName);
      if (!tenantId || operation?.operation !== 'mutation') return;
      if (!rootFieldsOf(args.document, operation).some((field) => field.name.value === SETTINGS_MUTATION)) return;
      // After execution, so after the commit: a reload then sees the new values.
      return { onExecuteDone: () => rules.forget(tenantId) };
    },
  };
}
