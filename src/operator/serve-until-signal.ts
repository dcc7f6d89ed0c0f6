/**
 * `sluice serve` (the API and, unless SLUICE_WORKER=off, the job worker) and `sluice worker`
 * (the worker alone): run until a shutdown signal, then stop each part in turn.
 */
import type { Config } from '../config.js';
import { openOrm } from '../db/orm.js';
import { assertRestrictedAppRole, searchIndexUsable } from '../db/readiness.js';
import { entities } from '../domains/entities.js';
import { createEventBus } from '../platform/events/event-bus.js';
import { runShutdownSteps } from '../platform/lifecycle/shutdown-steps.js';
import type { Logger } from '../platform/logging/logger.js';
import { startTracing } from '../platform/telemetry/otel-sdk.js';
import { createServer } from '../server.js';
import { modelAccess, startWorker } from '../server/job-worker.js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startMetricsListener, type MetricsListener } from '../platform/telemetry/metrics-listener.js';
import { ProductMetrics } from '../platform/telemetry/product-metrics.js';

/**
 * The signals that end `serve`: SIGTERM (orchestrators), SIGINT (Ctrl-C) and SIGHUP (the
 * terminal closed). The embedded PostgreSQL runs in a session of its own, so a terminal's
 * Ctrl-C reaches only us; we stop it last.
 */
const SHUTDOWN_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** `serve` runs the API (and, unless SLUICE_WORKER=off, the job worker); `worker` the worker alone. */
export async function serveUntilSignal(config: Config, { appUrl, ownerUrl }: { appUrl: string; ownerUrl: string }, logger: Logger, role: 'api' | 'worker'): Promise<number> {
  // Heard from the start: a signal while the parts start (right after "job worker started")
  // must end us gracefully, not by the signal's default action.
  const shutdownSignal = new Promise<NodeJS.Signals>((resolve) => {
    for (const name of SHUTDOWN_SIGNALS) process.once(name, () => resolve(name));
  });
  const orm = await openOrm({ clientUrl: appUrl, entities, logger, poolMax: config.database.poolSize, requestLockTimeoutMs: config.database.requestLockTimeoutMs });
  const bus = await createEventBus({ redisUrl: config.redisUrl, logger });
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  // One registry for the API server and its inline worker: /metrics shows the ingestion volume
  // too. A worker alone serves it on a listener of its own, when asked (--metrics-port).
  const metrics = new ProductMetrics(new Registry());
  let metricsListener: MetricsListener | undefined;
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
            models: modelAccess(config),
            logger,
            tracer: workerTracing?.tracer,
            health: config.modelHealth,
            meter: metrics,
          })
        : undefined;
    server = role === 'api' ? createServer({ config, orm, logger, progress: bus.progress, auditFeed: bus.audit, callCancels: bus.callCancels, queueUrl: ownerUrl, metrics }) : undefined;
    if (role === 'worker' && config.worker.metricsPort !== undefined) {
      collectDefaultMetrics({ register: metrics.registry });
      metricsListener = await startMetricsListener({
        registry: metrics.registry,
        port: config.worker.metricsPort,
        host: config.worker.metricsHost,
        allowedHosts: config.http.allowedHosts,
        token: config.observability.metricsToken,
        openWithoutToken: config.env !== 'production',
      });
      logger.info({ url: `${metricsListener.url}/metrics` }, `the worker serves its metrics on ${metricsListener.url}/metrics`);
    }
    if (server) {
      const url = await server.listen();
      logger.info(
        { url: `${url}/graphql`, dataDir: config.dataDir, graphiql: config.http.graphiql, events: bus.transport, worker: Boolean(worker) },
        `Sluice is listening on ${url}/graphql${config.http.graphiql ? ' (GraphiQL in the browser)' : ''}; the console is at ${url}/console/`,
      );
    }
    const signal = await shutdownSignal;
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    return 0;
  } finally {
    // Independent steps: one that fails (an unreachable collector) is logged and the rest run.
    await runShutdownSteps(
      logger,
      [
        ['server', () => server?.close()],
        ['metrics listener', () => metricsListener?.close()],
        ['worker', () => worker?.stop()],
        ['tracing', () => workerTracing?.shutdown()],
        ['events', () => bus.close()],
        ['database pool', () => orm.close(true)],
      ],
      { timeoutMs: config.http.shutdownTimeoutMs + 10_000 },
    );
  }
}
