/**
 * Every checked model's and endpoint's health, for the metrics scrape (plugins/metrics.ts).
 * Read across tenants over the owner URL (like the queue depth: the owner's lookup policies
 * let it read models and endpoints), through one pooled connection, at most once per
 * `cacheMs` however often Prometheus scrapes. Only ids leave here, never names, addresses or
 * errors. A read that fails yields undefined and a warning, never a failed scrape.
 */
import pg from 'pg';
import type { Logger } from '../../platform/logging/logger.js';
import type { HealthStatus } from './health-rules.js';

export interface ModelHealthReading {
  tenantId: string;
  modelId: string;
  status: HealthStatus;
  latencyMs: number | null;
  checkedAt: Date;
}

export interface EndpointHealthReading {
  tenantId: string;
  endpointId: string;
  status: HealthStatus;
}

export interface HealthSnapshot {
  models: ModelHealthReading[];
  endpoints: EndpointHealthReading[];
}

export class HealthReadings {
  private readonly pool: pg.Pool;
  private cached: { at: number; snapshot: Promise<HealthSnapshot | undefined> } | undefined;

  constructor(
    ownerUrl: string,
    private readonly logger: Logger,
    /** How long one reading is reused. @default 5000 */
    private readonly cacheMs = 5_000,
  ) {
    this.pool = new pg.Pool({ connectionString: ownerUrl, max: 1, idleTimeoutMillis: 30_000, application_name: 'sluice-metrics-health' });
    this.pool.on('error', (error) => this.logger.warn({ err: error }, 'metrics: health connection failed'));
  }

  read(): Promise<HealthSnapshot | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.cacheMs) this.cached = { at: now, snapshot: this.query() };
    return this.cached.snapshot;
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async query(): Promise<HealthSnapshot | undefined> {
    try {
      const models = await this.pool.query<{ tenant_id: string; id: string; health_status: HealthStatus; health_latency_ms: number | null; health_checked_at: Date }>(
        `select tenant_id, id, health_status, health_latency_ms, health_checked_at from models where health_status is not null order by tenant_id, id`,
      );
      const endpoints = await this.pool.query<{ tenant_id: string; id: string; health_status: HealthStatus }>(
        `select tenant_id, id, health_status from endpoints where health_status is not null and published order by tenant_id, id`,
      );
      return {
        models: models.rows.map((row) => ({ tenantId: row.tenant_id, modelId: row.id, status: row.health_status, latencyMs: row.health_latency_ms, checkedAt: row.health_checked_at })),
        endpoints: endpoints.rows.map((row) => ({ tenantId: row.tenant_id, endpointId: row.id, status: row.health_status })),
      };
    } catch (error) {
      this.logger.warn({ err: error }, 'metrics: could not read model health');
      return undefined;
    }
  }
}
