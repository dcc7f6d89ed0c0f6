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
