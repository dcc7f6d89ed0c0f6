import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantScope } from '../db/tenant-scope.js';
import type { Actor } from './actor.js';
import type { SharedSlots } from '../platform/concurrency/keyed-slots.js';
import type { AnswerPlaces } from '../platform/concurrency/answer-places.js';
import type { AccessTokens } from './identity/access-token.js';
import type { CredentialStore } from './identity/credential-store.js';
import type { LimitedRefusals, RefusedCredentials } from './identity/refused-credentials.js';
import type { IngestionLimits } from './ingestion/ingestion-limits.js';
import type { ProgressBus } from './ingestion/progress.js';
import type { AuditLog } from './audit/audit-log.js';
import type { Clock } from './clock.js';
import type { ProviderSettings } from './models/provider.js';
import type { HealthSettings } from './model-health/health-rules.js';
import type { VectorSearchSettings } from './endpoints/semantic-retriever.js';
import type { ServerRequestLimits } from './endpoints/catalog-limits.js';
import type { SecretBox } from '../platform/secrets/secret-box.js';
import type { AnonymousQueryLimit } from '../platform/rate-limits/anonymous-query-limit.js';
import type { SignUpLimit } from '../platform/rate-limits/sign-up-limit.js';
import type { PrivateNetworkPolicy } from '../platform/egress/policy.js';
import type { TopicReaders } from '../platform/subscriptions/topic-readers.js';
import type { ProductMeter } from '../platform/telemetry/product-metrics.js';

/** Process-wide collaborators services need besides the database. */
export interface ServiceDependencies {
  readonly tokens: AccessTokens;
  readonly credentials: CredentialStore;
  readonly production: boolean;
  readonly ingestion: IngestionLimits;
  readonly progress: ProgressBus;
  /** The process's shared subscription readers: one per tenant and topic (job, dataset, audit trail). */
  readonly topicReaders: TopicReaders;
  /** Seals and opens secrets at rest (model API keys) under the master key. */
  readonly secrets: SecretBox;
  readonly modelSettings: ProviderSettings;
  /** The model health checks' settings: a query refuses at once when a fresh check found its model DOWN. Absent: never. */
  readonly modelHealth?: HealthSettings;
  /** HNSW search breadth and scan bound (SLUICE_HNSW_EF_SEARCH, SLUICE_HNSW_MAX_SCAN_TUPLES); absent: the defaults. */
  readonly vectorSearch?: VectorSearchSettings;
  /** Longest one retrieval statement may run before it is cancelled (SLUICE_SEARCH_TIMEOUT_MS); absent: unbounded. */
  readonly searchTimeoutMs?: number;
  /** Each tenant's (anonymous callers': each address's) share of the pool for query transactions (endpoint-queries/query-slots.ts); absent: none. */
  readonly querySlots?: SharedSlots;
  /** Answers in progress per caller and in all (endpoint-queries/answers-in-progress.ts); absent: not counted. */
  readonly answersInProgress?: AnswerPlaces;
  /** Where outbound requests may go (src/platform/egress): checked when a URL is stored, and again when it is called. */
  readonly egress: PrivateNetworkPolicy;
  readonly clock: Clock;
  /** The server's request limits, which the catalog tells consumers; absent when rate limits are off. */
  readonly requestLimits?: ServerRequestLimits;
  /** The audit trail's writer; absent where nothing is audited (operator CLI). */
  readonly audit?: AuditLog;
  /**
   * The per-address limit on anonymous endpoint queries (SLUICE_ANONYMOUS_QUERIES_PER_MINUTE);
   * absent only where no consumer can ask (operator commands, service-level tests).
   */
  readonly anonymousQueries?: AnonymousQueryLimit;
  /** The tenants sign-up may make per client address (SLUICE_SIGNUP_LIMIT_PER_IP), on even when rate limits are off; absent where no one signs up (operator commands, service-level tests), and under NODE_ENV=test unless set or rate limits are on. */
  readonly signUps?: Pick<SignUpLimit, 'tenantSignUp'>;
  /** Refused credentials (refresh tokens here), into the audit trail, rate-limited; absent: not recorded. */
  readonly refusals?: RefusedCredentials;
  /** The flood limit on a refusal's rows in an endpoint's decision log (endpoint-queries/refusals.ts); absent: each is written. */
  readonly limitedRefusals?: Pick<LimitedRefusals, 'mayRecordDecision'>;
  /** Where queries, model calls and policy decisions are counted for `/metrics`; absent: not counted (operator commands). */
  readonly meter?: ProductMeter;
  /** Hints that a tenant's audit trail grew (live subscriptions). */
  readonly auditFeed?: { listen(tenantId: string): AsyncIterableIterator<unknown> };
}

/** What services may know of the request itself (never its credential). */
export interface RequestFacts {
  /** sha256 of the GraphQL document, for the policy decision log. */
  operationHash: string | null;
  requestId?: string | null;
  traceId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Aborts when the client goes away before its answer is sent (the request's own signal). */
  signal?: AbortSignal;
  /**
   * Holds the rest of a GraphQL query or mutation to its credential, as the doors and
   * subscriptions are held (plugins/credential-watch.ts): from this call on, the signal aborts,
   * its reason the CodedError the operation must end with (UNAUTHENTICATED when the key is
   * revoked or expires, the session ends or the member is removed; FORBIDDEN when the tenant's
   * allow-list drops the address). Called by what waits long (asking an endpoint), so a short
   * operation costs the watch nothing. Undefined, or returning undefined, where nothing holds
   * the operation this way: the doors watch their whole request themselves, subscriptions are
   * watched as streams, anonymous callers have no credential to lose.
   */
  standing?: () => AbortSignal | undefined;
}

/**
 * What every service is constructed with: the caller, the entry point's tenant scope
 * (src/db/tenant-scope.ts: the one place that binds a tenant), its unit of work `em`, and the
 * process-wide dependencies. Built by `createServices`.
 */
export interface ServiceContext {
  readonly actor: Actor;
  readonly scope: TenantScope;
  /** `scope.em`: the entry point's unit of work, bound to the scope's tenant (ORM filter and RLS). */
  readonly em: EntityManager;
  readonly deps: ServiceDependencies;
  readonly request?: RequestFacts;
}
