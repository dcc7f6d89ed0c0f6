/**
 * `accounting`: what a query costs and how much a caller may spend. Each query is charged
 * `flatMicros` plus `microsPer1kTokens` per 1 000 tokens of the answer's usage (micro-units,
 * the currency is the operator's). With a `quota`, the charges of the last `periodSeconds`
 * (per caller, per caller's tenant, or for everyone) must stay under it: checked before the
 * model is called, so queries already running when the quota is reached still finish. The flat
 * part counts from admission (the query's usage record is written then, RUNNING, charged it:
 * endpoint-queries/usage-writer.ts), so concurrent queries cannot overrun it; the token part is
 * added when the query ends, so a query may end over the quota by its own token charge.
 * A sliding window: the quota frees up as old charges leave it.
 */
import { z } from 'zod';
import { registerPolicyType, SCOPES, secondsUntilFree, windowStart, type FactRequest } from '../policy-type.js';

const configSchema = z
  .strictObject({
    flatMicros: z.int().min(0).max(1_000_000_000_000).default(0),
    microsPer1kTokens: z.int().min(0).max(1_000_000_000).default(0),
    quota: z.int().min(1).max(1_000_000_000_000_000).optional(),
    periodSeconds: z.int().min(60).max(366 * 86_400).default(86_400),
    scope: z.enum(SCOPES).default('per_user'),
  })
  .refine((config) => config.flatMicros > 0 || config.microsPer1kTokens > 0, 'set flatMicros or microsPer1kTokens (a policy that charges nothing counts nothing)');
type AccountingConfig = z.infer<typeof configSchema>;

registerPolicyType<AccountingConfig>({
  name: 'accounting',
  description: 'Charges each query (flatMicros + microsPer1kTokens) and enforces an optional quota per periodSeconds, per_user, per_tenant or global.',
  configSchema,
  precedence: 40,
  facts: (config, call): Record<string, FactRequest> => (config.quota ? { charged: { kind: 'charged', scope: config.scope, since: windowStart(call.now, config.periodSeconds) } } : {}),
  allowance: (config, facts) =>
    config.quota
      ? {
          unit: 'MICROS',
          limit: config.quota,
          used: facts.charged!.total,
          periodSeconds: config.periodSeconds,
          freesAt: facts.charged!.oldest && new Date(facts.charged!.oldest.getTime() + config.periodSeconds * 1000),
        }
      : undefined,
  evaluate(config, call, facts) {
    if (!config.quota) return { decision: 'ALLOW', rule: `charge ${config.flatMicros} + ${config.microsPer1kTokens}/1k tokens, no quota` };
    const rule = `quota ${config.quota} per ${config.periodSeconds} s ${config.scope}`;
    const { total, oldest } = facts.charged!;
    if (total < config.quota) return { decision: 'ALLOW', rule };
    return {
      decision: 'DENY',
      code: 'RATE_LIMITED',
      reasonCode: 'QUOTA',
      rule,
      reason: `Quota of ${config.quota} per ${config.periodSeconds} s used up (${total} charged)`,
      retryAfterSeconds: secondsUntilFree(oldest, config.periodSeconds, call.now),
    };
  },
  flatCharge: (config) => config.flatMicros,
  charge: (config, usage) => config.flatMicros + Math.ceil((config.microsPer1kTokens * usage.totalTokens) / 1000),
});
