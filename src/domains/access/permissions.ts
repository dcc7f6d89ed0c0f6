/**
 * Who may do what: the one rule table. A permission needs a minimum role and an API-key scope;
 * users and external identities hold the scopes of their role, API keys the scopes they were
 * given (and the role those scopes amount to). scope-auth and services both ask `can`. A rule
 * may ask more of an API key than of a person with the same role (`keyScope`).
 */
import type { Actor } from '../actor.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import { roleAtLeast, type ApiScope, type Role } from './roles.js';

export const PERMISSIONS = {
  /** Read the tenant's data: datasets, documents, endpoints, models, policies, members (names and types, not their configuration). */
  'tenant:read': { role: 'VIEWER', scope: 'read' },
  /**
   * Configuration that reaches other systems or says who may ask: the IP allow-list, models'
   * configuration (base URLs, system prompts) and key endings, policies' configuration. Whoever
   * may change it may read it; the others see that the thing exists.
   */
  'config:read': { role: 'ADMIN', scope: 'admin' },
  /**
   * Colleagues' emails: any person of the tenant (a team page); a program only with `admin`.
   * Everyone sees their own (User.email of their own user, `viewer.email`).
   */
  'memberEmail:read': { role: 'VIEWER', scope: 'read', keyScope: 'admin' },
  /** Write datasets and documents. */
  'data:write': { role: 'MEMBER', scope: 'write' },
  /** Ask an endpoint a question (the tenant's own, or another tenant's published one). */
  'endpoint:query': { role: 'VIEWER', scope: 'read' },
  'endpoint:manage': { role: 'ADMIN', scope: 'admin' },
  'model:manage': { role: 'ADMIN', scope: 'admin' },
  'policy:manage': { role: 'ADMIN', scope: 'admin' },
  /** The tenant's usage statistics and policy decision log. */
  'usage:read': { role: 'ADMIN', scope: 'admin' },
  /** The tenant's audit trail: read, export, verify. */
  'audit:read': { role: 'ADMIN', scope: 'admin' },
  'apiKey:manage': { role: 'ADMIN', scope: 'admin' },
  'member:manage': { role: 'ADMIN', scope: 'admin' },
  'identityProvider:manage': { role: 'ADMIN', scope: 'admin' },
  /** Grant, demote or remove owners; tenant settings; deleting the tenant. */
  'owner:manage': { role: 'OWNER', scope: 'admin' },
  'tenant:manage': { role: 'OWNER', scope: 'admin' },
} as const satisfies Record<string, Rule>;

interface Rule {
  role: Role;
  scope: ApiScope;
  /** What an API key needs instead of `scope`: programs get less than people of the same role. */
  keyScope?: ApiScope;
}

export type Permission = keyof typeof PERMISSIONS;

const ROLE_SCOPES: Record<Role, readonly ApiScope[]> = {
  OWNER: ['read', 'write', 'admin'],
  ADMIN: ['read', 'write', 'admin'],
  MEMBER: ['read', 'write'],
  VIEWER: ['read'],
};

export function scopesForRole(role: Role): readonly ApiScope[] {
  return ROLE_SCOPES[role];
}

/**
 * What an API key may do now: its scopes, within those its creator's current role holds (a key
 * never grants more than the person who made it may). `creatorRole` undefined: the key has no
 * creator to follow (minted by an operator).
 */
export function keyScopesFor(scopes: readonly ApiScope[], creatorRole: Role | undefined): ApiScope[] {
  return creatorRole ? scopes.filter((scope) => ROLE_SCOPES[creatorRole].includes(scope)) : [...scopes];
}

/** The role an API key with these scopes acts as: never above ADMIN (owners are people). */
export function roleForScopes(scopes: readonly ApiScope[]): Role {
  if (scopes.includes('admin')) return 'ADMIN';
  if (scopes.includes('write')) return 'MEMBER';
  return 'VIEWER';
}

export function can(actor: Actor, permission: Permission): boolean {
  const rule: Rule = PERMISSIONS[permission];
  const scope = actor.kind === 'apiKey' ? (rule.keyScope ?? rule.scope) : rule.scope;
  return roleAtLeast(actor.role, rule.role) && actor.scopes.includes(scope);
}

export function assertCan(actor: Actor, permission: Permission): asserts actor is Exclude<Actor, { kind: 'anonymous' }> {
  if (actor.kind === 'anonymous') throw new UnauthenticatedError('Authentication required');
  if (!can(actor, permission)) {
    throw new ForbiddenError(`Your ${actor.kind === 'apiKey' ? 'API key' : 'role'} does not allow ${permission}`, { permission });
  }
}

/**
 * Asking endpoints: an authenticated caller needs `endpoint:query`; an anonymous caller may
 * try, and the endpoint decides (published and allowAnonymous, endpoint-queries/). The one
 * permission anonymous callers pass, for `queryEndpoint` and `endpointQuery` only.
 */
export function canAskEndpoints(actor: Actor): boolean {
  return actor.kind === 'anonymous' || can(actor, 'endpoint:query');
}

export function assertMayAskEndpoints(actor: Actor): void {
  if (actor.kind !== 'anonymous') assertCan(actor, 'endpoint:query');
}

/** An actor may hand out a role only up to its own (owners alone make owners). */
export function assertMayGrant(actor: Actor, role: Role): void {
  if (!roleAtLeast(actor.role, role) || (role === 'OWNER' && !can(actor, 'owner:manage'))) {
    throw new ForbiddenError(`You cannot grant the ${role} role`, { role });
  }
}
