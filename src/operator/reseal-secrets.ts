/**
 * `sluice rotate-master-key`: re-encrypts stored secrets (model API keys) under
 * SLUICE_MASTER_KEY. Exit code 1 when some open under none of the keys given.
 */
import type { Config } from '../config.js';
import { rotateMasterKey } from '../domains/models/rotate-master-key.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export async function resealSecrets(config: Config, ownerUrl: string, format: AnswerFormat): Promise<number> {
  const report = await rotateMasterKey(ownerUrl, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys));
  const lines = [`re-encrypted ${report.resealed} secrets under the current master key (${report.alreadyCurrent} already were)`];
  if (report.boundToOrigin > 0) lines.push(`${report.boundToOrigin} of them were model API keys sealed before keys were bound to their server's origin; now they are`);
  if (report.unreadable.length > 0) {
    lines.push(
      `${report.unreadable.length} model API keys open under none of the keys given; they are unchanged ` +
        '(set the key that sealed them in SLUICE_MASTER_KEY_PREVIOUS, or set a new API key on those models):',
      ...report.unreadable.map((id) => `  model ${id}`),
    );
  }
  printAnswer(format, lines.join('\n'), report);
  return report.unreadable.length === 0 ? 0 : 1;
}
