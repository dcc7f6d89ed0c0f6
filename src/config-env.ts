/**
 * The environment variables Sluice reads and what each may hold: one zod schema whose
 * messages say what a bad value should look like. src/config.ts turns the parsed values into
 * a `Config`.
 */
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { DEFAULT_VECTOR_INDEX_DIMENSIONS, MAX_HNSW_DIMENSIONS } from './db/vector-index.js';
import { DEFAULT_GROUP_ROWS } from './domains/ingestion/ingestion-limits.js';
import { DEFAULT_PARSE_LIMITS } from './domains/ingestion/parsers/limits.js';
import { parsePrivateNetworkPolicy } from './platform/egress/policy.js';
import type { BucketRule } from './platform/rate-limits/token-bucket.js';

const postgresUrl = z
  .string()
  .refine((value) => /^postgres(ql)?:\/\/.+/.test(value) && URL.canParse(value), {
    message: 'must be a postgres:// or postgresql:// URL',
  });

const base64Key = z.string().refine((value) => decodeMasterKey(value) !== undefined, {
  message: 'must be exactly 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
});

/** "attempts/period", e.g. 5/15m: a bucket of 5 that refills 5 every 15 minutes. */
const QUOTA = /^([1-9]\d{0,6})\/([1-9]\d{0,5})?(s|m|h)$/;
const quota = z.string().regex(QUOTA, { message: 'must look like 5/15m: attempts per period (s, m or h)' });

export function parseQuota(value: string): BucketRule {
  const [, attempts, count, unit] = QUOTA.exec(value)!;
  const seconds = Number(count ?? 1) * { s: 1, m: 60, h: 3600 }[unit as 's' | 'm' | 'h'];
  return { burst: Number(attempts), perSecond: Number(attempts) / seconds };
}

const isPolicy = (value: string) => {
  try {
    parsePrivateNetworkPolicy(value);
    return true;
  } catch {
    return false;
  }
};

const privateNetworks = z
  .string()
  .refine((value) => isPolicy(value), { message: 'must be allow, deny, or CIDRs to allow (e.g. 10.1.0.0/16,fd00::/8)' });

const perSecond = z.coerce.number({ message: 'must be a number' }).positive('must be more than 0').max(100_000, 'must be at most 100000');
const burst = z.coerce.number({ message: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000');
const limit = (min: number, max: number) =>
  z.coerce.number({ message: 'must be a number' }).int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(0, 'must be between 0 and 65535')
    .max(65535, 'must be between 0 and 65535')
    .default(4000),
  HOST: z.string().min(1, 'must not be empty').optional(),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_APP_URL: postgresUrl.optional(),
  SLUICE_DATA_DIR: z.string().min(1, 'must not be empty').default('.sluice'),
  REDIS_URL: z
    .string()
    .refine((value) => /^rediss?:\/\/.+/.test(value) && URL.canParse(value), {
      message: 'must be a redis:// or rediss:// URL',
    })
    .optional(),
  // Unset: `info` for serve and worker, `warn` for one-shot operator commands (their answer is the output).
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SLUICE_MASTER_KEY: base64Key.optional(),
  SLUICE_MASTER_KEY_PREVIOUS: z
    .string()
    .refine((value) => value.split(',').every((key) => decodeMasterKey(key.trim()) !== undefined), {
      message: 'must be a comma-separated list of 32-byte base64 keys',
    })
    .optional(),
  CORS_ORIGINS: z.string().optional(),
  SLUICE_ALLOWED_HOSTS: z.string().optional(),
  SLUICE_GRAPHIQL: z.enum(['true', 'false']).optional(),
  SLUICE_MAX_BODY_BYTES: z.coerce.number().int().min(1024, 'must be at least 1024').default(1_048_576),
  SLUICE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  SLUICE_CREDENTIAL_RECHECK_MS: z.coerce.number().int().min(100, 'must be at least 100').max(60_000, 'must be at most 60000').default(5_000),
  SLUICE_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  SLUICE_INGEST_MAX_FILE_BYTES: z.coerce.number().int().min(1024, 'must be at least 1024').default(25 * 1024 * 1024),
  SLUICE_INGEST_MAX_FILES: z.coerce.number().int().min(1, 'must be at least 1').max(10_000).default(100),
  /** A tenant's ingestion and re-embed jobs queued or running at once (domains/ingestion/queue.ts). */
  SLUICE_INGEST_MAX_QUEUED_JOBS: z.coerce.number().int().min(1, 'must be at least 1').max(100_000).default(100),
  SLUICE_INGEST_MAX_REQUEST_BYTES: z.coerce.number().int().min(1024, 'must be at least 1024').default(100 * 1024 * 1024),
  SLUICE_UPLOAD_BYTES_IN_FLIGHT: z.coerce.number().int().min(1024, 'must be at least 1024').default(256 * 1024 * 1024),
  SLUICE_UPLOAD_STALL_MS: z.coerce.number().int().min(100, 'must be at least 100').max(600_000, 'must be at most 600000').default(10_000),
  SLUICE_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  SLUICE_SUBSCRIPTIONS_PER_CONNECTION: limit(1, 10_000).default(50),
  SLUICE_SUBSCRIPTIONS_PER_PRINCIPAL: limit(1, 100_000).default(100),
  SLUICE_WS_KEEPALIVE_MS: limit(0, 600_000).default(12_000),
  // Open WebSocket connections (src/server/websocket-caps.ts). Each holds a file descriptor for
  // as long as it answers pings. 10 000 stays well under the descriptor limit Node raises itself
  // to (a container's is usually 1 048 576, systemd's 524 288; check `ulimit -Hn`), leaving room
  // for HTTP, PostgreSQL and Redis, and is more live clients than one process serves well.
  SLUICE_WS_MAX_CONNECTIONS: limit(1, 1_000_000).default(10_000),
  // 100 from one address: a client needs one per tab or backend process, and an office or a
  // carrier NAT puts many users behind one IPv4 address; one address cannot take more than 1 %.
  SLUICE_WS_MAX_CONNECTIONS_PER_ADDRESS: limit(1, 1_000_000).default(100),
  // Answers in progress at once (domains/endpoint-queries/answers-in-progress.ts): each holds a
  // socket to its client, often one to its model, and ~175 KB, for as long as the model answers
  // and the client reads. 20 per caller is more than an interactive client or a backend's worker
  // pool keeps open; 400 per process is ~70 MB and 800 descriptors at most.
  SLUICE_MAX_ANSWERS_PER_CALLER: limit(1, 100_000).default(20),
  SLUICE_MAX_ANSWERS_PER_TENANT: limit(1, 1_000_000).default(100),
  SLUICE_MAX_ANSWERS: limit(1, 1_000_000).default(400),
  // The last places, kept for tenants with little running (platform/concurrency/answer-places.ts):
  // unset, a quarter of SLUICE_MAX_ANSWERS (100 of 400: 25 tenants at the guarantee below), so
  // normal load (three quarters of the process) meets no new bound. 4 per tenant is an
  // interactive user's stream or two plus a small backend's; past the line a tenant holding
  // that many is refused (retry in a second) while the heavy ones hold the rest.
  SLUICE_ANSWERS_RESERVE: limit(0, 1_000_000).optional(),
  SLUICE_ANSWERS_GUARANTEED_PER_TENANT: limit(1, 1_000_000).default(4),
  // A response whose client takes nothing for this long (its buffered output never drains) is
  // cut (platform/http/write-stall.ts): node:http has no write deadline of its own.
  SLUICE_WRITE_STALL_MS: limit(100, 3_600_000).default(30_000),
  SLUICE_HEADERS_TIMEOUT_MS: limit(100, 600_000).default(10_000),
  SLUICE_REQUEST_TIMEOUT_MS: limit(100, 3_600_000).default(300_000),
  SLUICE_KEEP_ALIVE_TIMEOUT_MS: limit(100, 600_000).default(5_000),
  SLUICE_PROGRESS_POLL_MS: z.coerce.number().int().min(50, 'must be at least 50').default(2_000),
  SLUICE_WORKER: z.enum(['inline', 'off']).default('inline'),
  SLUICE_MODEL_TIMEOUT_MS: z.coerce.number().int().min(100, 'must be at least 100').max(600_000).default(60_000),
  /** A streamed answer's whole time: SLUICE_MODEL_TIMEOUT_MS waits for each piece, and a server sending one every few seconds never met it. */
  SLUICE_MODEL_ANSWER_TIMEOUT_MS: z.coerce.number().int().min(1000, 'must be at least 1000').max(3_600_000).default(600_000),
  /** The longest answer text a chat model may send (characters); past it the answer is refused (BAD_RESPONSE). */
  SLUICE_MODEL_ANSWER_MAX_CHARS: z.coerce.number().int().min(1024, 'must be at least 1024').max(16 * 1024 * 1024, 'must be at most 16777216').default(1024 * 1024),
  SLUICE_MODEL_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  SLUICE_MODEL_RETRY_BASE_MS: z.coerce.number().int().min(0).max(10_000).default(500),
  SLUICE_EGRESS_PRIVATE_NETWORKS: privateNetworks.optional(),
  /** Model health checks (docs/endpoints.md#health): seconds between rounds, 0 turns them off. */
  SLUICE_HEALTH_INTERVAL_S: limit(0, 86_400).optional(),
  SLUICE_HEALTH_SLOW_MS: limit(1, 600_000).default(5_000),
  SLUICE_HEALTH_WINDOW: limit(1, 32).default(5),
  SLUICE_HEALTH_DOWN_AFTER: limit(1, 32).default(2),
  /** One check's longest wait: a one-token request, far below a query's SLUICE_MODEL_TIMEOUT_MS. */
  SLUICE_HEALTH_TIMEOUT_MS: limit(100, 600_000).default(10_000),
  /** No check of a round starts later than this; the models left go first in the next round. */
  SLUICE_HEALTH_ROUND_MAX_S: limit(1, 86_400).default(120),
  /** Longest one retrieval statement of an endpoint query may run before it is cancelled (QUERY_TOO_COSTLY). */
  SLUICE_SEARCH_TIMEOUT_MS: z.coerce.number().int().min(10, 'must be at least 10').max(600_000, 'must be at most 600000').default(10_000),
  SLUICE_HNSW_EF_SEARCH: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(200),
  /** pgvector's hnsw.max_scan_tuples (its default 20 000): a scan cut short by it is searched again exactly (endpoints/semantic-retriever.ts). */
  SLUICE_HNSW_MAX_SCAN_TUPLES: z.coerce.number().int().min(1, 'must be at least 1').max(2_147_483_647, 'must be at most 2147483647').default(20_000),
  /** The only vector sizes given an HNSW index on the shared chunk_embeddings (db/vector-index.ts); any other is searched exactly. */
  SLUICE_VECTOR_INDEX_DIMENSIONS: z
    .string()
    .refine((value) => parseIndexDimensions(value) !== undefined, {
      message: `must be a comma-separated list of vector sizes from 1 to ${MAX_HNSW_DIMENSIONS} (e.g. 384,768,1536), or none`,
    })
    .default(DEFAULT_VECTOR_INDEX_DIMENSIONS.join(',')),
  /** The earlier name of SLUICE_EGRESS_PRIVATE_NETWORKS, from when only model servers were guarded; still accepted. */
  SLUICE_MODEL_PRIVATE_NETWORKS: privateNetworks.optional(),
  SLUICE_WORKER_CONCURRENCY: z.coerce.number().int().min(1, 'must be at least 1').max(64).default(2),
  /** Ingestion jobs of one tenant running at once, across every worker; unset: SLUICE_WORKER_CONCURRENCY − 1, at least 1. */
  SLUICE_WORKER_TENANT_CONCURRENCY: limit(1, 64).optional(),
  SLUICE_WORKER_HEARTBEAT_MS: z.coerce.number().int().min(100, 'must be at least 100').default(5_000),
  SLUICE_WORKER_STALE_MS: z.coerce.number().int().min(300, 'must be at least 300').default(30_000),
  /** `sluice worker`'s own /metrics and /healthz listener (its --metrics-port wins); unset: none. 0: any free port. */
  SLUICE_WORKER_METRICS_PORT: limit(0, 65535).optional(),
  SLUICE_WORKER_METRICS_HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  SLUICE_PARSE_TIMEOUT_MS: limit(1, 3_600_000).default(60_000),
  SLUICE_PARSE_MEMORY_MB: limit(16, 65_536).default(512),
  SLUICE_PARSE_MAX_DEPTH: limit(1, 10_000).default(DEFAULT_PARSE_LIMITS.maxDepth),
  SLUICE_PARSE_MAX_COLUMNS: limit(1, 100_000).default(DEFAULT_PARSE_LIMITS.maxColumns),
  SLUICE_PARSE_MAX_LINE_CHARS: limit(80, 1024 * 1024 * 1024).default(DEFAULT_PARSE_LIMITS.maxLineChars),
  // Documents one input may yield, held in the worker's heap until written: about 900 MB per
  // million one-row documents (docs/ingestion.md), so 250 000 keeps an input near 225 MB.
  SLUICE_PARSE_MAX_DOCUMENTS: limit(1, 10_000_000).default(250_000),
  // Rows (documents and chunks) one transaction of an ingestion job writes, unless one input holds more (domains/ingestion/item-groups.ts).
  SLUICE_INGEST_GROUP_ROWS: limit(100, 10_000_000).default(DEFAULT_GROUP_ROWS),
  // Documents one job's inputs may yield in all: a job holds a group of inputs' documents at
  // once, so the bound per input alone let one call of many files hold gigabytes. Unset: twice
  // SLUICE_PARSE_MAX_DOCUMENTS (config.ts).
  SLUICE_PARSE_MAX_JOB_DOCUMENTS: limit(1, 100_000_000).optional(),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60, 'must be at least 60').max(86_400).default(900),
  SLUICE_RATE_LIMITS: z.enum(['on', 'off']).optional(),
  SLUICE_RATE_LIMIT_PER_SECOND: perSecond.default(10),
  SLUICE_RATE_LIMIT_BURST: burst.default(20),
  SLUICE_IP_RATE_LIMIT_PER_SECOND: perSecond.default(50),
  SLUICE_IP_RATE_LIMIT_BURST: burst.default(100),
  SLUICE_ANONYMOUS_QUERIES_PER_MINUTE: z.coerce.number({ message: 'must be a number' }).positive('must be more than 0').max(1_000_000, 'must be at most 1000000').default(30),
  SLUICE_ANONYMOUS_QUERY_BURST: burst.default(10),
  SLUICE_AUTH_LIMIT_PER_IP: quota.default('30/15m'),
  SLUICE_AUTH_LIMIT_PER_EMAIL: quota.default('20/1h'),
  SLUICE_AUTH_LIMIT_PER_EMAIL_AND_IP: quota.default('5/15m'),
  SLUICE_API_KEY_CREATE_LIMIT: quota.default('30/1h'),
  // Tenants made per client address: a person makes one, a team or a classroom behind one NAT a
  // few; each is a share of the answer places (above), so one address makes at most 5 an hour.
  // Unset: 5/1h (config.ts), on whatever SLUICE_RATE_LIMITS says, but under NODE_ENV=test only with them.
  SLUICE_SIGNUP_LIMIT_PER_IP: quota.optional(),
  SLUICE_AUTH_FAILURE_AUDIT_LIMIT: quota.default('10/1m'),
  SLUICE_TRUST_PROXY: z.coerce
    .number({ message: 'must be the number of proxies in front of Sluice (0 to 10)' })
    .int('must be the number of proxies in front of Sluice (0 to 10)')
    .min(0, 'must be the number of proxies in front of Sluice (0 to 10)')
    .max(10, 'must be the number of proxies in front of Sluice (0 to 10)')
    .default(0),
  SLUICE_MAX_DEPTH: limit(1, 100).default(12),
  SLUICE_MAX_ALIASES: limit(0, 1000).default(15),
  SLUICE_MAX_TOKENS: limit(100, 100_000).default(2000),
  SLUICE_MAX_COST: limit(10, 10_000_000).default(50_000),
  SLUICE_MAX_DIRECTIVES: limit(0, 1000).default(50),
  SLUICE_MAX_VARIABLE_VALUES: limit(100, 1_000_000).default(10_000),
  SLUICE_INTROSPECTION: z.enum(['true', 'false']).optional(),
  SLUICE_DATABASE_SSL: z.enum(['require', 'disable'], { message: 'must be require or disable' }).optional(),
  SLUICE_DATABASE_POOL_SIZE: limit(1, 500).default(10),
  // How long a request waits for a row lock (a job's, a dataset's) before UNAVAILABLE: db/tenant-scope.ts.
  SLUICE_REQUEST_LOCK_TIMEOUT_MS: limit(100, 600_000).default(10_000),
  // The embedded PostgreSQL's page memory (src/db/embedded-memory.ts); PostgreSQL's own syntax.
  SLUICE_EMBEDDED_SHARED_BUFFERS: z
    .string()
    .refine(isSharedBuffersAmount, { message: 'must be an amount such as 512MB or 2GB, from 16MB to 1TB' })
    .optional(),
  SLUICE_TRUSTED_DOCUMENTS: z.string().min(1, 'must not be empty').optional(),
  SLUICE_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  SLUICE_REDACT_PHONE_COUNTRY: z
    .string()
    .refine((value) => isSupportedCountry(value), { message: 'must be an ISO 3166-1 alpha-2 country code, e.g. US' })
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .refine((value) => /^https?:\/\/.+/.test(value) && URL.canParse(value), { message: 'must be an http:// or https:// URL' })
    .optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('sluice'),
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(0).max(600_000).default(5_000),
});

/** SLUICE_VECTOR_INDEX_DIMENSIONS as a set (`none`: empty), or undefined when an entry is not a size pgvector can index. */
export function parseIndexDimensions(value: string): ReadonlySet<number> | undefined {
  if (value.trim() === 'none') return new Set();
  const entries = value.split(',').map((entry) => entry.trim());
  if (!entries.every((entry) => /^\d{1,4}$/.test(entry) && Number(entry) >= 1 && Number(entry) <= MAX_HNSW_DIMENSIONS)) return undefined;
  return new Set(entries.map(Number));
}

/** A 32-byte key from base64, or undefined when it is not one. */
export function decodeMasterKey(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const key = Buffer.from(value, 'base64');
  return key.length === 32 ? key : undefined;
}

/** Whether `value` is an amount in PostgreSQL's memory syntax (a number and kB, MB, GB or TB) from 16 MB to 1 TB. */
function isSharedBuffersAmount(value: string): boolean {
  const match = /^(\d{1,10})(kB|MB|GB|TB)$/.exec(value);
  if (!match) return false;
  const megabytes = Number(match[1]) * { kB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 }[match[2] as 'kB' | 'MB' | 'GB' | 'TB'];
  return megabytes >= 16 && megabytes <= 1024 * 1024;
}
