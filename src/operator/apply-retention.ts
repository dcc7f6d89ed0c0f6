/** `sluice retention`: applies expired-data retention now (the worker does it daily, documents every five minutes). */
import type { Config } from '../config.js';
import { withClient } from '../db/bootstrap.js';
import { runRetention } from '../domains/audit/operator.js';
import { applyDocumentRetention } from '../domains/datasets/document-retention.js';
import { forgetUnusedSignInAddresses } from '../domains/identity/sign-in-address-retention.js';
import { SecretBox } from '../platform/secrets/secret-box.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export async function applyRetentionNow(config: Pick<Config, 'secrets'>, ownerUrl: string, format: AnswerFormat): Promise<number> {
  // Audit events, usage and decisions first, then unused sign-in addresses; then expired documents, whose removals are audited.
  const secrets = new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys);
  const report = {
    ...(await runRetention(ownerUrl, secrets)),
    ...(await withClient(ownerUrl, (client) => forgetUnusedSignInAddresses(client))),
    ...(await withClient(ownerUrl, (client) => applyDocumentRetention(client, secrets))),
  };
  const lines: [string, string][] = [
    ['audit events deleted', String(report.auditEventsDeleted)],
    ['usage records deleted', String(report.usageRecordsDeleted)],
    ['policy decisions deleted', String(report.policyDecisionsDeleted)],
    ['sign-in addresses deleted', String(report.signInAddressesDeleted)],
    ['documents deleted', `${report.documentsDeleted} (${report.chunksDeleted} chunks)`],
    ['partitions dropped', report.partitionsDropped.length === 0 ? 'none' : report.partitionsDropped.join(', ')],
  ];
  const text = ['retention applied:', ...lines.map(([label, value]) => `  ${label.padEnd(25)} ${value}`)].join('\n');
  printAnswer(format, text, report);
  return 0;
}
