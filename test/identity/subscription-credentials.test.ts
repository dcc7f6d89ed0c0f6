/**
 * A live subscription answers to its credential: it ends with UNAUTHENTICATED when the token
 * expires, the session logs out, the API key is revoked, or the membership goes away, while
 * the subscription itself would have run for minutes.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { seedTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Endless in practice: a tick every second, up to 10 minutes.
const HEARTBEAT = 'subscription { heartbeat(intervalSeconds: 1, count: 600) { sequence } }';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_CREDENTIAL_RECHECK_MS: '200' } });
});
afterAll(() => server?.close());

function connect(connectionParams: Record<string, string>): Client {
  return createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams });
}

/** Subscribes; resolves after the first tick with a promise of how the subscription ended. */
async function subscribe(client: Client) {
  const results: any[] = [];
  const iterator = client.iterate({ query: HEARTBEAT })[Symbol.asyncIterator]();
  const first = await iterator.next();
  results.push(first.value);
  const ended = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return results;
      results.push(next.value);
    }
  })();
  return { ended };
}

async function signUp() {
  const email = `sub-${Math.random().toString(36).slice(2)}@example.test`;
  const { body } = await server.graphql(
    `mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { slug } } }`,
    { variables: { input: { email, password: 'long enough password', tenantName: 'Subscribers' } } },
  );
  return body.data.signUp.accessToken as string;
}

const lastError = (results: any[]) => results.at(-1)?.errors?.[0];

describe('a subscription ends with UNAUTHENTICATED', () => {
  it('when its access token expires', async () => {
    const tenant = await seedTenant(server.database.ownerUrl);
    const user = tenant.users[0]!;
    // Issued long enough ago that it has two seconds left.
    const issuedAt = new Date(Date.now() - (server.config.accessTokenTtlSeconds - 2) * 1000);
    const { token } = await server.tokens.sign(
      { userId: user.id, email: user.email, tenantId: tenant.id, tenantSlug: tenant.slug, role: user.role },
      issuedAt,
    );
    const client = connect({ authorization: `Bearer ${token}` });
    try {
      const results = await (await subscribe(client)).ended;
      expect(lastError(results)?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(lastError(results)?.message).toMatch(/expired/i);
      expect(results.length).toBeLessThan(10);
    } finally {
      await client.dispose();
    }
  });

  it('when its session logs out', async () => {
    const token = await signUp();
    const client = connect({ authorization: `Bearer ${token}` });
    try {
      const { ended } = await subscribe(client);
      const logout = await server.graphql('mutation { logOut }', { token });
      expect(logout.body.data).toEqual({ logOut: true });
      const results = await ended;
      expect(lastError(results)?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await client.dispose();
    }
  });

  it('when its API key is revoked, and other credentials’ subscriptions go on', async () => {
    const token = await signUp();
    const created = await server.graphql(`mutation { createApiKey(input: { name: "watch", scopes: [READ] }) { secret apiKey { id } } }`, { token });
    const { secret, apiKey } = created.body.data.createApiKey;
    const keyClient = connect({ apiKey: secret });
    const userClient = connect({ authorization: `Bearer ${token}` });
    try {
      const keyed = await subscribe(keyClient);
      const users = userClient.iterate({ query: 'subscription { heartbeat(intervalSeconds: 1, count: 3) { sequence } }' });
      await server.graphql(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { token, variables: { id: apiKey.id } });
      const results = await keyed.ended;
      expect(lastError(results)?.message).toMatch(/revoked/i);
      const sequences: number[] = [];
      for await (const result of users) sequences.push((result as any).data.heartbeat.sequence);
      expect(sequences).toEqual([1, 2, 3]);
    } finally {
      await keyClient.dispose();
      await userClient.dispose();
    }
  });

  it('when its membership is removed', async () => {
    const tenant = await seedTenant(server.database.ownerUrl, { members: [{ role: 'OWNER' }, { role: 'MEMBER' }] });
    const member = tenant.users[1]!;
    const client = connect({ authorization: `Bearer ${await server.tokenFor(tenant, member)}` });
    try {
      const { ended } = await subscribe(client);
      await withClient(server.database.ownerUrl, (db) => db.query('delete from memberships where id = $1', [member.membershipId]));
      const results = await ended;
      expect(lastError(results)?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await client.dispose();
    }
  });
});
