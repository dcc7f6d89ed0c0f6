/**
 * How many ingestion jobs wait in graphile-worker's queue, for the metrics scrape. The queue's
 * tables belong to the owner role (see domains/ingestion/queue.ts), so this reads them over
 * the owner URL the process already has for its worker, through one pooled connection.
 *
 * Cheap by construction: one aggregate over the queue's view, at most once per `cacheMs`
 * however often Prometheus (or several) scrape; concurrent scrapes share one query. A query
 * that fails (database restarting) yields undefined and a warning, never a failed scrape.
 */
import pg from 'pg';
import type { Logger } from '../logging/logger.js';

export type QueueCounts = Record<'waiting' | 'running' | 'failed', number>;

export class QueueDepth {
  private readonly pool: pg.Pool;
  private cached: { at: number; counts: Promise<QueueCounts | undefined> } | undefined;

  constructor(
    ownerUrl: string,
    private readonly logger: Logger,
    /** How long one reading is reused. @default 5000 */
    private readonly cacheMs = 5_000,
  ) {
    this.pool = new pg.Pool({ connectionString: ownerUrl, max: 1, idleTimeoutMillis: 30_000, application_name: 'sluice-metrics' });
    this.pool.on('error', (error) => this.logger.warn({ err: error }, 'metrics: queue connection failed'));
  }

  read(): Promise<QueueCounts | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.cacheMs) this.cached = { at: now, counts: this.query() };
    return this.cached.counts;
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async query(): Promise<QueueCounts | undefined> {
    try {
      const { rows } = await this.pool.query<{ waiting: string; running: string; failed: string }>(
        `select count(*) filter (where locked_at is null and attempts < max_attempts) as waiting,
                count(*) filter (where locked_at is not null) as running,
                count(*) filter (where locked_at is null and attempts >= max_attempts) as failed
           from graphile_worker.jobs`,
      );
      const row = rows[0]!;
      return { waiting: Number(row.waiting), running: Number(row.running), failed: Number(row.failed) };
    } catch (error) {
      this.logger.warn({ err: error }, 'metrics: could not read the ingestion queue');
      return undefined;
    }
  }
}
