/**
 * A PostgreSQL server for throwaway databases (tests, benchmarks, migration generation): the
 * server behind `DATABASE_URL` when it is set, otherwise an embedded one in a temporary
 * directory that is deleted on stop.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../platform/logging/logger.js';
import { startEmbeddedPostgres } from './embedded.js';

export interface ScratchServer {
  /** A URL with rights to create databases and roles. */
  adminUrl: string;
  kind: 'external' | 'embedded';
  stop(): Promise<void>;
}

export async function startScratchServer(options: { logger: Logger; databaseUrl?: string }): Promise<ScratchServer> {
  if (options.databaseUrl) {
    return { adminUrl: options.databaseUrl, kind: 'external', stop: async () => {} };
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'sluice-pg-'));
  const embedded = await startEmbeddedPostgres({
    dataDir,
    password: randomBytes(18).toString('base64url'),
    logger: options.logger,
  });
  return {
    adminUrl: embedded.adminUrl,
    kind: 'embedded',
    stop: async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
