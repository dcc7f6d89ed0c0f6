/**
 * Long-lived subscriptions keep answering to their credential. A subscription ends with an
 * UNAUTHENTICATED error when its token expires (a timer, to the second), and within
 * `recheckMs` when its session is logged out, its API key revoked or expired, its membership
 * removed, or its role changed: every distinct live credential is re-authenticated once per
 * interval, however many subscriptions share it. Re-checks read the database, so they work
 * across any number of API instances.
 *
 * Clients re-authenticate by subscribing again with a fresh token (the SDK's graphql-ws client
 * reads the token from a function at each (re)connect); see docs/subscriptions.md.
 */
import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { AuthContext } from './context.js';
import type { Actor } from '../domains/actor.js';
import type { Authenticator, PresentedCredential } from '../domains/identity/authenticator.js';
import { endOnAbort } from './subscription-shutdown.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Watched {
  credential: PresentedCredential;
  actor: Actor;
  subscribers: Set<AbortController>;
}

export interface CredentialWatchOptions {
  authenticator: Authenticator;
  /** How often live credentials are re-checked (default 5 s). */
  recheckMs?: number;
}

export function useCredentialWatch({ authenticator, recheckMs = 5_000 }: CredentialWatchOptions): Plugin<AuthContext> & {
  dispose(): void;
} {
  const watched = new Map<string, Watched>();
  const timer = setInterval(() => void recheckAll(), recheckMs);
  timer.unref();

  async function recheckAll(): Promise<void> {
    await Promise.all(
      [...watched.entries()].map(async ([key, entry]) => {
        const reason = await authenticator.authenticate(entry.credential).then(
          ({ actor }) => (sameStanding(actor, entry.actor) ? null : 'Your role or tenant changed: subscribe again'),
          (error: Error) => error.message,
        );
        if (!reason) return;
        watched.delete(key);
        for (const controller of entry.subscribers) controller.abort(reason);
      }),
    );
  }

  function watch(credential: PresentedCredential, actor: Actor, controller: AbortController): () => void {
    const key = fingerprint(credential);
    let entry = watched.get(key);
    if (!entry) watched.set(key, (entry = { credential, actor, subscribers: new Set() }));
    entry.subscribers.add(controller);
    return () => {
      entry.subscribers.delete(controller);
      if (entry.subscribers.size === 0 && watched.get(key) === entry) watched.delete(key);
    };
  }

  return {
    onSubscribe({ args }) {
      const context = args.contextValue as AuthContext;
      if (context.actor.kind === 'anonymous') return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const controller = new AbortController();
          const unwatch = watch(context.credential, context.actor, controller);
          const untilExpiry = context.credentialExpiresAt ? context.credentialExpiresAt.getTime() - Date.now() : Infinity;
          // Timers cannot wait past ~24.8 days; a credential further out is caught by the re-check.
          const expiry =
            untilExpiry <= MAX_TIMER_MS
              ? setTimeout(() => controller.abort('Credential expired: subscribe again with a fresh token'), Math.max(0, untilExpiry))
              : undefined;
          const ended = () => {
            unwatch();
            clearTimeout(expiry);
          };
          controller.signal.addEventListener('abort', ended, { once: true });
          const guarded = endOnAbort(result, controller.signal, (reason) => ({
            errors: [new GraphQLError(String(reason), { extensions: { code: 'UNAUTHENTICATED' } })],
          }));
          setResult(withCleanup(guarded, ended));
        },
      };
    },
    dispose() {
      clearInterval(timer);
      watched.clear();
    },
  };
}

/** Still the same standing: same tenant, role and scopes. */
function sameStanding(now: Actor, then: Actor): boolean {
  return now.tenantId === then.tenantId && now.role === then.role && now.scopes.join() === then.scopes.join();
}

/** Credentials are keyed by hash, so the map never holds a secret as a key. */
function fingerprint(credential: PresentedCredential): string {
  return createHash('sha256')
    .update(JSON.stringify([credential.authorization ?? null, credential.apiKey ?? null, credential.tenant ?? null]))
    .digest('base64url');
}

/** Runs `cleanup` when the consumer is done with `source`, however it ends. */
function withCleanup<T>(source: AsyncIterableIterator<T>, cleanup: () => void): AsyncIterableIterator<T> {
  return {
    next: () =>
      source.next().then((result) => {
        if (result.done) cleanup();
        return result;
      }),
    return: (value?: unknown) => {
      cleanup();
      return source.return?.(value) ?? Promise.resolve({ done: true, value: undefined });
    },
    throw: (error?: unknown) => {
      cleanup();
      return source.throw?.(error) ?? Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
