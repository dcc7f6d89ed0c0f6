/**
 * A connection page costs the same number of SQL statements whatever its size: members and
 * their users load in one query, not one per row (the N+1 that resolvers invite).
 */
import { execute, parse } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openOrm, type Orm } from '../src/db/orm.js';
import { openOperationScope } from '../src/plugins/request-scope.js';
import { entities } from '../src/domains/entities.js';
import { scopesForRole } from '../src/domains/access/permissions.js';
import { testServiceDependencies } from './support/services.js';
import { schema } from '../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { seedTenant, type SeededTenant } from './support/seed.js';

let database: TestDatabase;
let orm: Orm;
let tenant: SeededTenant;
const statements: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  tenant = await seedTenant(database.ownerUrl, { members: [{ role: 'OWNER' }, ...Array.from({ length: 24 }, () => ({ role: 'MEMBER' as const }))] });
  orm = await openOrm({ clientUrl: database.appUrl, entities, onQuery: (sql) => statements.push(sql) });
});
afterAll(async () => {
  await orm?.close(true);
  await database?.drop();
});

async function statementsFor(first: number): Promise<{ count: number; emails: number }> {
  const owner = tenant.users[0]!;
  const actor = {
    kind: 'user' as const,
    userId: owner.id,
    email: owner.email,
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    role: 'OWNER' as const,
    scopes: scopesForRole('OWNER'),
    sessionId: null,
  };
  const deps = await testServiceDependencies(orm);
  const operation = openOperationScope({ orm, deps }, actor);
  const { scope } = operation;
  await scope.begin({ readOnly: true });
  statements.length = 0;
  const result = await execute({
    schema,
    document: parse(`query($first: Int!) { viewer { tenant { members(first: $first) { edges { node { role user { email } } } } } } }`),
    variableValues: { first },
    contextValue: { actor, credentialExpiresAt: null, credential: {}, ...operation, requestId: 't', logger: console },
  });
  await scope.commit();
  expect(result.errors).toBeUndefined();
  const edges = (result.data as any).viewer.tenant.members.edges as { node: { user: { email: string } } }[];
  return { count: statements.filter((sql) => /^\[query\] (select|insert|update|delete)\b/i.test(sql)).length, emails: edges.length };
}

it('reads 2 or 20 members with their users in the same number of statements', async () => {
  const small = await statementsFor(2);
  const large = await statementsFor(20);
  expect([small.emails, large.emails]).toEqual([2, 20]);
  expect(small.count).toBeGreaterThan(0);
  expect(large.count).toBe(small.count);
  console.log(`members(first: 2) and members(first: 20): ${small.count} SQL statements each`);
});

it('reads 2 or 12 datasets with a page of documents each in the same number of statements', async () => {
  const { withClient } = await import('../src/db/bootstrap.js');
  // 12 datasets of 3 documents, written directly (the ingestion pipeline is tested elsewhere).
  await withClient(database.ownerUrl, async (client) => {
    await client.query(
      `insert into datasets (id, tenant_id, name, slug, language, document_count, chunk_count, byte_count, created_at, updated_at)
       select gen_random_uuid(), $1, 'Set ' || g, 'set-' || g, 'english', 3, 0, 0, now() + g * interval '1 ms', now() from generate_series(1, 12) g`,
      [tenant.id],
    );
    await client.query(
      `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
       select gen_random_uuid(), d.tenant_id, d.id, 'doc-' || g, 'Doc ' || g, 'text/plain', md5(d.id::text || g), 10, 1, '{}', now(), now()
         from datasets d cross join generate_series(1, 3) g where d.tenant_id = $1`,
      [tenant.id],
    );
  });
  const run = async (first: number) => {
    const { data, count } = await countedAsOwner(
      `query($first: Int!) { datasets(first: $first) { edges { node { name documents(first: 2) { edges { node { title bytes } } pageInfo { hasNextPage } } } } } }`,
      { first },
    );
    const edges = data.datasets.edges as { node: { documents: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } } }[];
    expect(edges.every((edge) => edge.node.documents.edges.length === 2 && edge.node.documents.pageInfo.hasNextPage)).toBe(true);
    return { count, datasets: edges.length };
  };
  const small = await run(2);
  const large = await run(12);
  expect([small.datasets, large.datasets]).toEqual([2, 12]);
  expect(large.count).toBe(small.count);
  // The datasets page and one window query for all their documents (plus the tenant session's own).
  expect(small.count).toBeGreaterThanOrEqual(2);
  console.log(`datasets(first: 2 | 12) { documents(first: 2) }: ${small.count} SQL statements each`);
});

it('reads 2 or 12 models in the same number of statements (models became a connection)', async () => {
  const { withClient } = await import('../src/db/bootstrap.js');
  await withClient(database.ownerUrl, (client) =>
    client.query(
      `insert into models (id, tenant_id, name, type, config, created_at, updated_at)
       select gen_random_uuid(), $1, 'Model ' || g, 'extractive', '{}', now() + g * interval '1 ms', now() from generate_series(1, 12) g`,
      [tenant.id],
    ),
  );
  const run = async (first: number) => {
    const { data, count } = await countedAsOwner(
      `query($first: Int!) { models(first: $first) { edges { cursor node { id name kind apiKeySet health { status } } } pageInfo { hasNextPage endCursor } } }`,
      { first },
    );
    return { count, names: (data.models.edges as { node: { name: string } }[]).map((edge) => edge.node.name) };
  };
  const small = await run(2);
  const large = await run(12);
  expect(small.names).toEqual(['Model 1', 'Model 2']);
  expect(large.names).toEqual(Array.from({ length: 12 }, (_, i) => `Model ${i + 1}`));
  expect(small.count).toBeGreaterThanOrEqual(1);
  expect(large.count).toBe(small.count);
});

/**
 * Runs `query` as the tenant's owner in a read-only operation scope, counting every statement
 * knex sends (raw ones, such as the documents' window query, included).
 */
async function countedAsOwner(query: string, variableValues: Record<string, unknown>): Promise<{ data: any; count: number }> {
  const owner = tenant.users[0]!;
  const actor = { kind: 'user' as const, userId: owner.id, email: owner.email, tenantId: tenant.id, tenantSlug: tenant.slug, role: 'OWNER' as const, scopes: scopesForRole('OWNER'), sessionId: null };
  const deps = await testServiceDependencies(orm);
  const operation = openOperationScope({ orm, deps }, actor);
  await operation.scope.begin({ readOnly: true });
  const seen: string[] = [];
  const knex = orm.em.getConnection().getKnex();
  const listener = (sent: { sql: string }) => seen.push(sent.sql);
  knex.on('query', listener);
  try {
    const result = await execute({ schema, document: parse(query), variableValues, contextValue: { actor, credentialExpiresAt: null, credential: {}, ...operation, requestId: 't', logger: console } });
    await operation.scope.commit();
    expect(result.errors).toBeUndefined();
    return { data: result.data, count: seen.filter((sql) => /^\s*(with|select|insert|update|delete)\b/i.test(sql)).length };
  } finally {
    knex.off('query', listener);
  }
}
