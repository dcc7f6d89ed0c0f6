/**
 * `sluice audit verify [--tenant <slug>]`: recomputes the audit hash chains (every tenant's, or
 * one) and reports the first broken link of each. Exit code 1 if any chain is broken, 2 if the
 * tenant named has no chain.
 */
import type { Config } from '../config.js';
import { verifyAllChains, type ChainReport } from '../domains/audit/operator.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export async function verifyAuditChains(config: Config, ownerUrl: string, tenant: string | undefined, format: AnswerFormat): Promise<number> {
  const chains = await verifyAllChains(ownerUrl, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys), tenant);
  const ok = chains.every((chain) => chain.ok);
  if (tenant && chains.length === 0) {
    printAnswer(format, `no audit chain for tenant "${tenant}"`, { ok: false, chains, problem: `no audit chain for tenant "${tenant}"` });
    return 2;
  }
  printAnswer(format, chains.map(describe).join('\n') || 'no audit chains yet', { ok, chains });
  return ok ? 0 : 1;
}

function describe(chain: ChainReport): string {
  const name = chain.tenant ?? chain.tenantId;
  if (!chain.ok) return `${name}: BROKEN at event ${chain.firstBrokenEventId}: ${chain.problem}`;
  const rewrites = chain.rewrites.length > 0 ? `, ${chain.rewrites.length} recorded rewrite(s) (--json lists them)` : '';
  return `${name}: ok, ${chain.checked} events${rewrites}`;
}
