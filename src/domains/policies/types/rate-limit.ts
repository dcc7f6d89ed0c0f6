/**
 * `rate_limit`: at most `requestsPerPeriod` queries let through per `periodSeconds`, counted per
 * caller, per caller's tenant, or for everyone (`scope`). A sliding window over the decision
 * log, so it holds across API instances with no other shared state; refused queries do not
 * count. `retryAfterSeconds` says when the oldest counted query leaves the window.
 */
import { z } from 'zod';
import { registerPolicyType, SCOPES, secondsUntilFree, windowStart } from '../policy-type.js';

const configSchema = z.strictObject({
  requestsPerPeriod: z.int().min(1).max(1_000_000),
  periodSeconds: z.int().min(1).max(31 * 86_400),
  scope: z.enum(SCOPES).default('per_user'),
});
type RateLimitConfig = z.infer<typeof configSchema>;

registerPolicyType<RateLimitConfig>({
  name: 'rate_limit',
  description: 'At most requestsPerPeriod queries per periodSeconds, per_user, per_tenant or global (a sliding window).',
  configSchema,
  precedence: 30,
  facts: (config, call) => ({ allowed: { kind: 'allowed', scope: config.scope, since: windowStart(call.now, config.periodSeconds) } }),
  allowance: (config, facts) => ({
    unit: 'QUERIES',
    limit: config.requestsPerPeriod,
    used: facts.allowed!.count,
    periodSeconds: config.periodSeconds,
    freesAt: facts.allowed!.oldest && new Date(facts.allowed!.oldest.getTime() + config.periodSeconds * 1000),
  }),
  evaluate(config, call, facts) {
    const rule = `${config.requestsPerPeriod} per ${config.periodSeconds} s ${config.scope}`;
    const { count, oldest } = facts.allowed!;
    if (count < config.requestsPerPeriod) return { decision: 'ALLOW', rule };
    return {
      decision: 'DENY',
      code: 'RATE_LIMITED',
      reasonCode: 'RATE_LIMIT',
      rule,
      reason: `At most ${config.requestsPerPeriod} queries per ${config.periodSeconds} s (${config.scope.replace('_', ' ')})`,
      retryAfterSeconds: secondsUntilFree(oldest, config.periodSeconds, call.now),
    };
  },
});
