/**
 * The operator commands of `sluice`, which run Sluice itself against its database: `serve`
 * (default), `worker`, `migrate`, `rotate-master-key`, `audit verify`, `retention`,
 * `keys create --tenant`. The client commands (`login`, `keys`, `datasets`, `ingest`,
 * `query`, `audit tail`…) talk to a running Sluice over its API (src/cli/); src/entry.ts,
 * which `bin/sluice.js` runs, sends each command to one or the other.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase } from './db/database.js';
import { runMigrations } from './db/migrate.js';
import { openOrm } from './db/orm.js';
import { assertRestrictedAppRole, searchIndexUsable } from './db/readiness.js';
import { entities } from './domains/entities.js';
import { CodedError } from './platform/errors/index.js';
import { runRetention, verifyAllChains } from './domains/audit/operator.js';
import { createOperatorApiKey, type OperatorKeyRequest } from './domains/identity/operator-keys.js';
import { createLogger, redactUrl, type Logger } from './logger.js';
import { rotateMasterKey } from './domains/models/rotate-master-key.js';
import { SecretBox } from './platform/secrets/secret-box.js';
import { createEventBus } from './events.js';
import { runShutdownSteps } from './platform/lifecycle/shutdown-steps.js';
import { createServer } from './server.js';
import { startTracing } from './tracing.js';
import { startWorker } from './worker.js';

/** The help text; the client commands' part loads the CLI, which serving never needs. */
async function usage(): Promise<string> {
  const { clientUsage } = await import('./cli/index.js');
  return `Usage: sluice <command>

Client commands (talk to a running Sluice; \`sluice <command> --help\` for each):
${clientUsage()}

${OPERATOR_USAGE}`;
}

const OPERATOR_USAGE = `Operator commands (run Sluice against its database):
  serve     run the API (default): migrates, then serves /graphql, /healthz, /readyz,
            and runs ingestion jobs too unless SLUICE_WORKER=off
  worker    run ingestion jobs only (scale out with more of these; set REDIS_URL so
            API processes hear their progress at once)
  migrate   apply pending database migrations and exit
  rotate-master-key
            re-encrypt stored secrets (model API keys) under SLUICE_MASTER_KEY; set the
            old key in SLUICE_MASTER_KEY_PREVIOUS first, drop it once this reports done
  audit verify [--tenant <slug>]
            recompute the audit hash chains (every tenant's, or one) and report the first
            broken link of each; exit code 1 if any chain is broken
  retention apply expired-data retention now (the worker does it daily)
  keys create --tenant <slug> --name <name> --scopes read,write[,admin]
            [--expires-in-days <n> | --no-expiry]
            mint an API key for a tenant; prints the key (shown once) on stdout

Configuration comes from the environment; see README.md.`;

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

  let config: Config;
  try {
    config = await loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`sluice: ${error.message}`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, destination: keysCreate ? 2 : undefined, redaction: config.observability.redaction });
  reportSecrets(config, logger);

  const database = await openDatabase(config, logger);
  const serving = !['migrate', 'rotate-master-key', 'retention'].includes(command) && !keysCreate && !auditVerify;
  let failed = false;
  try {
    logger.info(
      { database: redactUrl(database.ownerUrl), embedded: Boolean(database.embedded), dataDir: config.dataDir },
      database.embedded
        ? `embedded PostgreSQL ${database.embedded.created ? 'created' : database.embedded.recovered ? 'started (after stopping the one a killed Sluice left running)' : 'started'} in ${database.embedded.directory}`
        : 'using the PostgreSQL server from DATABASE_URL',
    );
    await runMigrations({ ownerUrl: database.ownerUrl, entities, logger });
    if (command === 'migrate') {
      logger.info('migrations are up to date');
      return 0;
    }
    if (command === 'rotate-master-key') {
      const report = await rotateMasterKey(database.ownerUrl, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys));
      logger.info(report, `re-encrypted ${report.resealed} secrets under the current master key (${report.alreadyCurrent} already were)`);
      if (report.unreadable.length === 0) return 0;
      logger.error(
        { unreadable: report.unreadable },
        `${report.unreadable.length} model API keys open under none of the keys given; they are unchanged (set the key that sealed them in SLUICE_MASTER_KEY_PREVIOUS, or set a new API key on those models)`,
      );
      return 1;
    }
    if (auditVerify) {
      const reports = await verifyAllChains(database.ownerUrl, new SecretBox(config.secrets.masterKey, config.secrets.previousMasterKeys), values.tenant);
      for (const report of reports) {
        if (report.ok) logger.info(report, `audit chain of ${report.tenant ?? report.tenantId}: ok, ${report.checked} events${report.rewrites.length > 0 ? `, ${report.rewrites.length} recorded rewrite(s) (see rewrites)` : ''}`);
        else logger.error(report, `audit chain of ${report.tenant ?? report.tenantId}: BROKEN at event ${report.firstBrokenEventId}: ${report.problem}`);
      }
      if (values.tenant && reports.length === 0) logger.warn({ tenant: values.tenant }, 'no audit chain for that tenant');
      return reports.every((report) => report.ok) ? 0 : 1;
    }
    if (command === 'retention') {
      logger.info(await runRetention(database.ownerUrl), 'retention applied');
      return 0;
    }
    if (keysCreate) {
      return await keys(database.ownerUrl, logger, {
        tenant: values.tenant!,
        name: values.name!,
        scopes: values.scopes!,
        expiresInDays: values['no-expiry'] ? null : values['expires-in-days'] ? Number(values['expires-in-days']) : undefined,
      });
    }
    return await serve(config, database, logger, command === 'worker' ? 'worker' : 'api');
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

/**
 * The signals that end `serve`: SIGTERM (orchestrators), SIGINT (Ctrl-C) and SIGHUP (the
 * terminal closed). The embedded PostgreSQL runs in a session of its own, so a terminal's
 * Ctrl-C reaches only us; we stop it last.
 */
const SHUTDOWN_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** `serve` runs the API (and, unless SLUICE_WORKER=off, the job worker); `worker` the worker alone. */
async function serve(config: Config, { appUrl, ownerUrl }: { appUrl: string; ownerUrl: string }, logger: Logger, role: 'api' | 'worker'): Promise<number> {
  const orm = await openOrm({ clientUrl: appUrl, entities, logger, poolMax: config.database.poolSize });
  const bus = await createEventBus({ redisUrl: config.redisUrl, logger });
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let workerTracing: ReturnType<typeof startTracing>;
  let server: ReturnType<typeof createServer> | undefined;
  try {
    await assertRestrictedAppRole(orm);
    if (!(await searchIndexUsable(orm))) {
      logger.warn(
        'full-text search cannot use its index under row-level security: a superuser should run ' +
          'ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF (see docs/operations.md)',
      );
    }
    // The worker's own tracer (the API server has one of its own): ingestion job spans.
    workerTracing = role === 'worker' || config.worker.mode === 'inline' ? startTracing(config.observability) : undefined;
    worker =
      role === 'worker' || config.worker.mode === 'inline'
        ? await startWorker({
            config: config.worker,
            progressIntervalMs: config.ingestion.progressIntervalMs,
            orm,
            queueUrl: ownerUrl,
            progress: bus.progress,
            logger,
            tracer: workerTracing?.tracer,
          })
        : undefined;
    server = role === 'api' ? createServer({ config, orm, logger, progress: bus.progress, auditFeed: bus.audit, queueUrl: ownerUrl }) : undefined;
    if (server) {
      const url = await server.listen();
      logger.info(
        { url: `${url}/graphql`, dataDir: config.dataDir, graphiql: config.http.graphiql, events: bus.transport, worker: Boolean(worker) },
        `Sluice is listening on ${url}/graphql${config.http.graphiql ? ' (GraphiQL in the browser)' : ''}; the console is at ${url}/console/`,
      );
    }
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      for (const name of SHUTDOWN_SIGNALS) process.once(name, () => resolve(name));
    });
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    return 0;
  } finally {
    // Independent steps: one that fails (an unreachable collector) is logged and the rest run.
    await runShutdownSteps(
      logger,
      [
        ['server', () => server?.close()],
        ['worker', () => worker?.stop()],
        ['tracing', () => workerTracing?.shutdown()],
        ['events', () => bus.close()],
        ['database pool', () => orm.close(true)],
      ],
      { timeoutMs: config.http.shutdownTimeoutMs + 10_000 },
    );
  }
}

async function keys(ownerUrl: string, logger: Logger, request: OperatorKeyRequest): Promise<number> {
  const orm = await openOrm({ clientUrl: ownerUrl, entities, logger });
  try {
    const { secret, apiKey, tenant } = await createOperatorApiKey(orm, request);
    logger.info(
      { tenant: tenant.slug, name: apiKey.name, prefix: apiKey.prefix, scopes: apiKey.scopes, expiresAt: apiKey.expiresAt },
      'created API key (printed once on stdout)',
    );
    process.stdout.write(`${secret}\n`);
    return 0;
  } catch (error) {
    if (error instanceof CodedError) {
      console.error(`sluice keys create: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    await orm.close(true);
  }
}

function reportSecrets(config: Config, logger: Logger): void {
  const source = config.secretsSource;
  if (source.kind === 'generated') {
    logger.warn(
      { file: source.file },
      `generated local development secrets in ${source.file} (mode 0600); production requires JWT_SECRET and SLUICE_MASTER_KEY in the environment`,
    );
  } else if (source.kind === 'reused') {
    logger.info({ file: source.file }, `using local development secrets from ${source.file}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('sluice: fatal:', error instanceof Error ? error.message : error);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error) console.error(error.stack);
    process.exit(1);
  },
);
