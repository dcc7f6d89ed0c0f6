/**
 * usageOverTime: the tenant's queries, tokens, cost and refusals per UTC bucket and per
 * endpoint or caller, bucketed in SQL, as the console's usage charts read it. A manual clock
 * places each query in a known hour. Also: the busiest series kept, the rest summed as
 * `(other)`; range and series refusals; ADMIN only; another tenant sees none of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, uniqueSlug } from '../support/endpoints.js';
import { createPolicy, gql, manualClock, must, outcome } from '../support/policies.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];
const START = new Date('2026-06-01T12:00:00Z');
const clock = manualClock(START);
const TIMELINE = `query($r: TimeRangeInput, $i: UsageInterval!, $b: UsageSeriesGrouping!, $s: Int) {
  usageOverTime(range: $r, interval: $i, by: $b, series: $s) { start key queries denials promptTokens completionTokens totalTokens costMicros chargedMicros }
}`;

let server: TestServer;
let acme: SeededTenant;
let rival: SeededTenant;
let owner: string;
let member: string;
let viewer: string;
let rivalOwner: string;

beforeAll(async () => {
  server = await startTestServer({ clock });
  acme = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }, { role: 'VIEWER' }] });
  rival = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }] });
  owner = await server.tokenFor(acme, acme.users[0]!);
  member = await server.tokenFor(acme, acme.users[1]!);
  viewer = await server.tokenFor(acme, acme.users[2]!);
  rivalOwner = await server.tokenFor(rival, rival.users[0]!);
});
afterAll(async () => {
  await server?.close();
});

describe('usageOverTime', () => {
  it('buckets queries, tokens, cost and refusals per hour and per day, per endpoint and per caller', async () => {
    const model = { name: uniqueSlug('priced'), type: 'extractive', promptMicrosPer1k: 1_000_000, completionMicrosPer1k: 2_000_000 };
    const gates = await endpointOver(server, owner, DOCS, { model });
    const locks = await endpointOver(server, owner, DOCS);
    await createPolicy(server, owner, gates.endpointId, 'rate_limit', { requestsPerPeriod: 2, periodSeconds: 86_400, scope: 'per_user' });
    const gatesSlug = gates.reference.split('/')[1]!;
    const locksSlug = locks.reference.split('/')[1]!;

    // 12:01: the owner asks gates, the member asks locks.
    clock.advance(60); // 12:01
    expect((await outcome(server, owner, gates.reference)).code).toBe('ok');
    expect((await outcome(server, member, locks.reference)).code).toBe('ok');
    // 14:31: the owner asks gates again (the second of two a day), then once more: refused by the rate limit.
    clock.advance(2 * 3600 + 30 * 60); // 14:31
    expect((await outcome(server, owner, gates.reference)).code).toBe('ok');
    expect((await outcome(server, owner, gates.reference)).code).toBe('RATE_LIMITED');

    const range = { from: '2026-06-01T00:00:00Z', to: '2026-06-02T00:00:00Z' };
    const hourly = (await must(server, owner, TIMELINE, { r: range, i: 'HOUR', b: 'ENDPOINT' })).usageOverTime as Record<string, any>[];
    // Only buckets with activity, oldest first, then by key.
    expect(hourly.map(({ start, key, queries, denials }) => ({ start, key, queries, denials }))).toEqual(
      [
        { start: '2026-06-01T12:00:00.000Z', key: gatesSlug, queries: 1, denials: 0 },
        { start: '2026-06-01T12:00:00.000Z', key: locksSlug, queries: 1, denials: 0 },
        { start: '2026-06-01T14:00:00.000Z', key: gatesSlug, queries: 1, denials: 1 },
      ].sort((a, b) => a.start.localeCompare(b.start) || a.key.localeCompare(b.key)),
    );
    // Tokens and cost are the usage records' own sums: each bucket against the API's per-endpoint totals.
    const totals = (await must(server, owner, '{ usage(groupBy: ENDPOINT, range: { from: "2026-06-01T00:00:00Z", to: "2026-06-02T00:00:00Z" }) { key totalTokens costMicros promptTokens } }')).usage;
    const gatesTotal = totals.find((row: { key: string }) => row.key === gatesSlug);
    const gatesHours = hourly.filter((point) => point.key === gatesSlug);
    expect(gatesHours.reduce((sum, point) => sum + point.totalTokens, 0)).toBe(gatesTotal.totalTokens);
    expect(gatesHours.reduce((sum, point) => sum + point.costMicros, 0)).toBe(gatesTotal.costMicros);
    expect(gatesHours[0]!.totalTokens).toBeGreaterThan(0);
    expect(gatesHours[0]!.costMicros).toBeGreaterThan(0); // priced model
    expect(gatesHours[0]!.promptTokens + gatesHours[0]!.completionTokens).toBe(gatesHours[0]!.totalTokens);
    expect(hourly.find((point) => point.key === locksSlug)!.costMicros).toBe(0); // unpriced model

    // Per caller, per day: one bucket, each caller's own counts.
    const daily = (await must(server, owner, TIMELINE, { r: range, i: 'DAY', b: 'CALLER' })).usageOverTime as Record<string, any>[];
    const byCaller = Object.fromEntries(daily.map((point) => [point.key, { start: point.start, queries: point.queries, denials: point.denials }]));
    expect(byCaller).toEqual({
      [`user:${acme.users[0]!.id}`]: { start: '2026-06-01T00:00:00.000Z', queries: 2, denials: 1 },
      [`user:${acme.users[1]!.id}`]: { start: '2026-06-01T00:00:00.000Z', queries: 1, denials: 0 },
    });

    // One series kept (the busiest: the owner, 3 events), the other summed as (other).
    const one = (await must(server, owner, TIMELINE, { r: range, i: 'DAY', b: 'CALLER', s: 1 })).usageOverTime as Record<string, any>[];
    expect(one.map(({ key, queries, denials }) => ({ key, queries, denials }))).toEqual([
      { key: '(other)', queries: 1, denials: 0 },
      { key: `user:${acme.users[0]!.id}`, queries: 2, denials: 1 },
    ]);

    // A range with nothing in it: no buckets.
    expect((await must(server, owner, TIMELINE, { r: { from: '2026-05-01T00:00:00Z', to: '2026-05-02T00:00:00Z' }, i: 'HOUR', b: 'ENDPOINT' })).usageOverTime).toEqual([]);
    // Another tenant's ADMIN sees none of it.
    expect((await must(server, rivalOwner, TIMELINE, { r: range, i: 'HOUR', b: 'ENDPOINT' })).usageOverTime).toEqual([]);
  });

  it('refuses hourly buckets over more than 31 days, a bad series count and a reversed range, each as BAD_USER_INPUT', async () => {
    const refusal = async (variables: Record<string, unknown>) => {
      const body = await gql(server, owner, TIMELINE, variables);
      return { code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message as string };
    };
    const long = await refusal({ r: { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, i: 'HOUR', b: 'ENDPOINT' });
    expect(long.code).toBe('BAD_USER_INPUT');
    expect(long.message).toMatch(/31 days/);
    expect((await must(server, owner, TIMELINE, { r: { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, i: 'DAY', b: 'ENDPOINT' })).usageOverTime).toEqual([]);
    for (const series of [0, 51]) expect((await refusal({ i: 'DAY', b: 'CALLER', s: series })).code).toBe('BAD_USER_INPUT');
    expect((await refusal({ r: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, i: 'DAY', b: 'CALLER' })).code).toBe('BAD_USER_INPUT');
    expect((await refusal({ i: 'WEEK', b: 'CALLER' })).code).toBe('BAD_USER_INPUT');
  });

  it('is for ADMINs of the tenant only: FORBIDDEN to members and viewers, UNAUTHENTICATED without a credential', async () => {
    for (const token of [member, viewer]) {
      expect((await gql(server, token, TIMELINE, { i: 'DAY', b: 'ENDPOINT' })).errors[0].extensions.code).toBe('FORBIDDEN');
    }
    const anonymous = await server.graphql(TIMELINE, { variables: { i: 'DAY', b: 'ENDPOINT' } });
    expect(anonymous.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(anonymous.body.data).toBeNull();
  });
});
