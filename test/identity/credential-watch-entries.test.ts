/**
 * Live subscriptions are held to their credential by re-authenticating each distinct credential
 * every interval (plugins/credential-watch.ts). "Distinct" is the credential as the
 * authenticator reads it: the same API key sent with tenant headers it ignores, or spelled as a
 * bearer token instead of X-API-Key, is one credential, re-checked once — not one database
 * round-trip per spelling (a review as an attacker: 800 held streams of one key, each with its
 * own `X-Sluice-Tenant`, made 96–157 transactions a second). Counted by sluice_live_credentials.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { scrape, value } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Endless in practice: a tick every second, up to 10 minutes.
const HEARTBEAT = 'subscription { heartbeat(intervalSeconds: 1, count: 600) { sequence } }';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

async function signUp(): Promise<string> {
  const email = `watch-${Math.random().toString(36).slice(2)}@example.test`;
  const { body } = await server.graphql(`mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }`, {
    variables: { input: { email, password: 'long enough password', tenantName: 'Watched' } },
  });
  return body.data.signUp.accessToken as string;
}

/** Subscribes on its own connection; resolves once the first tick arrived. */
async function holdSubscription(connectionParams: Record<string, string>): Promise<Client> {
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams });
  const first = await client.iterate({ query: HEARTBEAT })[Symbol.asyncIterator]().next();
  expect(first.value?.data?.heartbeat?.sequence).toBe(1);
  return client;
}

const liveCredentials = async () => value(await scrape(server), 'sluice_live_credentials');

it('counts one API key once, however its headers are spelled, and two keys twice', async () => {
  const token = await signUp();
  const mint = async (name: string) =>
    (await server.graphql(`mutation($name: String!) { createApiKey(input: { name: $name, scopes: [READ] }) { secret } }`, { token, variables: { name } })).body.data
      .createApiKey.secret as string;
  const [first, second] = [await mint('first'), await mint('second')];
  expect(await liveCredentials()).toBe(0);

  const spellings: Record<string, string>[] = [
    { apiKey: first },
    { apiKey: first, tenant: 'x1' },
    { apiKey: first, tenant: 'x2' },
    { authorization: `Bearer ${first}` },
    { authorization: `bearer   ${first}`, tenant: 'x3' },
  ];
  const clients: Client[] = [];
  try {
    for (const params of spellings) clients.push(await holdSubscription(params));
    expect(await liveCredentials()).toBe(1);
    clients.push(await holdSubscription({ apiKey: second, tenant: 'x1' }));
    expect(await liveCredentials()).toBe(2);
  } finally {
    await Promise.all(clients.map((client) => client.dispose()));
  }
  // Entries go with their last subscription.
  await pollUntil(liveCredentials, (count) => count === 0, { failure: (count) => `${count} credentials still watched after their subscriptions ended` });
});
