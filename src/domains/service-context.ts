import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from './actor.js';
import type { AccessTokens } from './identity/access-token.js';
import type { CredentialStore } from './identity/credential-store.js';

/** Process-wide collaborators services need besides the database. */
export interface ServiceDependencies {
  readonly tokens: AccessTokens;
  readonly credentials: CredentialStore;
  readonly production: boolean;
}

/**
 * What every service is constructed with: the caller, the request's tenant-scoped
 * EntityManager (a fork whose tenant filter and RLS session are bound to `actor`), and the
 * process-wide dependencies.
 */
export interface ServiceContext {
  readonly actor: Actor;
  readonly em: EntityManager;
  readonly deps: ServiceDependencies;
}
