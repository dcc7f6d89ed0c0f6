/** Configuration: one validation of the environment, a clear message per bad value. */
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../src/config.js';
import { embeddedMemorySettings, sharedBuffersFor, usableMemory } from '../src/db/embedded-memory.js';
import { issuesOf, STRONG_SECRETS } from './support/config.js';

const KEY = STRONG_SECRETS.SLUICE_MASTER_KEY;
const SECRET = STRONG_SECRETS.JWT_SECRET;
const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_SECRET: SECRET,
  SLUICE_MASTER_KEY: KEY,
  CORS_ORIGINS: 'https://console.example.com',
  DATABASE_URL: 'postgres://owner@db/sluice?sslmode=require',
  DATABASE_APP_URL: 'postgres://api@db/sluice?sslmode=verify-full',
};


describe('parseConfig', () => {
  it('has development defaults', () => {
    const config = parseConfig({});
    expect(config.env).toBe('development');
    // Browser pages of this machine only, and requests sent to an IP address or localhost only (DNS rebinding).
    expect(config.http).toMatchObject({ port: 4000, host: '127.0.0.1', corsOrigins: [], corsLoopback: true, allowedHosts: [], anyHostByDefault: false, graphiql: true });
    expect(config.dataDir).toBe(path.resolve('.sluice'));
    expect(config.database).toEqual({ url: undefined, appUrl: undefined, poolSize: 10, requestLockTimeoutMs: 10_000, embeddedSharedBuffers: undefined });
    expect(parseConfig({ SLUICE_EMBEDDED_SHARED_BUFFERS: '2GB' }).database.embeddedSharedBuffers).toBe('2GB');
    // HNSW search breadth chosen from recall measurements (docs/endpoints.md#engines), not pgvector's 40.
    expect(config.vectorSearch).toEqual({ hnswEfSearch: 200, hnswMaxScanTuples: 20_000 });
    expect(parseConfig({ SLUICE_HNSW_EF_SEARCH: '400', SLUICE_HNSW_MAX_SCAN_TUPLES: '50000' }).vectorSearch).toEqual({ hnswEfSearch: 400, hnswMaxScanTuples: 50_000 });
    // HNSW indexes on the shared table only for the common model sizes the operator allows, never one per size a tenant picks.
    expect([...config.worker.vectorIndexDimensions]).toEqual([256, 384, 512, 768, 1024, 1536]);
    expect([...parseConfig({ SLUICE_VECTOR_INDEX_DIMENSIONS: '768, 2000' }).worker.vectorIndexDimensions]).toEqual([768, 2000]);
    expect([...parseConfig({ SLUICE_VECTOR_INDEX_DIMENSIONS: 'none' }).worker.vectorIndexDimensions]).toEqual([]);
    // A health check is a one-token request: its wait is far below a query's 60 s model timeout.
    expect(config.modelHealth).toEqual({ intervalS: 60, slowMs: 5_000, window: 5, downAfter: 2, timeoutMs: 10_000, roundMaxS: 120 });
    expect(parseConfig({ SLUICE_HEALTH_TIMEOUT_MS: '2000', SLUICE_HEALTH_ROUND_MAX_S: '30' }).modelHealth).toMatchObject({ timeoutMs: 2_000, roundMaxS: 30 });
    // A streamed answer's whole time, beside the wait for each piece.
    expect(config.models).toMatchObject({ requestTimeoutMs: 60_000, answerTimeoutMs: 600_000, answerMaxChars: 1_048_576 });
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT: .*number.*\(got "abc"\)/],
    [{ PORT: '70000' }, /^PORT: must be between 0 and 65535/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ DATABASE_URL: 'mysql://localhost/x' }, /^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL$/],
    [{ REDIS_URL: 'http://localhost:6379' }, /^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL$/],
    [{ SLUICE_MAX_BODY_BYTES: '10' }, /^SLUICE_MAX_BODY_BYTES: must be at least 1024/],
    [{ NODE_ENV: 'staging' }, /^NODE_ENV: /],
    [{ SLUICE_HNSW_EF_SEARCH: '0' }, /^SLUICE_HNSW_EF_SEARCH: must be at least 1/],
    [{ SLUICE_HEALTH_TIMEOUT_MS: '10' }, /^SLUICE_HEALTH_TIMEOUT_MS: /],
    [{ SLUICE_HEALTH_ROUND_MAX_S: '0' }, /^SLUICE_HEALTH_ROUND_MAX_S: /],
    [{ SLUICE_MODEL_ANSWER_TIMEOUT_MS: '999' }, /^SLUICE_MODEL_ANSWER_TIMEOUT_MS: must be at least 1000/],
    [{ SLUICE_MODEL_ANSWER_MAX_CHARS: '16777217' }, /^SLUICE_MODEL_ANSWER_MAX_CHARS: must be at most 16777216/],
    [{ SLUICE_HNSW_EF_SEARCH: '1001' }, /^SLUICE_HNSW_EF_SEARCH: must be at most 1000/],
    [{ SLUICE_HNSW_MAX_SCAN_TUPLES: '0' }, /^SLUICE_HNSW_MAX_SCAN_TUPLES: must be at least 1/],
    [{ SLUICE_VECTOR_INDEX_DIMENSIONS: '3072' }, /^SLUICE_VECTOR_INDEX_DIMENSIONS: must be a comma-separated list of vector sizes from 1 to 2000 \(e\.g\. 384,768,1536\), or none/],
    [{ SLUICE_VECTOR_INDEX_DIMENSIONS: '0' }, /^SLUICE_VECTOR_INDEX_DIMENSIONS: must be a comma-separated list/],
    [{ SLUICE_VECTOR_INDEX_DIMENSIONS: '384,,768' }, /^SLUICE_VECTOR_INDEX_DIMENSIONS: must be a comma-separated list/],
    [{ SLUICE_VECTOR_INDEX_DIMENSIONS: '1e3' }, /^SLUICE_VECTOR_INDEX_DIMENSIONS: must be a comma-separated list/],
    [{ SLUICE_EMBEDDED_SHARED_BUFFERS: '512' }, /^SLUICE_EMBEDDED_SHARED_BUFFERS: must be an amount such as 512MB or 2GB, from 16MB to 1TB/],
    [{ SLUICE_EMBEDDED_SHARED_BUFFERS: '2 GB' }, /^SLUICE_EMBEDDED_SHARED_BUFFERS: must be an amount/],
    [{ SLUICE_EMBEDDED_SHARED_BUFFERS: '8MB' }, /^SLUICE_EMBEDDED_SHARED_BUFFERS: must be an amount/],
    [{ SLUICE_EMBEDDED_SHARED_BUFFERS: '2TB' }, /^SLUICE_EMBEDDED_SHARED_BUFFERS: must be an amount/],
    [{ SLUICE_EMBEDDED_SHARED_BUFFERS: '1gb' }, /^SLUICE_EMBEDDED_SHARED_BUFFERS: must be an amount/],
  ])('names the bad value in %j', (env, message) => {
    const issues = issuesOf(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(message);
  });

  it('lists every bad value at once, and never echoes a URL or secret', () => {
    const issues = issuesOf({ PORT: '-1', LOG_LEVEL: 'x', DATABASE_URL: 'mysql://user:hunter2@db/x', JWT_SECRET: 'short-secret' });
    expect(issues.map((issue) => issue.split(':')[0])).toEqual(['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'JWT_SECRET']);
    expect(issues.join('\n')).not.toMatch(/hunter2|short-secret/);
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ PORT: '', HOST: '' }).http).toMatchObject({ port: 4000, host: '127.0.0.1' });
  });

  it('allows any origin in development only when CORS_ORIGINS says *, and then no loopback default is needed', () => {
    expect(parseConfig({ CORS_ORIGINS: '*' }).http).toMatchObject({ corsOrigins: ['*'], corsLoopback: false });
    expect(parseConfig({ CORS_ORIGINS: 'https://app.example' }).http).toMatchObject({ corsOrigins: ['https://app.example'], corsLoopback: false });
  });

  it('reads SLUICE_ALLOWED_HOSTS as host names, and production without it answers any host, flagged for the start-up warning', () => {
    expect(parseConfig({ SLUICE_ALLOWED_HOSTS: 'Sluice.Example.com., .dev.example, *.preview.example, *' }).http.allowedHosts).toEqual(['sluice.example.com', '.dev.example', '*.preview.example', '*']);
    const { CORS_ORIGINS: _unset, ...withoutOrigins } = PRODUCTION;
    expect(parseConfig(withoutOrigins).http).toMatchObject({ allowedHosts: ['*'], anyHostByDefault: true, corsLoopback: false });
    expect(parseConfig({ ...PRODUCTION, SLUICE_ALLOWED_HOSTS: 'api.example.com' }).http).toMatchObject({ allowedHosts: ['api.example.com'], anyHostByDefault: false });
    expect(issuesOf({ SLUICE_ALLOWED_HOSTS: 'api.example.com, https://api.example.com, api.example.com:443, a/b, *.*' })).toEqual(
      ['"https://api.example.com"', '"api.example.com:443"', '"a/b"', '"*.*"'].map((entry) => `SLUICE_ALLOWED_HOSTS: ${entry} is not a host name (a name, .name or *.name for the names under it, or *; no scheme, port or path)`),
    );
  });

  it('allows no browser origin in production when CORS_ORIGINS is not set', () => {
    const { CORS_ORIGINS: _unset, ...withoutOrigins } = PRODUCTION;
    expect(parseConfig(withoutOrigins).http.corsOrigins).toEqual([]);
  });

  it('accepts a complete production environment, listening on all interfaces without GraphiQL', () => {
    const config = parseConfig(PRODUCTION);
    expect(config.http).toMatchObject({ host: '0.0.0.0', graphiql: false, corsOrigins: ['https://console.example.com'] });
    // Model servers in private networks are refused unless the operator lists them.
    expect(config.models.privateNetworks).toEqual({ mode: 'deny', except: [] });
    expect(parseConfig({ ...PRODUCTION, SLUICE_MODEL_PRIVATE_NETWORKS: '10.1.0.0/16' }).models.privateNetworks).toEqual({ mode: 'deny', except: ['10.1.0.0/16'] });
  });

  it('reads the egress policy from SLUICE_EGRESS_PRIVATE_NETWORKS, or its earlier name, for every outbound request', () => {
    const config = parseConfig({ ...PRODUCTION, SLUICE_EGRESS_PRIVATE_NETWORKS: '10.1.0.0/16' });
    expect(config.egress.privateNetworks).toEqual({ mode: 'deny', except: ['10.1.0.0/16'] });
    expect(config.models.privateNetworks).toBe(config.egress.privateNetworks);
    expect(parseConfig({ ...PRODUCTION, SLUICE_MODEL_PRIVATE_NETWORKS: 'allow' }).egress.privateNetworks).toEqual({ mode: 'allow' });
    expect(parseConfig({ ...PRODUCTION, SLUICE_EGRESS_PRIVATE_NETWORKS: 'deny', SLUICE_MODEL_PRIVATE_NETWORKS: 'deny' }).egress.privateNetworks).toEqual({ mode: 'deny', except: [] });
    expect(issuesOf({ ...PRODUCTION, SLUICE_EGRESS_PRIVATE_NETWORKS: 'deny', SLUICE_MODEL_PRIVATE_NETWORKS: 'allow' })).toEqual([
      expect.stringMatching(/^SLUICE_MODEL_PRIVATE_NETWORKS: is the earlier name of SLUICE_EGRESS_PRIVATE_NETWORKS/),
    ]);
  });

  it.each([
    ['JWT_SECRET', { JWT_SECRET: undefined }, /^JWT_SECRET: required in production/],
    ['JWT_SECRET', { JWT_SECRET: 'y'.repeat(31) }, /^JWT_SECRET: must be at least 32 characters/],
    ['SLUICE_MASTER_KEY', { SLUICE_MASTER_KEY: undefined }, /^SLUICE_MASTER_KEY: required in production/],
    ['SLUICE_MASTER_KEY', { SLUICE_MASTER_KEY: Buffer.alloc(16).toString('base64') }, /^SLUICE_MASTER_KEY: must be exactly 32 bytes/],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://a.example, *' }, /^CORS_ORIGINS: "\*" is not allowed in production/],
    ['DATABASE_URL', { DATABASE_URL: undefined }, /^DATABASE_URL: required in production/],
    ['SLUICE_MODEL_PRIVATE_NETWORKS', { SLUICE_MODEL_PRIVATE_NETWORKS: '10.0.0.0/33' }, /^SLUICE_MODEL_PRIVATE_NETWORKS: must be allow, deny, or CIDRs/],
    ['SLUICE_EGRESS_PRIVATE_NETWORKS', { SLUICE_EGRESS_PRIVATE_NETWORKS: 'sometimes' }, /^SLUICE_EGRESS_PRIVATE_NETWORKS: must be allow, deny, or CIDRs/],
    ['DATABASE_APP_URL', { DATABASE_APP_URL: undefined }, /^DATABASE_APP_URL: required in production/],
  ])('refuses production without a proper %s', (_name, change, message) => {
    const env = Object.fromEntries(Object.entries({ ...PRODUCTION, ...change }).filter(([, value]) => value !== undefined)) as Record<string, string>;
    const issues = issuesOf(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(message);
  });
});

describe('loadConfig secrets', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'sluice-config-')), 'data');
  });
  afterEach(() => rm(path.dirname(dataDir), { recursive: true, force: true }));

  it('generates development secrets once, mode 0600, and reuses them', async () => {
    const first = await loadConfig({ SLUICE_DATA_DIR: dataDir });
    const file = path.join(dataDir, 'secrets.json');
    expect(first.secretsSource).toEqual({ kind: 'generated', file });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(first.secrets.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(first.secrets.masterKey).toHaveLength(32);

    const second = await loadConfig({ SLUICE_DATA_DIR: dataDir });
    expect(second.secretsSource).toEqual({ kind: 'reused', file });
    expect(second.secrets).toEqual(first.secrets);
  });

  it('tightens a secrets file copied with a wider mode', async () => {
    await loadConfig({ SLUICE_DATA_DIR: dataDir });
    const file = path.join(dataDir, 'secrets.json');
    await chmod(file, 0o644);
    await loadConfig({ SLUICE_DATA_DIR: dataDir });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('explains a corrupt secrets file instead of replacing it', async () => {
    await loadConfig({ SLUICE_DATA_DIR: dataDir });
    const file = path.join(dataDir, 'secrets.json');
    await writeFile(file, '{ not json');
    await expect(loadConfig({ SLUICE_DATA_DIR: dataDir })).rejects.toThrow(/is not a valid Sluice secrets file/);
    expect(await readFile(file, 'utf8')).toBe('{ not json');
  });

  it('uses secrets from the environment and writes nothing when they are all there', async () => {
    const config = await loadConfig({ ...PRODUCTION, SLUICE_DATA_DIR: dataDir });
    expect(config.secretsSource).toEqual({ kind: 'environment' });
    expect(config.secrets.jwtSecret).toBe(SECRET);
    expect(config.secrets.masterKey.equals(Buffer.from(KEY, 'base64'))).toBe(true);
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never invents a secret in production', async () => {
    const { JWT_SECRET: _omitted, ...withoutSecret } = PRODUCTION;
    await expect(loadConfig({ ...withoutSecret, SLUICE_DATA_DIR: dataDir })).rejects.toBeInstanceOf(ConfigError);
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the embedded PostgreSQL’s page memory (shared_buffers)', () => {
  const GB = 1024 ** 3;
  it('is a quarter of the memory, at least PostgreSQL’s 128 MB and at most 8 GB', () => {
    expect(sharedBuffersFor(24 * GB)).toBe('6144MB');
    expect(sharedBuffersFor(2 * GB)).toBe('512MB');
    expect(sharedBuffersFor(256 * 1024 ** 2)).toBe('128MB');
    expect(sharedBuffersFor(256 * GB)).toBe('8192MB');
  });

  it('is what SLUICE_EMBEDDED_SHARED_BUFFERS says when it is set', () => {
    expect(embeddedMemorySettings('48MB')).toEqual({ shared_buffers: '48MB' });
    expect(embeddedMemorySettings(undefined)).toEqual({ shared_buffers: sharedBuffersFor(usableMemory()) });
  });
});
