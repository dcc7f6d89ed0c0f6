/**
 * `sluice audit verify [--tenant <slug>]`: recomputes the audit hash chains (every tenant's, or
 * one) and reports the first broken link of each. Exit code 1 if any chain is broken.
 */
import type { Config } from '../config.js';
import { verifyAllChains } from '../domains/audit/operator.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import type { Logger } from '../platform/logging/logger.js';

export async function verifyAuditChains(config: Config, ownerUrl: string, logger: Logger, tenant: string | undefined): Promise<number> {
  const reports = await verifyAllChains(ownerUrl, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys), tenant);
  for (const report of reports) {
    if (report.ok) logger.info(report, `audit chain of ${report.tenant ?? report.tenantId}: ok, ${report.checked} events${report.rewrites.length > 0 ? `, ${report.rewrites.length} recorded rewrite(s) (see rewrites)` : ''}`);
    else logger.error(report, `audit chain of ${report.tenant ?? report.tenantId}: BROKEN at event ${report.firstBrokenEventId}: ${report.problem}`);
  }
  if (tenant && reports.length === 0) logger.warn({ tenant }, 'no audit chain for that tenant');
  return reports.every((report) => report.ok) ? 0 : 1;
}
