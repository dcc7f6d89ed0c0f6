/**
 * The real process: `sluice serve` from an empty data directory (embedded PostgreSQL), again on
 * the same directory, against DATABASE_URL, `sluice migrate`, production refusals, and a
 * graceful SIGTERM with a request in flight.
 */
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { migrationsList } from '../migrations/index.js';
import { appUrlFrom, withClient } from '../src/db/bootstrap.js';
import { readEmbeddedAddress } from '../src/db/embedded-address.js';
import { sharedBuffersFor, usableMemory } from '../src/db/embedded-memory.js';
import { createEmptyDatabase } from './support/database.js';
import { developmentEnv, runSluice, serve, spawnSluice, stop, type Env } from './support/process.js';

const VIEWER = JSON.stringify({ query: '{ viewer { kind } }' });
const postGraphQL = (baseUrl: string) =>
  fetch(`${baseUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: VIEWER }).then((r) => r.json());

describe('embedded PostgreSQL in the data directory', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'sluice-boot-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('boots from an empty directory, serves, stops cleanly, and boots again on the same data', { timeout: 300_000 }, async () => {
    const first = await serve(developmentEnv(dataDir));
    expect(first.logs.some((l) => /generated local development secrets/.test(l.msg))).toBe(true);
    expect(first.logs.some((l) => /embedded PostgreSQL created/.test(l.msg))).toBe(true);
    expect(first.logs.filter((l) => l.msg === 'applied migration')).toHaveLength(migrationsList.length);
    expect((await fetch(`${first.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${first.baseUrl}/readyz`)).status).toBe(200);
    expect(await postGraphQL(first.baseUrl)).toEqual({ data: { viewer: { kind: 'ANONYMOUS' } } });
    // Page memory sized to the machine (db/embedded-memory.ts), as the server itself reports it.
    const sized = sharedBuffersFor(usableMemory());
    expect(first.logs.find((l) => /embedded PostgreSQL created/.test(l.msg))).toMatchObject({ sharedBuffers: sized });
    expect(await sharedBuffersOf(dataDir)).toBe(megabytes(sized));
    const graphiql = await fetch(`${first.baseUrl}/graphql`, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).toMatch(/graphiql/i);
    expect(await stop(first)).toBe(0);
    expect(first.logs.slice(-3).map((l) => l.msg)).toContain('shutdown complete');

    const second = await serve(developmentEnv(dataDir, { SLUICE_EMBEDDED_SHARED_BUFFERS: '48MB' }));
    try {
      expect(second.logs.some((l) => /using local development secrets/.test(l.msg))).toBe(true);
      expect(second.logs.some((l) => /embedded PostgreSQL started .*\(shared_buffers 48MB\)$/.test(l.msg))).toBe(true);
      expect(await sharedBuffersOf(dataDir)).toBe(megabytes('48MB'));
      expect(second.logs.filter((l) => l.msg === 'applied migration')).toHaveLength(0);
      expect((await fetch(`${second.baseUrl}/readyz`)).status).toBe(200);
    } finally {
      expect(await stop(second)).toBe(0);
    }

    // No secret ever reached the output.
    const secrets = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    for (const value of Object.values(secrets)) {
      expect(first.output()).not.toContain(value);
      expect(second.output()).not.toContain(value);
    }
  });
});

/** `shared_buffers` in bytes, as the embedded server in `dataDir` reads its setting (its address and password are in the directory). */
async function sharedBuffersOf(dataDir: string): Promise<number> {
  const address = await readEmbeddedAddress(dataDir);
  if (!address) throw new Error(`no embedded server recorded in ${dataDir}`);
  const { databasePassword } = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as { databasePassword: string };
  const url = `postgres://postgres:${encodeURIComponent(databasePassword)}@${address.host}:${address.port}/postgres`;
  const query = "select pg_size_bytes(current_setting('shared_buffers'))::float8 as bytes";
  return withClient(url, async (client) => (await client.query<{ bytes: number }>(query)).rows[0]!.bytes);
}

/** "48MB" (what Sluice sets: whole megabytes) in bytes. */
const megabytes = (amount: string) => Number.parseInt(amount, 10) * 1024 ** 2;

describe('with DATABASE_URL', () => {
  let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let env: Env;
  beforeAll(async () => {
    database = await createEmptyDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sluice-ext-'));
    // The app role is cluster-wide and other test files log in with the test password: pass
    // DATABASE_APP_URL so this process does not give the role a password of its own.
    env = developmentEnv(dataDir, { DATABASE_URL: database.url, DATABASE_APP_URL: appUrlFrom(database.url, inject('database').appPassword) });
  });
  afterAll(async () => {
    await rm(env.SLUICE_DATA_DIR!, { recursive: true, force: true });
    await database.drop();
  });

  it('`sluice migrate` applies every migration once', { timeout: 300_000 }, async () => {
    const first = spawnSluice(['migrate'], { ...env, LOG_LEVEL: 'info' });
    expect(await first.exit).toBe(0);
    const applied = await withClient(database.url, (client) => client.query<{ name: string }>('select name from mikro_orm_migrations order by id'));
    expect(applied.rows.map((row) => row.name)).toEqual(migrationsList.map((migration) => migration.name));
    const again = await runSluice(['migrate', '--json'], { ...env, LOG_LEVEL: 'info' });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ applied: [], latest: migrationsList.at(-1)!.name });
  });

  it('serves, and finishes a request that is in flight when SIGTERM arrives', { timeout: 300_000 }, async () => {
    const proc = await serve(env);
    expect(proc.logs.some((l) => l.msg === 'using the PostgreSQL server from DATABASE_URL')).toBe(true);
    const half = Math.floor(VIEWER.length / 2);
    let sendRest!: () => void;
    let seen!: () => void;
    const inServer = new Promise<void>((resolve) => (seen = resolve));
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${proc.baseUrl}/graphql`, {
        method: 'POST',
        // Node's server answers `Expect: 100-continue` once it has parsed the headers ('continue').
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(VIEWER), expect: '100-continue' },
      });
      req.once('continue', () => seen());
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(VIEWER.slice(0, half), () => {
        sendRest = () => req.end(VIEWER.slice(half));
      });
    });
    await inServer;
    proc.child.kill('SIGTERM');
    await proc.waitForLog((l) => /shutting down/.test(l.msg));
    sendRest();
    expect(await response).toEqual({ status: 200, body: JSON.stringify({ data: { viewer: { kind: 'ANONYMOUS' } } }) });
    expect(await proc.exit).toBe(0);
  });
});

describe('production', () => {
  it('refuses to start without secrets, exit code 78, naming each problem and no value', { timeout: 300_000 }, async () => {
    const proc = spawnSluice(['serve'], {
      NODE_ENV: 'production',
      JWT_SECRET: 'short-secret-value',
      CORS_ORIGINS: '*',
      DATABASE_URL: 'postgres://owner:pw-never-shown@127.0.0.1:1/x',
    });
    expect(await proc.exit).toBe(78);
    const output = proc.output();
    expect(output).toMatch(/JWT_SECRET: must be at least 32 characters/);
    expect(output).toMatch(/SLUICE_MASTER_KEY: required in production/);
    expect(output).toMatch(/CORS_ORIGINS: "\*" is not allowed in production/);
    expect(output).not.toMatch(/short-secret-value|pw-never-shown/);
  });
});
