/** Helpers for the rate-limit tests: a clock to move, client addresses, graphql-ws with headers. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Clock } from '../../src/domains/clock.js';

/** A clock that stands still until told to move: bucket refills without sleeping. */
export class ManualClock implements Clock {
  constructor(private millis = Date.now()) {}
  now(): Date {
    return new Date(this.millis);
  }
  advance(ms: number): void {
    this.millis += ms;
  }
}

let addresses = 0;
/** A client address no other test uses (documentation ranges; nothing is ever sent there). */
export function freshIp(): string {
  addresses += 1;
  return `198.51.${Math.floor(addresses / 250) % 250}.${(addresses % 250) + 1}`;
}

/** Headers that make the test server (SLUICE_TRUST_PROXY=1) see the request as coming from `ip`. */
export const fromIp = (ip: string) => ({ 'x-forwarded-for': ip });

/** A graphql-ws client whose upgrade request carries `headers` (node's `ws` can send them). */
export function wsClient(url: string, options: { headers?: Record<string, string>; token?: string } = {}): Client {
  class WithHeaders extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: options.headers });
    }
  }
  return createClient({
    url,
    webSocketImpl: WithHeaders,
    lazy: true,
    retryAttempts: 0,
    connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
}

/**
 * One operation over graphql-ws: its results, or `{ errors }` when the server refused it before
 * execution (graphql-ws then sends an `error` message, which the client throws).
 */
export async function wsOperation(client: Client, query: string): Promise<{ data?: any; errors?: any[] }> {
  try {
    const results: { data?: any; errors?: any[] }[] = [];
    for await (const result of client.iterate({ query })) results.push(result as { data?: any; errors?: any[] });
    return results[0] ?? {};
  } catch (error) {
    if (Array.isArray(error)) return { errors: error };
    throw error;
  }
}

/** The operation limit a refusal names, as `limit:max`, or the code when it is not an operation limit. */
export function refusalOf(body: any): string | undefined {
  const extensions = body?.errors?.[0]?.extensions ?? {};
  return extensions.code === 'OPERATION_LIMIT_EXCEEDED' ? `${extensions.limit}:${extensions.max}` : extensions.code;
}
