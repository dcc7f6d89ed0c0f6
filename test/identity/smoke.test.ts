import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

it('signs up, logs in, creates an API key and uses it', async () => {
  const signUp = await server.graphql(
    `mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken role tenant { slug } user { email } } }`,
    { variables: { input: { email: 'Ada@Example.test', password: 'correct horse battery', tenantName: 'Acme Corp!' } } },
  );
  expect(signUp.body.errors).toBeUndefined();
  expect(signUp.body.data.signUp).toMatchObject({ role: 'OWNER', tenant: { slug: 'acme-corp' }, user: { email: 'ada@example.test' } });
  const token = signUp.body.data.signUp.accessToken;
  const key = await server.graphql(
    `mutation { createApiKey(input: { name: "ci", scopes: [READ] }) { secret apiKey { id prefix scopes expiresAt } } }`,
    { token },
  );
  expect(key.body.errors).toBeUndefined();
  const secret = key.body.data.createApiKey.secret;
  const viewer = await server.graphql(`{ viewer { kind role scopes apiKey { name } tenant { slug } } }`, { headers: { 'x-api-key': secret } });
  expect(viewer.body).toEqual({ data: { viewer: { kind: 'API_KEY', role: 'VIEWER', scopes: ['READ'], apiKey: { name: 'ci' }, tenant: { slug: 'acme-corp' } } } });
  const rest = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.test', password: 'correct horse battery' }),
  });
  const restBody = await rest.json();
  expect(rest.status).toBe(200);
  expect(restBody).toMatchObject({ token_type: 'bearer', expires_in: 900 });
  const refreshed = await server.graphql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`, {
    variables: { t: signUp.body.data.signUp.refreshToken },
  });
  expect(refreshed.body.errors).toBeUndefined();
  const reused = await server.graphql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, {
    variables: { t: signUp.body.data.signUp.refreshToken },
  });
  expect(reused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  const after = await server.graphql(`{ viewer { kind } }`, { token: refreshed.body.data.refreshSession.accessToken });
  expect(after.status).toBe(401);
});
