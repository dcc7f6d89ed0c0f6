/**
 * What one endpoint query costs the database (issue 20, item 8): the SQL statements and
 * transactions `queryEndpoint` sends, counted on the application's connection as they go.
 * Was 23 statements in 5 transactions (the request's own read-only transaction, then one each
 * for the endpoint, the policies, the ranking and the usage), then 12 in 2, then 8 in 1 with
 * the endpoint read through the ORM (issue 19: about 2 ms of CPU of its own), now a prepared
 * statement (endpoints/endpoint-read.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, queryEndpoint } from '../support/endpoints.js';
import { createPolicy } from '../support/policies.js';
import { tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** Each statement's text; a named (prepared) one is marked `[prepared] `. */
async function statementsOf(ask: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const knex = server.orm.em.getConnection().getKnex();
  const listener = (query: { sql: string; options?: { name?: string } }) => seen.push(`${query.options?.name ? '[prepared] ' : ''}${query.sql.replace(/\s+/g, ' ')}`);
  knex.on('query', listener);
  try {
    await ask();
  } finally {
    knex.off('query', listener);
  }
  // The audit writer appends batches of earlier requests' events on its own schedule, and the
  // tenant's IP allow-list is read at most once per 5 s per tenant (IpAllowListCheck), so
  // whether a read falls inside the counted query depends on the clock: neither is per query.
  return seen.filter((sql) => !sql.includes('append_audit_events') && !sql.includes('"ip_allow_list"'));
}

const transactionsIn = (statements: string[]) => statements.filter((sql) => /^BEGIN\b/i.test(sql)).length;

it('asks a keyword endpoint in 8 statements and 1 transaction: one to read, decide and rank, one statement to record the usage', async () => {
  const owner = await tenantWithOwner(server);
  const setup = await endpointOver(server, owner.token, [{ title: 'Lamps', text: 'The lamp is wound at dusk. Lamps burn oil.' }]);
  const ask = async () => {
    const body = await queryEndpoint(server, owner.token, setup.reference, 'lamp oil');
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.passages[0].documentTitle).toBe('Lamps');
  };
  await ask();
  const statements = await statementsOf(ask);
  // The credential's membership check, the endpoint's address lookup, then BEGIN, tenant
  // binding, the endpoint with its model and enabled policies, the ranking, COMMIT; then the
  // usage record (record_query_usage, its own statement).
  expect({ statements: statements.length, transactions: transactionsIn(statements) }).toEqual({ statements: 8, transactions: 1 });
  expect(statements.filter((sql) => sql.includes('record_query_usage'))).toHaveLength(1);
  // The policies come with the endpoint and its model, in one prepared statement, not through
  // the ORM (no entity to build, track and check for changes at commit).
  expect(statements.filter((sql) => sql.includes('from "policies"') || sql.includes('from "endpoints"'))).toHaveLength(0);
  expect(statements.filter((sql) => sql.startsWith('[prepared] ') && sql.includes('from endpoints e join models m') && sql.includes('from policies p'))).toHaveLength(1);
});

it('with a policy: the lock, the facts and the decision row are added, and the ranking leaves the locked transaction', async () => {
  const owner = await tenantWithOwner(server);
  const setup = await endpointOver(server, owner.token, [{ title: 'Lamps', text: 'The lamp is wound at dusk. Lamps burn oil.' }]);
  await createPolicy(server, owner.token, setup.endpointId, 'rate_limit', { requestsPerPeriod: 1000, periodSeconds: 600 });
  await queryEndpoint(server, owner.token, setup.reference, 'lamp oil');
  const statements = await statementsOf(async () => {
    const body = await queryEndpoint(server, owner.token, setup.reference, 'lamp oil');
    expect(body.errors).toBeUndefined();
  });
  expect(statements.some((sql) => sql.includes('pg_advisory_xact_lock'))).toBe(true);
  expect(statements.some((sql) => sql.startsWith('insert into "policy_decisions"'))).toBe(true);
  expect(statements.filter((sql) => sql.includes('from "policies"'))).toHaveLength(0);
  expect(transactionsIn(statements)).toBe(2);
});
