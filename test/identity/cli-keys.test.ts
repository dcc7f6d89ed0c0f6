/** `sluice keys create`: the operator CLI mints a working key, printed alone on stdout. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asOwner } from '../support/locks.js';
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

it('refuses an empty --expires-in-days with exit code 2, rather than the default lifetime', CHILD_PROCESS_TIMEOUT, async () => {
  // `--expires-in-days=` (a variable that expanded to nothing) was taken as not given: a key of the tenant's default lifetime.
  for (const given of [['--expires-in-days='], ['--expires-in-days', '']]) {
    await expect(sluice('keys', 'create', '--tenant', tenant.slug, '--name', 'empty-expiry', '--scopes', 'read', ...given)).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('--expires-in-days must be a positive whole number'),
    });
  }
  const { rows } = await asOwner(server, (client) => client.query("select count(*)::int as n from api_keys where name = 'empty-expiry'"));
  expect(rows).toEqual([{ n: 0 }]);
});
