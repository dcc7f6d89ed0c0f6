/**
 * What one endpoint query costs the database (issue 20, item 8): the SQL statements and
 * transactions `queryEndpoint` sends, counted on the application's connection as they go.
 * Was 23 statements in 5 transactions (the request's own read-only transaction, then one each
 * for the endpoint, the policies, the ranking and the usage).
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

async function statementsOf(ask: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const knex = server.orm.em.getConnection().getKnex();
  const listener = (query: { sql: string }) => seen.push(query.sql.replace(/\s+/g, ' '));
  knex.on('query', listener);
  try {
    await ask();
  } finally {
    knex.off('query', listener);
  }
  // The audit writer appends batches of earlier requests' events on its own schedule.
  return seen.filter((sql) => !sql.includes('append_audit_events'));
}

const transactionsIn = (statements: string[]) => statements.filter((sql) => /^BEGIN\b/i.test(sql)).length;

it('asks a keyword endpoint in 12 statements and 2 transactions: one to read, decide and rank, one to record the usage', async () => {
  const owner = await tenantWithOwner(server);
  const setup = await endpointOver(server, owner.token, [{ title: 'Lamps', text: 'The lamp is wound at dusk. Lamps burn oil.' }]);
  const ask = async () => {
    const body = await queryEndpoint(server, owner.token, setup.reference, 'lamp oil');
    expect(body.errors).toBeUndefined();
    expect(body.data.queryEndpoint.passages[0].documentTitle).toBe('Lamps');
  };
  await ask();
  const statements = await statementsOf(ask);
  // The credential's membership check, the endpoint's address lookup, then
  // BEGIN, tenant binding, endpoint with its model, policies, ranking, COMMIT;
  // BEGIN, tenant binding, usage record, COMMIT.
  expect({ statements: statements.length, transactions: transactionsIn(statements) }).toEqual({ statements: 12, transactions: 2 });
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
  expect(transactionsIn(statements)).toBe(3);
});
