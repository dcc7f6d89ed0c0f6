/**
 * The content guard (each check, the block after repeated violations, its end), the decision
 * log and usage statistics as an operator reads them, policy management errors, and tenant
 * confinement of all of it.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, endpointQueryOverWebSocket, type EndpointSetup } from '../support/endpoints.js';
import { createPolicy, gql, manualClock, must, outcome } from '../support/policies.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const clock = manualClock();

let server: TestServer;
let acme: SeededTenant;
let rival: SeededTenant;
let owner: string;
let viewer: string;
let rivalOwner: string;

beforeAll(async () => {
  server = await startTestServer({ clock });
  acme = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'VIEWER' }] });
  rival = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
  owner = await server.tokenFor(acme, acme.users[0]!);
  viewer = await server.tokenFor(acme, acme.users[1]!);
  rivalOwner = await server.tokenFor(rival, rival.users[0]!);
});
afterAll(async () => {
  await server?.close();
});

const freshEndpoint = (): Promise<EndpointSetup> => endpointOver(server, owner, DOCS, { published: true });

describe('content_guard', () => {
  it('refuses long text, bad encoding, too many URLs and too many phone numbers, each with its reason', async () => {
    const setup = await freshEndpoint();
    const guard = await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxLength: 200, maxUrls: 2, maxPhoneNumbers: 1, maxViolationsPerMinute: 100 });
    expect(guard.configuration).toMatchObject({ maxLength: 200, maxUrls: 2, maxPhoneNumbers: 1, phoneCountry: 'US', blockSeconds: 900 });
    const reasonFor = async (query: string) => {
      const result = await outcome(server, owner, setup.reference, query);
      return result.code === 'ok' ? 'ok' : `${result.code}:${result.extensions?.reason}`;
    };
    expect(await reasonFor('how does the lock keeper fill the chamber, see https://example.com')).toBe('ok');
    expect(await reasonFor(`lock ${'keeper '.repeat(40)}`)).toBe('POLICY_DENIED:CONTENT_TOO_LONG');
    // (NUL itself never gets this far: every argument carrying one is BAD_USER_INPUT, see test/hardening/nul-bytes.test.ts.)
    expect(await reasonFor('lock keeper \u0001 gates')).toBe('POLICY_DENIED:CONTENT_ENCODING');
    expect(await reasonFor('lock \uFFFD keeper')).toBe('POLICY_DENIED:CONTENT_ENCODING');
    expect(await reasonFor('lock https://a.example.com http://b.example.org www.c.example.net')).toBe('POLICY_DENIED:CONTENT_URLS');
    expect(await reasonFor('lock keeper +1 212 555 0100')).toBe('ok');
    expect(await reasonFor('lock keeper +1 212 555 0100 or (415) 555-0132')).toBe('POLICY_DENIED:CONTENT_PHONE_NUMBERS');
  });

  it('counts URLs written with look-alike full stops, fullwidth letters or invisible characters', async () => {
    const setup = await freshEndpoint();
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxUrls: 0, maxViolationsPerMinute: 100 });
    const variants = [
      'lock example\u3002com', // ideographic full stop
      'lock example\uFF0Ecom', // fullwidth full stop
      'lock example\uFF61com', // halfwidth ideographic full stop
      'lock example\uFE52com', // small full stop
      'lock www\u3002example\u3002org',
      'lock \uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\uFF0E\uFF43\uFF4F\uFF4D', // fullwidth letters and dot
      'lock exa\u200Bmple\u3002com', // zero-width space inside
      'lock example\u00AD\u3002com', // soft hyphen before the dot
      'lock https://example\u3002com/path',
    ];
    for (const query of variants) {
      const result = await outcome(server, owner, setup.reference, query);
      expect({ query, code: result.code, reason: result.extensions?.reason }).toEqual({ query, code: 'POLICY_DENIED', reason: 'CONTENT_URLS' });
    }
    expect((await outcome(server, owner, setup.reference, 'lock keeper\u3002 gates')).code).toBe('ok');
  });

  // Regression: only zero-width characters and the soft hyphen were removed before matching, so a
  // variation selector or any other character that shows nothing hid a URL or a phone number.
  it('counts URLs and phone numbers hidden by any invisible, format or decorating character, or written with middle dots', async () => {
    const setup = await freshEndpoint();
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxUrls: 0, maxPhoneNumbers: 0, maxViolationsPerMinute: 100 });
    // Each inside the top-level domain, where it used to make linkify see none.
    const urls = [
      'reset locks at example.o\uFE0Frg', // variation selector
      'lock example.o\u034Frg', // combining grapheme joiner
      'lock example.o\u{E0020}\u{E007F}rg', // tag characters
      'lock example.o\u3164rg', // Hangul filler
      'lock example.\u115Fo\u1160rg', // Hangul choseong and jungseong fillers
      'lock example.\u061Corg', // Arabic letter mark
      'lock example.o\u206Arg', // deprecated format character (U+206A–U+206F)
      'lock example.o\u0336rg', // combining strike-through on an ASCII letter
      'lock example\u00B7org', // middle dot
      'lock example\u2E33org', // raised dot
    ];
    const phones = ['call 2\uFE0F12 555 0123', 'call 212\u206F 555\u{E0041} 0123', 'call 2\uFE0F\u20E312 555 0123'];
    const refused = [...urls.map((query) => [query, 'CONTENT_URLS']), ...phones.map((query) => [query, 'CONTENT_PHONE_NUMBERS'])];
    for (const [query, reason] of refused) {
      const result = await outcome(server, owner, setup.reference, query);
      expect({ query, code: result.code, reason: result.extensions?.reason }).toEqual({ query, code: 'POLICY_DENIED', reason });
    }
    // Accented text, composed or not, is text: nothing in it is read as a URL or a number.
    for (const query of ['lock café résumé naïve', 'lock cafe\u0301 re\u0301sume\u0301 nai\u0308ve', 'lock col\u00B7legi']) {
      expect({ query, code: (await outcome(server, owner, setup.reference, query)).code }).toEqual({ query, code: 'ok' });
    }
  });

  // Regression: maxLength counted UTF-16 units, so each emoji counted twice.
  it('counts maxLength in characters (code points), like every other bound', async () => {
    const setup = await freshEndpoint();
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxLength: 100, maxViolationsPerMinute: 100 });
    expect((await outcome(server, owner, setup.reference, `reset locks ${'\u{1F600}'.repeat(60)}`)).code).toBe('ok');
    const tooLong = await outcome(server, owner, setup.reference, `reset locks ${'\u{1F600}'.repeat(89)}`);
    expect({ code: tooLong.code, reason: tooLong.extensions?.reason, message: tooLong.message }).toEqual({
      code: 'POLICY_DENIED', reason: 'CONTENT_TOO_LONG', message: 'The query is 101 characters; at most 100',
    });
  });

  it('refuses bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) and C1 controls as CONTENT_ENCODING', async () => {
    const setup = await freshEndpoint();
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxViolationsPerMinute: 100 });
    for (const character of ['\u202E', '\u202A', '\u202D', '\u2066', '\u2069', '\u009B']) {
      const result = await outcome(server, owner, setup.reference, `lock ${character}keeper`);
      expect({ character, code: result.code, reason: result.extensions?.reason }).toEqual({ character, code: 'POLICY_DENIED', reason: 'CONTENT_ENCODING' });
    }
    // Right-to-left text with its marks is text, not a trick.
    expect((await outcome(server, owner, setup.reference, 'lock keeper \u05E9\u05DC\u05D5\u05DD\u200F')).code).toBe('ok');
  });

  it('blocks a caller with more violations per minute than allowed, until blockSeconds have passed', async () => {
    const setup = await freshEndpoint();
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxLength: 20, maxViolationsPerMinute: 3, blockSeconds: 120 });
    for (let i = 0; i < 3; i += 1) expect((await outcome(server, owner, setup.reference, 'lock keeper '.repeat(5))).code).toBe('POLICY_DENIED');
    // Three violations are allowed; a good query still goes through.
    expect((await outcome(server, owner, setup.reference, 'lock keeper')).code).toBe('ok');
    clock.advance(30);
    expect((await outcome(server, owner, setup.reference, 'lock keeper '.repeat(5))).code).toBe('POLICY_DENIED');
    const blocked = await outcome(server, owner, setup.reference, 'lock keeper');
    expect(blocked).toMatchObject({ code: 'RATE_LIMITED', extensions: { reason: 'BLOCKED', retryAfterSeconds: 120 } });
    // Another caller is not blocked.
    expect((await outcome(server, viewer, setup.reference, 'lock keeper')).code).toBe('ok');
    clock.advance(119);
    expect((await outcome(server, owner, setup.reference, 'lock keeper')).extensions?.retryAfterSeconds).toBe(1);
    clock.advance(1);
    expect((await outcome(server, owner, setup.reference, 'lock keeper')).code).toBe('ok');
  });

  it('refuses the endpointQuery subscription before it streams anything', async () => {
    const setup = await freshEndpoint();
    await createPolicy(server, owner, setup.endpointId, 'content_guard', { maxUrls: 0 });
    const results = await endpointQueryOverWebSocket(server, owner, setup.reference, 'lock https://example.com');
    expect(results).toHaveLength(1);
    expect(results[0].errors[0].extensions).toMatchObject({ code: 'POLICY_DENIED', reason: 'CONTENT_URLS' });
  });
});

describe('the decision log and usage statistics', () => {
  it('records every decision with its policy, rule, caller and operation hash; usage counts queries and denials', async () => {
    const setup = await freshEndpoint();
    const limit = await createPolicy(server, owner, setup.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 600 });
    const from = clock.now().toISOString();
    expect((await outcome(server, owner, setup.reference)).code).toBe('ok');
    // The log is in time order (this test's clock stands still unless moved).
    clock.advance(1);
    expect((await outcome(server, owner, setup.reference)).code).toBe('RATE_LIMITED');
    const log = await must(
      server,
      owner,
      `query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node {
         decision policyId policyType rule reasonCode reason retryAfterSeconds endpointSlug callerKind callerId operationHash verdicts } } } }`,
      { f: { endpointId: setup.endpointId } },
    );
    const nodes = log.policyDecisions.edges.map((edge: { node: unknown }) => edge.node);
    const document = `query($e: String!, $q: String!, $o: QueryOptionsInput) { queryEndpoint(endpoint: $e, query: $q, options: $o) { answer usage { totalTokens } } }`;
    const slug = setup.reference.split('/')[1];
    expect(nodes).toEqual([
      {
        decision: 'ALLOW', policyId: null, policyType: null, rule: null, reasonCode: null, reason: null, retryAfterSeconds: null,
        endpointSlug: slug, callerKind: 'user', callerId: acme.users[0]!.id,
        // Keyed, the audit event's documentHash: a plain sha256 let the publisher test guesses of inline secrets.
        operationHash: secretsOf(server).documentDigest(document),
        verdicts: [{ policyId: expect.any(String), type: 'rate_limit', decision: 'ALLOW', rule: '1 per 600 s per_user' }],
      },
      {
        decision: 'DENY', policyId: limit.id, policyType: 'rate_limit', rule: '1 per 600 s per_user', reasonCode: 'RATE_LIMIT',
        reason: 'At most 1 queries per 600 s (per user)', retryAfterSeconds: 599,
        endpointSlug: slug, callerKind: 'user', callerId: acme.users[0]!.id, operationHash: expect.any(String),
        verdicts: [{ policyId: expect.any(String), type: 'rate_limit', decision: 'DENY', rule: '1 per 600 s per_user', reasonCode: 'RATE_LIMIT' }],
      },
    ]);
    expect(nodes[0].operationHash).not.toBe(createHash('sha256').update(document).digest('hex'));
    const denials = await must(server, owner, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision } } } }', {
      f: { endpointId: setup.endpointId, decision: 'DENY' },
    });
    expect(denials.policyDecisions.edges).toHaveLength(1);

    const usage = await must(server, owner, 'query($r: TimeRangeInput) { usage(range: $r, groupBy: ENDPOINT) { key queries denials totalTokens } }', { r: { from } });
    const row = usage.usage.find((entry: { key: string }) => entry.key === slug);
    expect(row).toMatchObject({ queries: 1, denials: 1 });
    expect(row.totalTokens).toBeGreaterThan(0);
    const byDay = await must(server, owner, 'query($r: TimeRangeInput) { usage(range: $r, groupBy: DAY) { key } }', { r: { from } });
    expect(byDay.usage.map((entry: { key: string }) => entry.key)).toContain(from.slice(0, 10));
    const byCaller = await must(server, owner, 'query($r: TimeRangeInput) { usage(range: $r, groupBy: CALLER) { key queries } }', { r: { from } });
    expect(byCaller.usage.map((entry: { key: string }) => entry.key)).toContain(`user:${acme.users[0]!.id}`);
  });

  it('keeps the log and statistics to ADMINs of the tenant', async () => {
    expect((await gql(server, viewer, '{ policyDecisions { edges { node { id } } } }')).errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await gql(server, viewer, '{ usage(groupBy: ENDPOINT) { key } }')).errors[0].extensions.code).toBe('FORBIDDEN');
    const theirs = await must(server, rivalOwner, '{ policyDecisions { edges { node { id } } } usage(groupBy: ENDPOINT) { key } }');
    expect(theirs).toEqual({ policyDecisions: { edges: [] }, usage: [] });
    const badRange = await gql(server, owner, '{ usage(groupBy: DAY, range: { from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }) { key } }');
    expect(badRange.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'range' });
  });
});

describe('managing policies', () => {
  it('validates types and configurations with paths; disabled policies are not evaluated; deleting one keeps its decisions', async () => {
    const setup = await freshEndpoint();
    const unknown = await gql(server, owner, 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }', {
      i: { endpointId: setup.endpointId, type: 'vibes', configuration: {} },
    });
    expect(unknown.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'type' });
    const invalid = await gql(server, owner, 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }', {
      i: { endpointId: setup.endpointId, type: 'access', configuration: { mode: 'maybe', patterns: ['no-at-sign'] } },
    });
    expect(invalid.errors[0].extensions.issues.map((issue: { path: string }) => issue.path).sort()).toEqual(['configuration.mode', 'configuration.patterns.0']);

    const deny = await createPolicy(server, owner, setup.endpointId, 'access', { mode: 'deny', patterns: ['*@*'] }, false);
    expect((await outcome(server, owner, setup.reference)).code).toBe('ok');
    await must(server, owner, 'mutation($id: ID!) { updatePolicy(id: $id, input: { enabled: true }) { enabled } }', { id: deny.id });
    expect((await outcome(server, owner, setup.reference)).code).toBe('POLICY_DENIED');
    const listed = await must(server, owner, 'query($id: ID!) { node(id: $id) { ... on Endpoint { policies { id type enabled } } } }', { id: setup.endpointId });
    expect(listed.node.policies).toEqual([{ id: deny.id, type: 'access', enabled: true }]);
    await must(server, owner, 'mutation($id: ID!) { deletePolicy(id: $id) { id } }', { id: deny.id });
    expect((await outcome(server, owner, setup.reference)).code).toBe('ok');
    const log = await must(server, owner, 'query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision } } } }', {
      f: { endpointId: setup.endpointId, decision: 'DENY' },
    });
    expect(log.policyDecisions.edges).toHaveLength(1);
  });

  it('needs ADMIN, and another tenant’s endpoint or policy is NOT_FOUND', async () => {
    const setup = await freshEndpoint();
    const create = 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }';
    const input = { endpointId: setup.endpointId, type: 'rate_limit', configuration: { requestsPerPeriod: 1, periodSeconds: 1 } };
    expect((await gql(server, viewer, create, { i: input })).errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await gql(server, rivalOwner, create, { i: input })).errors[0].extensions.code).toBe('NOT_FOUND');
    const policy = await createPolicy(server, owner, setup.endpointId, 'rate_limit', input.configuration);
    const update = await gql(server, rivalOwner, 'mutation($id: ID!) { updatePolicy(id: $id, input: { enabled: false }) { id } }', { id: policy.id });
    expect(update.errors[0].extensions.code).toBe('NOT_FOUND');
    expect((await gql(server, rivalOwner, 'query($id: ID!) { node(id: $id) { id } }', { id: policy.id })).data.node).toBeNull();
  });
});
