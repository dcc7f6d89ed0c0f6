/** The limit settings: defaults per environment, and a clear message for each bad value. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { issuesOf, STRONG_SECRETS } from '../support/config.js';


describe('limit settings', () => {
  it('has the documented defaults, with rate limits off only under NODE_ENV=test', () => {
    const config = parseConfig({});
    expect(config.rateLimits).toEqual({
      enabled: true,
      perPrincipal: { perSecond: 10, burst: 20 },
      perIp: { perSecond: 50, burst: 100 },
      anonymousQueries: { perSecond: 30 / 60, burst: 10 },
      authPerIp: { burst: 30, perSecond: 30 / 900 },
      authPerEmail: { burst: 20, perSecond: 20 / 3600 },
      authPerEmailAndIp: { burst: 5, perSecond: 5 / 900 },
      createApiKey: { burst: 30, perSecond: 30 / 3600 },
      signUpsPerIp: { burst: 5, perSecond: 5 / 3600 },
      refusalAudit: { burst: 10, perSecond: 10 / 60 },
      trustProxyHops: 0,
    });
    // The answer places' reserve: a quarter of the process's, unless set.
    expect(config.answersInProgress).toEqual({ perCaller: 20, perTenant: 100, total: 400, reserve: 100, guaranteed: 4 });
    expect(parseConfig({ SLUICE_MAX_ANSWERS: '10' }).answersInProgress).toMatchObject({ total: 10, reserve: 2 });
    expect(parseConfig({ SLUICE_ANSWERS_RESERVE: '0', SLUICE_ANSWERS_GUARANTEED_PER_TENANT: '1' }).answersInProgress).toMatchObject({ reserve: 0, guaranteed: 1 });
    expect(config.operationLimits).toEqual({
      maxDepth: 12,
      maxAliases: 15,
      maxTokens: 2000,
      maxCost: 50_000,
      maxDirectives: 50,
      maxVariableValues: 10_000,
      introspection: true,
      blockFieldSuggestions: false,
    });
    expect([config.http.webSocketConnectionsPerAddress, config.http.webSocketConnections]).toEqual([100, 10_000]);
    expect(parseConfig({ NODE_ENV: 'test' }).rateLimits.enabled).toBe(false);
    expect(parseConfig({ NODE_ENV: 'test', SLUICE_RATE_LIMITS: 'on' }).rateLimits.enabled).toBe(true);
    // The sign-up limit per address stays on with the request limits off; under NODE_ENV=test, unset, it follows them.
    expect(parseConfig({ SLUICE_RATE_LIMITS: 'off' }).rateLimits.signUpsPerIp).toEqual({ burst: 5, perSecond: 5 / 3600 });
    expect(parseConfig({ NODE_ENV: 'test' }).rateLimits.signUpsPerIp).toBeNull();
    expect(parseConfig({ NODE_ENV: 'test', SLUICE_RATE_LIMITS: 'on' }).rateLimits.signUpsPerIp).toEqual({ burst: 5, perSecond: 5 / 3600 });
    expect(parseConfig({ NODE_ENV: 'test', SLUICE_SIGNUP_LIMIT_PER_IP: '2/1h' }).rateLimits.signUpsPerIp).toEqual({ burst: 2, perSecond: 2 / 3600 });
    // The anonymous per-address limit is read whatever SLUICE_RATE_LIMITS says (it always applies).
    expect(parseConfig({ NODE_ENV: 'test', SLUICE_ANONYMOUS_QUERIES_PER_MINUTE: '0.5', SLUICE_ANONYMOUS_QUERY_BURST: '2' }).rateLimits.anonymousQueries).toEqual({
      perSecond: 0.5 / 60,
      burst: 2,
    });
  });

  it('turns introspection off and hides suggestions in production, unless introspection is asked for', () => {
    const production = {
      NODE_ENV: 'production',
      JWT_SECRET: STRONG_SECRETS.JWT_SECRET,
      SLUICE_MASTER_KEY: STRONG_SECRETS.SLUICE_MASTER_KEY,
      CORS_ORIGINS: 'https://console.example.com',
      DATABASE_URL: 'postgres://owner@db/sluice?sslmode=require',
      DATABASE_APP_URL: 'postgres://api@db/sluice?sslmode=require',
    };
    expect(parseConfig(production).operationLimits).toMatchObject({ introspection: false, blockFieldSuggestions: true });
    expect(parseConfig({ ...production, SLUICE_INTROSPECTION: 'true' }).operationLimits.introspection).toBe(true);
  });

  it('reads attempts/period quotas', () => {
    const { rateLimits } = parseConfig({
      SLUICE_AUTH_LIMIT_PER_EMAIL: '10/s',
      SLUICE_AUTH_LIMIT_PER_EMAIL_AND_IP: '3/5m',
      SLUICE_AUTH_LIMIT_PER_IP: '100/2h',
      SLUICE_API_KEY_CREATE_LIMIT: '1/m',
      SLUICE_AUTH_FAILURE_AUDIT_LIMIT: '5/2s',
    });
    expect([rateLimits.authPerEmail, rateLimits.authPerEmailAndIp, rateLimits.authPerIp, rateLimits.createApiKey, rateLimits.refusalAudit]).toEqual([
      { burst: 10, perSecond: 10 },
      { burst: 3, perSecond: 3 / 300 },
      { burst: 100, perSecond: 100 / 7200 },
      { burst: 1, perSecond: 1 / 60 },
      { burst: 5, perSecond: 5 / 2 },
    ]);
  });

  it.each([
    [{ SLUICE_RATE_LIMITS: 'yes' }, /^SLUICE_RATE_LIMITS: .*"on"\|"off"/],
    [{ SLUICE_RATE_LIMIT_PER_SECOND: '0' }, /^SLUICE_RATE_LIMIT_PER_SECOND: must be more than 0 \(got "0"\)$/],
    [{ SLUICE_RATE_LIMIT_BURST: '2.5' }, /^SLUICE_RATE_LIMIT_BURST: must be an integer/],
    [{ SLUICE_IP_RATE_LIMIT_BURST: '0' }, /^SLUICE_IP_RATE_LIMIT_BURST: must be at least 1/],
    [{ SLUICE_ANONYMOUS_QUERIES_PER_MINUTE: '0' }, /^SLUICE_ANONYMOUS_QUERIES_PER_MINUTE: must be more than 0/],
    [{ SLUICE_ANONYMOUS_QUERY_BURST: 'many' }, /^SLUICE_ANONYMOUS_QUERY_BURST: must be a number/],
    [{ SLUICE_AUTH_LIMIT_PER_IP: '5 per minute' }, /^SLUICE_AUTH_LIMIT_PER_IP: must look like 5\/15m/],
    [{ SLUICE_AUTH_LIMIT_PER_EMAIL: '0/15m' }, /^SLUICE_AUTH_LIMIT_PER_EMAIL: must look like 5\/15m/],
    [{ SLUICE_API_KEY_CREATE_LIMIT: '5/0h' }, /^SLUICE_API_KEY_CREATE_LIMIT: must look like 5\/15m/],
    [{ SLUICE_AUTH_FAILURE_AUDIT_LIMIT: '0/1m' }, /^SLUICE_AUTH_FAILURE_AUDIT_LIMIT: must look like 5\/15m/],
    [{ SLUICE_SIGNUP_LIMIT_PER_IP: '5' }, /^SLUICE_SIGNUP_LIMIT_PER_IP: must look like 5\/15m/],
    [{ SLUICE_MAX_ANSWERS: '8', SLUICE_ANSWERS_RESERVE: '8' }, /^SLUICE_ANSWERS_RESERVE: must be less than SLUICE_MAX_ANSWERS/],
    [{ SLUICE_ANSWERS_GUARANTEED_PER_TENANT: '0' }, /^SLUICE_ANSWERS_GUARANTEED_PER_TENANT: must be at least 1/],
    [{ SLUICE_TRUST_PROXY: 'true' }, /^SLUICE_TRUST_PROXY: must be the number of proxies in front of Sluice \(0 to 10\)/],
    [{ SLUICE_WS_MAX_CONNECTIONS_PER_ADDRESS: '0' }, /^SLUICE_WS_MAX_CONNECTIONS_PER_ADDRESS: must be at least 1/],
    [{ SLUICE_WS_MAX_CONNECTIONS: '1.5' }, /^SLUICE_WS_MAX_CONNECTIONS: must be an integer/],
    [{ SLUICE_MAX_DEPTH: '0' }, /^SLUICE_MAX_DEPTH: must be at least 1/],
    [{ SLUICE_MAX_TOKENS: 'lots' }, /^SLUICE_MAX_TOKENS: must be a number/],
    [{ SLUICE_INTROSPECTION: 'on' }, /^SLUICE_INTROSPECTION: /],
    [{ SLUICE_INGEST_MAX_REQUEST_BYTES: '314572800' }, /^SLUICE_UPLOAD_BYTES_IN_FLIGHT: must be at least the largest upload body, .* \(315621376\)$/],
    [{ SLUICE_UPLOAD_BYTES_IN_FLIGHT: '1024' }, /^SLUICE_UPLOAD_BYTES_IN_FLIGHT: must be at least the largest upload body/],
    [{ SLUICE_MAX_BODY_BYTES: '314572800' }, /^SLUICE_UPLOAD_BYTES_IN_FLIGHT: must be at least the largest upload body, .* \(314572800\)$/],
  ])('names the bad value in %j', (env, message) => {
    const issues = issuesOf(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(message);
  });
});
