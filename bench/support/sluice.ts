/**
 * A real Sluice for a benchmark: a fresh database (embedded PostgreSQL in a temporary
 * directory, or a scratch database on the server at BENCH_DATABASE_URL), the `sluice serve`
 * process with production settings, and a signed-up tenant with an API key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { appUrlFrom, ensureAppRole, withClient, withDatabase } from '../../src/db/bootstrap.js';
import { openDatabase } from '../../src/db/database.js';
import { createLogger } from '../../src/platform/logging/logger.js';
import { serve, stop, type SluiceProcess } from '../../test/support/process.js';
import { memoryOf } from './proc.js';

export interface BenchDatabase {
  ownerUrl: string;
  appUrl: string;
  /** e.g. "PostgreSQL 18.4 (embedded; shared_buffers 6GB)" */
  description: string;
  close(): Promise<void>;
}

/**
 * `keepDir`: an embedded data directory to keep after the run and reuse when it exists
 * (bench/search.ts's BENCH_SEARCH_KEEP), so a large generated corpus is made once.
 */
export async function openBenchDatabase(keepDir?: string): Promise<BenchDatabase> {
  const logger = createLogger({ level: 'warn' });
  const adminUrl = process.env.BENCH_DATABASE_URL;
  let database: Omit<BenchDatabase, 'description'>;
  let kind: string;
  if (adminUrl && !keepDir) {
    const name = `sluice_bench_${randomBytes(4).toString('hex')}`;
    await withClient(adminUrl, (client) => client.query(`create database ${name}`));
    const ownerUrl = withDatabase(adminUrl, name);
    const appPassword = randomBytes(18).toString('base64url');
    await ensureAppRole(ownerUrl, appPassword);
    database = {
      ownerUrl,
      appUrl: appUrlFrom(ownerUrl, appPassword),
      close: () => withClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
    };
    kind = 'BENCH_DATABASE_URL';
  } else {
    const dataDir = keepDir ? path.resolve(keepDir) : await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-'));
    // SLUICE_EMBEDDED_SHARED_BUFFERS as the product reads it, to compare page memories.
    const sharedBuffers = process.env.SLUICE_EMBEDDED_SHARED_BUFFERS ? { SLUICE_EMBEDDED_SHARED_BUFFERS: process.env.SLUICE_EMBEDDED_SHARED_BUFFERS } : {};
    const handle = await openDatabase(await loadConfig({ SLUICE_DATA_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'warn', ...sharedBuffers }), logger);
    database = {
      ownerUrl: handle.ownerUrl,
      appUrl: handle.appUrl,
      close: async () => {
        await handle.stop();
        if (!keepDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
    kind = keepDir ? 'embedded, data directory kept' : 'embedded';
  }
  // Page memory decides how much a large benchmark reads back from the OS (src/db/embedded-memory.ts): every report names it.
  const { version, shared_buffers: sharedBuffers } = await withClient(database.ownerUrl, async (client) =>
    (await client.query<{ version: string; shared_buffers: string }>("select current_setting('server_version') as version, current_setting('shared_buffers') as shared_buffers")).rows[0]!,
  );
  return { ...database, description: `PostgreSQL ${version.split(' ')[0]} (${kind}; shared_buffers ${sharedBuffers})` };
}

/** Rate limits on and counting, but out of the way of one client sending thousands of requests a second. */
export const RAISED_LIMITS = {
  SLUICE_RATE_LIMIT_PER_SECOND: '100000',
  SLUICE_RATE_LIMIT_BURST: '1000000',
  SLUICE_IP_RATE_LIMIT_PER_SECOND: '100000',
  SLUICE_IP_RATE_LIMIT_BURST: '1000000',
};

export interface BenchServer {
  process: SluiceProcess;
  url: string;
  /** The child's peak resident set (VmHWM) so far, in bytes. */
  peakRss(): Promise<number>;
  /** One scrape of its /metrics: a sample's value by name and labels as exposed (NaN when absent). */
  metrics(): Promise<(sample: string) => number>;
  stop(): Promise<void>;
}

/** `checkout`: another working tree to run instead of this one (bench/compare.ts). */
export async function startBenchServer(database: BenchDatabase, env: Record<string, string> = {}, checkout?: string): Promise<BenchServer> {
  // Production serves /metrics only with a token.
  const metricsToken = randomBytes(16).toString('hex');
  const proc = await serve({
    NODE_ENV: 'production',
    // `serve` reports its address at info; at info the server logs only start-up and jobs.
    LOG_LEVEL: 'info',
    DATABASE_URL: database.ownerUrl,
    DATABASE_APP_URL: database.appUrl,
    JWT_SECRET: randomBytes(32).toString('base64url'),
    SLUICE_MASTER_KEY: randomBytes(32).toString('base64'),
    CORS_ORIGINS: 'http://localhost',
    // A loopback database of the benchmark's own: no TLS to ask for.
    SLUICE_DATABASE_SSL: 'disable',
    SLUICE_METRICS_TOKEN: metricsToken,
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...env,
  }, checkout);
  return {
    process: proc,
    url: `${proc.baseUrl}/graphql`,
    peakRss: async () => (await memoryOf(proc.child.pid!)).peak,
    metrics: async () => {
      const text = await (await fetch(`${proc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
      const samples = new Map(text.split('\n').flatMap((line) => {
        const match = /^(\S+) (\S+)$/.exec(line);
        return match ? [[match[1]!, Number(match[2])] as const] : [];
      }));
      return (sample) => samples.get(sample) ?? Number.NaN;
    },
    stop: async () => {
      await stop(proc);
    },
  };
}

export async function graphql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, apiKey?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`GraphQL request failed (${response.status}): ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Signs up a tenant and mints an ADMIN key for it (a key outlives any benchmark's run). */
export async function signUpWithKey(url: string): Promise<string> {
  const { signUp } = await graphql(url, `mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }`, {
    input: { email: `bench-${randomBytes(4).toString('hex')}@example.com`, password: randomBytes(16).toString('base64url'), tenantName: 'Bench' },
  });
  const { createApiKey } = await graphql(
    url,
    `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`,
    { input: { name: 'bench', scopes: ['READ', 'WRITE', 'ADMIN'] } },
    signUp.accessToken,
  );
  return createApiKey.secret;
}
