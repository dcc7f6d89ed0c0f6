/**
 * How Sluice fetches identity providers' key sets: through the egress guard, and throttled
 * when it fails. An anonymous caller triggers a fetch just by sending a token whose `iss`
 * names a provider, and jose's cooldown only starts after a *successful* fetch, so without
 * this every request naming an unreachable, refused or broken provider cost one outbound
 * request. After a failure the URL is not fetched again for a backoff (the JWKS cooldown,
 * doubling with each further failure, at most MAX_BACKOFF_MS); requests in the meantime fail
 * at once. Only a 200 answer whose body is a JSON key set counts as success.
 */
import type { FetchImplementation } from 'jose';
import { BodyTooLargeError, boundedText } from '../../platform/egress/bounded-body.js';
import { egressFor } from '../../platform/egress/guard.js';
import type { PrivateNetworkPolicy } from '../../platform/egress/policy.js';

/** The longest wait between two attempts at a failing key set (unless the cooldown is longer). */
const MAX_BACKOFF_MS = 5 * 60_000;
/** A key set is a few kilobytes; a body beyond this is not one. */
const MAX_KEY_SET_BYTES = 512 * 1024;

/** Raised instead of fetching while a key set's URL is backing off, and for a failed fetch. */
export class KeySetUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySetUnavailableError';
  }
}

export interface KeySetFetchOptions {
  egress: PrivateNetworkPolicy;
  /** The wait after a first failure; it doubles with each further one. */
  backoffMs: number;
  now?: () => number;
}

/** A fetch for jose's `customFetch`, guarded and throttled per URL. */
export function keySetFetch(options: KeySetFetchOptions): FetchImplementation {
  const now = options.now ?? Date.now;
  const egress = egressFor(options.egress);
  const failing = new Map<string, { failures: number; retryAt: number }>();
  const maxBackoff = Math.max(MAX_BACKOFF_MS, options.backoffMs);

  return async (url, init) => {
    const state = failing.get(url);
    if (state && now() < state.retryAt) {
      throw new KeySetUnavailableError(`The key set failed to load; next attempt in ${Math.ceil((state.retryAt - now()) / 1000)} s`);
    }
    try {
      const response = await egress.fetch(url, init);
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new KeySetUnavailableError(`The key set answered HTTP ${response.status}`);
      }
      // Read as it arrives, up to the bound: an identity provider's answer is its own to size.
      const text = await boundedText(response, MAX_KEY_SET_BYTES).catch((error: unknown) => {
        throw error instanceof BodyTooLargeError ? new KeySetUnavailableError(`The key set is larger than ${MAX_KEY_SET_BYTES} bytes`) : error;
      });
      if (!Array.isArray((parseJson(text) as { keys?: unknown } | undefined)?.keys)) {
        throw new KeySetUnavailableError('The key set is not a JSON Web Key Set');
      }
      failing.delete(url);
      return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
    } catch (error) {
      const failures = (state?.failures ?? 0) + 1;
      failing.set(url, { failures, retryAt: now() + Math.min(maxBackoff, Math.max(options.backoffMs, 1000) * 2 ** (failures - 1)) });
      throw error instanceof KeySetUnavailableError ? error : new KeySetUnavailableError('The key set could not be fetched', { cause: error });
    }
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
