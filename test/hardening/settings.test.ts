/** The hardening and observability settings: parsed into the config, bad values named, secrets never echoed. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { randomBytes } from 'node:crypto';
import { issuesOf, STRONG_SECRETS } from '../support/config.js';
import { startTracing } from '../../src/platform/telemetry/otel-sdk.js';


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

describe('weak production secrets', () => {
  const PRODUCTION = {
    NODE_ENV: 'production',
    ...STRONG_SECRETS,
    SLUICE_METRICS_TOKEN: 'Qm3vX9-pL2rT8wZk',
    DATABASE_URL: 'postgres://owner@db/sluice?sslmode=require',
    DATABASE_APP_URL: 'postgres://api@db/sluice?sslmode=require',
  };
  const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');

  it.each([
    ['JWT_SECRET', '32 × a', 'a'.repeat(32)],
    ['JWT_SECRET', 'a repeated word', 'changeme-changeme-changeme-changeme'],
    ['JWT_SECRET', 'the alphabet', 'abcdefghijklmnopqrstuvwxyz0123456789'],
    ['JWT_SECRET', 'two letters', 'ab'.repeat(16)],
    ['SLUICE_MASTER_KEY', 'all zero', b64(new Array(32).fill(0))],
    ['SLUICE_MASTER_KEY', 'all one byte', b64(new Array(32).fill(7))],
    ['SLUICE_MASTER_KEY', 'counting bytes', b64(Array.from({ length: 32 }, (_, i) => i))],
    ['SLUICE_MASTER_KEY', 'a 4-byte pattern', b64(Array.from({ length: 32 }, (_, i) => [0xde, 0xad, 0xbe, 0xef][i % 4]!))],
    ['SLUICE_MASTER_KEY_PREVIOUS', 'an all-zero earlier key', `${STRONG_SECRETS.SLUICE_MASTER_KEY_PREVIOUS},${b64(new Array(32).fill(0))}`],
    ['SLUICE_METRICS_TOKEN', '16 × 0', '0'.repeat(16)],
    // A repetition with a tail, words and counting: not whole copies of one unit, and many distinct symbols.
    ['JWT_SECRET', 'a repeated word with a tail', 'changemechangemechangemechangemeXY'],
    ['JWT_SECRET', 'a repeated word and digits', 'passwordpasswordpasswordpassword12'],
    ['JWT_SECRET', 'a repeated compound word', 'supersecretsupersecretsupersecretX'],
    ['JWT_SECRET', 'a repeated word cut short', 'passwordpasswordpasswordpasswor!'],
    ['JWT_SECRET', 'a l33t word repeated', 'P@ssw0rdP@ssw0rdP@ssw0rdP@ssw0rd1'],
    ['JWT_SECRET', 'a keyboard walk', 'qwertyuiopasdfghjklzxcvbnm123456'],
    ['SLUICE_MASTER_KEY', 'typed text', Buffer.from('changemechangemechangemechangeXY').toString('base64')],
    ['SLUICE_METRICS_TOKEN', 'a word and a sequence', 'changeme12345678'],
    ['SLUICE_METRICS_TOKEN', 'a word twice and a sequence', 'secretsecret1234'],
  ])('refuses %s: %s, saying how to make a good one and never echoing it', (name, _label, value) => {
    const issues = issuesOf({ ...PRODUCTION, [name]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^${name}: .*generate one with \`openssl rand -base64 \\d+\``));
    expect(issues[0]).not.toContain(value);
  });

  it.each([
    ['DATABASE_URL', 'postgres://postgres:postgres@db/sluice?sslmode=require', ':postgres@'],
    ['DATABASE_APP_URL', 'postgres://api:password@db/sluice?sslmode=require', ':password@'],
    ['DATABASE_APP_URL', 'postgres://api@db/sluice?sslmode=require&password=changeme1', 'changeme1'],
    ['PGPASSWORD', 'secretsecret', 'secretsecret'],
  ])('refuses a guessable database password in %s (%s), never echoing it', (name, value, secret) => {
    const issues = issuesOf({ ...PRODUCTION, [name]: value });
    expect(issues).toEqual([expect.stringMatching(new RegExp(`^${name}( \\(password\\))?: .*generate one with \`openssl rand -hex 24\``))]);
    expect(issues[0]).not.toContain(secret);
  });

  it.each([
    ['SLUICE_METRICS_TOKEN', 'JWT_SECRET', STRONG_SECRETS.JWT_SECRET],
    ['SLUICE_METRICS_TOKEN', 'SLUICE_MASTER_KEY', STRONG_SECRETS.SLUICE_MASTER_KEY],
    ['SLUICE_METRICS_TOKEN', 'SLUICE_MASTER_KEY_PREVIOUS', STRONG_SECRETS.SLUICE_MASTER_KEY_PREVIOUS],
    ['SLUICE_MASTER_KEY_PREVIOUS', 'SLUICE_MASTER_KEY', STRONG_SECRETS.SLUICE_MASTER_KEY],
    ['DATABASE_APP_URL (password)', 'JWT_SECRET', `postgres://api:${encodeURIComponent(STRONG_SECRETS.JWT_SECRET)}@db/sluice?sslmode=require`],
  ])('refuses %s holding the secret of %s', (name, other, value) => {
    const setting = name.split(' ')[0]!;
    const issues = issuesOf({ ...PRODUCTION, [setting]: value });
    expect(issues).toEqual([`${name}: is the same secret as ${other}; each setting needs its own: ${issues[0]!.split('own: ')[1]}`]);
    expect(issues[0]).toMatch(/generate one with `openssl rand -(base64|hex) \d+`$/);
    for (const secret of Object.values(STRONG_SECRETS)) expect(issues[0]).not.toContain(secret);
  });

  it('accepts generated values, database logins without a password in the URL, and leaves development alone', () => {
    for (let i = 0; i < 20; i++) {
      const generated = {
        // 32 hex characters is the shortest JWT_SECRET a generator gives that the schema admits.
        JWT_SECRET: i % 2 ? randomBytes(48).toString('base64') : randomBytes(16).toString('hex'),
        SLUICE_MASTER_KEY: randomBytes(32).toString('base64'),
        SLUICE_MASTER_KEY_PREVIOUS: randomBytes(32).toString('base64'),
        SLUICE_METRICS_TOKEN: randomBytes(8).toString('hex'),
        DATABASE_URL: `postgres://owner:${randomBytes(24).toString('hex')}@db/sluice?sslmode=require`,
        DATABASE_APP_URL: `postgres://api:${randomBytes(24).toString('base64url')}@db/sluice?sslmode=require`,
      };
      expect(issuesOf({ ...PRODUCTION, ...generated })).toEqual([]);
    }
    // No password in the URLs (PRODUCTION's): PGPASSWORD, ~/.pgpass or the server's own authentication decide.
    expect(issuesOf({ ...PRODUCTION, PGPASSWORD: randomBytes(24).toString('hex') })).toEqual([]);
    expect(issuesOf({ NODE_ENV: 'test', JWT_SECRET: 'a'.repeat(32), SLUICE_MASTER_KEY: b64(new Array(32).fill(0)) })).toEqual([]);
  });
});
