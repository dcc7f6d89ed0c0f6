/**
 * A password typed into the email field of a failed log-in is not readable on the platform's
 * trail (attacker review, 2026-12-07): the `graphql.mutation` event kept it among its personal
 * values, and the `auth.login` event as the actor's email. A value given as an email that is no
 * address is kept only as `digest:` and a keyed digest, by the GraphQL and the REST door alike;
 * a mistyped address stays readable, as before.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { asOwner } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** The platform chain's events of the requests sent with this user agent, once `count` are written. */
async function platformEventsOf(userAgent: string, count: number) {
  const read = () =>
    asOwner(server, async (client) => (await client.query(`select action, outcome, personal from audit_events where tenant_id = $1 and personal->>'userAgent' = $2 order by seq`, [PLATFORM_CHAIN, userAgent])).rows);
  return pollUntil(read, (rows) => rows.length >= count, { timeoutMs: 15_000, failure: (rows) => `${count} events were never written (${rows.length} seen)` });
}

const restLogIn = (body: Record<string, unknown>, userAgent: string) =>
  fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': userAgent }, body: JSON.stringify(body) });

it('keeps a password typed as the email of a failed log-in only as a keyed digest, over GraphQL and REST', async () => {
  const typed = `WrongPwLeakInEmail77-${randomUUID().slice(0, 8)}`;
  const digest = `digest:${secretsOf(server).digest('audit text', typed.toLowerCase()).digest}`;

  const graphqlAgent = `graphql-${randomUUID()}`;
  const { body } = await server.graphql('mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', {
    variables: { input: { email: typed, password: 'a password of ten or more' } },
    headers: { 'user-agent': graphqlAgent },
  });
  expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  const viaGraphql = await platformEventsOf(graphqlAgent, 2);
  expect(viaGraphql.map((row) => `${row.action} ${row.outcome}`).sort()).toEqual(['auth.login UNAUTHENTICATED', 'graphql.mutation UNAUTHENTICATED']);
  expect(viaGraphql.find((row) => row.action === 'graphql.mutation')!.personal.values).toEqual([digest]);
  expect(viaGraphql.find((row) => row.action === 'auth.login')!.personal.email).toBe(digest);

  const restAgent = `rest-${randomUUID()}`;
  expect((await restLogIn({ email: typed, password: 'a password of ten or more' }, restAgent)).status).toBe(401);
  const viaRest = await platformEventsOf(restAgent, 2);
  expect(viaRest.map((row) => row.action).sort()).toEqual(['auth.login', 'rest.login']);
  expect(viaRest.find((row) => row.action === 'auth.login')!.personal.email).toBe(digest);

  expect(JSON.stringify([viaGraphql, viaRest]).toLowerCase()).not.toContain(typed.toLowerCase());
});

it('still keeps a mistyped address readable, where erasure can find it', async () => {
  const address = `no-such-account-${randomUUID()}@example.com`;
  const userAgent = `address-${randomUUID()}`;
  const { body } = await server.graphql('mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', {
    variables: { input: { email: ` ${address.toUpperCase()} `, password: 'a password of ten or more' } },
    headers: { 'user-agent': userAgent },
  });
  expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  const rows = await platformEventsOf(userAgent, 2);
  expect(rows.find((row) => row.action === 'graphql.mutation')!.personal.values).toEqual([address]);
  expect(rows.find((row) => row.action === 'auth.login')!.personal.email).toBe(address);
});
