/**
 * Operator commands on the audit trail, as the owner role (across tenants):
 * `sluice audit verify [--tenant <slug>]` and `sluice retention`.
 */
import { withClient } from '../../db/bootstrap.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { PLATFORM_CHAIN } from './audit-log.js';
import { verifyChain, type VerifyResult } from './chain-verifier.js';
import { applyRetention, type RetentionReport } from './retention.js';

export interface ChainReport extends VerifyResult {
  tenantId: string;
  tenant: string | null;
}

/** Every chain (or one tenant's), verified. Unknown tenant slug: an empty list. */
export function verifyAllChains(ownerUrl: string, secrets: SecretBox, tenantSlug?: string): Promise<ChainReport[]> {
  return withClient(ownerUrl, async (client) => {
    const { rows: chains } = await client.query<{ tenant_id: string; slug: string | null }>(
      `select h.tenant_id, t.slug from audit_chain_heads h left join tenants t on t.id = h.tenant_id
        where $1::text is null or t.slug = $1 order by t.slug nulls first`,
      [tenantSlug ?? null],
    );
    const query = async <T>(sql: string, params: unknown[]) => {
      let index = 0;
      const numbered = sql.replace(/\?/g, () => `$${++index}`);
      return (await client.query(numbered, params)).rows as T[];
    };
    const reports: ChainReport[] = [];
    for (const chain of chains) {
      const result = await verifyChain(query, secrets, chain.tenant_id);
      reports.push({ ...result, tenantId: chain.tenant_id, tenant: chain.tenant_id === PLATFORM_CHAIN ? '(platform)' : chain.slug });
    }
    return reports;
  });
}

export function runRetention(ownerUrl: string, secrets: SecretBox): Promise<RetentionReport> {
  return withClient(ownerUrl, (client) => applyRetention(client, secrets));
}
