/** `sluice retention`: applies expired-data retention now (the worker does it daily). */
import { runRetention } from '../domains/audit/operator.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export async function applyRetentionNow(ownerUrl: string, format: AnswerFormat): Promise<number> {
  const report = await runRetention(ownerUrl);
  const text = [
    'retention applied:',
    `  audit events deleted     ${report.auditEventsDeleted}`,
    `  usage records deleted    ${report.usageRecordsDeleted}`,
    `  policy decisions deleted ${report.policyDecisionsDeleted}`,
    `  partitions dropped       ${report.partitionsDropped.length === 0 ? 'none' : report.partitionsDropped.join(', ')}`,
  ].join('\n');
  printAnswer(format, text, report);
  return 0;
}
