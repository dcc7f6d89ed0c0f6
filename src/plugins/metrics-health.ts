/**
 * The model health checks' gauges on the metrics registry (domains/model-health/), read on
 * scrape. They carry tenant, model and endpoint ids (never names, addresses or errors), one
 * series per checked model or published endpoint, as an operator needs to tell which one is
 * down; each gauge is reset on every scrape, so a model no longer checked drops out.
 */
import { Gauge, type Registry } from 'prom-client';
import { HEALTH_STATUSES } from '../domains/model-health/health-rules.js';
import type { HealthSnapshot } from '../domains/model-health/health-readings.js';

type Row = [labels: Record<string, string>, value: number];

export function healthGauges(registry: Registry, source: { read(): Promise<HealthSnapshot | undefined> }): void {
  // The four gauges of one scrape share one reading: the reader caches it (health-readings.ts).
  const gauge = (name: string, help: string, labelNames: string[], rows: (health: HealthSnapshot) => Row[]) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const health = await source.read();
        if (!health) return; // unreadable: leave the last values
        this.reset();
        for (const [labels, value] of rows(health)) this.set(labels, value);
      },
    });
  /** 1 for the status found, 0 for the others: one series per status, so a panel can stack them. */
  const statusRows = (labels: Record<string, string>, status: string): Row[] => HEALTH_STATUSES.map((each) => [{ ...labels, status: each }, each === status ? 1 : 0]);

  gauge('sluice_model_health', 'Model health by the last check: 1 for its status, 0 for the others', ['tenant_id', 'model_id', 'status'], (health) =>
    health.models.flatMap((model) => statusRows({ tenant_id: model.tenantId, model_id: model.modelId }, model.status)),
  );
  gauge('sluice_model_check_latency_seconds', 'How long the last health check of a model took (absent when it failed)', ['tenant_id', 'model_id'], (health) =>
    health.models.flatMap((model): Row[] => (model.latencyMs === null ? [] : [[{ tenant_id: model.tenantId, model_id: model.modelId }, model.latencyMs / 1000]])),
  );
  gauge('sluice_model_last_check_timestamp_seconds', 'When a model was last checked (Unix time): alert when it stops moving', ['tenant_id', 'model_id'], (health) =>
    health.models.map((model): Row => [{ tenant_id: model.tenantId, model_id: model.modelId }, model.checkedAt.getTime() / 1000]),
  );
  gauge('sluice_endpoint_health', 'Published endpoint health (the worst of its models): 1 for its status, 0 for the others', ['tenant_id', 'endpoint_id', 'status'], (health) =>
    health.endpoints.flatMap((endpoint) => statusRows({ tenant_id: endpoint.tenantId, endpoint_id: endpoint.endpointId }, endpoint.status)),
  );
}
