/**
 * An `accounting` quota counts the queries still running. Its check summed the usage records,
 * and a query's record was written only once the model had answered, so a caller at 0 with a
 * quota of one flat charge who sent 20 queries at once to a slow model had all 20 admitted and
 * was charged 20 times the quota. Now the flat charge is reserved at admission, in the
 * transaction (and under the lock) that decides the query, as its usage record marked RUNNING,
 * and settled to the real charge when the query ends.
 *
 * fake-openai is a test double for the model server (real HTTP, the real chat completions
 * protocol); `until` holds its answers until the test releases them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, must, queryEndpoint, uniqueSlug, type EndpointSetup } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy, manualClock, outcome } from '../support/policies.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const QUESTION = 'lock keeper';
/** A quota of exactly one flat charge; the token part (1 micro a token) comes on top. */
const ACCOUNTING = { flatMicros: 1000, microsPer1kTokens: 1000, quota: 1000, periodSeconds: 3600 };
const CONCURRENT = 20;

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let shared: EndpointSetup;
beforeAll(async () => {
  // The per-principal request limit (10 a second, bursts of 20) would refuse some of the 20 first.
  [fake, server] = await Promise.all([
    startFakeOpenAI(),
    // A clock that stands still: a refusal's retryAfterSeconds is the whole period, exactly.
    // Every denial counted in `denials`: above the refusal flood limit's (docs/policies.md#the-decision-log).
    startTestServer({ clock: manualClock(), env: { SLUICE_MODEL_MAX_RETRIES: '0', SLUICE_RATE_LIMIT_PER_SECOND: '200', SLUICE_RATE_LIMIT_BURST: '200', SLUICE_AUTH_FAILURE_AUDIT_LIMIT: '1000/1m' } }),
  ]);
  owner = await tenantWithOwner(server);
  // Ingested once: each test asks an endpoint of its own over it.
  shared = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'm' }, promptMicrosPer1k: 0, completionMicrosPer1k: 0 },
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** A model the test releases: `held` is what the fake waits on. */
function heldModel() {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  return { held, release };
}

/** A fresh endpoint (its own quota and records) over the file's one dataset and model, with the accounting policy. */
async function quotaEndpoint(): Promise<EndpointSetup> {
  const data = await must(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id reference } }', {
    input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [shared.datasetId], modelId: shared.modelId },
  });
  const setup = { ...shared, endpointId: data.createEndpoint.id as string, reference: data.createEndpoint.reference as string };
  await createPolicy(server, owner.token, setup.endpointId, 'accounting', ACCOUNTING);
  return setup;
}

interface UsageRow {
  outcome: string;
  total_tokens: number;
  charged_micros: number;
}

async function usageRows(setup: EndpointSetup): Promise<UsageRow[]> {
  return withClient(server.database.ownerUrl, async (db) => {
    const { rows } = await db.query<{ outcome: string; total_tokens: number; charged_micros: string }>(
      'select outcome, total_tokens, charged_micros from usage_records where endpoint_id = $1 order by created_at, id',
      [databaseIdOf(setup.endpointId)],
    );
    return rows.map((row) => ({ outcome: row.outcome, total_tokens: row.total_tokens, charged_micros: Number(row.charged_micros) }));
  });
}

const myUsage = async (setup: EndpointSetup) =>
  (
    await must(server, owner.token, 'query($e: String!) { myUsage(endpoint: $e) { queries denials totalTokens chargedMicros allowances { policyType limit used remaining } } }', {
      e: setup.reference,
    })
  ).myUsage;

/**
 * Resolves with 'one at the model' once all but one of `asked` have answered and one reached the
 * model, or with 'two at the model' as soon as a second reaches it (the quota let it through):
 * events both, so neither outcome waits on a timeout.
 */
function admittedOnce(asked: Promise<unknown>[], base: number): Promise<string> {
  let answered = 0;
  let markRefused!: () => void;
  const refused = new Promise<void>((resolve) => (markRefused = resolve));
  for (const one of asked) void one.finally(() => ++answered === asked.length - 1 && markRefused());
  return Promise.race([refused.then(() => fake.requestsReached(base + 1)).then(() => 'one at the model'), fake.requestsReached(base + 2).then(() => 'two at the model')]);
}

describe('an accounting quota and the queries still running', () => {
  it(`of ${CONCURRENT} simultaneous queries at a quota of one flat charge, exactly 1 is admitted; its reservation counts while it runs and settles to flat + tokens`, async () => {
    const setup = await quotaEndpoint();
    const model = heldModel();
    fake.script({ deltas: ['Open the gates.'], usage: { prompt_tokens: 300, completion_tokens: 200 }, until: model.held });
    const base = fake.requests.length;
    const asked = Array.from({ length: CONCURRENT }, () => outcome(server, owner.token, setup.reference, QUESTION));
    try {
      expect(await admittedOnce(asked, base)).toBe('one at the model');
      expect(fake.requests.length - base).toBe(1);
      // In flight: one record, marked, holding the flat charge; the quota sees it used up.
      expect(await usageRows(setup)).toEqual([{ outcome: 'RUNNING', total_tokens: 0, charged_micros: 1000 }]);
      expect(await myUsage(setup)).toEqual({
        queries: 1,
        denials: CONCURRENT - 1,
        totalTokens: 0,
        chargedMicros: 1000,
        allowances: [{ policyType: 'accounting', limit: 1000, used: 1000, remaining: 0 }],
      });
    } finally {
      model.release();
    }
    const results = await Promise.all(asked);
    expect(results.filter((result) => result.code === 'ok')).toEqual([{ code: 'ok', totalTokens: 500 }]);
    const refusals = results.filter((result) => result.code !== 'ok');
    expect(refusals).toHaveLength(CONCURRENT - 1);
    for (const refusal of refusals) expect(refusal).toMatchObject({ code: 'RATE_LIMITED', extensions: { reason: 'QUOTA', policyType: 'accounting', retryAfterSeconds: 3600 } });

    // Settled in place: the same one record, flat + 1 micro a token, counted once.
    expect(await usageRows(setup)).toEqual([{ outcome: 'ok', total_tokens: 500, charged_micros: 1500 }]);
    expect(await myUsage(setup)).toEqual({
      queries: 1,
      denials: CONCURRENT - 1,
      totalTokens: 500,
      chargedMicros: 1500,
      allowances: [{ policyType: 'accounting', limit: 1000, used: 1500, remaining: 0 }],
    });
    const usage = await must(server, owner.token, '{ usage(groupBy: ENDPOINT) { key queries denials promptTokens completionTokens totalTokens costMicros chargedMicros } }');
    expect(usage.usage.filter((row: { key: string }) => row.key === setup.reference.split('/')[1])).toEqual([
      { key: setup.reference.split('/')[1], queries: 1, denials: CONCURRENT - 1, promptTokens: 300, completionTokens: 200, totalTokens: 500, costMicros: 0, chargedMicros: 1500 },
    ]);
    const decisions = await withClient(server.database.ownerUrl, async (db) => {
      const { rows } = await db.query('select decision, cost_micros::int as cost, count(*)::int as n from policy_decisions where endpoint_id = $1 group by 1, 2 order by 1', [databaseIdOf(setup.endpointId)]);
      return rows;
    });
    expect(decisions).toEqual([
      { decision: 'ALLOW', cost: 1000, n: 1 },
      { decision: 'DENY', cost: 1000, n: CONCURRENT - 1 },
    ]);
  });

  it('a model call that fails: the quota counts it while it runs, and it settles to the flat charge with no tokens', async () => {
    const setup = await quotaEndpoint();
    const model = heldModel();
    fake.script({ failures: [{ status: 500 }], until: model.held });
    const base = fake.requests.length;
    const first = outcome(server, owner.token, setup.reference, QUESTION);
    let second: Awaited<ReturnType<typeof outcome>> | string;
    try {
      await fake.requestsReached(base + 1);
      // The second must be refused while the first is held; before, it went to the model too.
      second = await Promise.race([outcome(server, owner.token, setup.reference, QUESTION), fake.requestsReached(base + 2).then(() => 'reached the model')]);
    } finally {
      model.release();
    }
    expect(second).toMatchObject({ code: 'RATE_LIMITED', extensions: { reason: 'QUOTA' } });
    expect(await first).toMatchObject({ code: 'UPSTREAM_ERROR', extensions: { reason: 'HTTP_ERROR', status: 500 } });
    // A model that failed before its first piece is charged no tokens: the attempt's flat charge stands.
    expect(await usageRows(setup)).toEqual([{ outcome: 'UPSTREAM_ERROR', total_tokens: 0, charged_micros: 1000 }]);
    expect(await myUsage(setup)).toMatchObject({ queries: 1, denials: 1, totalTokens: 0, chargedMicros: 1000 });
  });

  it('a query whose caller goes away while the model thinks: the reservation settles CANCELLED, flat + the tokens it consumed', async () => {
    const setup = await quotaEndpoint();
    const model = heldModel();
    fake.script({ deltas: ['Open the gates.'], usage: { prompt_tokens: 300, completion_tokens: 200 }, until: model.held });
    const base = fake.requests.length;
    const controller = new AbortController();
    const asked = fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: 'query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) { answer } }', variables: { e: setup.reference, q: QUESTION } }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    try {
      await fake.requestsReached(base + 1);
      expect(await usageRows(setup)).toEqual([{ outcome: 'RUNNING', total_tokens: 0, charged_micros: 1000 }]);
      controller.abort();
      await asked;
      // Settled as it ends, after the (lost) response: read until it is.
      const [row] = await pollUntil(() => usageRows(setup), (rows) => rows.length === 1 && rows[0]!.outcome !== 'RUNNING', {
        failure: (rows) => `not settled: ${JSON.stringify(rows)}`,
      });
      // The prompt was sent, so it is charged, estimated (the server never reported usage).
      expect(row!.outcome).toBe('CANCELLED');
      expect(row!.total_tokens).toBeGreaterThan(0);
      expect(row!.charged_micros).toBe(1000 + row!.total_tokens);
    } finally {
      model.release();
    }
    const body = await queryEndpoint(server, owner.token, setup.reference, QUESTION, undefined, 'answer');
    expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'QUOTA' });
  });
});
