/**
 * `sluice keys create`: an operator mints an API key for a tenant from the command line, on the
 * owner connection, still through a tenant scope (filter + RLS settings), like the API, and
 * records it on the tenant's chain as the API does (`config.apiKey.create`), in the same
 * transaction: the actor is the command (audit/operator-events.ts).
 */
import type { TenantScope } from '../../db/tenant-scope.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { operatorChange, operatorEventsJson } from '../audit/operator-events.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { API_SCOPES, type ApiScope } from '../access/roles.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { shownKey } from './api-key-audit.js';
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
export async function createOperatorApiKey(scope: TenantScope, secrets: SecretBox, request: OperatorKeyRequest): Promise<CreatedApiKey & { tenant: Tenant }> {
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
    const event = operatorChange(secrets, 'keys create', tenant.id, {
      action: 'apiKey.create',
      target: { type: 'ApiKey', id: created.apiKey.id },
      before: null,
      after: shownKey(created.apiKey),
    });
    await em.getConnection().execute('select append_audit_events(?::jsonb)', [operatorEventsJson(secrets, [event])], 'run', em.getTransactionContext());
    return { tenant, created };
  });
  return { ...created, tenant };
}
