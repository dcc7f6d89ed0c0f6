/**
 * Every setting Sluice reads, taken from the environment once and validated.
 *
 * `parseConfig` is pure: it turns an environment into a `Config` or throws a `ConfigError` that
 * lists every bad value. `loadConfig` adds the one side effect development needs: secrets that
 * are not in the environment are generated once and kept in the data directory. Production
 * never invents a secret.
 */
import { parsePrivateNetworkPolicy } from './platform/egress/policy.js';
import { hopMarkOf } from './platform/http/call-loops.js';
import { ANY_HOST, parseAllowedHosts } from './platform/http/allowed-hosts.js';
import path from 'node:path';
import type { CountryCode } from 'libphonenumber-js';
import { decodeMasterKey, envSchema, parseIndexDimensions, parseQuota } from './config-env.js';
import { MULTIPART_OVERHEAD_BYTES } from './platform/http/body-limit.js';
import { loadOrCreateDevSecrets, type DevSecrets } from './platform/secrets/dev-secrets.js';
import { weakSecrets } from './config-secrets.js';
import { TrustedDocuments, TrustedDocumentsError } from './platform/trusted-documents/document-store.js';
import type { Config } from './config-types.js';

export type { RuntimeEnv, LogLevel, Config, HardeningConfig, ObservabilityConfig, RateLimitConfig, OperationLimitConfig, IngestionConfig, WorkerConfig } from './config-types.js';

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Validates the environment. Secrets missing outside production are left for `loadConfig`. */
export function parseConfig(env: Env): Omit<Config, 'secrets' | 'secretsSource' | 'trustedDocuments'> & {
  secretsFromEnv: { jwtSecret?: string; masterKey?: Buffer; previousMasterKeys: Buffer[] };
} {
  // Empty strings count as unset: `FOO= npm start` should behave like no FOO at all.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const issues = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? 'environment');
        const got = key in cleaned && !/SECRET|KEY|URL|TOKEN|ENDPOINT/.test(key) ? ` (got ${JSON.stringify(cleaned[key])})` : '';
        return `${key}: ${issue.message}${got}`;
      });
  const production = (cleaned.NODE_ENV ?? 'development') === 'production';
  // Unset: no browser origin in production, loopback origins only elsewhere (corsLoopback below).
  const corsOrigins = (cleaned.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);

  // Production requirements are checked even when other values are bad, so one run lists all.
  if (production) {
    if (!cleaned.JWT_SECRET) issues.push('JWT_SECRET: required in production (at least 32 characters)');
    if (!cleaned.SLUICE_MASTER_KEY) issues.push('SLUICE_MASTER_KEY: required in production (32 bytes, base64)');
    // No CORS_ORIGINS in production: no browser origin may call Sluice (deny all, platform/http/cors.ts).
    if (corsOrigins.includes('*')) issues.push('CORS_ORIGINS: "*" is not allowed in production; list the origins');
    if (!cleaned.DATABASE_URL) {
      issues.push('DATABASE_URL: required in production (embedded PostgreSQL is for development and tests)');
    }
    if (!cleaned.DATABASE_APP_URL) {
      issues.push(
        'DATABASE_APP_URL: required in production: a login role that is a member of sluice_app, owns no table and has no BYPASSRLS',
      );
    }
    issues.push(...weakSecrets(cleaned));
  }
  // Production talks to its database over TLS unless told, explicitly, not to.
  const databaseSsl = cleaned.SLUICE_DATABASE_SSL ?? (production ? 'require' : 'disable');
  if (databaseSsl === 'require') {
    for (const key of ['DATABASE_URL', 'DATABASE_APP_URL'] as const) {
      if (cleaned[key] && URL.canParse(cleaned[key]) && !requiresTls(cleaned[key])) {
        issues.push(
          `${key}: must ask for TLS in production: add ?sslmode=require (or verify-full, with sslrootcert=…), or set SLUICE_DATABASE_SSL=disable`,
        );
      }
    }
  }
  const egressVariables = [cleaned.SLUICE_EGRESS_PRIVATE_NETWORKS, cleaned.SLUICE_MODEL_PRIVATE_NETWORKS].filter((value) => value !== undefined);
  if (new Set(egressVariables.map((value) => value!.trim())).size > 1) {
    issues.push('SLUICE_MODEL_PRIVATE_NETWORKS: is the earlier name of SLUICE_EGRESS_PRIVATE_NETWORKS and says otherwise; set only SLUICE_EGRESS_PRIVATE_NETWORKS');
  }
  const heartbeat = Number(cleaned.SLUICE_WORKER_HEARTBEAT_MS ?? 5_000);
  const stale = Number(cleaned.SLUICE_WORKER_STALE_MS ?? 30_000);
  if (stale < heartbeat * 3) issues.push('SLUICE_WORKER_STALE_MS: must be at least three heartbeats (SLUICE_WORKER_HEARTBEAT_MS × 3)');
  // node:http refuses a header deadline past the whole request's.
  // One upload of the largest size the ingestion limit admits must fit, or it could never be sent.
  // (body-limit.ts admits a multipart body up to the larger of the two body limits.)
  const largestUpload = Math.max(Number(cleaned.SLUICE_INGEST_MAX_REQUEST_BYTES ?? 100 * 1024 * 1024) + MULTIPART_OVERHEAD_BYTES, Number(cleaned.SLUICE_MAX_BODY_BYTES ?? 1_048_576));
  if (Number(cleaned.SLUICE_UPLOAD_BYTES_IN_FLIGHT ?? 256 * 1024 * 1024) < largestUpload) {
    issues.push(`SLUICE_UPLOAD_BYTES_IN_FLIGHT: must be at least the largest upload body, SLUICE_INGEST_MAX_REQUEST_BYTES plus 1 MiB for the form's parts or SLUICE_MAX_BODY_BYTES if larger (${largestUpload})`);
  }
  const answersReserve = Number(cleaned.SLUICE_ANSWERS_RESERVE ?? 0);
  if (answersReserve >= Number(cleaned.SLUICE_MAX_ANSWERS ?? 400)) {
    issues.push('SLUICE_ANSWERS_RESERVE: must be less than SLUICE_MAX_ANSWERS (the reserve is the last of its places)');
  }
  if (Number(cleaned.SLUICE_HEADERS_TIMEOUT_MS ?? 10_000) > Number(cleaned.SLUICE_REQUEST_TIMEOUT_MS ?? 300_000)) {
    issues.push('SLUICE_HEADERS_TIMEOUT_MS: must be at most SLUICE_REQUEST_TIMEOUT_MS (the headers are part of the request)');
  }
  for (const origin of corsOrigins) {
    if (origin !== '*' && !URL.canParse(origin)) issues.push(`CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin URL`);
  }
  // Unset: IP addresses and localhost only, except in production, which answers any Host then
  // (refusing to start would break every deployment) and says so at start-up (server.ts).
  const allowedHosts = parseAllowedHosts(cleaned.SLUICE_ALLOWED_HOSTS ?? (production ? ANY_HOST : ''));
  for (const entry of allowedHosts.bad) {
    issues.push(`SLUICE_ALLOWED_HOSTS: ${JSON.stringify(entry)} is not a host name (a name, .name or *.name for the names under it, or *; no scheme, port or path)`);
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  const values = parsed.data;
  const rateLimitsOn = (values.SLUICE_RATE_LIMITS ?? (values.NODE_ENV === 'test' ? 'off' : 'on')) === 'on';
  // Secure by default in production; local servers (Ollama, a development identity provider) just work elsewhere.
  const privateNetworks = parsePrivateNetworkPolicy(
    values.SLUICE_EGRESS_PRIVATE_NETWORKS ?? values.SLUICE_MODEL_PRIVATE_NETWORKS ?? (production ? 'deny' : 'allow'),
  );

  return {
    env: values.NODE_ENV,
    http: {
      port: values.PORT,
      host: values.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
      corsOrigins,
      corsLoopback: cleaned.CORS_ORIGINS === undefined && !production,
      allowedHosts: allowedHosts.hosts,
      anyHostByDefault: cleaned.SLUICE_ALLOWED_HOSTS === undefined && production,
      graphiql: values.SLUICE_GRAPHIQL ? values.SLUICE_GRAPHIQL === 'true' : !production,
      maxBodyBytes: values.SLUICE_MAX_BODY_BYTES,
      shutdownTimeoutMs: values.SLUICE_SHUTDOWN_TIMEOUT_MS,
      credentialRecheckMs: values.SLUICE_CREDENTIAL_RECHECK_MS,
      subscriptionsPerConnection: values.SLUICE_SUBSCRIPTIONS_PER_CONNECTION,
      subscriptionsPerPrincipal: values.SLUICE_SUBSCRIPTIONS_PER_PRINCIPAL,
      webSocketKeepAliveMs: values.SLUICE_WS_KEEPALIVE_MS,
      webSocketConnections: values.SLUICE_WS_MAX_CONNECTIONS,
      webSocketConnectionsPerAddress: values.SLUICE_WS_MAX_CONNECTIONS_PER_ADDRESS,
      headersTimeoutMs: values.SLUICE_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: values.SLUICE_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: values.SLUICE_KEEP_ALIVE_TIMEOUT_MS,
      writeStallMs: values.SLUICE_WRITE_STALL_MS,
    },
    answersInProgress: {
      perCaller: values.SLUICE_MAX_ANSWERS_PER_CALLER,
      perTenant: values.SLUICE_MAX_ANSWERS_PER_TENANT,
      total: values.SLUICE_MAX_ANSWERS,
      reserve: values.SLUICE_ANSWERS_RESERVE ?? Math.floor(values.SLUICE_MAX_ANSWERS / 4),
      guaranteed: values.SLUICE_ANSWERS_GUARANTEED_PER_TENANT,
    },
    database: { url: values.DATABASE_URL, appUrl: values.DATABASE_APP_URL, poolSize: values.SLUICE_DATABASE_POOL_SIZE, requestLockTimeoutMs: values.SLUICE_REQUEST_LOCK_TIMEOUT_MS, embeddedSharedBuffers: values.SLUICE_EMBEDDED_SHARED_BUFFERS },
    dataDir: path.resolve(values.SLUICE_DATA_DIR),
    redisUrl: values.REDIS_URL,
    logLevel: values.LOG_LEVEL ?? 'info',
    commandLogLevel: values.LOG_LEVEL ?? 'warn',
    logFormat: values.LOG_FORMAT ?? (values.NODE_ENV === 'production' ? 'json' : 'auto'),
    accessTokenTtlSeconds: values.ACCESS_TOKEN_TTL_SECONDS,
    jwksCooldownMs: values.SLUICE_JWKS_COOLDOWN_MS,
    ingestion: {
      maxFileBytes: values.SLUICE_INGEST_MAX_FILE_BYTES,
      maxFiles: values.SLUICE_INGEST_MAX_FILES,
      maxRequestBytes: values.SLUICE_INGEST_MAX_REQUEST_BYTES,
      uploadBytesInFlight: values.SLUICE_UPLOAD_BYTES_IN_FLIGHT,
      uploadStallMs: values.SLUICE_UPLOAD_STALL_MS,
      progressIntervalMs: values.SLUICE_PROGRESS_INTERVAL_MS,
      progressPollMs: values.SLUICE_PROGRESS_POLL_MS,
      maxQueuedJobs: values.SLUICE_INGEST_MAX_QUEUED_JOBS,
    },
    models: {
      requestTimeoutMs: values.SLUICE_MODEL_TIMEOUT_MS,
      answerTimeoutMs: values.SLUICE_MODEL_ANSWER_TIMEOUT_MS,
      answerMaxChars: values.SLUICE_MODEL_ANSWER_MAX_CHARS,
      maxRetries: values.SLUICE_MODEL_MAX_RETRIES,
      retryBaseDelayMs: values.SLUICE_MODEL_RETRY_BASE_MS,
      privateNetworks,
    },
    egress: { privateNetworks },
    vectorSearch: { hnswEfSearch: values.SLUICE_HNSW_EF_SEARCH, hnswMaxScanTuples: values.SLUICE_HNSW_MAX_SCAN_TUPLES },
    searchTimeoutMs: values.SLUICE_SEARCH_TIMEOUT_MS,
    modelHealth: {
      // Off by default under test: a check is a request to the test's model server, which tests count.
      intervalS: values.SLUICE_HEALTH_INTERVAL_S ?? (values.NODE_ENV === 'test' ? 0 : 60),
      slowMs: values.SLUICE_HEALTH_SLOW_MS,
      window: values.SLUICE_HEALTH_WINDOW,
      downAfter: values.SLUICE_HEALTH_DOWN_AFTER,
      timeoutMs: values.SLUICE_HEALTH_TIMEOUT_MS,
      roundMaxS: values.SLUICE_HEALTH_ROUND_MAX_S,
    },
    rateLimits: {
      enabled: rateLimitsOn,
      perPrincipal: { perSecond: values.SLUICE_RATE_LIMIT_PER_SECOND, burst: values.SLUICE_RATE_LIMIT_BURST },
      perIp: { perSecond: values.SLUICE_IP_RATE_LIMIT_PER_SECOND, burst: values.SLUICE_IP_RATE_LIMIT_BURST },
      anonymousQueries: { perSecond: values.SLUICE_ANONYMOUS_QUERIES_PER_MINUTE / 60, burst: values.SLUICE_ANONYMOUS_QUERY_BURST },
      authPerIp: parseQuota(values.SLUICE_AUTH_LIMIT_PER_IP),
      authPerEmail: parseQuota(values.SLUICE_AUTH_LIMIT_PER_EMAIL),
      authPerEmailAndIp: parseQuota(values.SLUICE_AUTH_LIMIT_PER_EMAIL_AND_IP),
      createApiKey: parseQuota(values.SLUICE_API_KEY_CREATE_LIMIT),
      // On whatever SLUICE_RATE_LIMITS says: the answer reserve counts on it, and it once went with
      // them. Unset under NODE_ENV=test, it follows them (off there: the suite signs up many
      // tenants from one address).
      signUpsPerIp: values.SLUICE_SIGNUP_LIMIT_PER_IP ? parseQuota(values.SLUICE_SIGNUP_LIMIT_PER_IP) : values.NODE_ENV !== 'test' || rateLimitsOn ? parseQuota('5/1h') : null,
      refusalAudit: parseQuota(values.SLUICE_AUTH_FAILURE_AUDIT_LIMIT),
      trustProxyHops: values.SLUICE_TRUST_PROXY,
    },
    operationLimits: {
      maxDepth: values.SLUICE_MAX_DEPTH,
      maxAliases: values.SLUICE_MAX_ALIASES,
      maxTokens: values.SLUICE_MAX_TOKENS,
      maxCost: values.SLUICE_MAX_COST,
      maxDirectives: values.SLUICE_MAX_DIRECTIVES,
      maxVariableValues: values.SLUICE_MAX_VARIABLE_VALUES,
      introspection: values.SLUICE_INTROSPECTION ? values.SLUICE_INTROSPECTION === 'true' : !production,
      blockFieldSuggestions: production,
    },
    hardening: {
      databaseSsl: databaseSsl === 'require' ? 'require' : 'disable',
      trustedDocumentsFile: values.SLUICE_TRUSTED_DOCUMENTS ? path.resolve(values.SLUICE_TRUSTED_DOCUMENTS) : undefined,
    },
    observability: {
      otlpEndpoint: values.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: values.OTEL_SERVICE_NAME,
      exportDelayMs: values.OTEL_BSP_SCHEDULE_DELAY,
      metricsToken: values.SLUICE_METRICS_TOKEN,
      redaction: { phoneCountry: values.SLUICE_REDACT_PHONE_COUNTRY as CountryCode | undefined },
    },
    worker: {
      mode: values.SLUICE_WORKER,
      concurrency: values.SLUICE_WORKER_CONCURRENCY,
      // One slot left for other tenants by default: one tenant's slow jobs cannot take them all.
      tenantConcurrency: values.SLUICE_WORKER_TENANT_CONCURRENCY ?? Math.max(1, values.SLUICE_WORKER_CONCURRENCY - 1),
      heartbeatMs: values.SLUICE_WORKER_HEARTBEAT_MS,
      staleAfterMs: values.SLUICE_WORKER_STALE_MS,
      parsing: {
        timeoutMs: values.SLUICE_PARSE_TIMEOUT_MS,
        memoryMb: values.SLUICE_PARSE_MEMORY_MB,
        // One thread per job running at once: each job parses one input at a time.
        threads: values.SLUICE_WORKER_CONCURRENCY,
        maxDepth: values.SLUICE_PARSE_MAX_DEPTH,
        maxColumns: values.SLUICE_PARSE_MAX_COLUMNS,
        maxLineChars: values.SLUICE_PARSE_MAX_LINE_CHARS,
        maxDocuments: values.SLUICE_PARSE_MAX_DOCUMENTS,
        // Two inputs at their own bound, or any number of smaller ones: about 450 MB of
        // documents and chunks at the defaults, whatever the number of files (docs/ingestion.md).
        maxJobDocuments: values.SLUICE_PARSE_MAX_JOB_DOCUMENTS ?? 2 * values.SLUICE_PARSE_MAX_DOCUMENTS,
      },
      groupRows: values.SLUICE_INGEST_GROUP_ROWS,
      vectorIndexDimensions: parseIndexDimensions(values.SLUICE_VECTOR_INDEX_DIMENSIONS)!,
      metricsPort: values.SLUICE_WORKER_METRICS_PORT,
      metricsHost: values.SLUICE_WORKER_METRICS_HOST,
    },
    secretsFromEnv: {
      jwtSecret: values.JWT_SECRET,
      masterKey: values.SLUICE_MASTER_KEY ? decodeMasterKey(values.SLUICE_MASTER_KEY) : undefined,
      previousMasterKeys: (values.SLUICE_MASTER_KEY_PREVIOUS ?? '')
        .split(',')
        .filter((key) => key.trim())
        .map((key) => decodeMasterKey(key.trim())!),
    },
  };
}

/**
 * Validates the environment and resolves secrets. Outside production, any secret the
 * environment does not give is generated once and kept in `<dataDir>/secrets.json` (mode 0600).
 */
export async function loadConfig(env: Env = process.env): Promise<Config> {
  const { secretsFromEnv, ...config } = parseConfig(env);
  const trustedDocuments = await loadTrustedDocuments(config.hardening.trustedDocumentsFile);
  const needsDevSecrets =
    !secretsFromEnv.jwtSecret || !secretsFromEnv.masterKey || !config.database.url || !config.database.appUrl;
  let dev: { secrets: DevSecrets; file: string; created: boolean } | undefined;
  if (needsDevSecrets) {
    // parseConfig already refused production without these; this is development or test.
    dev = await loadOrCreateDevSecrets(config.dataDir);
  }
  const masterKey = secretsFromEnv.masterKey ?? decodeMasterKey(dev!.secrets.masterKey)!;
  return {
    ...config,
    models: { ...config.models, hopMark: hopMarkOf(masterKey) },
    secrets: {
      jwtSecret: secretsFromEnv.jwtSecret ?? dev!.secrets.jwtSecret,
      masterKey,
      previousMasterKeys: secretsFromEnv.previousMasterKeys,
      databasePassword: dev?.secrets.databasePassword,
      appDatabasePassword: dev?.secrets.appDatabasePassword,
    },
    secretsSource: dev ? { kind: dev.created ? 'generated' : 'reused', file: dev.file } : { kind: 'environment' },
    trustedDocuments,
  };
}

async function loadTrustedDocuments(file: string | undefined): Promise<TrustedDocuments | undefined> {
  if (!file) return undefined;
  try {
    return await TrustedDocuments.load(file);
  } catch (error) {
    throw error instanceof TrustedDocumentsError ? new ConfigError(error.issues) : error;
  }
}

/** Whether a postgres URL's `sslmode` makes node-postgres use TLS (see db/orm.ts `sslOptionsOf`). */
function requiresTls(url: string): boolean {
  const mode = new URL(url).searchParams.get('sslmode');
  return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full' || mode === 'no-verify';
}
