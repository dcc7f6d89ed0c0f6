/**
 * An identity provider's inline key set as published (inline-key-set.ts): members beside a
 * public key's (WebCrypto's `ext`, certificates, Microsoft Entra's `issuer`,
 * `cloud_instance_name`) are dropped, not refused, and what is stored and shown is only what
 * verifies tokens; a key holding a private member is still refused, its members named and never
 * quoted; key sets stored before (Migration20261207160000_identity_provider_verification_members)
 * lose the same members.
 */
import { webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { externalToken, newKey, type SigningKey } from '../support/identity-provider.js';
import { codeOf, signUp, type SignedUp } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { runMigrationAgain } from '../support/migrations.js';
import { startTestServer, type TestServer } from '../support/server.js';

const REGISTER = `mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id issuer jwks } }`;
const PROVIDERS = '{ viewer { tenant { identityProviders(first: 100) { edges { node { issuer jwks } } } } } }';
/** A certificate chain as Entra publishes one (base64 DER); its content verifies nothing here. */
const X5C = ['MIIC/TCCAeWgAwIBAgIIUd7j/OIahkYwDQYJKoZIhvcNAQELBQAwLTErMCkGA1UEAxMiYWNjb3VudHMuYWNjZXNzY29udHJvbC53aW5kb3dzLm5ldA=='];

let server: TestServer;
let owner: SignedUp;
beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server, { tenantName: 'Publishes Keys' });
});
afterAll(async () => {
  await server?.close();
});

const newIssuer = (name: string) => `https://${name}-${Math.random().toString(36).slice(2)}.example.test`;
const register = (issuer: string, jwks: unknown) => server.graphql(REGISTER, { token: owner.accessToken, variables: { input: { name: 'Published', issuer, audience: 'a', jwks } } });
const storedJwks = async (issuer: string) =>
  (await asOwner(server, async (client) => (await client.query('select jwks from identity_providers where issuer = $1', [issuer])).rows))[0]?.jwks;
const shownJwks = async (issuer: string) => {
  const { body } = await server.graphql(PROVIDERS, { token: owner.accessToken });
  return body.data.viewer.tenant.identityProviders.edges.find((edge: { node: { issuer: string } }) => edge.node.issuer === issuer)?.node.jwks;
};

/** An RSA signing key as Microsoft Entra ID publishes it, and the members that verify with it. */
function entraKey(key: SigningKey, tenant: string) {
  const { kty, n, e, kid, use } = key.jwk;
  return {
    published: { kty, use, kid, x5t: 'U0ltcGxlVGh1bWJwcmludA', n, e, x5c: X5C, cloud_instance_name: 'microsoftonline.com', issuer: `https://login.microsoftonline.com/${tenant}/v2.0` },
    kept: { kty, use, kid, n, e },
  };
}

it('accepts a key set as Entra and WebCrypto publish it, storing and showing only what verifies, and its tokens verify', async () => {
  const issuer = newIssuer('entra');
  const rsa = await newKey('entra-1', 'RS256');
  const entra = entraKey(rsa, '9188040d-6c67-4c5b-b112-36a304b66dad');
  // WebCrypto's own export of a public key carries `ext` and `key_ops`.
  const ec = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const exported = { ...(await webcrypto.subtle.exportKey('jwk', ec.publicKey)), kid: 'webcrypto-1' };
  expect(exported).toMatchObject({ ext: true, key_ops: ['verify'] });
  const { ext: _ext, ...ecKept } = exported;

  const { body } = await register(issuer, { keys: [entra.published, exported], issuer: 'https://login.microsoftonline.com/common/v2.0' });
  expect(body.errors).toBeUndefined();
  const expected = { keys: [entra.kept, ecKept] };
  expect(body.data.registerIdentityProvider.jwks).toEqual(expected);
  expect(await shownJwks(issuer)).toEqual(expected);
  expect(await storedJwks(issuer)).toEqual(expected);

  const jwt = await externalToken(rsa, { email: 'someone@example.test' }, { issuer, audience: 'a' });
  const { body: viewer } = await server.graphql('{ viewer { kind tenant { slug } } }', { token: jwt });
  expect(viewer.data.viewer).toEqual({ kind: 'EXTERNAL', tenant: { slug: owner.tenant.slug } });
});

it('refuses a key holding private members, naming them and quoting none, beside extras or not; nothing is stored', async () => {
  const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
  const ed = await exportJWK((await generateKeyPair('EdDSA', { extractable: true })).privateKey);
  const entra = entraKey(await newKey('entra-private', 'RS256'), 'common');
  const cases = [
    { keys: [{ ...ed, kid: 'ed' }], members: ['d'] },
    { keys: [entra.published, { ...entra.published, ...rsa, kid: 'rsa' }], members: ['d', 'p', 'q', 'dp', 'dq', 'qi'] },
    { keys: [{ kty: 'RSA', n: rsa.n, e: rsa.e, qi: rsa.qi, ext: true }], members: ['qi'] },
  ];
  for (const { keys, members } of cases) {
    const issuer = newIssuer('private');
    const { body } = await register(issuer, { keys });
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOT_PUBLIC_KEY', field: 'jwks' });
    expect([...body.errors[0].extensions.members].sort()).toEqual([...members].sort());
    for (const secret of [ed.d, rsa.d, rsa.p, rsa.qi]) expect(JSON.stringify(body)).not.toContain(secret);
    expect(await storedJwks(issuer)).toBeUndefined();
  }
});

it('refuses a verifying member that holds anything but text (a list of text for key_ops)', async () => {
  const { n, e } = (await newKey('typed', 'RS256')).jwk;
  for (const key of [{ kty: 'RSA', n: { value: n }, e }, { kty: 'RSA', n, e, kid: 7 }, { kty: 'RSA', n, e, key_ops: 'verify' }]) {
    const { body } = await register(newIssuer('typed'), { keys: [key] });
    expect(codeOf(body)).toBe('BAD_USER_INPUT');
    expect(body.errors[0].extensions.field).toBe('jwks');
  }
});

it('drops from key sets stored before the rule what does not verify (the migration)', async () => {
  const issuer = newIssuer('stored-before');
  const entra = entraKey(await newKey('stored-before', 'RS256'), 'common');
  expect((await register(issuer, { keys: [entra.kept] })).body.errors).toBeUndefined();
  // As the 2026-12-07 rule stored it: certificates beside the key, and (older) members beside `keys`.
  const { x5t, x5c } = entra.published;
  await asOwner(server, (client) =>
    client.query('update identity_providers set jwks = $2 where issuer = $1', [issuer, JSON.stringify({ keys: [{ ...entra.kept, x5t, x5c, 'x5t#S256': x5t, x5u: 'https://example.test/c.pem' }], note: 'kept' })]),
  );
  await runMigrationAgain(server, 'Migration20261207160000_identity_provider_verification_members');
  expect(await storedJwks(issuer)).toEqual({ keys: [entra.kept] });
  expect(await shownJwks(issuer)).toEqual({ keys: [entra.kept] });
});
