/**
 * `sluice keys create`: an operator mints an API key for a tenant from the command line, on the
 * owner connection, still through the tenant session (filter + RLS settings), like the API.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../db/orm.js';
import { bindTenantSession } from '../../db/tenant-session.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { API_SCOPES, type ApiScope } from '../access/roles.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { insertApiKey, type CreatedApiKey } from './api-key.service.js';

export interface OperatorKeyRequest {
  tenant: string;
  name: string;
  scopes: string;
  /** undefined: the tenant's default; null: never expires. */
  expiresInDays: number | null | undefined;
}

export function parseScopes(list: string): ApiScope[] {
  const scopes = list.split(',').map((scope) => scope.trim().toLowerCase()).filter(Boolean);
  const unknown = scopes.filter((scope) => !(API_SCOPES as readonly string[]).includes(scope));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new ValidationError(`--scopes must be a comma-separated list of ${API_SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  }
  return scopes as ApiScope[];
}

export async function createOperatorApiKey(orm: Orm, request: OperatorKeyRequest): Promise<CreatedApiKey & { tenant: Tenant }> {
  const scopes = parseScopes(request.scopes);
  if (request.expiresInDays != null && !(Number.isInteger(request.expiresInDays) && request.expiresInDays > 0)) {
    throw new ValidationError('--expires-in-days must be a positive whole number');
  }
  const em = orm.em.fork({ clear: true }) as EntityManager;
  const tenant = await em.findOne(Tenant, { slug: request.tenant.toLowerCase() });
  if (!tenant) throw new NotFoundError(`Tenant "${request.tenant}"`);
  bindTenantSession(em, { tenantId: tenant.id, userId: null });
  const created = await em.transactional((tx) =>
    insertApiKey(tx as EntityManager, {
      tenantId: tenant.id,
      name: request.name,
      scopes,
      expiresAt:
        request.expiresInDays === undefined ? undefined : request.expiresInDays === null ? null : new Date(Date.now() + request.expiresInDays * 86_400_000),
      createdById: null,
    }),
  );
  return { ...created, tenant };
}
