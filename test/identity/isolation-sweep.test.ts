/**
 * The isolation sweep: every query and mutation in the schema (generated from the schema, so
 * new fields are covered without touching this file), aimed at tenant B's ids, sent with each
 * of tenant A's credentials: users of every role, API keys of every scope, an external
 * identity; and with none at all or a forged token. No response may carry B's data, nothing
 * may fail as INTERNAL, and B's rows must be exactly as they were. Subscriptions that follow something by id (a job, a dataset) are swept
 * the same way over SSE, aimed at B's dataset and job too: each must be refused, never started.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { schema } from '../../src/schema/index.js';
import { populatedTenant, type Credential, type PopulatedTenant } from '../support/populated-tenant.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createDataset, ingestInline } from '../support/ingestion.js';
import { endpointOver, must } from '../support/endpoints.js';
import { createPolicy } from '../support/policies.js';
import { operationsFor, SKIPPED, subscriptionOperationsFor, withNodeFragments, type Target } from '../support/sweep.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;

let a: PopulatedTenant;
let b: PopulatedTenant;
let target: Target;
/** B's ids with its dataset and job first (subscriptions follow those). */
let followTarget: Target;
/** Strings that only B's data contains. */
let secretsOfB: string[];
/** B's data by id: its datasets, documents, models, endpoints, policies and jobs (global and raw ids). */
let dataTarget: Target;
/** Strings that only B's data (not its people) contains. */
let dataSecretsOfB: string[];

beforeAll(async () => {
  // At warn: the sweep reads no log line. At debug (every SQL statement a line) writing them
  // took about a fifth of its 14 000 requests' time, and at info each request's line (built and
  // redacted) still about 2 % of the CPU; a failure it should see is an answer, not a log line.
  // Access tokens for the whole file: its three sweeps (~4 000 requests each) use the tokens
  // made here, and on a busy machine they outlasted the default 15 minutes (UNAUTHENTICATED,
  // "Access token expired", in the middle of a sweep).
  server = await startTestServer({ env: { LOG_LEVEL: 'warn', ACCESS_TOKEN_TTL_SECONDS: '86400' } });
  a = await populatedTenant(server, 'Alpha');
  b = await populatedTenant(server, 'Bravo');
  const { body } = await server.graphql(
    `{ viewer { tenant { id slug name members { edges { node { id user { id email } } } } apiKeys { edges { node { id prefix name } } }
       identityProviders { edges { node { id issuer name } } } invitations { edges { node { id email } } } } } }`,
    { token: b.owner.accessToken },
  );
  const tenant = body.data.viewer.tenant;
  const nodes = (connection: { edges: { node: any }[] }) => connection.edges.map((edge) => edge.node);
  const members = nodes(tenant.members);
  const globalIds = [tenant.id, ...members.flatMap((m: any) => [m.id, m.user.id]), ...nodes(tenant.apiKeys).map((k: any) => k.id), ...nodes(tenant.identityProviders).map((p: any) => p.id)];
  const rawIds = [...globalIds.map((id) => databaseIdOf(id)), ...nodes(tenant.invitations).map((i: any) => i.id)];
  target = { ids: [...globalIds, ...rawIds], slug: tenant.slug, tenantIds: [tenant.id, databaseIdOf(tenant.id)], email: b.owner.email };
  secretsOfB = [
    ...target.ids,
    tenant.slug,
    tenant.name,
    ...members.map((m: any) => m.user.email),
    ...nodes(tenant.apiKeys).flatMap((k: any) => [k.prefix, k.name]),
    b.issuer,
  ];
  const dataset = await createDataset(server, b.owner.accessToken, { name: 'Bravo ledger', slug: 'bravo-ledger' });
  const job = (await ingestInline(server, b.owner.accessToken, dataset.id, [{ title: 'Bravo entry', text: 'Only Bravo keeps this ledger.' }])).body.data.ingestDocuments.id;
  followTarget = { ...target, ids: [dataset.id, job, databaseIdOf(dataset.id), ...target.ids] };
  secretsOfB.push(dataset.id, job, databaseIdOf(dataset.id), databaseIdOf(job), 'Bravo ledger', 'bravo-ledger');

  // B's data, each kind once: the records a tenant's ids reach beyond its people and keys.
  const setup = await endpointOver(server, b.owner.accessToken, [{ title: 'Bravo handbook', text: 'Bravo alone opens the north sluice at dusk.' }], {
    dataset: { name: 'Bravo handbook', slug: 'bravo-handbook' },
    slug: 'bravo-desk',
  });
  const policy = await createPolicy(server, b.owner.accessToken, setup.endpointId, 'access', { mode: 'allow', patterns: ['*@bravo-partner.example'] });
  const documents = await must(server, b.owner.accessToken, 'query($id: ID!) { dataset(id: $id) { documents { edges { node { id } } } } }', { id: setup.datasetId });
  const documentId: string = documents.dataset.documents.edges[0].node.id;
  const dataIds = [setup.datasetId, documentId, setup.modelId, setup.endpointId, policy.id, job];
  dataTarget = { ...target, ids: [...dataIds, ...dataIds.map((id) => databaseIdOf(id))] };
  dataSecretsOfB = [...dataTarget.ids, 'Bravo handbook', 'bravo-handbook', 'bravo-desk', 'north sluice', 'bravo-partner.example', 'Bravo entry', 'Only Bravo keeps'];
}, 120_000);
afterAll(() => server?.close());

/**
 * A subscription over SSE, read until its first event (a refusal, or data if it was let in) or
 * its end: a subscription let in would otherwise stay open.
 */
async function subscribeOnce(credential: Credential, query: string, variables: Record<string, unknown>) {
  const controller = new AbortController();
  // A stream that neither refuses nor sends is a failure too, reported rather than waited on.
  const timer = setTimeout(() => controller.abort(), 20_000);
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...credential.headers },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (/event: (next|complete)[^\n]*\n(data:[^\n]*\n)?\n/.test(text)) break;
    }
  } catch (error) {
    text += ` [stream cut: ${(error as Error).name}]`;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { status: response.status, text };
}

/** B's data rows (datasets and what hangs off them), as the superuser sees them. */
function dataSnapshotOfB(): Promise<string> {
  return withClient(server.database.ownerUrl, async (client) => {
    const tables: Record<string, unknown[]> = {};
    for (const table of ['datasets', 'documents', 'chunks', 'models', 'endpoints', 'policies', 'ingestion_jobs']) {
      tables[table] = (await client.query(`select * from ${table} where tenant_id = $1 order by id`, [target.tenantIds[1]])).rows;
    }
    return JSON.stringify(tables);
  });
}

/** B's rows, as the superuser sees them. */
function snapshotOfB(): Promise<string> {
  const tenantId = target.tenantIds[1];
  return withClient(server.database.ownerUrl, async (client) => {
    const tables: Record<string, unknown[]> = {};
    for (const table of ['memberships', 'api_keys', 'identity_providers', 'invitations']) {
      tables[table] = (await client.query(`select * from ${table} where tenant_id = $1 order by id`, [tenantId])).rows;
    }
    tables.tenants = (await client.query('select * from tenants where id = $1', [tenantId])).rows;
    tables.users = (await client.query('select u.* from users u join memberships m on m.user_id = u.id where m.tenant_id = $1 order by u.id', [tenantId])).rows;
    tables.sessions = (await client.query('select s.* from sessions s where s.active_tenant_id = $1 order by s.id', [tenantId])).rows;
    return JSON.stringify(tables);
  });
}

/**
 * Runs `work` on every item, `SWEEP_CONCURRENCY` at a time, in order of start. The sweep's
 * requests are independent (each is refused, and none changes what another sees), and one at a
 * time left the server and the database waiting on each round trip: 158 s of the suite's
 * longest file. Four in flight keep two cores busy without queueing behind the pool.
 */
const SWEEP_CONCURRENCY = 4;
async function eachConcurrently<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    try {
      while (!failed && next < items.length) await work(items[next++]!);
    } catch (error) {
      // The other lanes stop too, rather than go on sending while the test reports the failure.
      failed = true;
      throw error;
    }
  };
  await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, lane));
}

async function send(credential: Credential, query: string, variables: Record<string, unknown>) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...credential.headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, text: await response.text() };
}

// Time limits with room for a busy machine: ~14 000 requests one at a time took about 3 minutes
// alone on two cores, and ran past 5 minutes with the machine at load 11-16.
it('finds the generator can read B when pointed at B with B’s own owner (positive control)', { timeout: 120_000 }, async () => {
  const operations = withNodeFragments(schema, operationsFor(schema, target)).filter((op) => op.field.startsWith('query.'));
  const owner: Credential = { name: 'B:OWNER', headers: { authorization: `Bearer ${b.owner.accessToken}` } };
  let revealing = 0;
  await eachConcurrently(operations, async (operation) => {
    const { text } = await send(owner, operation.query, operation.variables);
    if (text.includes(target.slug)) revealing += 1;
  });
  expect(revealing).toBeGreaterThan(5);
});

it('lets none of tenant A’s credentials, nor a caller without one, read or change tenant B', { timeout: 600_000 }, async () => {
  const before = await snapshotOfB();
  const operations = withNodeFragments(schema, operationsFor(schema, target));
  const fields = new Set(operations.map((op) => op.field));
  const leaks: string[] = [];
  const tried: Record<string, number> = {};
  // A's credentials, and none at all or a forged token (the anonymous paths: sign-up, sign-in,
  // public endpoints) held to the same rules.
  const callers: Credential[] = [...a.credentials, { name: 'none', headers: {} }, { name: 'forged-token', headers: { authorization: 'Bearer not.a.token' } }];
  for (const credential of callers) {
    await eachConcurrently(operations, async (operation) => {
      const { status, text } = await send(credential, operation.query, operation.variables);
      tried[credential.name] = (tried[credential.name] ?? 0) + 1;
      const echoed = JSON.stringify(operation.variables);
      const leaked = secretsOfB.filter((secret) => text.includes(secret) && !echoed.includes(secret));
      if (leaked.length || status >= 500 || text.includes('"INTERNAL"')) {
        leaks.push(`${credential.name} ${operation.field} ${echoed}: status ${status}, leaked ${JSON.stringify(leaked)}: ${text.slice(0, 300)}`);
      }
    });
  }
  const total = Object.values(tried).reduce((sum, n) => sum + n, 0);
  console.log(`isolation sweep: ${fields.size} root fields (skipped: ${Object.keys(SKIPPED).join(', ')}), ${operations.length} operations × ${callers.length} callers = ${total} requests`);
  expect(leaks).toEqual([]);
  const rootFields = [schema.getQueryType(), schema.getMutationType()].flatMap((root) => Object.keys(root?.getFields() ?? {}));
  expect(fields.size).toBe(rootFields.length - Object.keys(SKIPPED).length);
  expect(total).toBeGreaterThan(500);
  expect(await snapshotOfB()).toBe(before);

  // The sweep ran with live credentials throughout (a dead one would hide leaks).
  for (const credential of a.credentials) {
    const { status, text } = await send(credential, '{ viewer { kind tenant { slug } } }', {});
    expect({ credential: credential.name, status }).toEqual({ credential: credential.name, status: 200 });
    expect(JSON.parse(text).data.viewer.tenant.slug).toBe(a.owner.tenant.slug);
  }
});

// The callers who pass every permission check and so reach the tenant filter itself: lower
// roles are refused before it, by the sweep above. About 1 600 operations each.
it('lets none of tenant A’s most privileged credentials, nor a caller without one, reach B’s datasets, documents, models, endpoints, policies or jobs by id', { timeout: 600_000 }, async () => {
  const before = await dataSnapshotOfB();
  const operations = withNodeFragments(schema, operationsFor(schema, dataTarget));
  const leaks: string[] = [];
  const callers: Credential[] = [...a.credentials.filter((credential) => /:(OWNER|key-ADMIN|external)$/.test(credential.name)), { name: 'none', headers: {} }];
  expect(callers.map((credential) => credential.name)).toEqual(['Alpha:OWNER', 'Alpha:key-ADMIN', 'Alpha:external', 'none']);
  for (const credential of callers) {
    await eachConcurrently(operations, async (operation) => {
      const { status, text } = await send(credential, operation.query, operation.variables);
      const echoed = JSON.stringify(operation.variables);
      const leaked = dataSecretsOfB.filter((secret) => text.includes(secret) && !echoed.includes(secret));
      if (leaked.length || status >= 500 || text.includes('"INTERNAL"')) {
        leaks.push(`${credential.name} ${operation.field} ${echoed}: status ${status}, leaked ${JSON.stringify(leaked)}: ${text.slice(0, 300)}`);
      }
    });
  }
  console.log(`data sweep: ${operations.length} operations × ${callers.length} callers`);
  expect(leaks).toEqual([]);
  expect(await dataSnapshotOfB()).toBe(before);
  // Positive control: B's owner reads each of them by the same ids.
  const own = await must(server, b.owner.accessToken, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: dataTarget.ids.slice(0, 6) });
  expect(own.nodes.map((node: { id: string } | null) => node?.id)).toEqual(dataTarget.ids.slice(0, 6));
});

it('lets none of tenant A’s credentials follow tenant B’s jobs or datasets (subscriptions by id)', { timeout: 300_000 }, async () => {
  const operations = subscriptionOperationsFor(schema, followTarget);
  const fields = new Set(operations.map((op) => op.field));
  expect([...fields].sort()).toEqual(['subscription.datasetChanges', 'subscription.datasetIngestion', 'subscription.ingestionProgress']);
  // Positive control: B's owner is let in, and the first event names B's data (datasetIngestion
  // sends only running jobs at once, and B's has ended by now: the other two always send).
  const owner: Credential = { name: 'B:OWNER', headers: { authorization: `Bearer ${b.owner.accessToken}` } };
  for (const field of ['subscription.datasetChanges', 'subscription.ingestionProgress']) {
    const own = field === 'subscription.ingestionProgress' ? followTarget.ids[1] : followTarget.ids[0];
    const operation = operations.find((op) => op.field === field && Object.values(op.variables).includes(own))!;
    const { text } = await subscribeOnce(owner, operation.query, operation.variables);
    expect({ field, text }).toMatchObject({ field, text: expect.stringContaining('"data"') });
  }
  const leaks: string[] = [];
  // A's credentials, and none at all or a forged token: each must be refused alike.
  const callers: Credential[] = [...a.credentials, { name: 'none', headers: {} }, { name: 'forged-token', headers: { authorization: 'Bearer not.a.token' } }];
  for (const credential of callers) {
    await eachConcurrently(operations, async (operation) => {
      const { status, text } = await subscribeOnce(credential, operation.query, operation.variables);
      const echoed = JSON.stringify(operation.variables);
      const leaked = secretsOfB.filter((secret) => text.includes(secret) && !echoed.includes(secret));
      // Refused means an error and no data (a subscription let in but silent is cut after 20 s: no errors either).
      if (leaked.length || status >= 500 || text.includes('"INTERNAL"') || !text.includes('"errors"') || /"data":\{/.test(text)) {
        leaks.push(`${credential.name} ${operation.field} ${echoed}: status ${status}, leaked ${JSON.stringify(leaked)}: ${text.slice(0, 300)}`);
      }
    });
  }
  console.log(`subscription sweep: ${fields.size} fields, ${operations.length} operations × ${callers.length} callers`);
  expect(leaks).toEqual([]);
});
