/** Policies over the real API, and a clock tests move instead of sleeping. */
import type { Clock } from '../../src/domains/clock.js';
import { gql, must, queryEndpoint } from './endpoints.js';
import type { TestServer } from './server.js';

export interface ManualClock extends Clock {
  advance(seconds: number): void;
}

export function manualClock(start = new Date('2026-06-01T12:00:00Z')): ManualClock {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance(seconds) {
      now += seconds * 1000;
    },
  };
}

export async function createPolicy(server: TestServer, token: string, endpointId: string, type: string, configuration: Record<string, unknown>, enabled?: boolean) {
  const data = await must(server, token, 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id type configuration enabled } }', {
    i: { endpointId, type, configuration, enabled },
  });
  return data.createPolicy as { id: string; type: string; configuration: Record<string, any>; enabled: boolean };
}

/** Asks and returns what a client sees of the outcome: 'ok', or the error's code and extensions. */
export async function outcome(server: TestServer, token: string, reference: string, query = 'lock keeper') {
  const body = await queryEndpoint(server, token, reference, query, undefined, 'answer usage { totalTokens }');
  if (!body.errors) return { code: 'ok' as const, totalTokens: body.data.queryEndpoint.usage.totalTokens as number };
  return { code: body.errors[0].extensions.code as string, extensions: body.errors[0].extensions as Record<string, any>, message: body.errors[0].message as string };
}

export { gql, must };
