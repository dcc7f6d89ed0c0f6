import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from './actor.js';

/**
 * What every service is constructed with: the caller and the request's tenant-scoped
 * EntityManager (a fork whose tenant filter and RLS session are bound to `actor`).
 */
export interface ServiceContext {
  readonly actor: Actor;
  readonly em: EntityManager;
}
