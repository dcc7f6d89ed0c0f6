/**
 * `access`: who may query, by the caller's email. `mode: allow` lets only matching callers
 * through, and only by an email the endpoint's tenant vouches for (its own members, identities
 * from its own providers: `policyCaller` in endpoint-access.ts); a caller with no email (an API
 * key) or only an email nobody vouches for (another tenant's account, which anyone may open
 * under any address) fails it. `mode: deny` turns away callers matching by any email they
 * claim. Patterns are globs, case-insensitive (`*@example.com`, `ann@example.org`,
 * `*@*.example.com`). Allow and deny policies may coexist: a deny wins.
 *
 * Anonymous callers (no credential, on endpoints that admit them) have no email: only the
 * pattern `anonymous` matches them, and it matches nobody else. So `deny anonymous` turns
 * them away whatever else allows them, and an allow list admits them only if it lists
 * `anonymous`; email globs such as `*@*` never match them.
 */
import picomatch from 'picomatch';
import { z } from 'zod';
import { registerPolicyType, type Verdict } from '../policy-type.js';

/** The one pattern that matches callers with no credential. */
export const ANONYMOUS_PATTERN = 'anonymous';

const configSchema = z.strictObject({
  mode: z.enum(['allow', 'deny']),
  patterns: z
    .array(
      z
        .string()
        .trim()
        .min(3)
        .max(320)
        .transform((pattern) => (pattern.toLowerCase() === ANONYMOUS_PATTERN ? ANONYMOUS_PATTERN : pattern))
        .refine((pattern) => pattern === ANONYMOUS_PATTERN || pattern.includes('@'), 'must contain @ (an email pattern) or be "anonymous"'),
    )
    .min(1)
    .max(200),
});
type AccessConfig = z.infer<typeof configSchema>;

const matchers = new WeakMap<AccessConfig, (email: string) => string | undefined>();

/** The first pattern the email matches (compiled once per stored configuration object). */
function matcherFor(config: AccessConfig): (email: string) => string | undefined {
  let matcher = matchers.get(config);
  if (!matcher) {
    const compiled = config.patterns
      .filter((pattern) => pattern !== ANONYMOUS_PATTERN)
      .map((pattern) => ({ pattern, test: picomatch(pattern, { nocase: true, dot: true }) }));
    matcher = (email) => compiled.find((entry) => entry.test(email))?.pattern;
    matchers.set(config, matcher);
  }
  return matcher;
}

registerPolicyType<AccessConfig>({
  name: 'access',
  description:
    'Allow or deny callers by email pattern (globs, case-insensitive) or `anonymous` (callers with no credential); deny wins; an allow list admits only emails the endpoint’s tenant vouches for (its members, its identity providers).',
  configSchema,
  precedence: 10,
  judgesCallerAlone: true,
  evaluate(config, call) {
    if (call.caller.kind === 'anonymous') return anonymousVerdict(config);
    const { email, claimedEmail } = call.caller;
    if (config.mode === 'deny') {
      const denied = claimedEmail ? matcherFor(config)(claimedEmail) : undefined;
      return denied
        ? { decision: 'DENY', code: 'POLICY_DENIED', reasonCode: 'ACCESS_DENIED', rule: `deny ${denied}`, reason: 'The endpoint’s access policy refuses this caller' }
        : { decision: 'ALLOW', rule: 'deny list: no match' };
    }
    const matched = email ? matcherFor(config)(email) : undefined;
    if (matched) return { decision: 'ALLOW', rule: `allow ${matched}` };
    if (!email && claimedEmail) {
      return {
        decision: 'DENY',
        code: 'POLICY_DENIED',
        reasonCode: 'EMAIL_NOT_VOUCHED',
        rule: 'allow list: email not vouched for',
        reason:
          'The endpoint admits listed emails only, as its own tenant knows them: sign in to that tenant as its member, or through its identity provider (Sluice verifies no address, so another tenant’s account proves none)',
      };
    }
    return {
      decision: 'DENY',
      code: 'POLICY_DENIED',
      reasonCode: email ? 'NOT_ALLOWED' : 'NO_EMAIL',
      rule: 'allow list: no match',
      reason: email ? 'The endpoint’s access policy does not list this caller' : 'The endpoint admits listed emails only, and this credential carries none',
    };
  },
});

function anonymousVerdict(config: AccessConfig): Verdict {
  const listed = config.patterns.includes(ANONYMOUS_PATTERN);
  if (config.mode === 'deny') {
    return listed
      ? { decision: 'DENY', code: 'POLICY_DENIED', reasonCode: 'ACCESS_DENIED', rule: `deny ${ANONYMOUS_PATTERN}`, reason: 'The endpoint’s access policy refuses anonymous callers' }
      : { decision: 'ALLOW', rule: 'deny list: no match' };
  }
  if (listed) return { decision: 'ALLOW', rule: `allow ${ANONYMOUS_PATTERN}` };
  return {
    decision: 'DENY',
    code: 'POLICY_DENIED',
    reasonCode: 'NOT_ALLOWED',
    rule: 'allow list: no match',
    reason: 'The endpoint’s access policy does not admit anonymous callers: sign in or use an API key',
  };
}
