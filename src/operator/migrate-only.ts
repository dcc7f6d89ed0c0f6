/**
 * `sluice migrate`: every command applies pending migrations first (main.ts), so this one only
 * says so and exits.
 */
import type { Logger } from '../platform/logging/logger.js';

export function migrateOnly(logger: Logger): number {
  logger.info('migrations are up to date');
  return 0;
}
