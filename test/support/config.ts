/** Configuration tests: what a ConfigError says about an environment. */
import { ConfigError, parseConfig } from '../../src/config.js';

/** The issues a ConfigError lists for `env`, or [] when it parses. */
export function issuesOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
}

/** Production secrets that pass the strength check (random, made once for the tests). */
export const STRONG_SECRETS = {
  JWT_SECRET: 'JsLM4epX7bdDcSoEuh1hfPCOBnFj5APh7DHql/DDuqX83HGh',
  SLUICE_MASTER_KEY: '6drk0qEfOIiw2E0DyewsdCTvuDxbzjMx5p3XhpD2jYw=',
  SLUICE_MASTER_KEY_PREVIOUS: 'x7fjPorVcSwnpPaPyA9lDn1u0iXCw5a7Z4JPoDdmjv0=',
};

/** A database password that passes the production check (random hex, URL-safe). */
export const STRONG_DATABASE_PASSWORD = '3f9c1e7a52b84d06c1a9e2f47b5d8c30e6a1f9b2d47c85e0';

/** The secrets of test servers and of the `sluice` processes tests start (support/process.ts). */
export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';
/** Strong enough for production mode (src/secret-strength.ts). */
export const TEST_MASTER_KEY = STRONG_SECRETS.SLUICE_MASTER_KEY;
