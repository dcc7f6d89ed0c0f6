/**
 * `sluice keys create`: an operator mints an API key for a tenant from the command line, on the
 * owner connection, still through a tenant scope (filter + RLS settings), like the API.
 */
import type { TenantScope } from '../../db/tenant-scope.js';
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

/** In the command's scope, opened with no tenant (tenants are not tenant-owned rows). */
export async function createOperatorApiKey(scope: TenantScope, request: OperatorKeyRequest): Promise<CreatedApiKey & { tenant: Tenant }> {
  const scopes = parseScopes(request.scopes);
  if (request.expiresInDays != null && !(Number.isInteger(request.expiresInDays) && request.expiresInDays > 0)) {
    throw new ValidationError('--expires-in-days must be a positive whole number');
  }
  // The operator's naming of the tenant, with access to the owner connection, is its proof.
  const { tenant, created } = await scope.transaction({ readOnly: false }, async (em) => {
    const tenant = await em.findOne(Tenant, { slug: request.tenant.toLowerCase() });
    if (!tenant) throw new NotFoundError(`Tenant "${request.tenant}"`);
    await scope.enterTenant(tenant.id, null);
    const created = await insertApiKey(em, {
      tenantId: tenant.id,
      name: request.name,
      scopes,
      expiresAt:
        request.expiresInDays === undefined ? undefined : request.expiresInDays === null ? null : new Date(Date.now() + request.expiresInDays * 86_400_000),
      createdById: null,
    });
    return { tenant, created };
  });
  return { ...created, tenant };
}
