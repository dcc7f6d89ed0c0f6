/**
 * A cursor is the caller's text: every connection refuses one that does not hold what this
 * server writes, with BAD_USER_INPUT, before it reaches SQL. A well-formed cursor with an id
 * that is not a UUID (`["2026-01-01T00:00:00Z","x"]`) or a date PostgreSQL does not take went
 * into the keyset comparison and came back INTERNAL, with the SQL (and the member table's
 * columns) in the message outside production.
 */
import { describe, expect, it } from 'vitest';
import { createDataset, serverWithOwner } from '../support/ingestion.js';

const context = serverWithOwner();
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Well-formed JSON, but not a (created_at, id) this server writes. */
const HOSTILE = [
  ['2026-01-01T00:00:00Z', 'x'],
  ['2026-01-01T00:00:00Z', ''],
  [1, 'x'],
  ['2026-01-01T00:00:00Z', '00000000-0000-0000-0000-00000000000g'],
  ['+275760-09-13T00:00:00.000Z', '9f1c1c5e-8a3b-4c62-9a53-3f4a7c1d2e10'],
  ['0000-01-01T00:00:00Z', '9f1c1c5e-8a3b-4c62-9a53-3f4a7c1d2e10'],
  ['2026-01-01T00:00:00Z', '9f1c1c5e-8a3b-4c62-9a53-3f4a7c1d2e10', 'extra'],
  { createdAt: '2026-01-01T00:00:00Z', id: '9f1c1c5e-8a3b-4c62-9a53-3f4a7c1d2e10' },
].map(cursorOf);

describe('a hostile pagination cursor', () => {
  it('is BAD_USER_INPUT on every connection, after and before alike, and no error is logged', async () => {
    const { server, owner } = context;
    const dataset = await createDataset(server, owner.token);
    const page = '{ edges { cursor } }';
    const connections = [
      `datasets(PAGE) ${page}`,
      `models(PAGE) ${page}`,
      `endpoints(PAGE) ${page}`,
      `policyDecisions(PAGE) ${page}`,
      `ingestionJobs(datasetId: "${dataset.id}", PAGE) ${page}`,
      `viewer { tenant { members(PAGE) ${page} } }`,
      `viewer { tenant { apiKeys(PAGE) ${page} } }`,
      `viewer { tenant { invitations(PAGE) ${page} } }`,
      `viewer { tenant { identityProviders(PAGE) ${page} } }`,
    ];
    const before = server.logs.length;
    for (const connection of connections) {
      for (const direction of ['after', 'before']) {
        const query = `query($c: String) { ${connection.replace('PAGE', `first: 2, ${direction}: $c`)} }`;
        for (const cursor of HOSTILE) {
          const { body } = await server.graphql(query, { token: owner.token, variables: { c: cursor } });
          expect({ query, cursor, code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message }).toEqual({
            query,
            cursor,
            code: 'BAD_USER_INPUT',
            message: 'Invalid pagination cursor',
          });
        }
      }
    }
    // Documents page forward only (one query pages many datasets): `before` is refused, not ignored.
    const documents = (paging: string) => server.graphql(`query($c: String) { dataset(id: "${dataset.id}") { documents(${paging}) ${page} } }`, { token: owner.token, variables: { c: HOSTILE[0] } });
    expect((await documents('first: 2, after: $c')).body.errors?.[0]).toMatchObject({ message: 'Invalid pagination cursor', extensions: { code: 'BAD_USER_INPUT' } });
    for (const paging of ['last: 2, before: $c', 'first: 2, before: $c', 'last: 2, after: $c']) {
      const { body } = await documents(paging);
      expect([paging, body.errors?.[0]?.message, body.errors?.[0]?.extensions?.code]).toEqual([paging, 'Documents are paged forward only: use first and after', 'BAD_USER_INPUT']);
    }
    expect(server.logs.slice(before).filter((line) => line.level >= 50)).toEqual([]);
  });

  it('a cursor this server wrote still pages', async () => {
    const { server, owner } = context;
    await createDataset(server, owner.token);
    await createDataset(server, owner.token);
    const first = await server.graphql('{ datasets(first: 1) { edges { cursor node { id } } pageInfo { hasNextPage } } }', { token: owner.token });
    const { cursor } = first.body.data.datasets.edges[0];
    const next = await server.graphql('query($c: String) { datasets(first: 1, after: $c) { edges { node { id } } } }', { token: owner.token, variables: { c: cursor } });
    expect(next.body.errors).toBeUndefined();
    expect(next.body.data.datasets.edges).toHaveLength(1);
    expect(next.body.data.datasets.edges[0].node.id).not.toBe(first.body.data.datasets.edges[0].node.id);
  });
});
