/**
 * A tenant with a credential of every kind, for the isolation sweeps: users of every role,
 * API keys of every scope, an external identity (a JWT from the tenant's own identity
 * provider), and an open invitation.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { addMember, createApiKey, signUp } from './identity.js';
import type { TestServer } from './server.js';

export interface Credential {
  name: string;
  headers: Record<string, string>;
}

/** A tenant with a user of every role, a key of every scope, an identity provider and an open invitation. */
export async function populatedTenant(server: TestServer, label: string) {
  const owner = await signUp(server, { tenantName: `${label} Sweep Co` });
  const credentials: Credential[] = [{ name: `${label}:OWNER`, headers: { authorization: `Bearer ${owner.accessToken}` } }];
  for (const role of ['ADMIN', 'MEMBER', 'VIEWER']) {
    const member = await addMember(server, owner.accessToken, role);
    credentials.push({ name: `${label}:${role}`, headers: { authorization: `Bearer ${member.accessToken}` } });
  }
  for (const scope of ['READ', 'WRITE', 'ADMIN']) {
    const { body } = await createApiKey(server, owner.accessToken, { name: `${label}-${scope}`, scopes: [scope] });
    credentials.push({ name: `${label}:key-${scope}`, headers: { 'x-api-key': body.data.createApiKey.secret } });
  }
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const issuer = `https://idp.${label.toLowerCase()}.example.test`;
  await server.graphql(
    `mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id } }`,
    { token: owner.accessToken, variables: { input: { name: `${label} IdP`, issuer, audience: 'sluice', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }, roleClaim: 'role', roleMapping: { admin: 'ADMIN' } } } },
  );
  const external = await new SignJWT({ role: 'admin', email: `partner@${label.toLowerCase()}.example.test` })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .setIssuer(issuer)
    .setAudience('sluice')
    .setSubject(`${label}-partner`)
    .setExpirationTime('1h')
    .sign(privateKey);
  credentials.push({ name: `${label}:external`, headers: { authorization: `Bearer ${external}` } });
  await server.graphql('mutation { inviteMember(email: "pending@invitee.example.test", role: VIEWER) { token } }', { token: owner.accessToken });
  return { owner, credentials, issuer };
}

export type PopulatedTenant = Awaited<ReturnType<typeof populatedTenant>>;
