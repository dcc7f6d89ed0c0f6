/**
 * Each operation runs in one transaction of its own: a query's is READ ONLY (PostgreSQL would
 * refuse a write, and the commit skips MikroORM's flush), a mutation's may write. Watched as
 * the statements the server's own pool sends to PostgreSQL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataset, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(() => server?.close());

/** The statements that opened and ended transactions while `run` ran. */
async function transactionStatements(run: () => Promise<unknown>): Promise<string[]> {
  const knex = server.orm.em.getConnection().getKnex();
  const seen: string[] = [];
  const listener = (query: { sql: string }) => {
    if (/^(begin|commit|rollback)/i.test(query.sql)) seen.push(query.sql.replace(/;$/, '').toUpperCase());
  };
  knex.on('query', listener);
  try {
    await run();
  } finally {
    knex.removeListener('query', listener);
  }
  return seen;
}

it('opens a READ ONLY transaction for a query and a read-write one for a mutation', async () => {
  const { token } = await tenantWithOwner(server);
  await createDataset(server, token, { slug: 'read-only-check' });

  const query = await transactionStatements(async () => {
    const { body } = await server.graphql('{ datasets(first: 5) { edges { node { slug documents(first: 2) { edges { node { id } } } } } } }', { token });
    expect(body.data.datasets.edges.map((edge: { node: { slug: string } }) => edge.node.slug)).toEqual(['read-only-check']);
  });
  expect(query).toEqual(['BEGIN TRANSACTION READ ONLY', 'COMMIT']);

  const mutation = await transactionStatements(async () => {
    const { body } = await server.graphql('mutation { createDataset(input: { name: "Second", slug: "read-write-check" }) { slug } }', { token });
    expect(body.data.createDataset.slug).toBe('read-write-check');
  });
  expect(mutation[0]).toBe('BEGIN');
  expect(mutation.at(-1)).toBe('COMMIT');
  expect(mutation).not.toContain('BEGIN TRANSACTION READ ONLY');
});
