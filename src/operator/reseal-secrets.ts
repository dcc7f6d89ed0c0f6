/**
 * `sluice rotate-master-key`: re-encrypts stored secrets (model API keys) under
 * SLUICE_MASTER_KEY. Exit code 1 when some open under none of the keys given.
 */
import type { Config } from '../config.js';
import { rotateMasterKey } from '../domains/models/rotate-master-key.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import type { Logger } from '../platform/logging/logger.js';

export async function resealSecrets(config: Config, ownerUrl: string, logger: Logger): Promise<number> {
  const report = await rotateMasterKey(ownerUrl, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys));
  logger.info(report, `re-encrypted ${report.resealed} secrets under the current master key (${report.alreadyCurrent} already were)`);
  if (report.unreadable.length === 0) return 0;
  logger.error(
    { unreadable: report.unreadable },
    `${report.unreadable.length} model API keys open under none of the keys given; they are unchanged (set the key that sealed them in SLUICE_MASTER_KEY_PREVIOUS, or set a new API key on those models)`,
  );
  return 1;
}
