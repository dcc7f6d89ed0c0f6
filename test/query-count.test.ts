/**
 * A connection page costs the same number of SQL statements whatever its size: members and
 * their users load in one query, not one per row (the N+1 that resolvers invite).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, parse } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openOrm, type Orm } from '../src/db/orm.js';
import { bindTenantSession } from '../src/db/tenant-session.js';
import { entities } from '../src/domains/entities.js';
import { scopesForRole } from '../src/domains/identity/permissions.js';
import { createServices } from '../src/domains/services.js';
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
  const em = orm.em.fork({ clear: true }) as EntityManager;
  bindTenantSession(em, { tenantId: tenant.id, userId: owner.id });
  const deps = await testServiceDependencies(orm);
  await em.begin();
  statements.length = 0;
  const result = await execute({
    schema,
    document: parse(`query($first: Int!) { viewer { tenant { members(first: $first) { edges { node { role user { email } } } } } } }`),
    variableValues: { first },
    contextValue: { actor, credentialExpiresAt: null, credential: {}, em, services: createServices({ actor, em, deps }), requestId: 't', logger: console },
  });
  await em.commit();
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
