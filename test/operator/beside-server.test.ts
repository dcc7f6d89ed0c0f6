/**
 * Operator commands beside a running `sluice serve` on the same data directory (issue 22,
 * item 3): they share its embedded PostgreSQL instead of refusing "in use", print answers
 * (`--json`: one document), and the embedded PostgreSQL keeps its port across restarts.
 * Also the server's one line per request, which names no secret.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADDRESS_FILE } from '../../src/db/embedded-address.js';
import { developmentEnv, execSluice, serve, spawnSluice, stop, type SluiceProcess } from '../support/process.js';

const PASSWORD = 'operator-test passphrase 5f3a9c';
const STRAY_KEY = 'slk_notarealkeybutsecretanyway1234567890abcd';

let dataDir: string;
let running: (SluiceProcess & { baseUrl: string }) | undefined;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'sluice-ops-'));
});
afterAll(async () => {
  if (running) await stop(running);
  await rm(dataDir, { recursive: true, force: true });
});

const env = () => developmentEnv(dataDir, { LOG_LEVEL: 'info' });
const recordedAddress = async () => JSON.parse(await readFile(path.join(dataDir, ADDRESS_FILE), 'utf8')) as { host: string; port: number; pid: number };

async function graphql(baseUrl: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

// Several child processes, each starting Node with TypeScript: slow on a busy machine.
it('migrate, keys create, audit verify and worker run beside a server; the port survives a restart', { timeout: 600_000 }, async () => {
  running = await serve(env());
  const first = await recordedAddress();
  expect(first.host).toBe('127.0.0.1');
  expect(running.logs.find((l) => /embedded PostgreSQL created/.test(l.msg))?.msg).toContain(`on port ${first.port}`);

  // A request carrying a password and a stray API key header: one line, with names only.
  const signUp = await graphql(
    running.baseUrl,
    'mutation SignUp($input: SignUpInput!) { signUp(input: $input) { tenant { slug } } }',
    { input: { email: 'ops-owner@example.com', password: PASSWORD, tenantName: 'Ops Tenant' } },
    { 'x-request-id': 'ops-request-1' },
  );
  const slug = signUp.data?.signUp.tenant.slug as string;
  expect(slug).toBeTruthy();
  const line = await running.waitForLog((l) => l.requestId === 'ops-request-1' && l.status !== undefined);
  expect(line).toMatchObject({ level: 30, method: 'POST', path: '/graphql', operation: 'mutation SignUp', status: 200, requestId: 'ops-request-1' });
  expect(line.ms).toBeGreaterThan(0);
  expect(line.tenant).toBeUndefined(); // anonymous: signing up is the request that makes the tenant
  await graphql(running.baseUrl, 'query Viewer { viewer { kind } }', {}, { 'x-api-key': STRAY_KEY, 'x-request-id': 'ops-request-2' });
  // A refused credential is logged as refused (401), the key itself nowhere.
  expect(await running.waitForLog((l) => l.requestId === 'ops-request-2' && l.status !== undefined)).toMatchObject({ path: '/graphql', status: 401 });

  // Beside it: answers on stdout, nothing of the server's refused.
  const migrate = await execSluice(['migrate', '--json'], env());
  const migrated = JSON.parse(migrate.stdout) as { applied: string[]; latest: string };
  expect(migrated.applied).toEqual([]);
  expect(migrated.latest).toMatch(/^Migration\d+/);
  expect((await execSluice(['migrate'], env())).stdout).toMatch(/^migrations are up to date \(latest: Migration\d+/);

  const created = JSON.parse((await execSluice(['keys', 'create', '--tenant', slug, '--name', 'beside', '--scopes', 'read', '--json'], env())).stdout);
  expect(created).toMatchObject({ tenant: slug, name: 'beside', scopes: ['read'] });
  const viewer = await graphql(running.baseUrl, '{ viewer { kind tenant { slug } } }', {}, { 'x-api-key': created.secret });
  expect(viewer.data?.viewer).toEqual({ kind: 'API_KEY', tenant: { slug } });

  const verify = await execSluice(['audit', 'verify', '--tenant', slug, '--json'], env());
  const verified = JSON.parse(verify.stdout) as { ok: boolean; chains: { tenant: string; ok: boolean; checked: number }[] };
  expect(verified.ok).toBe(true);
  expect(verified.chains).toHaveLength(1);
  expect(verified.chains[0]).toMatchObject({ tenant: slug, ok: true });
  expect(verified.chains[0]!.checked).toBeGreaterThan(0);
  expect((await execSluice(['audit', 'verify', '--tenant', slug], env())).stdout).toMatch(new RegExp(`^${slug}: ok, \\d+ events`));

  const worker = spawnSluice(['worker'], env());
  await worker.waitForLog((l) => l.msg === 'job worker started');
  expect(worker.logs.find((l) => l.shared === true)?.msg).toMatch(/shared with the running Sluice/);
  expect(await stop(worker)).toBe(0);

  // The server still answers: nobody stopped its database.
  expect((await fetch(`${running.baseUrl}/readyz`)).status).toBe(200);
  const output = running.output();
  expect(output).not.toContain(PASSWORD);
  expect(output).not.toContain(STRAY_KEY);
  expect(output).not.toContain(created.secret);
  expect(await stop(running)).toBe(0);
  running = undefined;

  // The same port on the next start.
  running = await serve(env());
  const second = await recordedAddress();
  expect(second.port).toBe(first.port);
  expect(second.pid).not.toBe(first.pid);
  expect(running.logs.find((l) => /embedded PostgreSQL started/.test(l.msg))?.msg).toContain(`on port ${first.port}`);
});

it('a second serve on the same data directory is still refused, and says that operator commands are not', { timeout: 300_000 }, async () => {
  if (!running) running = await serve(env());
  const second = spawnSluice(['serve'], { ...env(), PORT: '0' });
  expect(await second.exit).toBe(1);
  expect(second.output()).toMatch(/in use by another PostgreSQL process.*operator commands such as `sluice migrate` run beside it/s);
});
