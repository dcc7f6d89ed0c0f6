/**
 * A query whose resolver changes a loaded entity: its READ ONLY commit skips the flush, so
 * outside production the request scope fails it rather than drop the change unsaid, and
 * either way nothing is written and no connection is left inside a transaction. A one-field
 * schema stands in for such a bug (the real schema has none), on the real ORM and PostgreSQL,
 * through the real request-scope plugin.
 */
import { GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { Tenant } from '../../src/domains/tenancy/tenant.entity.js';
import { useRequestScope } from '../../src/plugins/request-scope.js';
import type { ScopeContext } from '../../src/plugins/context.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { testServiceDependencies } from '../support/services.js';

let server: TestServer;
let tenant: SeededTenant;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  tenant = await seedTenant(server.database.ownerUrl);
});
afterAll(() => server?.close());

async function askRename(checkQueriesChangeNothing: boolean) {
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        rename: {
          type: new GraphQLNonNull(GraphQLString),
          resolve: async (_root: unknown, _args: unknown, context: ScopeContext) => {
            const found = await context.em.findOneOrFail(Tenant, { id: tenant.id });
            found.name = 'Renamed by a query';
            return 'done';
          },
        },
      },
    }),
  });
  const actor = { kind: 'user', userId: null, email: null, tenantId: tenant.id, tenantSlug: tenant.slug, role: 'OWNER', scopes: [], sessionId: null };
  const yoga = createYoga({
    schema,
    context: { actor },
    maskedErrors: false,
    plugins: [useRequestScope({ orm: server.orm, deps: await testServiceDependencies(server.orm), checkQueriesChangeNothing })],
  });
  const response = await yoga.fetch('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ rename }' }) });
  return (await response.json()) as { data?: unknown; errors?: { message: string }[] };
}

const storedName = () => withClient(server.database.ownerUrl, async (client) => (await client.query('select name from tenants where id = $1', [tenant.id])).rows[0].name as string);
const inTransaction = () =>
  withClient(server.database.ownerUrl, async (client) => (await client.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`)).rows[0].n as number);

it('fails a query that changed a loaded entity, outside production, and writes nothing', async () => {
  const body = await askRename(true);
  expect(body.errors?.[0]?.message).toContain('A query left entities to write');
  expect(await storedName()).toBe(tenant.name);
  expect(await inTransaction()).toBe(0);
});

it('in production skips the check: the change is not written either', async () => {
  const body = await askRename(false);
  expect(body).toMatchObject({ data: { rename: 'done' } });
  expect(await storedName()).toBe(tenant.name);
  expect(await inTransaction()).toBe(0);
});
