/**
 * The shape of Sluice's settings: what `parseConfig` (config.ts) produces from the environment.
 * Kept apart from the parsing so readers of a setting need not read how it is validated.
 */
import type { ParseBudget } from './domains/ingestion/document-parser.js';
import type { HealthSettings } from './domains/model-health/health-rules.js';
import type { ProviderSettings } from './domains/models/provider.js';
import type { VectorSearchSettings } from './domains/endpoints/semantic-retriever.js';
import type { PrivateNetworkPolicy } from './platform/egress/policy.js';
import type { AnswerLimits } from './platform/concurrency/answer-places.js';
import type { BucketRule } from './platform/rate-limits/token-bucket.js';
import type { RedactionOptions } from './platform/logging/redaction.js';
import type { LogFormat } from './platform/logging/logger.js';
import type { TrustedDocuments } from './platform/trusted-documents/document-store.js';

export type RuntimeEnv = 'development' | 'test' | 'production';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  env: RuntimeEnv;
  http: {
    port: number;
    host: string;
    /** Allowed browser origins (CORS_ORIGINS); `['*']` (development only) reflects any origin, `[]` allows none but loopback ones when `corsLoopback`. */
    corsOrigins: string[];
    /** CORS_ORIGINS unset outside production: pages of this machine's origins (localhost, 127.0.0.0/8, [::1], any port) may call. */
    corsLoopback: boolean;
    /** SLUICE_ALLOWED_HOSTS: host names requests may be sent to besides IP addresses and localhost (`.name`, `*.name`, `*`: platform/http/allowed-hosts.ts). */
    allowedHosts: string[];
    /** Production without SLUICE_ALLOWED_HOSTS: any Host is answered, and start-up warns. */
    anyHostByDefault: boolean;
    graphiql: boolean;
    /** Largest accepted request body, in bytes. */
    maxBodyBytes: number;
    shutdownTimeoutMs: number;
    /** How often live subscriptions re-check their credential. */
    credentialRecheckMs: number;
    /** Live subscriptions one connection, and one principal, may hold in this process. */
    subscriptionsPerConnection: number;
    subscriptionsPerPrincipal: number;
    /** How often a WebSocket is pinged; one that has not answered the previous ping is closed (0: never). */
    webSocketKeepAliveMs: number;
    /** Open WebSocket connections per process, and from one client address (IPv6: one /64); past either an upgrade is refused. */
    webSocketConnections: number;
    webSocketConnectionsPerAddress: number;
    /** Slow clients are cut: all headers within `headersTimeoutMs`, the whole request within `requestTimeoutMs`. */
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    /** How long an idle keep-alive connection stays open after a response. */
    keepAliveTimeoutMs: number;
    /** A response whose client has taken none of its buffered output for this long is cut. */
    writeStallMs: number;
  };
  /** Endpoint answers in progress at once, per caller (an anonymous caller: its address), per tenant and per process, and the process's reserve (platform/concurrency/answer-places.ts). */
  answersInProgress: AnswerLimits;
  database: {
    /** Owner connection (runs migrations). Absent: start embedded PostgreSQL. */
    url: string | undefined;
    /** Connection for the API: a role that owns no table and cannot bypass RLS. */
    appUrl: string | undefined;
    /** Connections each process keeps to PostgreSQL as the app role (docs/benchmarks.md: pool size). */
    poolSize: number;
    /** SLUICE_REQUEST_LOCK_TIMEOUT_MS: the longest a request's transaction waits for a lock. */
    requestLockTimeoutMs: number;
    /** SLUICE_EMBEDDED_SHARED_BUFFERS; absent: a quarter of the machine's memory (db/embedded-memory.ts). */
    embeddedSharedBuffers: string | undefined;
  };
  dataDir: string;
  redisUrl: string | undefined;
  logLevel: LogLevel;
  /** One-shot operator commands (`migrate`, `audit verify`…): LOG_LEVEL, else `warn`. */
  commandLogLevel: LogLevel;
  /** LOG_FORMAT: `auto` (readable in a terminal, JSON when piped) outside production, `json` in it. */
  logFormat: LogFormat;
  secrets: {
    jwtSecret: string;
    /** 32 bytes for AES-256-GCM. */
    masterKey: Buffer;
    /** Earlier master keys, still able to open what they sealed until `sluice rotate-master-key`. */
    previousMasterKeys: Buffer[];
    /** Passwords Sluice uses for the databases it creates itself (embedded / development). */
    databasePassword: string | undefined;
    appDatabasePassword: string | undefined;
  };
  /** Where the secrets came from, so start-up can say so. */
  secretsSource: { kind: 'environment' } | { kind: 'generated' | 'reused'; file: string };
  accessTokenTtlSeconds: number;
  /** Least time between two fetches of one identity provider's JWKS. */
  jwksCooldownMs: number;
  ingestion: IngestionConfig;
  worker: WorkerConfig;
  /** Where outbound requests (models, identity providers' keys) may go (src/platform/egress). */
  egress: { privateNetworks: PrivateNetworkPolicy };
  /** How model providers call their servers (`privateNetworks` is `egress.privateNetworks`). */
  models: ProviderSettings;
  /** Semantic search (docs/endpoints.md#engines). */
  vectorSearch: VectorSearchSettings;
  /** Longest one retrieval statement may run (SLUICE_SEARCH_TIMEOUT_MS). */
  searchTimeoutMs: number;
  /** The worker's checks of published endpoints' models (docs/endpoints.md#health). */
  modelHealth: HealthSettings;
  rateLimits: RateLimitConfig;
  operationLimits: OperationLimitConfig;
  hardening: HardeningConfig;
  observability: ObservabilityConfig;
  /** Persisted-operations-only mode: the only documents clients may run (SLUICE_TRUSTED_DOCUMENTS). */
  trustedDocuments: TrustedDocuments | undefined;
}

/** What production refuses or locks down (docs/operations.md, "Security hardening"). */
export interface HardeningConfig {
  /** `require`: DATABASE_URL and DATABASE_APP_URL must ask for TLS (`sslmode=`); `disable`: not checked. */
  databaseSsl: 'require' | 'disable';
  /** The SLUICE_TRUSTED_DOCUMENTS file, resolved; loaded by `loadConfig`. */
  trustedDocumentsFile: string | undefined;
}

/** Logs, traces and metrics (docs/operations.md, "Observability"). */
export interface ObservabilityConfig {
  /** OTLP/HTTP base URL (spans go to `<url>/v1/traces`); undefined: no tracing, no network. */
  otlpEndpoint: string | undefined;
  serviceName: string;
  /** Most time a finished span waits before it is exported (OTEL_BSP_SCHEDULE_DELAY). */
  exportDelayMs: number;
  /** Bearer token /metrics asks for; production serves no metrics without one. */
  metricsToken: string | undefined;
  redaction: RedactionOptions;
}

/** Request rate limits (token buckets; see docs/operations.md). */
export interface RateLimitConfig {
  /** Off only when NODE_ENV=test leaves SLUICE_RATE_LIMITS unset: the suite sends bursts from one address. */
  enabled: boolean;
  /** Per user, API key or external identity, within its tenant; the tenant's settings may override. */
  perPrincipal: BucketRule;
  /** Per client address (IPv6: per /64), every request. */
  perIp: BucketRule;
  /**
   * Anonymous endpoint queries per client address (IPv6: per /64) and endpoint. Always
   * applied, even with `enabled` false: an endpoint open to anyone is never left unlimited.
   */
  anonymousQueries: BucketRule;
  /** logIn and signUp attempts per client address (GraphQL and REST login share them). */
  authPerIp: BucketRule;
  /**
   * logIn and signUp attempts per email address, from all addresses together; not applied to a
   * logIn from an address where that account signed in lately (domains/identity/sign-in-addresses.ts).
   */
  authPerEmail: BucketRule;
  /** logIn and signUp attempts per email address from one client address (IPv6: per /64). */
  authPerEmailAndIp: BucketRule;
  /** createApiKey and rotateApiKey calls per principal. */
  createApiKey: BucketRule;
  /** Sign-ups that make a tenant, per client address (IPv6: per /64): tenants cost nothing else. On even with `enabled` false; null (none) only under NODE_ENV=test with it unset and `enabled` false. */
  signUpsPerIp: BucketRule | null;
  /**
   * Refused credentials written to the audit trail, per trail and client address (ten times
   * this per trail); the rest are counted in one summary event. Always applied, even with
   * `enabled` false: a gateway in front limits requests, not what the trail must hold.
   */
  refusalAudit: BucketRule;
  /** Proxies in front of Sluice whose X-Forwarded-For entries are believed (0: none). */
  trustProxyHops: number;
}

/** Limits on the shape of one GraphQL operation (GraphQL Armor), and introspection. */
export interface OperationLimitConfig {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  maxDirectives: number;
  /** Most values in an operation's variables, every item and field at any depth counted (SLUICE_MAX_VARIABLE_VALUES). */
  maxVariableValues: number;
  introspection: boolean;
  /** Hide "Did you mean …?" in validation errors (production): they map the schema for a stranger. */
  blockFieldSuggestions: boolean;
}

export interface IngestionConfig {
  /** Largest accepted file or inline document, in bytes. */
  maxFileBytes: number;
  /** Most inputs (files plus inline documents) in one `ingestDocuments` call. */
  maxFiles: number;
  /** Largest multipart (upload) request body, in bytes. */
  maxRequestBytes: number;
  /**
   * Upload (multipart) bytes received and processed at once, all callers together; one client
   * address may hold half of it, or one largest upload if that is more (platform/http/upload-budget.ts).
   */
  uploadBytesInFlight: number;
  /** An upload body gaining less than 64 KiB in this long is cut, and its share given back. */
  uploadStallMs: number;
  /** Least time between two progress events of one job (about 10 a second by default). */
  progressIntervalMs: number;
  /** How often a subscriber re-reads a job it has heard nothing about (a lost event costs at most this). */
  progressPollMs: number;
  /** A tenant's ingestion and re-embed jobs not yet ended (queued or running), at most; one more is refused RATE_LIMITED (domains/ingestion/queue.ts). */
  maxQueuedJobs: number;
}

export interface WorkerConfig {
  /** Run ingestion jobs in the API process (`inline`), or leave them to `sluice worker` (`off`). */
  mode: 'inline' | 'off';
  concurrency: number;
  /** Ingestion jobs of one tenant running at once, across every worker process (domains/ingestion/tenant-slots.ts). */
  tenantConcurrency: number;
  heartbeatMs: number;
  /** A worker process silent this long is presumed dead and its jobs are unlocked to resume. */
  staleAfterMs: number;
  /** Each input is parsed and chunked in a worker thread within these bounds (document-parser.ts). */
  parsing: ParseBudget;
  /** Rows (documents and chunks) one group of a job's inputs writes in its transaction, unless one input holds more (SLUICE_INGEST_GROUP_ROWS, domains/ingestion/item-groups.ts). */
  groupRows: number;
  /** The vector sizes the EMBEDDING stage (and migrate, for those stored) builds HNSW indexes for (SLUICE_VECTOR_INDEX_DIMENSIONS, db/vector-index.ts). */
  vectorIndexDimensions: ReadonlySet<number>;
  /**
   * The port `sluice worker` serves its own /metrics and /healthz on (it has no API listener);
   * undefined: none. Not used by `sluice serve`, whose API serves /metrics.
   */
  metricsPort: number | undefined;
  /** The address that listener binds: 127.0.0.1 unless told otherwise. */
  metricsHost: string;
}
