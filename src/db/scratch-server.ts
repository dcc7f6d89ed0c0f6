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

/**
 * The cluster is deleted when it stops, so surviving an operating-system crash is worth
 * nothing: no flush to disk at each commit and checkpoint, no full-page images in the WAL.
 * A crash of PostgreSQL itself still recovers (the kernel keeps what was written), so tests
 * that stop and restart the server see what a durable one would.
 */
const THROWAWAY_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

export async function startScratchServer(options: { logger: Logger; databaseUrl?: string }): Promise<ScratchServer> {
  if (options.databaseUrl) {
    return { adminUrl: options.databaseUrl, kind: 'external', stop: async () => {} };
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'sluice-pg-'));
  const embedded = await startEmbeddedPostgres({
    dataDir,
    password: randomBytes(18).toString('base64url'),
    logger: options.logger,
    settings: THROWAWAY_SETTINGS,
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
