/**
 * The real server for a test file: its own database, listening on port 0, with helpers to
 * mint tokens and send GraphQL over HTTP.
 */
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { openOrm, type Orm } from '../../src/db/orm.js';
import { entities } from '../../src/domains/entities.js';
import type { Clock } from '../../src/domains/clock.js';
import { AccessTokens } from '../../src/domains/identity/access-token.js';
import type { Role } from '../../src/domains/access/roles.js';
import { createLogger, type Logger } from '../../src/platform/logging/logger.js';
import { createEventBus, type EventBus } from '../../src/platform/events/event-bus.js';
import { createServer, type SluiceServer } from '../../src/server.js';
import { Registry } from 'prom-client';
import { ProductMetrics } from '../../src/platform/telemetry/product-metrics.js';
import { startTracing } from '../../src/platform/telemetry/otel-sdk.js';
import { SecretBox } from '../../src/platform/secrets/secret-box.js';
import { modelAccess, startWorker, type SluiceWorker } from '../../src/server/job-worker.js';
import { TEST_JWT_SECRET, TEST_MASTER_KEY } from './config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import type { SeededTenant, SeededUser } from './seed.js';

export { TEST_JWT_SECRET, TEST_MASTER_KEY } from './config.js';

export interface GraphQLResponse<T = any> {
  status: number;
  headers: Headers;
  /** Typed loosely on purpose: tests assert what is and is not there. */
  body: { data: T; errors: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[] & any };
}

export interface TestServer {
  url: string;
  baseUrl: string;
  wsUrl: string;
  server: SluiceServer;
  orm: Orm;
  config: Config;
  database: TestDatabase;
  tokens: AccessTokens;
  /** The server's event bus, for tests that run a worker of their own on it. */
  bus: EventBus;
  /** Every log line the server wrote, parsed when read (a getter). */
  readonly logs: Record<string, any>[];
  graphql<T = any>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<T>>;
  tokenFor(tenant: SeededTenant, user: SeededUser, overrides?: { role?: Role }): Promise<string>;
  close(): Promise<void>;
}

/** GraphQL over HTTP to `url` (a test server's, or a `sluice serve` process's). */
/** The server's secret box, current and previous master keys: to read or verify what it sealed or signed. */
export const secretsOf = (server: TestServer) => new SecretBox(server.config.secrets.masterKey, server.config.secrets.previousMasterKeys);

export function graphqlAt(url: string): TestServer['graphql'] {
  return async (query, { variables, token, headers } = {}) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
}

/** A test server's helpers pointed at another process serving the same database. */
export function sameDatabaseAt(server: TestServer, baseUrl: string): TestServer {
  const url = `${baseUrl}/graphql`;
  return { ...server, url, baseUrl, wsUrl: url.replace(/^http/, 'ws'), graphql: graphqlAt(url) };
}

/**
 * A job worker for a server started with `worker: false`, on that server's event bus, started
 * when the test is ready for jobs to run (a job then waits QUEUED until this is called). Every
 * progress step is published at once. The caller stops it. Its log goes to `logger` (none by default).
 */
export function startLateWorker(server: TestServer, logger: Logger = createLogger({ level: 'silent' })): Promise<SluiceWorker> {
  return startWorker({
    config: server.config.worker,
    progressIntervalMs: 0,
    orm: server.orm,
    queueUrl: server.database.ownerUrl,
    progress: server.bus.progress,
    models: modelAccess(server.config),
    logger,
  });
}

export async function startTestServer(
  options: { env?: Record<string, string>; database?: TestDatabase; worker?: boolean; clock?: Clock } = {},
): Promise<TestServer> {
  const database = options.database ?? (await createTestDatabase());
  const config = await loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    SLUICE_MASTER_KEY: TEST_MASTER_KEY,
    DATABASE_URL: database.ownerUrl,
    DATABASE_APP_URL: database.appUrl,
    LOG_LEVEL: 'debug',
    SLUICE_SHUTDOWN_TIMEOUT_MS: '5000',
    // Node's fetch reuses an idle connection until 1 s before the server's advertised
    // keep-alive timeout runs out; a test that blocks its event loop for a second or more (a
    // validator compiling a schema, a busy machine) reuses one the server has just closed:
    // ECONNRESET. A long keep-alive moves that edge far from any test's idle gaps. Tests of
    // the keep-alive deadline itself set their own.
    SLUICE_KEEP_ALIVE_TIMEOUT_MS: '60000',
    ...options.env,
  });
  // Kept as written and parsed when a test reads `logs`: at debug level every SQL statement is
  // a line, and parsing each as it came cost the isolation sweep about a tenth of its time.
  const written: string[] = [];
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      written.push(String(chunk));
      done();
    },
  });
  const parsedLogs = () => {
    for (const chunk of written.splice(0)) for (const line of chunk.split('\n')) if (line) logs.push(JSON.parse(line));
    return logs;
  };
  const logger = createLogger({ level: config.logLevel, destination: sink, redaction: config.observability.redaction });
  const orm = await openOrm({ clientUrl: database.appUrl, entities, logger, poolMax: config.database.poolSize, requestLockTimeoutMs: config.database.requestLockTimeoutMs });
  const bus = await createEventBus({ redisUrl: config.redisUrl, logger });
  // One registry for the server and its in-process worker, as `sluice serve` has.
  const metrics = new ProductMetrics(new Registry());
  const server = createServer({ config, orm, logger, progress: bus.progress, clock: options.clock, auditFeed: bus.audit, callCancels: bus.callCancels, queueUrl: database.ownerUrl, metrics });
  const workerTracing = options.worker === false ? undefined : startTracing(config.observability);
  // The in-process job worker, as `npm start` runs it (tests of `sluice worker` pass false).
  const worker =
    options.worker === false
      ? undefined
      : await startWorker({
          config: config.worker,
          progressIntervalMs: config.ingestion.progressIntervalMs,
          orm,
          queueUrl: database.ownerUrl,
          progress: bus.progress,
          models: modelAccess(config),
          logger,
          tracer: workerTracing?.tracer,
          health: config.modelHealth,
          meter: metrics,
        });
  const baseUrl = await server.listen(0, '127.0.0.1');
  const tokens = new AccessTokens(config.secrets.jwtSecret, config.accessTokenTtlSeconds);
  const url = `${baseUrl}/graphql`;
  return {
    url,
    baseUrl,
    wsUrl: url.replace(/^http/, 'ws'),
    server,
    orm,
    config,
    database,
    tokens,
    bus,
    get logs() {
      return parsedLogs();
    },
    graphql: graphqlAt(url),
    async tokenFor(tenant, user, overrides = {}) {
      const { token } = await tokens.sign({
        userId: user.id,
        email: user.email,
        tenantId: tenant.id,
        tenantSlug: tenant.slug,
        role: overrides.role ?? user.role,
      });
      return token;
    },
    async close() {
      await server.close();
      await worker?.stop();
      await workerTracing?.shutdown();
      await bus.close();
      await orm.close(true);
      if (!options.database) await database.drop();
    },
  };
}
