/** `sluice keys create`: the operator CLI mints a working key, printed alone on stdout. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { execSluice, sluiceEnv } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let tenant: SeededTenant;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await seedTenant(server.database.ownerUrl);
});
afterAll(() => server?.close());

function sluice(...args: string[]) {
  return execSluice(args, sluiceEnv(server.database, { LOG_LEVEL: 'info' }));
}

// Each command is a child process that migrates and opens the database: slow on a busy machine.
const CHILD_PROCESS_TIMEOUT = { timeout: 300_000 };

it('creates a key that authenticates with its scopes, printing only the key on stdout', CHILD_PROCESS_TIMEOUT, async () => {
  const { stdout, stderr } = await sluice('keys', 'create', '--tenant', tenant.slug, '--name', 'deploy', '--scopes', 'read,write', '--expires-in-days', '30');
  const secret = stdout.trim();
  expect(secret).toMatch(/^slk_[A-Za-z0-9_-]{43}$/);
  expect(stderr).toContain('created API key');
  expect(stderr).not.toContain(secret);
  const { body } = await server.graphql('{ viewer { kind role scopes apiKey { name expiresAt } tenant { slug } } }', { headers: { 'x-api-key': secret } });
  expect(body.data.viewer).toMatchObject({ kind: 'API_KEY', role: 'MEMBER', scopes: ['READ', 'WRITE'], tenant: { slug: tenant.slug } });
  const days = (Date.parse(body.data.viewer.apiKey.expiresAt) - Date.now()) / 86_400_000;
  expect(Math.round(days)).toBe(30);
});

it('refuses unknown tenants and scopes with exit code 2 and a message', CHILD_PROCESS_TIMEOUT, async () => {
  await expect(sluice('keys', 'create', '--tenant', 'no-such-tenant', '--name', 'x', '--scopes', 'read')).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining('Tenant "no-such-tenant" not found'),
  });
  await expect(sluice('keys', 'create', '--tenant', tenant.slug, '--name', 'x', '--scopes', 'read,root')).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining('unknown: root'),
  });
  await expect(sluice('keys', 'create', '--tenant', tenant.slug)).rejects.toMatchObject({ code: 2 });
});
