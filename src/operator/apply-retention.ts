/** `sluice retention`: applies expired-data retention now (the worker does it daily, documents every five minutes). */
import type { Config } from '../config.js';
import { withClient } from '../db/bootstrap.js';
import { runRetention } from '../domains/audit/operator.js';
import { applyDocumentRetention } from '../domains/datasets/document-retention.js';
import { forgetUnusedSignInAddresses } from '../domains/identity/sign-in-address-retention.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export async function applyRetentionNow(config: Pick<Config, 'secrets'>, ownerUrl: string, format: AnswerFormat): Promise<number> {
  // Audit events, usage and decisions first; then expired documents, whose removals are audited.
  const secrets = new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys);
  const report = {
    ...(await runRetention(ownerUrl)),
    ...(await withClient(ownerUrl, (client) => forgetUnusedSignInAddresses(client))),
    ...(await withClient(ownerUrl, (client) => applyDocumentRetention(client, secrets))),
  };
  const text = [
    'retention applied:',
    `  audit events deleted     ${report.auditEventsDeleted}`,
    `  usage records deleted    ${report.usageRecordsDeleted}`,
    `  policy decisions deleted ${report.policyDecisionsDeleted}`,
    `  sign-in addresses deleted ${report.signInAddressesDeleted}`,
    `  documents deleted        ${report.documentsDeleted} (${report.chunksDeleted} chunks)`,
    `  partitions dropped       ${report.partitionsDropped.length === 0 ? 'none' : report.partitionsDropped.join(', ')}`,
  ].join('\n');
  printAnswer(format, text, report);
  return 0;
}
