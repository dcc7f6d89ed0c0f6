/**
 * `sluice keys create --tenant <slug> --name <name> --scopes …`: mints an API key for a tenant
 * and prints it (shown once) on stdout; logs go to stderr (main.ts), so the key can be piped.
 */
import { openOrm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import { entities } from '../domains/entities.js';
import { createOperatorApiKey, type OperatorKeyRequest } from '../domains/identity/operator-keys.js';
import { CodedError } from '../platform/errors/index.js';
import type { Logger } from '../platform/logging/logger.js';

export async function createApiKey(ownerUrl: string, logger: Logger, request: OperatorKeyRequest): Promise<number> {
  const orm = await openOrm({ clientUrl: ownerUrl, entities, logger });
  // The command's one scope: no tenant until the operator's --tenant is found.
  const scope = TenantScope.open(orm, { tenantId: null, userId: null });
  try {
    const { secret, apiKey, tenant } = await createOperatorApiKey(scope, request);
    logger.info(
      { tenant: tenant.slug, name: apiKey.name, prefix: apiKey.prefix, scopes: apiKey.scopes, expiresAt: apiKey.expiresAt },
      'created API key (printed once on stdout)',
    );
    process.stdout.write(`${secret}\n`);
    return 0;
  } catch (error) {
    if (error instanceof CodedError) {
      console.error(`sluice keys create: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    scope.close();
    await orm.close(true);
  }
}
