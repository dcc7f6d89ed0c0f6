/**
 * Yoga's log lines, on the process's logger. Yoga logs the requests it refuses as errors (an
 * upload form whose `operations` is not JSON, twice): a client's mistake, answered 4xx, is no
 * error of the server's, so those go to debug.
 */
import { GraphQLError } from 'graphql';
import type { YogaLogger } from 'graphql-yoga';
import type { Logger } from '../platform/logging/logger.js';

export function yogaLogger(logger: Logger): YogaLogger {
  const log = logger.child({ component: 'yoga' });
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    const [first, ...rest] = args;
    if (first instanceof Error && refusedRequest(first)) return log.debug({ err: first }, rest.map(String).join(' ') || first.message);
    if (first instanceof Error) log[level]({ err: first }, rest.map(String).join(' ') || first.message);
    else log[level](args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * Whether Yoga logs `error` for a request it refused as unreadable: a GraphQLError of its own
 * making (no cause; its HTTP status, when it has one yet, a 4xx). Failures of the server have
 * a cause, and are logged where they happen (server.ts's maskedErrors, the error model).
 */
function refusedRequest(error: Error): boolean {
  if (!(error instanceof GraphQLError) || error.originalError) return false;
  const status = (error.extensions as { http?: { status?: unknown } }).http?.status;
  return status === undefined || (typeof status === 'number' && status >= 400 && status < 500);
}
