/**
 * The Actor: who is calling, for which tenant, with which role and scopes. Built once per
 * request by the auth plugin from the credential, never from client-chosen input alone.
 */
import type { ApiScope, Role } from './access/roles.js';

interface TenantActor {
  tenantId: string;
  tenantSlug: string;
  role: Role;
  scopes: readonly ApiScope[];
}

export type Actor =
  | { kind: 'anonymous'; tenantId: null; userId: null; email: null; role: null; scopes: readonly ApiScope[] }
  | (TenantActor & { kind: 'user'; userId: string; email: string; sessionId: string | null })
  | (TenantActor & { kind: 'apiKey'; userId: null; email: null; apiKeyId: string })
  | (TenantActor & { kind: 'external'; userId: null; email: string | null; subject: string; issuer: string });

export type AuthenticatedActor = Exclude<Actor, { kind: 'anonymous' }>;

export const ANONYMOUS: Actor = Object.freeze({
  kind: 'anonymous',
  tenantId: null,
  userId: null,
  email: null,
  role: null,
  scopes: [],
});

export function isAuthenticated(actor: Actor): actor is AuthenticatedActor {
  return actor.kind !== 'anonymous';
}
