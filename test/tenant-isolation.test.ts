/**
 * Tenant isolation, one layer at a time. Each block switches the other two layers off (or
 * routes around them) and shows the remaining one still keeps tenant B's rows from tenant A:
 *
 * - PostgreSQL RLS: raw SQL as the app role, no ORM, no GraphQL;
 * - the ORM filter: MikroORM on the superuser connection (RLS does not apply), no GraphQL;
 * - GraphQL scope-auth: the schema executed with an EntityManager bound to B on the
 *   superuser connection, so neither the filter nor RLS would stop B's data.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { execute, parse } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { APP_ROLE } from '../src/db/bootstrap.js';
import { semanticSearchSql } from '../src/domains/endpoints/semantic-retriever.js';
import { openOrm, type Orm } from '../src/db/orm.js';
import { assertRestrictedAppRole } from '../src/db/readiness.js';
import { TenantScope } from '../src/db/tenant-scope.js';
import { entities } from '../src/domains/entities.js';
import { scopesForRole } from '../src/domains/access/permissions.js';
import { createServices } from '../src/domains/services.js';
import { testServiceDependencies } from './support/services.js';
import { Membership } from '../src/domains/tenancy/membership.entity.js';
import { Tenant } from '../src/domains/tenancy/tenant.entity.js';
import { User } from '../src/domains/tenancy/user.entity.js';
import { schema } from '../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { seedTenant, type SeededTenant } from './support/seed.js';

let database: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;
/** A user who belongs to both tenants: the interesting case for joins and populate. */
let shared: { id: string; email: string };

beforeAll(async () => {
  database = await createTestDatabase();
  a = await seedTenant(database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }] });
  b = await seedTenant(database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'ADMIN', userId: a.users[1]!.id }] });
  shared = a.users[1]!;
});
afterAll(() => database?.drop());

async function asAppRole<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: database.appUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const TENANT_TABLES = [
  'memberships',
  'api_keys',
  'identity_providers',
  'invitations',
  'datasets',
  'dataset_terms',
  'documents',
  'chunks',
  'chunk_embeddings',
  'ingestion_jobs',
  'ingestion_items',
  'models',
  'endpoints',
  'usage_records',
  'policies',
  'policy_decisions',
];

describe('PostgreSQL row-level security alone', () => {
  it('shows the app role no tenant-owned row when no tenant is set', async () => {
    await asAppRole(async (client) => {
      for (const table of TENANT_TABLES) {
        expect((await client.query(`select count(*)::int as n from ${table}`)).rows[0].n, table).toBe(0);
      }
    });
  });

  it("shows only the bound tenant's rows, inside the transaction only", async () => {
    await asAppRole(async (client) => {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.id]);
      const { rows } = await client.query('select tenant_id from memberships');
      expect(rows.map((row) => row.tenant_id)).toEqual([a.id, a.id]);
      await client.query('commit');
      expect((await client.query('select count(*)::int as n from memberships')).rows[0].n).toBe(0);
    });
  });

  it("refuses writes into another tenant and cannot touch its rows", async () => {
    await asAppRole(async (client) => {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.id]);
      const update = await client.query(`update memberships set role = 'VIEWER' where tenant_id = $1`, [b.id]);
      const remove = await client.query('delete from memberships where tenant_id = $1', [b.id]);
      expect([update.rowCount, remove.rowCount]).toEqual([0, 0]);
      await expect(
        client.query(`insert into memberships (id, tenant_id, user_id, role, created_at) values (gen_random_uuid(), $1, $2, 'OWNER', now())`, [
          b.id,
          a.users[0]!.id,
        ]),
      ).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback');
    });
    const owners = await asOwner((client) => client.query('select role from memberships where tenant_id = $1 order by created_at', [b.id]));
    expect(owners.rows.map((row) => row.role)).toEqual(['OWNER', 'ADMIN']);
  });


  it('records query usage (record_query_usage) only for the tenant it binds, and never inside another tenant’s binding', async () => {
    const usage = (tenant: string) => [tenant, null, 'ep', tenant, 'user', 'someone', 1, 2, 3, 0, 0, 5, 'ok', new Date()];
    const call = 'select record_query_usage($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)';
    await asAppRole(async (client) => {
      // Inside a transaction bound to A, a record for B is refused (the function would otherwise rebind it).
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.id]);
      await expect(client.query(call, usage(b.id))).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback');
      // On its own it writes B's record under RLS, and leaves no binding behind on the connection.
      await client.query(call, usage(b.id));
      expect((await client.query(`select nullif(current_setting('app.tenant_id', true), '') as bound`)).rows[0].bound).toBeNull();
      expect((await client.query('select count(*)::int as n from usage_records')).rows[0].n).toBe(0);
    });
    const written = await asOwner((client) => client.query(`select tenant_id, caller_id, total_tokens from usage_records where caller_id = 'someone'`));
    expect(written.rows).toEqual([{ tenant_id: b.id, caller_id: 'someone', total_tokens: 3 }]);
  });
  it('settles a query’s reservation (settle_query_usage) only in the tenant it binds, once, and never a settled record; the app role still updates none itself', async () => {
    const [reservation, settled] = [randomUUID(), randomUUID()];
    await asOwner((client) =>
      client.query(
        `insert into usage_records (id, tenant_id, kind, endpoint_slug, caller_tenant_id, caller_kind, caller_id, prompt_tokens, completion_tokens, total_tokens, cost_micros, charged_micros, latency_ms, outcome, created_at)
         values ($1, $3, 'query', 'ep', $3, 'user', 'reserver', 0, 0, 0, 0, 1000, 0, 'RUNNING', now()),
                ($2, $3, 'query', 'ep', $3, 'user', 'reserver', 4, 5, 9, 1, 1009, 12, 'ok', now())`,
        [reservation, settled, b.id],
      ),
    );
    await asAppRole(async (client) => {
      const settle = (tenant: string, id: string, outcome = 'ok') => client.query('select settle_query_usage($1, $2, 10, 20, 30, 5, 1030, 7, $3) as settled', [tenant, id, outcome]);
      const run = async (tenant: string, id: string, outcome?: string) => (await settle(tenant, id, outcome)).rows[0].settled as boolean;
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.id]);
      await expect(settle(b.id, reservation)).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback');
      // Named under A's binding, B's reservation is out of reach; a settled record is never reopened.
      expect(await run(a.id, reservation)).toBe(false);
      expect(await run(b.id, settled)).toBe(false);
      await expect(settle(b.id, reservation, 'RUNNING')).rejects.toMatchObject({ code: '22023' });
      expect(await run(b.id, reservation)).toBe(true);
      expect(await run(b.id, reservation, 'CANCELLED')).toBe(false);
      expect((await client.query(`select nullif(current_setting('app.tenant_id', true), '') as bound`)).rows[0].bound).toBeNull();
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [b.id]);
      await expect(client.query('update usage_records set charged_micros = 0 where id = $1', [settled])).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback');
    });
    const { rows } = await asOwner((client) =>
      client.query(`select id, prompt_tokens, completion_tokens, total_tokens, cost_micros::int as cost, charged_micros::int as charged, latency_ms, outcome from usage_records where caller_id = 'reserver'`),
    );
    expect(Object.fromEntries(rows.map(({ id, ...row }) => [id, row]))).toEqual({
      [reservation]: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30, cost: 5, charged: 1030, latency_ms: 7, outcome: 'ok' },
      [settled]: { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9, cost: 1, charged: 1009, latency_ms: 12, outcome: 'ok' },
    });
  });
  it("lets a user read their own memberships in other tenants, and nobody else's", async () => {
    await asAppRole(async (client) => {
      await client.query('begin');
      await client.query(`select set_config('app.user_id', $1, true)`, [shared.id]);
      const { rows } = await client.query('select tenant_id, user_id from memberships order by tenant_id');
      expect(rows.every((row) => row.user_id === shared.id)).toBe(true);
      expect(rows.map((row) => row.tenant_id).sort()).toEqual([a.id, b.id].sort());
      await client.query('rollback');
    });
  });

  it("keeps vector search to the bound tenant: the same text and vector in two tenants, B's dataset and model named outright", async () => {
    const vector = Array.from({ length: 8 }, (_, index) => (index === 0 ? 1 : 0));
    const seeded = new Map<string, { datasetId: string; modelId: string; chunkId: string }>();
    await asOwner(async (client) => {
      for (const tenant of [a, b]) {
        const [datasetId, documentId, chunkId, modelId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
        await client.query(`insert into datasets (id, tenant_id, name, slug, created_at, updated_at) values ($1, $2, 'V', $3, now(), now())`, [datasetId, tenant.id, `v-${datasetId.slice(0, 8)}`]);
        await client.query(
          `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, created_at, updated_at)
           values ($1, $2, $3, 'k', 'Same', 'text/plain', 'h', 4, 1, now(), now())`,
          [documentId, tenant.id, datasetId],
        );
        await client.query(
          `insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language) values ($1, $2, $3, $4, 0, 'same text', 0, 9, 'english')`,
          [chunkId, tenant.id, datasetId, documentId],
        );
        await client.query(`insert into models (id, tenant_id, name, type, config, created_at, updated_at) values ($1, $2, 'emb', 'openai-compatible-embeddings', '{}', now(), now())`, [modelId, tenant.id]);
        await client.query(
          `insert into chunk_embeddings (id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at) values (gen_random_uuid(), $1, $2, $3, $4, 8, $5::real[], now())`,
          [tenant.id, datasetId, chunkId, modelId, `{${vector.join(',')}}`],
        );
        seeded.set(tenant.id, { datasetId, modelId, chunkId });
      }
    });
    const vectorSchema = await asOwner(async (client) => (await client.query(`select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where extname = 'vector'`)).rows[0]?.nspname ?? null);
    const search = (target: { datasetId: string; modelId: string }) =>
      asAppRole(async (client) => {
        await client.query('begin');
        await client.query(`select set_config('app.tenant_id', $1, true)`, [a.id]);
        const { sql, params } = semanticSearchSql({ modelId: target.modelId, datasetIds: [target.datasetId], vector }, 10, 'VECTOR_EXACT', vectorSchema);
        let n = 0;
        const { rows } = await client.query(sql.replace(/\?/g, () => `$${++n}`), params);
        await client.query('rollback');
        // A statement that places nothing answers one row of nulls (and how many the scan found).
        return rows.filter((row) => row.chunk_id !== null).map((row) => row.chunk_id);
      });
    expect(await search(seeded.get(a.id)!)).toEqual([seeded.get(a.id)!.chunkId]);
    expect(await search(seeded.get(b.id)!)).toEqual([]);
  });

  it('cannot switch RLS off or become the owner', async () => {
    await asAppRole(async (client) => {
      await expect(client.query('alter table memberships disable row level security')).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('set role postgres')).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('select * from auth_api_key(null) limit 0')).resolves.toBeTruthy();
      await expect(client.query('select * from sessions limit 0')).resolves.toBeTruthy();
    });
  });
});

function asOwner<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: database.ownerUrl });
  return client.connect().then(() => fn(client).finally(() => client.end()));
}

describe('the MikroORM tenant filter alone (superuser connection: RLS does not apply)', () => {
  let orm: Orm;
  let em: EntityManager;
  beforeAll(async () => {
    orm = await openOrm({ clientUrl: database.ownerUrl, entities });
  });
  afterAll(() => orm?.close(true));

  function boundTo(tenantId: string, userId: string | null = null): EntityManager {
    em = TenantScope.open(orm, { tenantId, userId }).em;
    return em;
  }

  it('the connection really bypasses RLS (so what follows is the filter alone)', async () => {
    const unfiltered = await orm.em.fork().find(Membership, {}, { filters: false });
    expect(unfiltered.length).toBeGreaterThanOrEqual(4);
  });

  it('confines find, findOne and count to the bound tenant', async () => {
    const em = boundTo(a.id);
    expect((await em.find(Membership, {})).map((m) => m.tenant.id)).toEqual([a.id, a.id]);
    expect(await em.findOne(Membership, { id: b.users[0]!.membershipId })).toBeNull();
    expect(await em.count(Membership, { tenant: b.id })).toBe(0);
  });

  it.each(['joined', 'select-in'] as const)('confines populated collections (%s strategy)', async (strategy) => {
    const em = boundTo(a.id);
    const user = await em.findOneOrFail(User, { id: shared.id }, { populate: ['memberships'], strategy });
    expect(user.memberships.getItems().map((m) => m.tenant.id)).toEqual([a.id]);
  });

  it('confines lazily initialised and em.populate-d collections', async () => {
    const em = boundTo(a.id);
    const user = await em.findOneOrFail(User, { id: shared.id });
    await user.memberships.init();
    expect(user.memberships.getItems().map((m) => m.tenant.id)).toEqual([a.id]);

    const fresh = boundTo(a.id);
    const again = await fresh.findOneOrFail(User, { id: shared.id });
    await fresh.populate(again, ['memberships']);
    expect(again.memberships.getItems().map((m) => m.tenant.id)).toEqual([a.id]);
    expect((await again.memberships.matching({})).map((m) => m.tenant.id)).toEqual([a.id]);
  });

  it('confines nested populate from another root (tenant → memberships → user)', async () => {
    const em = boundTo(a.id);
    const tenants = await em.find(Tenant, { id: { $in: [a.id, b.id] } }, { populate: ['memberships.user'] });
    const foreign = tenants.find((tenant) => tenant.id === b.id);
    expect(foreign?.memberships.getItems() ?? []).toEqual([]);
  });

  it('fails closed: a fork without a tenant throws instead of reading every tenant', async () => {
    await expect(orm.em.fork({ clear: true }).find(Membership, {})).rejects.toThrow(/tenant/);
  });
});

describe('GraphQL scope-auth alone (EntityManager bound to B on the superuser connection)', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await openOrm({ clientUrl: database.ownerUrl, entities });
  });
  afterAll(() => orm?.close(true));

  it("refuses B's objects to A's owner even when the data layer would hand them over", async () => {
    // The data layer bound to B (the scope's owner), the caller A's owner.
    const scope = TenantScope.open(orm, { tenantId: b.id, userId: null });
    const owner = a.users[0]!;
    const actor = {
      kind: 'user' as const,
      userId: owner.id,
      email: owner.email,
      tenantId: a.id,
      tenantSlug: a.slug,
      role: 'OWNER' as const,
      scopes: scopesForRole('OWNER'),
      sessionId: null,
    };
    const deps = await testServiceDependencies(orm);
    // The service would refuse a foreign tenant on its own; ask for B's memberships directly.
    const result = await execute({
      schema,
      document: parse(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Membership { role } } }`),
      variableValues: { ids: b.users.map((user) => encodeGlobalID('Membership', user.membershipId)) },
      contextValue: { actor, credentialExpiresAt: null, credential: {}, scope, em: scope.em, services: createServices({ actor, scope, deps }), requestId: 't', logger: console },
    });
    expect(JSON.stringify(result.data)).not.toContain('ADMIN');
    expect(result.data?.nodes).toEqual([null, null]);
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });
});

describe('the catalog', () => {
  it('forces RLS with a policy per command on every table with a tenant_id', async () => {
    const { rows } = await asOwner((client) =>
      client.query(`
        select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
               array(select distinct p.polcmd::text from pg_policy p where p.polrelid = c.oid and p.polroles = '{0}') as commands
          from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
         where c.relkind = 'r' and c.relnamespace = 'public'::regnamespace and c.relname !~ '^audit_' order by 1`),
    );
    expect(rows.map((row) => row.table)).toEqual([...TENANT_TABLES].sort());
    for (const row of rows) {
      expect({ table: row.table, enabled: row.enabled, forced: row.forced, commands: [...row.commands].sort() }).toEqual({
        table: row.table,
        enabled: true,
        forced: true,
        commands: ['a', 'd', 'r', 'w'],
      });
    }
  });

  it('keeps the audit trail append-only: the app role reads its tenant’s events through RLS and nothing else', async () => {
    const { rows } = await asOwner((client) =>
      client.query(`
        select c.relname as table, c.relkind as kind, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
               array(select p.polcmd::text || ':' || array_to_string(array(select rolname from pg_roles where oid = any(p.polroles)), ',')
                       from pg_policy p where p.polrelid = c.oid and p.polroles <> '{0}' and not p.polroles @> array[c.relowner]) as app_policies,
               array(select privilege from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) privilege
                      where has_table_privilege('${APP_ROLE}', c.oid, privilege)) as app_privileges
          from pg_class c
         where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relname ~ '^audit_' order by 1`),
    );
    for (const row of rows) {
      if (row.table === 'audit_events') {
        expect(row).toMatchObject({ kind: 'p', enabled: true, forced: true, app_policies: [`r:${APP_ROLE}`], app_privileges: ['SELECT'] });
      } else {
        // Partitions, chain heads and erased actors: the app role reaches them only through functions.
        expect({ table: row.table, privileges: row.app_privileges }).toEqual({ table: row.table, privileges: [] });
      }
    }
    expect(rows.map((row) => row.table)).toEqual(expect.arrayContaining(['audit_chain_heads', 'audit_erased_actors', 'audit_events', 'audit_events_default']));
  });

  it('lets the app role build an HNSW index only through ensure_embedding_index: SECURITY DEFINER, search_path pinned, not PUBLIC', async () => {
    const { rows } = await asOwner((client) =>
      client.query(`select p.prosecdef as definer, p.proconfig as config, has_function_privilege('${APP_ROLE}', p.oid, 'execute') as app,
                           has_function_privilege('public', p.oid, 'execute') as public
                      from pg_proc p where p.proname = 'ensure_embedding_index'`),
    );
    expect(rows).toEqual([{ definer: true, config: ['search_path=public, pg_temp'], app: true, public: false }]);
    await asAppRole(async (client) => {
      await expect(client.query('create index on chunk_embeddings (dimensions)')).rejects.toMatchObject({ code: '42501' });
      // Outside 1..2000 (or without pgvector) it does nothing and says so.
      expect((await client.query('select ensure_embedding_index(4000) as ensured')).rows[0].ensured).toBe(false);
    });
  });

  it('starts every unique index of a tenant-owned table with tenant_id', async () => {
    const { rows } = await asOwner((client) =>
      client.query(`
        select i.indexrelid::regclass::text as index, a.attname as first
          from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
         where i.indisunique and not i.indisprimary
           and exists (select 1 from pg_attribute t where t.attrelid = i.indrelid and t.attname = 'tenant_id')`),
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => row.first !== 'tenant_id')).toEqual([]);
  });

  it("ties a chunk to its document's tenant and dataset, even for a connection RLS does not apply to", async () => {
    await asOwner(async (client) => {
      await client.query('begin');
      const dataset = async (tenantId: string) => {
        const id = randomUUID();
        await client.query(`insert into datasets (id, tenant_id, name, slug, created_at, updated_at) values ($1, $2, 'K', $3, now(), now())`, [id, tenantId, `k-${id.slice(0, 8)}`]);
        return id;
      };
      const [datasetA, otherDatasetA, datasetB, documentA] = [await dataset(a.id), await dataset(a.id), await dataset(b.id), randomUUID()];
      await client.query(
        `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, created_at, updated_at)
         values ($1, $2, $3, 'k', 'Key', 'text/plain', 'h', 4, 1, now(), now())`,
        [documentA, a.id, datasetA],
      );
      const chunk = async (tenantId: string, datasetId: string, ordinal: number) => {
        await client.query('savepoint attempt');
        try {
          await client.query(
            `insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language) values (gen_random_uuid(), $1, $2, $3, $4, 'key text', 0, 8, 'english')`,
            [tenantId, datasetId, documentA, ordinal],
          );
          await client.query('release savepoint attempt');
          return 'written';
        } catch (error) {
          await client.query('rollback to savepoint attempt');
          return `${(error as { code?: string }).code}: ${(error as { constraint?: string }).constraint}`;
        }
      };
      // A's document named under B (tenant and dataset), under B's tenant with A's dataset, and in another dataset of A's.
      expect(await chunk(b.id, datasetB, 0)).toBe('23503: chunks_document_foreign');
      expect(await chunk(b.id, datasetA, 0)).toBe('23503: chunks_document_foreign');
      expect(await chunk(a.id, otherDatasetA, 0)).toBe('23503: chunks_document_foreign');
      expect(await chunk(a.id, datasetA, 0)).toBe('written');
      expect(await chunk(a.id, datasetA, 0)).toBe('23505: chunks_tenant_id_dataset_id_document_id_ordinal_unique');
      // Deleting the dataset reaches the chunk through its document.
      await client.query('delete from datasets where id = $1', [datasetA]);
      expect((await client.query('select count(*)::int as n from chunks where document_id = $1', [documentA])).rows[0].n).toBe(0);
      await client.query('rollback');
    });
  });

  it('connects the API as a role that cannot bypass RLS, and refuses one that could', async () => {
    const app = await openOrm({ clientUrl: database.appUrl, entities });
    const owner = await openOrm({ clientUrl: database.ownerUrl, entities });
    try {
      await expect(assertRestrictedAppRole(app)).resolves.toBeUndefined();
      await expect(assertRestrictedAppRole(owner)).rejects.toThrow(/superuser/);
    } finally {
      await app.close(true);
      await owner.close(true);
    }
  });
});
