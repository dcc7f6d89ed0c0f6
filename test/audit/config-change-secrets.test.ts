/**
 * A configuration change's event (`config.*`) keeps its before/after by the rules of every other
 * audit event: secret-named members omitted at any depth, every string and key redacted and cut
 * (at a character, never inside one), schema-marked fields by their mark. Until 2026-12-06 they
 * went through a narrower copy of those rules, and a security review read back, over HTTP, a
 * whole `slk_` key and a Bearer value in an endpoint's name, a provider key and a system prompt's
 * credentials in a model's config, and an `access_token` in a JWKS URL, all verbatim, while the
 * `graphql.mutation` event of the same request masked them. Read back as a tenant ADMIN reads
 * them (the auditEvents query, the JSON Lines export) and straight from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, must } from '../support/endpoints.js';
import { createApiKey, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});


/** Everything the trail holds of the tenant, as every reader sees it: the query, the export, the stored rows. */
async function everywhere(token: string, tenantId: string): Promise<string> {
  const events = await auditEventsOf(server, token, 1, { action: '*' });
  const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const rows = await withClient(server.database.ownerUrl, async (client) => (await client.query('select payload, personal from audit_events where tenant_id = $1', [tenantId])).rows);
  return JSON.stringify(events) + (await response.text()) + JSON.stringify(rows);
}

/** The one event of `action` and the operation event of `field`, once both are written. */
async function changeAndOperation(token: string, action: string, field: string) {
  const isOperation = (event: Record<string, any>) => event.details.fields?.[0]?.field === field;
  const events = await auditEventsOf(server, token, 2, { action: '*' }, 10_000, (event) => event.action === action);
  const more = events.some(isOperation) ? events : await auditEventsOf(server, token, 2, { action: 'graphql.mutation' }, 10_000, isOperation);
  return { change: events.find((event) => event.action === action)!, operation: more.find(isOperation)! };
}

describe('configuration change events keep no secret', () => {
  it('masks an API key and a Bearer value in an endpoint’s new name, and keeps the name’s other words', async () => {
    const owner = await signUp(server);
    const setup = await endpointOver(server, owner.accessToken, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }]);
    const apiKey = (await createApiKey(server, owner.accessToken, { name: 'ci', scopes: ['READ'] })).body.data.createApiKey.secret as string;
    expect(apiKey).toMatch(/^slk_/);
    await must(server, owner.accessToken, 'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id } }', {
      id: setup.endpointId,
      input: { name: `harbour ep ${apiKey} Bearer EPSECRETabcdef` },
    });

    const { change, operation } = await changeAndOperation(owner.accessToken, 'config.endpoint.update', 'updateEndpoint');
    expect(change.details.before).toEqual({ name: 'Docs' });
    expect(change.details.after).toEqual({ name: 'harbour ep slk_[redacted] Bearer [redacted]' });
    // Kept as the operation's own event keeps the argument.
    expect(change.details.after.name).toBe(operation.details.fields[0].arguments.input.name);
    const stored = await everywhere(owner.accessToken, databaseIdOf(owner.tenant.id));
    expect(stored).not.toContain(apiKey.slice(4));
    expect(stored).not.toContain('EPSECRETabcdef');
  });

  it('masks a provider key in a model’s config and keeps its system prompt as free text, in the change and the operation alike', async () => {
    const owner = await signUp(server);
    const providerKey = 'sk-proj-PROVIDERKEY0123456789abcdef';
    const systemPrompt = 'Authorization: Bearer PROMPTSECRET77 and api_key=PROMPTSECRET77';
    await must(server, owner.accessToken, 'mutation($x: CreateModelInput!) { createModel(input: $x) { id } }', {
      x: { name: 'harbour chat', type: 'openai-compatible', config: { baseUrl: 'https://models.example.com/v1', model: providerKey, systemPrompt, maxTokens: 512 } },
    });

    const { change, operation } = await changeAndOperation(owner.accessToken, 'config.model.create', 'createModel');
    const prompt = { text: { length: systemPrompt.length, digest: expect.stringMatching(/^[0-9a-f]{64}$/), keyId: expect.any(String) } };
    expect(change.details.after).toMatchObject({
      name: 'harbour chat',
      type: 'openai-compatible',
      config: { baseUrl: 'https://models.example.com/v1', model: 'sk-[redacted]', systemPrompt: prompt, maxTokens: 512 },
      keySet: false,
    });
    expect(operation.details.fields[0].arguments.input.config).toEqual(change.details.after.config);
    const stored = await everywhere(owner.accessToken, databaseIdOf(owner.tenant.id));
    expect(stored).not.toContain('PROVIDERKEY0123456789abcdef');
    expect(stored).not.toContain('PROMPTSECRET77');
  });

  it('masks an access token in a JWKS URL and secrets glued into role-mapping keys, and cuts a long key at a character', async () => {
    const owner = await signUp(server);
    const apiKey = (await createApiKey(server, owner.accessToken, { name: 'ci', scopes: ['READ'] })).body.data.createApiKey.secret as string;
    const longClaim = `${'a'.repeat(127)}😀${'b'.repeat(10)}`;
    await must(server, owner.accessToken, 'mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id } }', {
      input: {
        name: 'Partner IdP',
        issuer: 'https://idp.example.com',
        audience: 'sluice',
        jwksUrl: 'https://idp.example.com/jwks?access_token=JWKSSECRET123456',
        roleClaim: 'groups',
        roleMapping: { 'partner-admin': 'ADMIN', [`team ${apiKey}`]: 'VIEWER', 'group?client_secret=GLUEDSECRET424242': 'VIEWER', longClaim: 'VIEWER', [longClaim]: 'VIEWER' },
      },
    });

    const { change, operation } = await changeAndOperation(owner.accessToken, 'config.identityProvider.register', 'registerIdentityProvider');
    expect(change.details.after).toMatchObject({
      name: 'Partner IdP',
      issuer: 'https://idp.example.com',
      jwksUrl: 'https://idp.example.com/jwks?access_token=[redacted]',
      // The secret glued to the key's last word (`GLUEDSECRET…`) names it a secret's: its value is omitted too.
      roleMapping: { 'partner-admin': 'ADMIN', 'team slk_[redacted]': 'VIEWER', 'group?client_secret=[redacted]': { secret: 'omitted' }, longClaim: 'VIEWER', ['a'.repeat(127)]: 'VIEWER' },
    });
    expect(operation.details.fields[0].arguments.input.roleMapping).toEqual(change.details.after.roleMapping);
    const stored = await everywhere(owner.accessToken, databaseIdOf(owner.tenant.id));
    for (const secret of ['JWKSSECRET123456', apiKey.slice(4), 'GLUEDSECRET424242']) expect(stored).not.toContain(secret);
    // Half an emoji is no text: PostgreSQL would refuse it, or it would be stored as U+FFFD.
    expect(stored).not.toContain('\\ud83d"');
    expect(stored).not.toContain('\uFFFD');
  });

  it('omits the value of a secret-named member at any depth, by the logs’ rule', async () => {
    const owner = await signUp(server);
    // Secret names the narrower rule did not know: `x-api-key`, a bare `key`, `Cookie`; given where a member may be named freely.
    await must(server, owner.accessToken, 'mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id } }', {
      input: {
        name: 'Named IdP',
        issuer: 'https://named.example.com',
        audience: 'sluice',
        jwksUrl: 'https://named.example.com/jwks',
        roleMapping: { 'x-api-key': 'VIEWER', key: 'VIEWER', Cookie: 'VIEWER', AUTHTOKEN: 'VIEWER', readers: 'VIEWER' },
      },
    });
    const { change, operation } = await changeAndOperation(owner.accessToken, 'config.identityProvider.register', 'registerIdentityProvider');
    const omitted = { secret: 'omitted' };
    expect(change.details.after.roleMapping).toEqual({ 'x-api-key': omitted, key: omitted, Cookie: omitted, AUTHTOKEN: omitted, readers: 'VIEWER' });
    expect(operation.details.fields[0].arguments.input.roleMapping).toEqual(change.details.after.roleMapping);
  });
});
