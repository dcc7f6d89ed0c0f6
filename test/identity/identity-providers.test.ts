/**
 * External identity providers. The partner's identity provider is a test double we control: a
 * real HTTP server on 127.0.0.1 publishing a JWKS (RS256 and EdDSA keys), counting fetches, and
 * able to rotate its keys mid-test. Tokens are signed with the matching private keys.
 */
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUp, type SignedUp } from '../support/identity.js';
import { externalToken, JwksServer, newKey, REGISTER_PROVIDER as REGISTER, type SigningKey } from '../support/identity-provider.js';
import { asOwner } from '../support/locks.js';
import { runMigrationAgain } from '../support/migrations.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ISSUER = 'https://partner.example.test';
/** Short, so the test can wait it out, yet long enough for a flood of 20 requests on a busy machine; production's default is 30 s. */
const COOLDOWN_MS = 4000;
const pastCooldown = () => new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
const AUDIENCE = 'sluice-partner';
const VIEWER = '{ viewer { kind role email externalSubject externalIssuer tenant { slug } } }';

let server: TestServer;
let jwks: JwksServer;
let owner: SignedUp;
let rsa: SigningKey;
let ed: SigningKey;

function token(key: SigningKey, claims: Record<string, unknown> = {}, options: { issuer?: string; audience?: string | string[]; expires?: string | number; notBefore?: string | number } = {}) {
  return externalToken(key, { email: 'Partner.User@Example.test', roles: ['partner-admin'], ...claims }, { ...options, issuer: options.issuer ?? ISSUER, audience: options.audience ?? AUDIENCE });
}

const asExternal = (jwt: string, headers: Record<string, string> = {}) => server.graphql(VIEWER, { token: jwt, headers });

beforeAll(async () => {
  [server, jwks, rsa, ed] = await Promise.all([startTestServer({ env: { SLUICE_JWKS_COOLDOWN_MS: String(COOLDOWN_MS) } }), Promise.resolve(new JwksServer()), newKey('rsa-1', 'RS256'), newKey('ed-1', 'EdDSA')]);
  await jwks.start();
  jwks.published = [rsa, ed];
  owner = await signUp(server, { tenantName: 'Partnered' });
  const { body } = await server.graphql(REGISTER, {
    token: owner.accessToken,
    variables: { input: { name: 'Partner', issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, roleClaim: 'roles', roleMapping: { 'partner-admin': 'ADMIN', 'partner-dev': 'MEMBER' } } },
  });
  expect(body.errors).toBeUndefined();
});
afterAll(async () => {
  await server?.close();
  await jwks?.stop();
});

describe('tokens from a trusted issuer', () => {
  it('act as an external identity with the mapped role (RS256 and EdDSA)', async () => {
    for (const key of [rsa, ed]) {
      const { status, body } = await asExternal(await token(key));
      expect(status).toBe(200);
      expect(body.data.viewer).toEqual({
        kind: 'EXTERNAL',
        role: 'ADMIN',
        email: 'partner.user@example.test',
        externalSubject: 'partner-user-1',
        externalIssuer: ISSUER,
        tenant: { slug: owner.tenant.slug },
      });
    }
  });

  it('get the default role when no mapping applies, and may do only what it allows', async () => {
    const viewerToken = await token(rsa, { roles: ['unknown-group'] });
    expect((await asExternal(viewerToken)).body.data.viewer.role).toBe('VIEWER');
    const { body } = await server.graphql('mutation { createApiKey(input: { name: "x", scopes: [READ] }) { secret } }', { token: viewerToken });
    expect(codeOf(body)).toBe('FORBIDDEN');
  });

  it.each([
    ['for another audience', () => token(rsa, {}, { audience: 'someone-else' })],
    ['expired beyond the clock skew', () => token(rsa, {}, { expires: Math.floor(Date.now() / 1000) - 120 })],
    ['not valid before a minute from now', () => token(rsa, {}, { notBefore: Math.floor(Date.now() / 1000) + 120 })],
    ['from an issuer nobody trusts', () => token(rsa, {}, { issuer: 'https://evil.example.test' })],
    ['signed by a key the issuer does not publish', async () => token({ ...(await newKey('rsa-1', 'RS256')) })],
    ['unsigned (alg: none)', async () => new UnsecuredJWT({ roles: ['partner-admin'] }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('x').setExpirationTime('5m').encode()],
    [
      'HS256 with the public key as secret (algorithm confusion)',
      () =>
        new SignJWT({ roles: ['partner-admin'] })
          .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject('x')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(JSON.stringify(rsa.jwk))),
    ],
    ['with a tampered payload', async () => {
      const [header, , signature] = (await token(rsa)).split('.');
      const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', roles: ['partner-admin'], exp: 9999999999 })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    }],
  ])('are refused %s with 401', async (_name, make) => {
    const { status, body } = await asExternal(await make());
    expect(status).toBe(401);
    expect(codeOf(body)).toBe('UNAUTHENTICATED');
  });
});

describe('key rotation', () => {
  it('refetches the JWKS once for a new kid, and at most once per cooldown for unknown ones', async () => {
    // Made-up kids, prepared up front so the flood below lands well inside the cooldown.
    const forged = await Promise.all(Array.from({ length: 20 }, async (_, i) => token(await newKey(`bogus-${i}`, 'EdDSA'))));
    await pastCooldown();
    const before = jwks.fetches;
    const rotated = await newKey('rsa-2', 'RS256');
    jwks.published = [rsa, ed, rotated];
    expect((await asExternal(await token(rotated))).body.data.viewer.kind).toBe('EXTERNAL');
    expect(jwks.fetches).toBe(before + 1);

    // A flood of made-up kids within the cooldown: refused, and the provider is not hammered.
    const answers = await Promise.all(forged.map(async (jwt) => (await asExternal(jwt)).status));
    expect(new Set(answers)).toEqual(new Set([401]));
    expect(jwks.fetches).toBe(before + 1);
  });
});

describe('registration', () => {
  const input = (change: Record<string, unknown>) => ({ name: 'P', issuer: `https://issuer-${Math.random()}.example.test`, audience: 'a', ...change });

  it('accepts an inline key set, refusing private keys and ambiguous sources', async () => {
    const key = await newKey('inline-1', 'EdDSA');
    const inline = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input({ issuer: 'https://inline.example.test', jwks: { keys: [key.jwk] } }) } });
    expect(inline.body.data.registerIdentityProvider).toMatchObject({ issuer: 'https://inline.example.test', defaultRole: 'VIEWER' });
    const jwt = await token(key, {}, { issuer: 'https://inline.example.test', audience: 'a' });
    expect((await asExternal(jwt)).body.data.viewer).toMatchObject({ kind: 'EXTERNAL', role: 'VIEWER' });

    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    for (const bad of [{ jwks: { keys: [await exportJWK(privateKey)] } }, { jwks: { keys: [key.jwk] }, jwksUrl: jwks.url }, {}, { jwksUrl: 'ftp://x.example/jwks' }]) {
      const { body } = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input(bad) } });
      expect(codeOf(body)).toBe('BAD_USER_INPUT');
    }
    // The audit's form for another tenant's external caller (tenant:<id>/issuer#subject) is no issuer's.
    const qualified = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input({ issuer: 'tenant:0b4c3a2e-0000-4000-8000-000000000000/https://idp.example', jwks: { keys: [key.jwk] } }) } });
    expect(qualified.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'issuer' });
    // A symmetric key is a secret, never a public key (an attacker review: it was stored, and
    // shown to every reader of the tenant's providers), alone or beside a public one.
    const secret = { kty: 'oct', kid: 'shared', k: 'c2VjcmV0LXNoYXJlZC13aXRoLWV2ZXJ5LWFkbWlu' };
    for (const keys of [[secret], [key.jwk, secret]]) {
      const { body } = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input({ jwks: { keys } }) } });
      expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOT_PUBLIC_KEY', field: 'jwks' });
      expect(JSON.stringify(body)).not.toContain(secret.k);
    }
  });

  it('accepts public members only: an RSA private key without `d` is refused, not stored', async () => {
    // Its primes and CRT values rebuild the private key; only `d` was checked until 2026-12-07.
    const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
    const { d: _d, ...withoutD } = rsa;
    const issuer = `https://rsa-${Math.random()}.example.test`;
    for (const key of [withoutD, { kty: rsa.kty, n: rsa.n, e: rsa.e, qi: rsa.qi }]) {
      const { body } = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input({ issuer, jwks: { keys: [key] } }) } });
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOT_PUBLIC_KEY', field: 'jwks' });
    }
    const { body } = await server.graphql('{ viewer { tenant { identityProviders(first: 100) { edges { node { issuer jwks } } } } } }', { token: owner.accessToken });
    const stored = JSON.stringify(body.data.viewer.tenant.identityProviders);
    expect(stored).not.toContain(issuer);
    expect(stored).not.toContain(rsa.p!);
    // A public key with other public members is accepted (they are dropped: inline-key-sets.test.ts).
    const key = await newKey('with-all-public-members', 'RS256');
    const full = { ...key.jwk, key_ops: ['verify'], x5t: 'dGh1bWI', 'x5t#S256': 'dGh1bWI', x5u: 'https://partner.example.test/cert.pem' };
    const accepted = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input({ issuer, jwks: { keys: [full] } }) } });
    expect(accepted.body.data?.registerIdentityProvider).toMatchObject({ issuer });
  });

  it('keeps only the public members of key sets stored before that rule (the migration)', async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const publicKey = { ...(await exportJWK(pair.publicKey)), kid: 'stored-before', alg: 'RS256', use: 'sig' };
    const { d: _d, ...primes } = await exportJWK(pair.privateKey);
    const issuer = `https://stored-before-${Math.random()}.example.test`;
    const registered = await server.graphql(REGISTER, { token: owner.accessToken, variables: { input: input({ issuer, jwks: { keys: [publicKey] } }) } });
    expect(registered.body.errors).toBeUndefined();
    // As it could be stored until 2026-12-07: the primes and CRT values beside the public key.
    await asOwner(server, (client) => client.query(`update identity_providers set jwks = $2 where issuer = $1`, [issuer, JSON.stringify({ keys: [{ ...primes, ...publicKey }] })]));
    await runMigrationAgain(server, 'Migration20261207150000_identity_provider_public_members');
    const [row] = await asOwner(server, async (client) => (await client.query('select jwks from identity_providers where issuer = $1', [issuer])).rows);
    expect(row.jwks).toEqual({ keys: [publicKey] });
  });

  it('is for ADMINs and above, and never maps to OWNER', async () => {
    const { addMember } = await import('../support/identity.js');
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    expect(codeOf((await server.graphql(REGISTER, { token: member.accessToken, variables: { input: input({ jwksUrl: jwks.url }) } })).body)).toBe('FORBIDDEN');
    const admin = await addMember(server, owner.accessToken, 'ADMIN');
    const toOwner = await server.graphql(REGISTER, { token: admin.accessToken, variables: { input: input({ jwksUrl: jwks.url, roleMapping: { boss: 'OWNER' } }) } });
    expect(codeOf(toOwner.body)).toBe('FORBIDDEN');
  });

  it('is removed only by its own tenant, and its tokens stop working there', async () => {
    const other = await signUp(server, { tenantName: 'Removes Its Own' });
    const issuer = 'https://removable.example.test';
    const key = await newKey('removable-1', 'EdDSA');
    const registered = await server.graphql(REGISTER, { token: other.accessToken, variables: { input: input({ issuer, jwks: { keys: [key.jwk] } }) } });
    const providerId = registered.body.data.registerIdentityProvider.id;
    const jwt = await token(key, {}, { issuer, audience: 'a' });
    expect((await asExternal(jwt)).body.data.viewer.tenant.slug).toBe(other.tenant.slug);
    const REMOVE = 'mutation($id: ID!) { removeIdentityProvider(id: $id) { issuer } }';
    expect(codeOf((await server.graphql(REMOVE, { token: owner.accessToken, variables: { id: providerId } })).body)).toBe('NOT_FOUND');
    expect((await server.graphql(REMOVE, { token: other.accessToken, variables: { id: providerId } })).body.data.removeIdentityProvider.issuer).toBe(issuer);
    expect((await asExternal(jwt)).status).toBe(401);
  });
});

describe('refusals tell nothing of who trusts an issuer', () => {
  it('answers a token of an untrusted issuer, or naming a tenant that does not trust it, as one with a bad signature', async () => {
    const stranger = await signUp(server, { tenantName: 'Trusts Nobody' });
    const forged = await token(await newKey('forger-1', 'EdDSA'));
    const refusals = await Promise.all([
      asExternal(forged),
      asExternal(forged, { 'x-sluice-tenant': owner.tenant.slug }),
      asExternal(forged, { 'x-sluice-tenant': stranger.tenant.slug }),
      asExternal(await token(rsa, {}, { issuer: 'https://nobody-trusts.example.test' })),
    ]);
    // Before: the first two answered "Invalid external token", the last two "Token issuer is not
    // trusted by any tenant": so the partner's issuer was trusted by the owner's tenant and not
    // by the stranger's, and nobody trusted the fourth.
    expect(refusals.map(({ status, body }) => ({ status, message: body.errors?.[0]?.message }))).toEqual(
      Array.from({ length: 4 }, () => ({ status: 401, message: 'Invalid external token' })),
    );
  });
});

describe('issuer claims: an issuer and audience belong to the first tenant that registers them', () => {
  const REMOVE = 'mutation($id: ID!) { removeIdentityProvider(id: $id) { issuer } }';

  it('refuses a second tenant registering them (CONFLICT), whatever keys it gives; the first tenant\'s sign-ins keep working', async () => {
    const squatter = await signUp(server, { tenantName: 'Squatter' });
    const ownKeys = await newKey('squatter-1', 'EdDSA');
    for (const source of [{ jwksUrl: jwks.url }, { jwks: { keys: [ownKeys.jwk] } }]) {
      const { body } = await server.graphql(REGISTER, { token: squatter.accessToken, variables: { input: { name: 'Partner', issuer: ISSUER, audience: AUDIENCE, ...source } } });
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'audience', reason: 'ISSUER_CLAIMED' });
    }
    const jwt = await token(rsa);
    expect((await asExternal(jwt)).body.data.viewer).toMatchObject({ kind: 'EXTERNAL', role: 'ADMIN', tenant: { slug: owner.tenant.slug } });
    // Naming the squatter's tenant gets the token nowhere: it trusts nothing of this issuer.
    const named = await asExternal(jwt, { 'x-sluice-tenant': squatter.tenant.slug });
    expect([named.status, codeOf(named.body)]).toEqual([401, 'UNAUTHENTICATED']);
    // Tokens the squatter mints with its own keys act nowhere either.
    const forged = await token(ownKeys, {}, { issuer: ISSUER, audience: AUDIENCE });
    expect((await asExternal(forged, { 'x-sluice-tenant': squatter.tenant.slug })).status).toBe(401);
  });

  it('lets tenants trust one issuer under different audiences: a token acts where its audience is claimed', async () => {
    const issuer = 'https://shared-issuer.example.test';
    const key = await newKey('shared-1', 'EdDSA');
    const [first, second] = await Promise.all([signUp(server, { tenantName: 'First' }), signUp(server, { tenantName: 'Second' })]);
    const registerAs = (who: SignedUp, audience: string) =>
      server.graphql(REGISTER, { token: who.accessToken, variables: { input: { name: 'Shared', issuer, audience, jwks: { keys: [key.jwk] } } } });
    const firstProvider = (await registerAs(first, 'first-app')).body.data.registerIdentityProvider;
    expect((await registerAs(second, 'second-app')).body.errors).toBeUndefined();
    expect(codeOf((await registerAs(second, 'first-app')).body)).toBe('CONFLICT');

    const forFirst = await token(key, {}, { issuer, audience: 'first-app' });
    expect((await asExternal(forFirst)).body.data.viewer.tenant.slug).toBe(first.tenant.slug);
    expect((await asExternal(forFirst, { 'x-sluice-tenant': second.tenant.slug })).status).toBe(401);
    expect((await asExternal(await token(key, {}, { issuer, audience: 'second-app' }))).body.data.viewer.tenant.slug).toBe(second.tenant.slug);
    // Issued for both: each tenant claimed one of its audiences, so the caller must pick.
    const forBoth = await token(key, {}, { issuer, audience: ['first-app', 'second-app'] });
    expect((await asExternal(forBoth)).body.errors[0].extensions.reason).toBe('ambiguous-tenant');
    expect((await asExternal(forBoth, { 'x-sluice-tenant': second.tenant.slug })).body.data.viewer.tenant.slug).toBe(second.tenant.slug);

    // Once the first tenant gives its claim up, another may make it.
    await server.graphql(REMOVE, { token: first.accessToken, variables: { id: firstProvider.id } });
    expect((await registerAs(second, 'first-app')).body.errors?.[0]?.extensions.code).toBe('CONFLICT'); // second already trusts this issuer
    const third = await signUp(server, { tenantName: 'Third' });
    expect((await registerAs(third, 'first-app')).body.errors).toBeUndefined();
    expect((await asExternal(forFirst)).body.data.viewer.tenant.slug).toBe(third.tenant.slug);
  });

  it('lets exactly one of two tenants racing for the same issuer and audience claim them', async () => {
    const issuer = 'https://raced.example.test';
    const key = await newKey('raced-1', 'EdDSA');
    const racers = await Promise.all([signUp(server, { tenantName: 'Racer A' }), signUp(server, { tenantName: 'Racer B' })]);
    const answers = await Promise.all(
      racers.map((racer) => server.graphql(REGISTER, { token: racer.accessToken, variables: { input: { name: 'Raced', issuer, audience: 'raced', jwks: { keys: [key.jwk] } } } })),
    );
    const won = answers.findIndex((answer) => answer.body.data?.registerIdentityProvider);
    expect(answers.map((answer) => answer.body.errors?.[0]?.extensions?.code ?? 'OK').sort()).toEqual(['CONFLICT', 'OK']);
    const jwt = await token(key, {}, { issuer, audience: 'raced' });
    expect((await asExternal(jwt)).body.data.viewer.tenant.slug).toBe(racers[won]!.tenant.slug);
  });

  it('keeps a duplicate written before the rule (or by a lost race) inert: the token acts only in the first tenant', async () => {
    const late = await signUp(server, { tenantName: 'Late Duplicate' });
    const client = new pg.Client({ connectionString: server.database.ownerUrl });
    await client.connect();
    try {
      await client.query(
        `insert into identity_providers (id, tenant_id, name, issuer, audience, jwks_url, email_claim, role_mapping, default_role, created_at)
         select gen_random_uuid(), id, 'Partner', $2, $3, $4, 'email', '{}', 'ADMIN', now() from tenants where slug = $1`,
        [late.tenant.slug, ISSUER, AUDIENCE, jwks.url],
      );
    } finally {
      await client.end();
    }
    const jwt = await token(rsa);
    expect((await asExternal(jwt)).body.data.viewer.tenant.slug).toBe(owner.tenant.slug);
    expect((await asExternal(jwt, { 'x-sluice-tenant': late.tenant.slug })).status).toBe(401);
  });
});
