/**
 * The operator commands of `sluice`, which run Sluice itself against its database: `serve`
 * (default), `worker`, `migrate`, `rotate-master-key`, `audit verify`, `retention`,
 * `keys create --tenant`. The client commands (`login`, `keys`, `datasets`, `ingest`,
 * `query`, `audit tail`…) talk to a running Sluice over its API (src/cli/); src/entry.ts,
 * which `bin/sluice.js` runs, sends each command to one or the other.
 *
 * This file reads the arguments and the configuration, opens and migrates the database, and
 * hands over to the command's own file in src/operator/.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase } from './db/database.js';
import { runMigrations } from './db/migrate.js';
import { entities } from './domains/entities.js';
import { runShutdownSteps } from './platform/lifecycle/shutdown-steps.js';
import { createLogger } from './platform/logging/logger.js';
import { applyRetentionNow } from './operator/apply-retention.js';
import { createApiKey } from './operator/create-api-key.js';
import { usage } from './operator/help-text.js';
import { migrateOnly } from './operator/migrate-only.js';
import { resealSecrets } from './operator/reseal-secrets.js';
import { reportDatabase, reportSecrets } from './operator/start-up.js';
import { verifyAuditChains } from './operator/verify-audit-chains.js';

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      tenant: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      'expires-in-days': { type: 'string' },
      'no-expiry': { type: 'boolean' },
      json: { type: 'boolean' },
      'metrics-port': { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'serve';
  const keysCreate = command === 'keys' && positionals[1] === 'create';
  const auditVerify = command === 'audit' && positionals[1] === 'verify';
  if (values.help || command === 'help') {
    console.log(await usage());
    return 0;
  }
  if (keysCreate && (!values.tenant || !values.name || !values.scopes)) {
    console.error(`sluice keys create: --tenant, --name and --scopes are required\n\n${await usage()}`);
    return 2;
  }
  if (!['serve', 'worker', 'migrate', 'rotate-master-key', 'retention'].includes(command) && !keysCreate && !auditVerify) {
    console.error(`sluice: unknown command "${command}"\n\n${await usage()}`);
    return 2;
  }
  const metricsPort = values['metrics-port'];
  if (metricsPort !== undefined && (command !== 'worker' || !/^\d{1,5}$/.test(metricsPort) || Number(metricsPort) > 65535)) {
    console.error(`sluice: --metrics-port ${command === 'worker' ? 'must be a port number from 0 to 65535' : 'is for `sluice worker` only (`serve` serves /metrics on its API port)'}\n\n${await usage()}`);
    return 2;
  }

  let config: Config;
  try {
    config = await loadConfig(process.env);
    if (metricsPort !== undefined) config = { ...config, worker: { ...config.worker, metricsPort: Number(metricsPort) } };
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`sluice: ${error.message}`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  const serving = !['migrate', 'rotate-master-key', 'retention'].includes(command) && !keysCreate && !auditVerify;
  // A one-shot command's stdout is its answer (operator/answer.ts): its logs go to stderr, warnings only unless LOG_LEVEL says.
  const logger = createLogger({
    level: serving ? config.logLevel : config.commandLogLevel,
    destination: serving ? undefined : 2,
    format: serving && values.json ? 'json' : config.logFormat,
    redaction: config.observability.redaction,
  });
  const answer = { json: Boolean(values.json) };
  reportSecrets(config, logger);

  // The server's code (the schema, Yoga, the worker: a good part of a start) loads while the
  // embedded PostgreSQL starts in its own process, rather than after it (issue 22).
  const servingCode = serving ? import('./operator/serve-until-signal.js') : undefined;
  // Beside a running `serve` on the same data directory, every other command uses its database.
  const database = await openDatabase(config, logger, { shareRunning: command !== 'serve' });
  let failed = false;
  try {
    reportDatabase(config, database, logger);
    const applied = await runMigrations({ ownerUrl: database.ownerUrl, entities, logger, vectorIndexDimensions: config.worker.vectorIndexDimensions });
    if (command === 'migrate') return migrateOnly(applied, answer);
    if (command === 'rotate-master-key') return await resealSecrets(config, database.ownerUrl, answer);
    if (auditVerify) return await verifyAuditChains(config, database.ownerUrl, values.tenant, answer);
    if (command === 'retention') return await applyRetentionNow(config, database.ownerUrl, answer);
    if (keysCreate) {
      return await createApiKey(config, database.ownerUrl, logger, {
        tenant: values.tenant!,
        name: values.name!,
        scopes: values.scopes!,
        // `--expires-in-days=` (empty) is given, and refused as not a positive number: not the default lifetime.
        expiresInDays: values['no-expiry'] ? null : values['expires-in-days'] !== undefined ? Number(values['expires-in-days']) : undefined,
      }, answer);
    }
    const { serveUntilSignal } = await servingCode!;
    return await serveUntilSignal(config, database, logger, command === 'worker' ? 'worker' : 'api');
  } finally {
    // The last step, whatever came before: an embedded PostgreSQL never outlives us.
    await runShutdownSteps(logger, [['database', () => database.stop()]], { timeoutMs: DATABASE_STOP_TIMEOUT_MS });
    if (serving && !failed) logger.info('shutdown complete');
    // Log lines are written asynchronously and process.exit comes next: the last ones would be lost.
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
  }
}

/** How long the embedded PostgreSQL may take to stop (a fast shutdown takes well under a second). */
const DATABASE_STOP_TIMEOUT_MS = 60_000;

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('sluice: fatal:', error instanceof Error ? error.message : error);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error) console.error(error.stack);
    process.exit(1);
  },
);
