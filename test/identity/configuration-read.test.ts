/**
 * Least privilege for configuration (`config:read`) and colleagues' emails (`memberEmail:read`):
 * a VIEWER or a read-only API key could read the IP allow-list, models' base URLs, system
 * prompts and key endings, policies' patterns, and every member's email. Each credential of one
 * tenant asks for all of them; only ADMIN and above (an API key: the admin scope) read the
 * configuration, only people and admin keys read emails; the others get FORBIDDEN on exactly
 * those fields and still see that the things exist.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createModel, endpointOver, must } from '../support/endpoints.js';
import { createPolicy } from '../support/policies.js';
import { createApiKey } from '../support/identity.js';
import { populatedTenant, type Credential, type PopulatedTenant } from '../support/populated-tenant.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let tenant: PopulatedTenant;
/** The tenant's people (every role, an external identity) and keys that read: read only, read and write, read and admin. */
let credentials: Credential[];

const ALLOW_LIST = ['0.0.0.0/0', '::/0'];
const BASE_URL = 'http://models.internal.example.test/v1';
const PATTERN = '*@secret-partner-a.example';

const QUERY = `{
  viewer { tenant { name ipAllowList rateLimitPerSecond auditStoreEmails members { edges { node { role user { id email } } } } } }
  models { edges { node { name type config apiKeySet apiKeyLast4 } } }
  endpoints { edges { node { slug policies { type enabled configuration } } } }
}`;

/** Who may read what: [configuration, emails]. */
const EXPECTED: Record<string, [boolean, boolean]> = {
  OWNER: [true, true],
  ADMIN: [true, true],
  MEMBER: [false, true],
  VIEWER: [false, true],
  'key-READ': [false, false],
  'key-READ-WRITE': [false, false],
  'key-READ-ADMIN': [true, true],
  // The populated tenant's identity provider maps this token to ADMIN.
  external: [true, true],
};

beforeAll(async () => {
  server = await startTestServer();
  tenant = await populatedTenant(server, 'Configured');
  const token = tenant.owner.accessToken;
  await must(server, token, 'mutation($l: [String!]) { updateTenantSettings(input: { ipAllowList: $l }) { id } }', { l: ALLOW_LIST });
  await createModel(server, token, { name: 'internal-chat', type: 'openai-compatible', config: { baseUrl: BASE_URL, model: 'small', systemPrompt: 'Be terse.' }, apiKey: 'sk-provider-7788' });
  const { endpointId } = await endpointOver(server, token, [{ title: 'Lock', text: 'The lock keeper opens the gate.' }]);
  await createPolicy(server, token, endpointId, 'access', { mode: 'allow', patterns: [PATTERN] });
  // The populated tenant's keys hold one scope each; these read, as a program that lists would.
  credentials = tenant.credentials.filter((credential) => !credential.name.includes(':key-'));
  for (const scopes of [['READ'], ['READ', 'WRITE'], ['READ', 'ADMIN']]) {
    const { body } = await createApiKey(server, token, { name: `key-${scopes.join('-')}`, scopes });
    credentials.push({ name: `Configured:key-${scopes.join('-')}`, headers: { 'x-api-key': body.data.createApiKey.secret } });
  }
}, 120_000);
afterAll(() => server?.close());

it('only ADMIN and admin keys read configuration; only people and admin keys read colleagues’ emails', async () => {
  const seen: Record<string, unknown> = {};
  for (const credential of credentials) {
    const role = credential.name.slice('Configured:'.length);
    const { body } = await server.graphql(QUERY, { headers: credential.headers });
    const model = body.data.models.edges.find((edge: any) => edge.node.name === 'internal-chat').node;
    const policy = body.data.endpoints.edges.flatMap((edge: any) => edge.node.policies).find((found: any) => found.type === 'access');
    const forbidden = (body.errors ?? []).map((error: any) => `${error.extensions?.code} ${error.path.filter((part: unknown) => typeof part === 'string').join('.')}`);
    seen[role] = {
      // What every credential of the tenant sees: that the things exist.
      exists: { tenant: body.data.viewer.tenant.name, model: [model.type, model.apiKeySet], policy: [policy.type, policy.enabled], members: body.data.viewer.tenant.members.edges.length },
      config: { ipAllowList: body.data.viewer.tenant.ipAllowList, baseUrl: model.config?.baseUrl ?? null, apiKeyLast4: model.apiKeyLast4, patterns: policy.configuration?.patterns ?? null },
      emails: body.data.viewer.tenant.members.edges.map((edge: any) => edge.node.user.email).filter(Boolean).length,
      forbidden: [...new Set(forbidden)].sort(),
    };
  }
  const members = 4; // the owner, and an ADMIN, a MEMBER and a VIEWER
  const expected = Object.fromEntries(
    Object.entries(EXPECTED).map(([role, [config, emails]]) => [
      role,
      {
        exists: { tenant: 'Configured Sweep Co', model: ['openai-compatible', true], policy: ['access', true], members },
        config: config ? { ipAllowList: ALLOW_LIST, baseUrl: BASE_URL, apiKeyLast4: '7788', patterns: [PATTERN] } : { ipAllowList: null, baseUrl: null, apiKeyLast4: null, patterns: null },
        emails: emails ? members : 0,
        forbidden: [
          ...(config ? [] : ['FORBIDDEN endpoints.edges.node.policies.configuration', 'FORBIDDEN models.edges.node.apiKeyLast4', 'FORBIDDEN models.edges.node.config', 'FORBIDDEN viewer.tenant.ipAllowList']),
          ...(emails ? [] : ['FORBIDDEN viewer.tenant.members.edges.node.user.email']),
        ].sort(),
      },
    ]),
  );
  expect(seen).toEqual(expected);
});

it('everyone reads their own email, whatever their role', async () => {
  const viewer = credentials.find((credential) => credential.name === 'Configured:VIEWER')!;
  const { body } = await server.graphql('{ viewer { email user { email } } }', { headers: viewer.headers });
  expect(body.errors).toBeUndefined();
  expect(body.data.viewer.user.email).toBe(body.data.viewer.email);
  expect(body.data.viewer.email).toMatch(/^viewer-.*@example\.test$/);
});

it('a node loaded by id is guarded the same way: a read key gets FORBIDDEN on a policy’s configuration', async () => {
  const readKey = credentials.find((credential) => credential.name === 'Configured:key-READ')!;
  const admin = credentials.find((credential) => credential.name === 'Configured:key-READ-ADMIN')!;
  const { body: listed } = await server.graphql('{ endpoints { edges { node { policies { id } } } } }', { headers: admin.headers });
  const id = listed.data.endpoints.edges.flatMap((edge: any) => edge.node.policies)[0].id;
  const query = 'query($id: ID!) { node(id: $id) { ... on Policy { type configuration } } }';
  const refused = (await server.graphql(query, { headers: readKey.headers, variables: { id } })).body;
  expect(refused.data.node).toEqual({ type: 'access', configuration: null });
  expect(refused.errors.map((error: any) => [error.extensions.code, error.path])).toEqual([['FORBIDDEN', ['node', 'configuration']]]);
  const allowed = (await server.graphql(query, { headers: admin.headers, variables: { id } })).body;
  expect(allowed).toEqual({ data: { node: { type: 'access', configuration: expect.objectContaining({ mode: 'allow', patterns: [PATTERN] }) } } });
});
