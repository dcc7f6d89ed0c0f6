/**
 * The GraphQL context of one operation, assembled by plugins in order: request id and logger,
 * then the actor (auth), then the tenant-scoped EntityManager and services (request scope).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { YogaInitialContext } from 'graphql-yoga';
import type { TenantScope } from '../db/tenant-scope.js';
import type { Actor } from '../domains/actor.js';
import type { PresentedCredential } from '../domains/identity/authenticator.js';
import type { Services } from '../domains/services.js';
import type { Logger } from '../platform/logging/logger.js';

export interface RequestContext {
  requestId: string;
  logger: Logger;
  /**
   * The OpenTelemetry trace id of this operation (32 hex characters; the tracing plugin), also
   * bound into `logger`. Null when tracing is off (no OTEL_EXPORTER_OTLP_ENDPOINT): use
   * `requestId` to correlate then.
   */
  traceId: string | null;
}

export interface AuthContext {
  actor: Actor;
  /** When the credential stops being valid (token expiry); null when it does not expire. */
  credentialExpiresAt: Date | null;
  /** What the caller presented, kept so long-lived subscriptions can re-check it. */
  credential: PresentedCredential;
}

export interface ScopeContext {
  /** The operation's tenant scope (src/db/tenant-scope.ts); for plugins only, like `em`. */
  scope: TenantScope;
  /** `scope.em`, for plugins only: schema/ code goes through `services`, never the EntityManager. */
  em: EntityManager;
  services: Services;
}

/** What a query or mutation answers to while it executes (plugins/credential-watch.ts). */
export interface StandingContext {
  /** `held()`: RequestFacts.standing, for the operation's services; undefined outside its execution. */
  standing: { held(): AbortSignal | undefined };
}

/** Where the operation came from (client-ip plugin), for per-IP limits and logs. */
export interface ClientContext {
  /** The TCP peer, or the address trusted proxies forwarded (SLUICE_TRUST_PROXY). */
  clientIp: string;
}

/** graphql-ws connection parameters, present for WebSocket operations. */
export interface ConnectionContext {
  connectionParams?: Record<string, unknown>;
}

export type GraphQLContext = YogaInitialContext & ConnectionContext & RequestContext & ClientContext & AuthContext & StandingContext & ScopeContext;
