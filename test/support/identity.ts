/** Identity helpers over the real API: sign-up, log-in, API keys, invitations. */
import type { TestServer } from './server.js';
import { randomDigits } from './unique-names.js';
import { databaseIdOf } from './global-ids.js';

export interface SignedUp {
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  tenant: { id: string; slug: string; name: string };
}

const AUTH_FIELDS = 'accessToken refreshToken expiresAt role tenant { id slug name } user { id email }';

/** The tenant's database id, from its global id. */
export const tenantIdOf = (account: { tenant: { id: string } }) => databaseIdOf(account.tenant.id);

let counter = 0;
export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}-${process.pid}-${counter}-${randomDigits(6)}@example.test`;
}

export async function signUp(server: TestServer, options: { email?: string; tenantName?: string; password?: string } = {}): Promise<SignedUp> {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? 'a long enough passphrase';
  const { body } = await server.graphql(`mutation($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`, {
    variables: { input: { email, password, tenantName: options.tenantName ?? 'Test Tenant' } },
  });
  if (body.errors) throw new Error(`signUp failed: ${JSON.stringify(body.errors)}`);
  const payload = body.data.signUp;
  return { email, password, accessToken: payload.accessToken, refreshToken: payload.refreshToken, tenant: payload.tenant };
}

export function logIn(server: TestServer, input: { email: string; password: string; tenant?: string }) {
  return server.graphql(`mutation($input: LogInInput!) { logIn(input: $input) { ${AUTH_FIELDS} } }`, { variables: { input } });
}

export function refresh(server: TestServer, refreshToken: string) {
  return server.graphql(`mutation($t: String!) { refreshSession(refreshToken: $t) { ${AUTH_FIELDS} } }`, { variables: { t: refreshToken } });
}

export async function createApiKey(server: TestServer, token: string, input: Record<string, unknown>) {
  return server.graphql(
    `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id name prefix scopes expiresAt revokedAt } } }`,
    { token, variables: { input } },
  );
}

/**
 * Invites `email` as `role` and accepts: signed out with the password (a new account's, or an
 * existing account's created by signUp here: a sign-in of its own, so the account's other
 * sessions carry on), or with `acceptAs`, the access token of the existing account, whose
 * session moves into the tenant (its tokens are then the ones returned). Returns the session.
 */
export async function addMember(server: TestServer, ownerToken: string, role: string, email = uniqueEmail(role.toLowerCase()), acceptAs?: string) {
  const invited = await server.graphql(`mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) { token } }`, {
    token: ownerToken,
    variables: { email, role },
  });
  if (invited.body.errors) throw new Error(`inviteMember failed: ${JSON.stringify(invited.body.errors)}`);
  const accepted = await server.graphql(`mutation($token: String!, $password: String) { acceptInvitation(token: $token, password: $password) { ${AUTH_FIELDS} } }`, {
    variables: { token: invited.body.data.inviteMember.token, password: acceptAs ? null : 'a long enough passphrase' },
    token: acceptAs,
  });
  if (accepted.body.errors) throw new Error(`acceptInvitation failed: ${JSON.stringify(accepted.body.errors)}`);
  return { email, password: 'a long enough passphrase', ...accepted.body.data.acceptInvitation } as {
    email: string;
    password: string;
    accessToken: string;
    refreshToken: string;
    tenant: { id: string; slug: string };
    user: { id: string };
  };
}

export const codeOf = (body: { errors?: { extensions?: Record<string, any> }[] }) => body.errors?.[0]?.extensions?.code;

/** A fresh READ key of the tenant `ownerToken` owns, and how to revoke it (as that owner). */
export async function revocableKey(server: TestServer, ownerToken: string, name: string) {
  const created = await createApiKey(server, ownerToken, { name, scopes: ['READ'] });
  if (created.body.errors) throw new Error(`createApiKey failed: ${JSON.stringify(created.body.errors)}`);
  const { secret, apiKey } = created.body.data.createApiKey;
  const revoke = async () => {
    const { body } = await server.graphql(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { token: ownerToken, variables: { id: apiKey.id } });
    if (body.errors) throw new Error(`revokeApiKey failed: ${JSON.stringify(body.errors)}`);
  };
  return { secret: secret as string, revoke };
}
