/**
 * `sluice keys create --tenant <slug> --name <name> --scopes …`: mints an API key for a tenant
 * and prints it (shown once) alone on stdout, so it can be piped, and what it is on stderr;
 * with `--json`, one document on stdout holding both. The tenant's trail gets `config.apiKey.create`
 * by the actor `system` / `sluice keys create`.
 */
import type { Config } from '../config.js';
import { openOrm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import { entities } from '../domains/entities.js';
import { createOperatorApiKey, type OperatorKeyRequest } from '../domains/identity/operator-keys.js';
import { CodedError } from '../platform/errors/index.js';
import type { Logger } from '../platform/logging/logger.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export async function createApiKey(config: Pick<Config, 'secrets'>, ownerUrl: string, logger: Logger, request: OperatorKeyRequest, format: AnswerFormat): Promise<number> {
  const orm = await openOrm({ clientUrl: ownerUrl, entities, logger });
  // The command's one scope: no tenant until the operator's --tenant is found.
  const scope = TenantScope.open(orm, { tenantId: null, userId: null });
  try {
    const { secret, apiKey, tenant } = await createOperatorApiKey(scope, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys), request);
    const facts = { tenant: tenant.slug, name: apiKey.name, prefix: apiKey.prefix, scopes: apiKey.scopes, expiresAt: apiKey.expiresAt?.toISOString() ?? null };
    if (!format.json) {
      const expiry = facts.expiresAt ? `expires ${facts.expiresAt}` : 'never expires';
      console.error(`created API key "${facts.name}" (${facts.prefix}…) for tenant ${facts.tenant}: scopes ${facts.scopes.join(',')}, ${expiry}; it is shown once, on stdout`);
    }
    printAnswer(format, secret, { secret, ...facts });
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
