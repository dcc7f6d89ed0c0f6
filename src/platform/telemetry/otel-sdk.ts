/**
 * The OpenTelemetry tracer of one API server: spans exported over OTLP/HTTP (JSON) to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, in batches. Without an endpoint there is no
 * tracer, no exporter and no network at all.
 *
 * Nothing is registered globally (no global tracer provider, context manager or propagator):
 * the tracer is handed to the tracing plugin, so two servers in one process (tests) never see
 * each other's spans. Standard exporter variables such as `OTEL_EXPORTER_OTLP_HEADERS` (a
 * collector's credentials) are read by the exporter itself.
 */
import type { Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  tracer: Tracer;
  /** Exports what is still buffered, then stops (server shutdown). */
  shutdown(): Promise<void>;
}

/** What tracing needs of the configuration (config.ts's ObservabilityConfig has it). */
export interface TracingOptions {
  /** OTLP/HTTP base URL (spans go to `<url>/v1/traces`); undefined: no tracing, no network. */
  otlpEndpoint: string | undefined;
  serviceName: string;
  /** Most time a finished span waits before it is exported. */
  exportDelayMs: number;
}

export function startTracing({ otlpEndpoint, serviceName, exportDelayMs }: TracingOptions): Tracing | undefined {
  if (!otlpEndpoint) return undefined;
  const exporter = new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: exportDelayMs })],
  });
  return { tracer: provider.getTracer('sluice'), shutdown: () => provider.shutdown() };
}
