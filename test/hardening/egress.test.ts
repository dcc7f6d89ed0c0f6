/**
 * The egress guard (src/platform/egress) for identity providers, whose key sets Sluice fetches
 * whenever anyone, anonymous included, sends a token naming the issuer: refused hosts at
 * registration (production: loopback, private, metadata; every mode: metadata and
 * link-local), names resolving into them at connect time, and failed fetches throttled.
 * The provider is a real HTTP server on 127.0.0.1 that counts the fetches it receives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUp, type SignedUp } from '../support/identity.js';
import { externalToken, JwksServer, newKey, REGISTER_PROVIDER, type SigningKey } from '../support/identity-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';

const VIEWER = '{ viewer { kind tenant { slug } } }';
const CREATE_MODEL = 'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }';

let development: TestServer;
let production: TestServer;
let devOwner: SignedUp;
let prodOwner: SignedUp;
let jwks: JwksServer;
let key: SigningKey;

beforeAll(async () => {
  development = await startTestServer({ env: { SLUICE_JWKS_COOLDOWN_MS: '600000' } });
  production = await startTestServer({ database: development.database, env: { NODE_ENV: 'production', SLUICE_DATABASE_SSL: 'disable' } });
  jwks = new JwksServer();
  [key] = await Promise.all([newKey('k-1', 'EdDSA'), jwks.start()]);
  jwks.published = [key];
  devOwner = await signUp(development, { tenantName: 'Egress Dev' });
  prodOwner = await signUp(production, { tenantName: 'Egress Prod' });
});
afterAll(async () => {
  await production?.close();
  await development?.close();
  await jwks?.stop();
});

let issuers = 0;
const uniqueIssuer = () => `https://idp-${process.pid}-${(issuers += 1)}.example.test`;
const register = (server: TestServer, owner: SignedUp, jwksUrl: string, issuer = uniqueIssuer()) =>
  server.graphql(REGISTER_PROVIDER, { token: owner.accessToken, variables: { input: { name: 'P', issuer, audience: 'sluice', jwksUrl } } });

describe('registration', () => {
  it('refuses in production a jwksUrl on loopback, private, link-local and metadata hosts, naming the reason', async () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'PRIVATE_ADDRESS'],
      ['localhost', 'PRIVATE_ADDRESS'],
      ['[::1]', 'PRIVATE_ADDRESS'],
      ['10.0.0.1', 'PRIVATE_ADDRESS'],
      ['192.168.1.1', 'PRIVATE_ADDRESS'],
      ['[::ffff:127.0.0.1]', 'PRIVATE_ADDRESS'],
      ['2130706433', 'PRIVATE_ADDRESS'], // 127.0.0.1 as one number
      ['169.254.169.254', 'METADATA_ADDRESS'],
      ['[fd00:ec2::254]', 'METADATA_ADDRESS'],
      ['metadata.google.internal', 'METADATA_ADDRESS'],
      ['[fe80::1]', 'METADATA_ADDRESS'],
    ];
    for (const [host, reason] of cases) {
      const { body } = await register(production, prodOwner, `https://${host}/.well-known/jwks.json`);
      expect(body.errors?.[0]?.extensions, host).toMatchObject({ code: 'BAD_USER_INPUT', field: 'jwksUrl', reason });
    }
    // A public host is accepted (nothing fetches it here).
    expect((await register(production, prodOwner, 'https://login.example.com/.well-known/jwks.json')).body.errors).toBeUndefined();
  });

  it('refuses metadata and link-local hosts in development too, for identity providers and models alike', async () => {
    for (const host of ['169.254.169.254', 'metadata.google.internal', '[fe80::1]', '[fd00:ec2::254]', '[::ffff:169.254.169.254]']) {
      const provider = await register(development, devOwner, `http://${host}/latest/meta-data/`);
      expect(provider.body.errors?.[0]?.extensions, host).toMatchObject({ code: 'BAD_USER_INPUT', field: 'jwksUrl', reason: 'METADATA_ADDRESS' });
      const model = await development.graphql(CREATE_MODEL, {
        token: devOwner.accessToken,
        variables: { input: { name: `m-${issuers++}`, type: 'openai-compatible', config: { baseUrl: `http://${host}/v1`, model: 'm' } } },
      });
      expect(model.body.errors?.[0]?.extensions, host).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason: 'METADATA_ADDRESS' });
    }
    // Loopback stays allowed in development (a local identity provider).
    expect((await register(development, devOwner, jwks.url)).body.errors).toBeUndefined();
  });
});

describe('fetching key sets', () => {
  it('refuses at connect time a host name that resolves to loopback: the provider never hears from Sluice', async () => {
    // Registered where loopback is allowed, then verified by a server that denies it (the
    // same database): `localhost` is resolved when connecting, and 127.0.0.1 refused.
    const issuer = uniqueIssuer();
    expect((await register(development, devOwner, `http://localhost:${jwks.port}/jwks.json`, issuer)).body.errors).toBeUndefined();
    const denying = await startTestServer({ database: development.database, env: { SLUICE_EGRESS_PRIVATE_NETWORKS: 'deny' } });
    try {
      const before = jwks.fetches;
      const jwt = await externalToken(key, {}, { issuer, audience: 'sluice' });
      const { status, body } = await denying.graphql(VIEWER, { token: jwt });
      expect([status, codeOf(body), body.errors[0].extensions.reason]).toEqual([401, 'UNAUTHENTICATED', 'keys-unavailable']);
      expect(jwks.fetches).toBe(before);
      // The same token works where loopback is allowed: the refusal was the guard's.
      expect((await development.graphql(VIEWER, { token: jwt })).body.data.viewer).toEqual({ kind: 'EXTERNAL', tenant: { slug: devOwner.tenant.slug } });
    } finally {
      await denying.close();
    }
  });

  it('throttles failed fetches: 20 anonymous requests naming a failing provider make one fetch', async () => {
    const failing = new JwksServer();
    await failing.start();
    failing.failWith = 500;
    try {
      const issuer = uniqueIssuer();
      expect((await register(development, devOwner, failing.url, issuer)).body.errors).toBeUndefined();
      const jwt = await externalToken(key, {}, { issuer, audience: 'sluice' });
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await development.graphql(VIEWER, { token: jwt })).status);
      statuses.push(...(await Promise.all(Array.from({ length: 10 }, async () => (await development.graphql(VIEWER, { token: jwt })).status))));
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect(failing.fetches).toBe(1);
    } finally {
      await failing.stop();
    }
  });

  it('tries a failed key set again once its backoff has passed', async () => {
    const flaky = new JwksServer();
    await flaky.start();
    flaky.failWith = 503;
    const quick = await startTestServer({ database: development.database, env: { SLUICE_JWKS_COOLDOWN_MS: '1000' } });
    try {
      const issuer = uniqueIssuer();
      expect((await register(quick, devOwner, flaky.url, issuer)).body.errors).toBeUndefined();
      const jwt = await externalToken(key, {}, { issuer, audience: 'sluice' });
      expect((await quick.graphql(VIEWER, { token: jwt })).status).toBe(401);
      expect(flaky.fetches).toBe(1);
      flaky.failWith = undefined;
      flaky.published = [key];
      // Polled, not slept: the first answer after the backoff (1 s) is a sign-in.
      await expect
        .poll(async () => (await quick.graphql(VIEWER, { token: jwt })).body.data?.viewer?.kind, { timeout: 30_000, interval: 250 })
        .toBe('EXTERNAL');
      expect(flaky.fetches).toBe(2);
    } finally {
      await quick.close();
      await flaky.stop();
    }
  });
});
