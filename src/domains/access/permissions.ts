/**
 * Who may do what: the one rule table. A permission needs a minimum role and an API-key scope;
 * users and external identities hold the scopes of their role, API keys the scopes they were
 * given (and the role those scopes amount to). scope-auth and services both ask `can`. A rule
 * may ask more of an API key than of a person with the same role (`keyScope`). Clients ask it
 * through `viewer.permissions` (the GraphQL enum `Permission` is made from this table), so they
 * never repeat a rule.
 */
import type { Actor } from '../actor.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import { roleAtLeast, type ApiScope, type Role } from './roles.js';

export const PERMISSIONS = {
  'tenant:read': {
    role: 'VIEWER',
    scope: 'read',
    doc: "Read the tenant's data: datasets, documents, endpoints, models, policies, members (that they exist, names and types, not their configuration).",
  },
  'config:read': {
    role: 'ADMIN',
    scope: 'admin',
    doc:
      "Read configuration that reaches other systems or says who may ask: the IP allow-list, models' configuration (base URLs, system prompts) and key endings, policies' configuration. Whoever may change it may read it; the others see that the thing exists.",
  },
  'memberEmail:read': {
    role: 'VIEWER',
    scope: 'read',
    keyScope: 'admin',
    doc: "Read colleagues' emails: any person of the tenant (a team page); an API key only with the admin scope. Everyone reads their own (`viewer.email`).",
  },
  'data:write': { role: 'MEMBER', scope: 'write', doc: 'Write datasets and documents (create, change, ingest, delete).' },
  'endpoint:query': { role: 'VIEWER', scope: 'read', doc: "Ask an endpoint a question (the tenant's own, or another tenant's published one)." },
  'endpoint:manage': { role: 'ADMIN', scope: 'admin', doc: "Create, change and delete the tenant's endpoints." },
  'model:manage': { role: 'ADMIN', scope: 'admin', doc: "Create, change, test and delete the tenant's models." },
  'policy:manage': { role: 'ADMIN', scope: 'admin', doc: "Create, change and delete endpoints' policies; change the tenant's rate limits." },
  'usage:read': { role: 'ADMIN', scope: 'admin', doc: "Read the tenant's usage statistics and policy decision log." },
  'audit:read': { role: 'ADMIN', scope: 'admin', doc: "Read, export and verify the tenant's audit trail." },
  'apiKey:manage': { role: 'ADMIN', scope: 'admin', doc: "List, create, rotate and revoke the tenant's API keys." },
  'member:manage': { role: 'ADMIN', scope: 'admin', doc: "Invite people, read and revoke open invitations, change members' roles (up to one's own), remove members." },
  'identityProvider:manage': {
    role: 'ADMIN',
    scope: 'admin',
    doc: "Read, disable and remove the tenant's trusted identity providers. Registering or enabling one vouches for every token it signs: that takes an OWNER signed in as a person, never a key.",
  },
  'owner:manage': { role: 'OWNER', scope: 'admin', doc: 'Grant, demote or remove owners.' },
  'tenant:manage': { role: 'OWNER', scope: 'admin', doc: "Change the tenant's settings (beyond its rate limits) and delete the tenant." },
} as const satisfies Record<string, Rule>;

interface Rule {
  role: Role;
  scope: ApiScope;
  /** What an API key needs instead of `scope`: programs get less than people of the same role. */
  keyScope?: ApiScope;
  /** What the permission allows, in the product's words: the GraphQL enum `Permission` shows it. */
  doc: string;
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

/** Every permission `actor` holds now, in the table's order: what `viewer.permissions` answers. */
export function permissionsOf(actor: Actor): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((permission) => can(actor, permission));
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
