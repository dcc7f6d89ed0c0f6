/**
 * The SDK with an external identity provider's token (what the console's token sign-in uses):
 * `token` is the bearer and `tenant` goes as X-Sluice-Tenant over HTTP and SSE and as `tenant`
 * in graphql-ws' connectionParams. A tenant that does not trust the issuer is refused on each
 * transport, which shows the tenant was sent; the right one is accepted. The provider's keys
 * are made here with jose and registered inline (no key server).
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '../../src/sdk/index.js';
import { createClient, SluiceError, type SluiceClient } from '../../src/sdk/index.js';
import { signUp } from '../support/identity.js';
import { externalToken, newKey } from '../support/identity-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let token: string;
let slug: string;

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  const owner = await signUp(server, { tenantName: 'Token Harbour' });
  slug = owner.tenant.slug;
  const key = await newKey('sdk-token-1', 'EdDSA');
  const issuer = `https://sso-${Date.now()}.example.test/`;
  const client = createClient({ url: server.url, token: owner.accessToken });
  await client.mutate(sdk.ConsoleRegisterIdentityProviderDocument, { input: { name: 'Partner', issuer, audience: 'sluice-sdk', jwks: { keys: [key.jwk] }, defaultRole: 'MEMBER' } });
  token = await externalToken(key, { email: 'kim@partner.example' }, { issuer, audience: 'sluice-sdk' });
});
afterAll(async () => {
  await server?.close();
});

const transports = [
  ['graphql-ws', { webSocketImpl: WebSocket, subscriptionTransport: 'ws' }],
  ['SSE', { subscriptionTransport: 'sse' }],
] as const;

async function firstBeat(client: SluiceClient) {
  for await (const result of client.subscribe(sdk.HeartbeatDocument, { intervalSeconds: 1, count: 1 })) return result.heartbeat.sequence;
  return undefined;
}

describe('the SDK with an external token', () => {
  it('reads the viewer as the external identity, naming its tenant over HTTP', async () => {
    const { viewer } = await createClient({ url: server.url, token, tenant: slug }).query(sdk.ConsoleExternalViewerDocument);
    expect(viewer).toMatchObject({ kind: 'EXTERNAL', role: 'MEMBER', email: 'kim@partner.example', externalSubject: 'partner-user-1', tenant: { slug } });
    const elsewhere = createClient({ url: server.url, token, tenant: 'no-such-harbour' }).query(sdk.ConsoleExternalViewerDocument);
    await expect(elsewhere).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'Invalid external token' });
  });

  for (const [name, options] of transports) {
    it(`sends the token and its tenant over ${name}`, async () => {
      const client = createClient({ url: server.url, token, tenant: slug, ...options });
      const elsewhere = createClient({ url: server.url, token, tenant: 'no-such-harbour', ...options });
      try {
        expect(await firstBeat(client)).toBe(1);
        const refused = await firstBeat(elsewhere).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(SluiceError);
        expect(refused).toMatchObject({ code: 'UNAUTHENTICATED' });
      } finally {
        await client.close();
        await elsewhere.close();
      }
    });
  }
});
