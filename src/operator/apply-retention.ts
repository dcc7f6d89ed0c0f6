/** `sluice retention`: applies expired-data retention now (the worker does it daily). */
import { runRetention } from '../domains/audit/operator.js';
import type { Logger } from '../platform/logging/logger.js';

export async function applyRetentionNow(ownerUrl: string, logger: Logger): Promise<number> {
  logger.info(await runRetention(ownerUrl), 'retention applied');
  return 0;
}
