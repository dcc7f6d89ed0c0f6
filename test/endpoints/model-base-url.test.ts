/**
 * A model's `config.baseUrl` holds no secret: config is shown to every member of the tenant
 * (VIEWERs included) and written to the audit trail, while only `apiKey` is sealed. A URL with
 * credentials (`https://user:password@host/v1`) or a query or fragment (`…/v1?api_key=…`) is
 * refused on create and update, for chat and embeddings models alike; the refused request's
 * own audit event does not keep the password; models stored before the check lose those parts
 * (the migration's statement, run here over seeded rows). Through the real server and
 * PostgreSQL; no model server is called.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { STRIP_BASE_URL_SECRETS_SQL } from '../../migrations/Migration20261205170000_model_base_url_without_credentials.js';
import { auditEventsOf } from '../support/audit.js';
import { createModel, gql, uniqueSlug } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Not shaped like any key the log redaction knows (sk-…, Bearer …): only the URL's form gives it away.
const PASSWORD = 'hunter2-correct-horse-battery';
const QUERY_SECRET = 'qs7Hq2mZ9xLp4Vt';

let server: TestServer;
let owner: Tenant;
beforeAll(async () => {
  server = await startTestServer();
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
});

const CREATE = 'mutation($input: CreateModelInput!) { createModel(input: $input) { id config } }';

describe('a model base URL with a secret in it', () => {
  const refusals = [
    ['credentials', `http://ann:${PASSWORD}@127.0.0.1:9/v1`, 'CREDENTIALS_IN_URL'],
    ['a user name alone', 'http://ann@127.0.0.1:9/v1', 'CREDENTIALS_IN_URL'],
    ['a query', `http://127.0.0.1:9/v1?api_key=${QUERY_SECRET}`, 'QUERY_IN_URL'],
    ['an empty query', 'http://127.0.0.1:9/v1?', 'QUERY_IN_URL'],
    ['a fragment', `http://127.0.0.1:9/v1#${QUERY_SECRET}`, 'QUERY_IN_URL'],
  ] as const;

  for (const type of ['openai-compatible', 'openai-compatible-embeddings']) {
    it.each(refusals)(`refuses ${type} with %s in it`, async (_, baseUrl, reason) => {
      const body = await gql(server, owner.token, CREATE, { input: { name: uniqueSlug('m'), type, config: { baseUrl, model: 'm' } } });
      expect(body.data?.createModel ?? null).toBeNull();
      expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason });
      expect(body.errors[0].message).toMatch(/apiKey/);
      expect(JSON.stringify(body)).not.toContain(PASSWORD);
    });
  }

  it('refuses it on update too, and the model keeps its address', async () => {
    const model = await createModel(server, owner.token, { name: uniqueSlug('m'), type: 'openai-compatible-embeddings', config: { baseUrl: 'http://127.0.0.1:9/v1', model: 'm' } });
    const body = await gql(server, owner.token, 'mutation($id: ID!, $input: UpdateModelInput!) { updateModel(id: $id, input: $input) { id } }', {
      id: model.id,
      input: { config: { baseUrl: `http://ann:${PASSWORD}@127.0.0.1:9/v1`, model: 'm' } },
    });
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason: 'CREDENTIALS_IN_URL' });
    const stored = await gql(server, owner.token, 'query($id: ID!) { node(id: $id) { ... on Model { config } } }', { id: model.id });
    expect(stored.data.node.config.baseUrl).toBe('http://127.0.0.1:9/v1');
  });

  it('keeps no password in the audit trail of the refused request', async () => {
    const tenant = await tenantWithOwner(server);
    const body = await gql(server, tenant.token, CREATE, {
      input: { name: uniqueSlug('m'), type: 'openai-compatible', config: { baseUrl: `http://ann:${PASSWORD}@127.0.0.1:9/v1`, model: 'm' } },
    });
    expect(body.errors[0].extensions.reason).toBe('CREDENTIALS_IN_URL');
    const events = await auditEventsOf(server, tenant.token, 1, {}, 10_000, (event) => JSON.stringify(event.details).includes('127.0.0.1:9'));
    const refused = events.find((event) => JSON.stringify(event.details).includes('127.0.0.1:9'));
    expect(refused, 'the refused createModel is audited with its arguments').toBeDefined();
    expect(JSON.stringify(refused!.details)).toContain('http://[redacted]@127.0.0.1:9/v1');
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });
});

describe('models stored before the check', () => {
  it('lose the credentials, query and fragment of their base URL; other URLs are untouched', async () => {
    const seeded = {
      credentials: `https://ann:${PASSWORD}@models.example.com/v1`,
      query: `https://models.example.com/v1?api_key=${QUERY_SECRET}`,
      both: `http://ann:${PASSWORD}@127.0.0.1:9/v1/?key=${QUERY_SECRET}#x`,
      clean: 'https://models.example.com/openai/v1',
    };
    const ids = await withClient(server.database.ownerUrl, async (client) => {
      const tenant = (await client.query(`select id from tenants limit 1`)).rows[0].id as string;
      const inserted: Record<string, string> = {};
      for (const [name, baseUrl] of Object.entries(seeded)) {
        const { rows } = await client.query(
          `insert into models (id, tenant_id, name, type, config, created_at, updated_at)
           values (gen_random_uuid(), $1, $2, 'openai-compatible', $3, now(), now()) returning id`,
          [tenant, uniqueSlug(`seeded-${name}`), JSON.stringify({ baseUrl, model: 'm' })],
        );
        inserted[name] = rows[0].id;
      }
      await client.query(STRIP_BASE_URL_SECRETS_SQL);
      return inserted;
    });
    const stored = await withClient(server.database.ownerUrl, async (client) => {
      const { rows } = await client.query(`select id, config from models where id = any($1::uuid[])`, [Object.values(ids)]);
      return Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, rows.find((row) => row.id === id).config]));
    });
    expect(stored).toEqual({
      credentials: { baseUrl: 'https://models.example.com/v1', model: 'm' },
      query: { baseUrl: 'https://models.example.com/v1', model: 'm' },
      both: { baseUrl: 'http://127.0.0.1:9/v1/', model: 'm' },
      clean: { baseUrl: 'https://models.example.com/openai/v1', model: 'm' },
    });
  });
});
