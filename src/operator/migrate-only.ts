/**
 * `sluice migrate`: every command applies pending migrations first (main.ts), so this one
 * reports what that applied and exits.
 */
import { latestMigrationName } from '../db/migrate.js';
import { printAnswer, type AnswerFormat } from './answer.js';

export function migrateOnly(applied: string[], format: AnswerFormat): number {
  const latest = latestMigrationName() ?? null;
  const text =
    applied.length === 0
      ? `migrations are up to date (latest: ${latest ?? 'none'})`
      : `applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:\n${applied.map((name) => `  ${name}`).join('\n')}`;
  printAnswer(format, text, { applied, latest });
  return 0;
}
