/**
 * `viewer.permissions`: what the caller may do now in its tenant, computed by the server's one
 * rule table (domains/access/permissions.ts), so clients (the console, the CLI) ask it instead
 * of repeating the rules. A person holds their role's permissions; an API key those its scopes
 * allow (a key with `admin` alone is not a reader: `tenant:read` needs `read`); an anonymous
 * caller none. The enum `Permission` is made from the table: one value per rule, its doc as
 * the description. Real HTTP against the real server and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../src/domains/access/permissions.js';
import { addMember, createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  owner = await signUp(server, { tenantName: 'Permission Wharf' });
});
afterAll(() => server?.close());

const PERMISSIONS_QUERY = '{ viewer { kind permissions } }';

async function permissionsAs(credential: { token?: string; headers?: Record<string, string> }) {
  const { body } = await server.graphql(PERMISSIONS_QUERY, credential);
  expect(body.errors).toBeUndefined();
  return body.data.viewer;
}

async function keySecret(scopes: string[]): Promise<string> {
  const { body } = await createApiKey(server, owner.accessToken, { name: `key-${scopes.join('-').toLowerCase()}`, scopes });
  return body.data.createApiKey.secret;
}

describe('viewer.permissions', () => {
  it('lists every permission for an OWNER', async () => {
    expect(await permissionsAs({ token: owner.accessToken })).toEqual({
      kind: 'USER',
      permissions: [
        'TENANT_READ',
        'CONFIG_READ',
        'MEMBER_EMAIL_READ',
        'DATA_WRITE',
        'ENDPOINT_QUERY',
        'ENDPOINT_MANAGE',
        'MODEL_MANAGE',
        'POLICY_MANAGE',
        'USAGE_READ',
        'AUDIT_READ',
        'API_KEY_MANAGE',
        'MEMBER_MANAGE',
        'IDENTITY_PROVIDER_MANAGE',
        'OWNER_MANAGE',
        'TENANT_MANAGE',
      ],
    });
  });

  it("lists a VIEWER's: reading, colleagues' emails, asking endpoints", async () => {
    const viewer = await addMember(server, owner.accessToken, 'VIEWER');
    expect(await permissionsAs({ token: viewer.accessToken })).toEqual({ kind: 'USER', permissions: ['TENANT_READ', 'MEMBER_EMAIL_READ', 'ENDPOINT_QUERY'] });
  });

  it("lists a read key's: no colleagues' emails (a program needs admin for them)", async () => {
    const secret = await keySecret(['READ']);
    expect(await permissionsAs({ headers: { 'x-api-key': secret } })).toEqual({ kind: 'API_KEY', permissions: ['TENANT_READ', 'ENDPOINT_QUERY'] });
  });

  it("lists an admin key's: ADMIN's managing, without the read and write scopes' permissions nor an owner's", async () => {
    const secret = await keySecret(['ADMIN']);
    expect(await permissionsAs({ headers: { 'x-api-key': secret } })).toEqual({
      kind: 'API_KEY',
      permissions: ['CONFIG_READ', 'MEMBER_EMAIL_READ', 'ENDPOINT_MANAGE', 'MODEL_MANAGE', 'POLICY_MANAGE', 'USAGE_READ', 'AUDIT_READ', 'API_KEY_MANAGE', 'MEMBER_MANAGE', 'IDENTITY_PROVIDER_MANAGE'],
    });
  });

  it('lists none for an anonymous caller', async () => {
    expect(await permissionsAs({})).toEqual({ kind: 'ANONYMOUS', permissions: [] });
  });

  it('names each rule of the table in the enum Permission, described by its doc', async () => {
    const { body } = await server.graphql('{ __type(name: "Permission") { enumValues { name description } } }', { token: owner.accessToken });
    const described = Object.fromEntries(body.data.__type.enumValues.map((value: { name: string; description: string }) => [value.name, value.description]));
    expect(described).toEqual({
      TENANT_READ: PERMISSIONS['tenant:read'].doc,
      CONFIG_READ: PERMISSIONS['config:read'].doc,
      MEMBER_EMAIL_READ: PERMISSIONS['memberEmail:read'].doc,
      DATA_WRITE: PERMISSIONS['data:write'].doc,
      ENDPOINT_QUERY: PERMISSIONS['endpoint:query'].doc,
      ENDPOINT_MANAGE: PERMISSIONS['endpoint:manage'].doc,
      MODEL_MANAGE: PERMISSIONS['model:manage'].doc,
      POLICY_MANAGE: PERMISSIONS['policy:manage'].doc,
      USAGE_READ: PERMISSIONS['usage:read'].doc,
      AUDIT_READ: PERMISSIONS['audit:read'].doc,
      API_KEY_MANAGE: PERMISSIONS['apiKey:manage'].doc,
      MEMBER_MANAGE: PERMISSIONS['member:manage'].doc,
      IDENTITY_PROVIDER_MANAGE: PERMISSIONS['identityProvider:manage'].doc,
      OWNER_MANAGE: PERMISSIONS['owner:manage'].doc,
      TENANT_MANAGE: PERMISSIONS['tenant:manage'].doc,
    });
    expect(Object.keys(described)).toHaveLength(Object.keys(PERMISSIONS).length);
  });
});
