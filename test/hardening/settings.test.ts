/** The hardening and observability settings: parsed into the config, bad values named, secrets never echoed. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { issuesOf } from '../support/config.js';
import { startTracing } from '../../src/tracing.js';


describe('settings', () => {
  it('has defaults that trace nothing and ask no metrics token', () => {
    const config = parseConfig({});
    expect(config.observability).toEqual({ otlpEndpoint: undefined, serviceName: 'sluice', exportDelayMs: 5000, metricsToken: undefined, redaction: { phoneCountry: undefined } });
    expect(config.hardening).toEqual({ databaseSsl: 'disable', trustedDocumentsFile: undefined });
    // No endpoint: no tracer, no exporter, nothing that could open a connection.
    expect(startTracing(config.observability)).toBeUndefined();
  });

  it('reads every value', () => {
    const config = parseConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.internal:4318',
      OTEL_SERVICE_NAME: 'sluice-eu',
      OTEL_BSP_SCHEDULE_DELAY: '250',
      SLUICE_METRICS_TOKEN: 'a-token-of-sixteen+',
      SLUICE_REDACT_PHONE_COUNTRY: 'GB',
      SLUICE_TRUSTED_DOCUMENTS: 'persisted.json',
    });
    expect(config.observability).toEqual({
      otlpEndpoint: 'https://collector.internal:4318',
      serviceName: 'sluice-eu',
      exportDelayMs: 250,
      metricsToken: 'a-token-of-sixteen+',
      redaction: { phoneCountry: 'GB' },
    });
    expect(config.hardening.trustedDocumentsFile).toMatch(/\/persisted\.json$/);
  });

  it('names each bad value, never echoing a token or an endpoint', () => {
    const issues = issuesOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      SLUICE_METRICS_TOKEN: 'short-secret',
      SLUICE_REDACT_PHONE_COUNTRY: 'XX',
      OTEL_BSP_SCHEDULE_DELAY: '-1',
    });
    expect(issues.map((issue) => issue.split(':')[0]).sort()).toEqual(['OTEL_BSP_SCHEDULE_DELAY', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'SLUICE_METRICS_TOKEN', 'SLUICE_REDACT_PHONE_COUNTRY']);
    expect(issues.find((issue) => issue.startsWith('SLUICE_METRICS_TOKEN'))).toBe('SLUICE_METRICS_TOKEN: must be at least 16 characters');
    expect(issues.find((issue) => issue.startsWith('OTEL_EXPORTER_OTLP_ENDPOINT'))).toBe('OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL');
    expect(issues.join('\n')).not.toMatch(/short-secret|collector:4318/);
    expect(issues.find((issue) => issue.startsWith('SLUICE_REDACT_PHONE_COUNTRY'))).toMatch(/ISO 3166-1 alpha-2.*\(got "XX"\)/);
  });
});
