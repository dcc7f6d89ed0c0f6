/**
 * `access`: who may query, by the caller's verified email. `mode: allow` lets only matching
 * callers through (a caller with no email, such as an API key, fails it); `mode: deny` turns
 * matching callers away. Patterns are globs, case-insensitive (`*@example.com`,
 * `ann@example.org`, `*@*.example.com`). Allow and deny policies may coexist: a deny wins.
 */
import picomatch from 'picomatch';
import { z } from 'zod';
import { registerPolicyType } from '../policy-type.js';

const configSchema = z.strictObject({
  mode: z.enum(['allow', 'deny']),
  patterns: z
    .array(z.string().trim().min(3).max(320).refine((pattern) => pattern.includes('@'), 'must contain @ (an email pattern)'))
    .min(1)
    .max(200),
});
type AccessConfig = z.infer<typeof configSchema>;

const matchers = new WeakMap<AccessConfig, (email: string) => string | undefined>();

/** The first pattern the email matches (compiled once per stored configuration object). */
function matcherFor(config: AccessConfig): (email: string) => string | undefined {
  let matcher = matchers.get(config);
  if (!matcher) {
    const compiled = config.patterns.map((pattern) => ({ pattern, test: picomatch(pattern, { nocase: true, dot: true }) }));
    matcher = (email) => compiled.find((entry) => entry.test(email))?.pattern;
    matchers.set(config, matcher);
  }
  return matcher;
}

registerPolicyType<AccessConfig>({
  name: 'access',
  description: 'Allow or deny callers by email pattern (globs, case-insensitive); deny wins; no email fails an allow list.',
  configSchema,
  precedence: 10,
  evaluate(config, call) {
    const email = call.caller.email;
    const matched = email ? matcherFor(config)(email) : undefined;
    if (config.mode === 'deny') {
      return matched
        ? { decision: 'DENY', code: 'POLICY_DENIED', reasonCode: 'ACCESS_DENIED', rule: `deny ${matched}`, reason: 'The endpoint’s access policy refuses this caller' }
        : { decision: 'ALLOW', rule: 'deny list: no match' };
    }
    if (matched) return { decision: 'ALLOW', rule: `allow ${matched}` };
    return {
      decision: 'DENY',
      code: 'POLICY_DENIED',
      reasonCode: email ? 'NOT_ALLOWED' : 'NO_EMAIL',
      rule: 'allow list: no match',
      reason: email ? 'The endpoint’s access policy does not list this caller' : 'The endpoint admits listed emails only, and this credential carries none',
    };
  },
});
