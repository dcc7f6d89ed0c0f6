/**
 * The tenant scope (src/db/tenant-scope.ts) on the real ORM and PostgreSQL: a subscription's
 * scope ends with the subscription (stream finished or client gone), its reads run in short
 * READ ONLY transactions bound to its tenant; the one cross-tenant hop is a separate scope
 * that ends with its parent; tasks queued for after the commit run only if it commits.
 * A one-field schema stands in for a subscription, through the real request-scope plugin.
 */
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createYoga, Repeater } from 'graphql-yoga';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { Membership } from '../../src/domains/tenancy/membership.entity.js';
import { useRequestScope } from '../../src/plugins/request-scope.js';
import type { ScopeContext } from '../../src/context.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { testServiceDependencies } from '../support/services.js';

let server: TestServer;
let a: SeededTenant;
let b: SeededTenant;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  a = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }] });
  b = await seedTenant(server.database.ownerUrl);
});
afterAll(() => server?.close());

/** What one read inside a scope sees: the tenant RLS is bound to, read-only or not, and the memberships the filter lets through. */
async function sight(scope: TenantScope) {
  return scope.read(async (em) => {
    const [settings] = await em.getConnection().execute<{ tenant: string; read_only: string }[]>(
      `select current_setting('app.tenant_id', true) as tenant, current_setting('transaction_read_only') as read_only`,
      [],
      'all',
      em.getTransactionContext(),
    );
    const tenants = (await em.find(Membership, {})).map((membership) => membership.tenant.id);
    return { ...settings, tenants: [...new Set(tenants)], members: tenants.length };
  });
}

/** A yoga with the request-scope plugin and one subscription whose events are what its scope sees; `scopes` collects each subscription's scope. */
async function subscriptionServer(events: (scope: TenantScope) => AsyncIterable<unknown>) {
  const scopes: TenantScope[] = [];
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        sight: {
          type: GraphQLString,
          subscribe: (_root: unknown, _args: unknown, context: ScopeContext) => {
            scopes.push(context.scope);
            return events(context.scope);
          },
          resolve: (value: unknown) => JSON.stringify(value),
        },
      },
    }),
  });
  const actor = { kind: 'user', userId: null, email: null, tenantId: a.id, tenantSlug: a.slug, role: 'OWNER', scopes: [], sessionId: null };
  const yoga = createYoga({ schema, context: { actor }, maskedErrors: false, plugins: [useRequestScope({ orm: server.orm, deps: await testServiceDependencies(server.orm) })] });
  return { yoga, scopes };
}

const subscribe = async (yoga: Awaited<ReturnType<typeof subscriptionServer>>['yoga'], signal?: AbortSignal): Promise<Response> =>
  yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: 'subscription { sight }' }),
    signal,
  });

it("reads a subscription's events in READ ONLY transactions bound to its tenant, and ends its scope with the stream", async () => {
  const { yoga, scopes } = await subscriptionServer(async function* (scope) {
    yield await sight(scope);
    yield await sight(scope);
  });
  const text = await (await subscribe(yoga)).text();
  const events = [...text.matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1]!)).filter((event) => event.data);
  expect(events.map((event) => JSON.parse(event.data.sight))).toEqual([
    { tenant: a.id, read_only: 'on', tenants: [a.id], members: 2 },
    { tenant: a.id, read_only: 'on', tenants: [a.id], members: 2 },
  ]);
  expect(scopes).toHaveLength(1);
  expect(scopes[0]!.closed).toBe(true);
  await expect(sight(scopes[0]!)).rejects.toThrow(/scope has ended/);
});

it('ends the scope of a subscription whose client went away', async () => {
  let stopped = false;
  const { yoga, scopes } = await subscriptionServer((scope) => new Repeater(async (push, stop) => {
    await push(await sight(scope));
    await stop;
    stopped = true;
  }));
  const abort = new AbortController();
  const response = await subscribe(yoga, abort.signal);
  const reader = response.body!.getReader();
  let seen = '';
  while (!seen.includes('"data"')) seen += new TextDecoder().decode((await reader.read()).value);
  expect(scopes[0]!.closed).toBe(false);
  abort.abort();
  await reader.cancel().catch(() => undefined);
  await vi.waitFor(() => expect(scopes[0]!.closed).toBe(true));
  expect(stopped).toBe(true);
});

it('crosses into a publisher tenant only through a scope of its own, which ends with its parent', async () => {
  const caller = TenantScope.open(server.orm, { tenantId: a.id, userId: a.users[0]!.id });
  const publisher = caller.crossToPublisherOf(b.id);
  expect(await sight(publisher)).toEqual({ tenant: b.id, read_only: 'on', tenants: [b.id], members: 1 });
  expect(await sight(caller)).toEqual({ tenant: a.id, read_only: 'on', tenants: [a.id], members: 2 });
  caller.close();
  expect(publisher.closed).toBe(true);
  await expect(sight(publisher)).rejects.toThrow(/scope has ended/);
});

it('enters another tenant only inside its own transaction, and runs after-commit tasks only when it commits', async () => {
  const scope = TenantScope.open(server.orm, { tenantId: null, userId: null });
  await expect(scope.enterTenant(b.id, null)).rejects.toThrow(/needs a transaction/);
  const ran: string[] = [];
  await expect(
    scope.transaction({ readOnly: true }, async () => {
      scope.afterCommit(() => ran.push('rolled back'));
      throw new Error('refused');
    }),
  ).rejects.toThrow('refused');
  const members = await scope.transaction({ readOnly: true }, async (em) => {
    await scope.enterTenant(b.id, null);
    scope.afterCommit(() => ran.push('committed'));
    expect(ran).toEqual([]);
    return em.count(Membership, {});
  });
  expect(members).toBe(1);
  expect(ran).toEqual(['committed']);
  scope.afterCommit(() => ran.push('no transaction: at once'));
  expect(ran).toEqual(['committed', 'no transaction: at once']);
  scope.close();
});
