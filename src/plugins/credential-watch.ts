/**
 * Long-lived subscriptions keep answering to their credential and to their tenant's IP
 * allow-list. A subscription ends with an UNAUTHENTICATED error when its token expires (a
 * timer, to the second), and within `recheckMs` when its session is logged out, its API key
 * revoked or expired, its membership removed, or its role changed: every distinct live
 * credential is re-authenticated once per interval, however many subscriptions share it. On
 * the same interval each subscription's client address is held to its tenant's current
 * allow-list (the shared check, cached per tenant): one from an address the list no longer
 * allows ends with FORBIDDEN (reason IP_NOT_ALLOWED), as a new operation from there would be
 * refused. Re-checks read the database, so they work across any number of API instances.
 *
 * The consumer doors (REST, OpenAI-compatible, MCP, the audit export: routes/consumer-door.ts)
 * hold each request to the same watch through `watch()`, from the door to the response's last
 * byte: a stream can run for as long as a model answers, and must stop answering (and stop the
 * model the tenant pays for) when the credential that opened it is gone.
 *
 * A GraphQL query or mutation is held to it too while it executes, incremental delivery
 * included, from the moment one of its services asks (RequestFacts.standing: asking an
 * endpoint does, QueryService.prepare), whatever the transport: a `queryEndpoint` over HTTP,
 * with `@defer`, or over graphql-ws ends with the same coded error and closes its model request.
 * Until then it is not watched: a short operation adds nothing to the re-check rounds.
 *
 * Clients re-authenticate by subscribing again with a fresh token (the SDK's graphql-ws client
 * reads the token from a function at each (re)connect); see docs/subscriptions.md.
 */
import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { Gauge, type Registry } from 'prom-client';
import type { AuthContext, ClientContext, RequestContext, ScopeContext, StandingContext } from './context.js';
import type { Actor } from '../domains/actor.js';
import { UnauthenticatedError, type CodedError } from '../domains/errors.js';
import type { Authenticator, PresentedCredential } from '../domains/identity/authenticator.js';
import type { IpAllowListCheck } from '../domains/tenancy/ip-allow-check.js';
import type { Logger } from '../platform/logging/logger.js';
import { OperationStanding } from './operation-standing.js';
import { endOnAbort } from './subscription-shutdown.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Where one live subscription or stream came from; it is ended by aborting its controller with the coded error it ends with. */
export interface Subscriber {
  tenantId: string | null;
  /** The operation's client address (context.clientIp), as its allow-list check saw it. */
  ip: string;
  /** Reads the tenant's allow-list through the subscription's own scope. */
  readAllowList: () => Promise<readonly string[] | null>;
  logger: Logger;
}

interface Watched {
  credential: PresentedCredential;
  actor: Actor;
  subscribers: Map<AbortController, Subscriber>;
}

export interface CredentialWatchOptions {
  authenticator: Authenticator;
  /** The allow-list check new operations meet (plugins/ip-allow-list.ts), shared for its per-tenant cache. */
  ipAllowList: IpAllowListCheck;
  /** How often live credentials and addresses are re-checked (default 5 s). */
  recheckMs?: number;
  /** Where `sluice_live_credentials` is reported. */
  registry?: Registry;
}

type WatchedContext = AuthContext & ClientContext & RequestContext & ScopeContext;

/** One live response held to its credential: `signal` aborts with the coded error it must end with. */
export interface LiveWatch {
  signal: AbortSignal;
  /** Stops watching (the response ended); the signal is then never aborted. */
  end(): void;
}

/** What the consumer doors (routes/consumer-door.ts) hold their streams to: the same watch as subscriptions. */
export interface CredentialWatch {
  watch(credential: PresentedCredential, actor: Actor, expiresAt: Date | null, subscriber: Subscriber): LiveWatch;
}

export function useCredentialWatch({ authenticator, ipAllowList, recheckMs = 5_000, registry }: CredentialWatchOptions): Plugin<WatchedContext & StandingContext> &
  CredentialWatch & {
    dispose(): void;
  } {
  const watched = new Map<string, Watched>();
  if (registry) {
    new Gauge({
      name: 'sluice_live_credentials',
      help: 'Distinct credentials holding live subscriptions, streams or queries asking an endpoint: each is re-authenticated every SLUICE_CREDENTIAL_RECHECK_MS',
      registers: [registry],
      collect() {
        this.set(watched.size);
      },
    });
  }
  // A round still running when the next is due is not joined by another: rounds never overlap.
  let round: Promise<void> | undefined;
  const timer = setInterval(() => {
    round ??= recheckAll().finally(() => (round = undefined));
  }, recheckMs);
  timer.unref();

  async function recheckAll(): Promise<void> {
    const entries = [...watched.entries()];
    // A few credentials at a time: a round of thousands must not take a connection each at once.
    await inTurns(entries, RECHECKS_AT_ONCE, async ([key, entry]) => {
      const lost = await authenticator.authenticate(entry.credential).then(
        ({ actor }) => (sameStanding(actor, entry.actor) ? null : new UnauthenticatedError('Your role or tenant changed: authenticate again')),
        (error: Error) => new UnauthenticatedError(error.message),
      );
      if (lost) {
        watched.delete(key);
        for (const controller of entry.subscribers.keys()) controller.abort(lost);
        return;
      }
      await Promise.all([...entry.subscribers].map(([controller, subscriber]) => recheckAddress(controller, subscriber)));
    });
  }

  /** Ends the subscription when its tenant's allow-list no longer holds its address. */
  async function recheckAddress(controller: AbortController, { tenantId, ip, readAllowList, logger }: Subscriber): Promise<void> {
    try {
      const refused = await ipAllowList.refusal(tenantId, ip, readAllowList);
      if (refused) controller.abort(refused);
    } catch (error) {
      // The list could not be read: the subscription passed the check when it started and is
      // checked again next interval, rather than every subscription ending on a database blip.
      logger.warn({ err: error, tenantId }, 'could not re-check a subscription against its tenant’s IP allow-list');
    }
  }

  function watch(credential: PresentedCredential, actor: Actor, expiresAt: Date | null, subscriber: Subscriber): LiveWatch {
    const controller = new AbortController();
    // Anonymous callers have no credential to lose (the allow-list met them at the start).
    if (actor.kind === 'anonymous') return { signal: controller.signal, end: () => undefined };
    const key = fingerprint(credential, actor);
    let entry = watched.get(key);
    if (!entry) watched.set(key, (entry = { credential, actor, subscribers: new Map() }));
    const untilExpiry = expiresAt ? expiresAt.getTime() - Date.now() : Infinity;
    // Timers cannot wait past ~24.8 days; a credential further out is caught by the re-check.
    const expiry =
      untilExpiry <= MAX_TIMER_MS
        ? setTimeout(() => controller.abort(new UnauthenticatedError('Credential expired: authenticate again with a fresh token')), Math.max(0, untilExpiry))
        : undefined;
    const registered = entry;
    registered.subscribers.set(controller, subscriber);
    const end = () => {
      clearTimeout(expiry);
      registered.subscribers.delete(controller);
      if (registered.subscribers.size === 0 && watched.get(key) === registered) watched.delete(key);
    };
    controller.signal.addEventListener('abort', end, { once: true });
    return { signal: controller.signal, end };
  }

  /** Watches the operation of `context` until `end()`. */
  const watchOperation = (context: WatchedContext) =>
    watch(context.credential, context.actor, context.credentialExpiresAt ?? null, {
      tenantId: context.actor.tenantId,
      ip: context.clientIp ?? '',
      readAllowList: () => context.services.tenancy.ipAllowList(),
      logger: context.logger,
    });

  return {
    watch,
    onContextBuilding({ extendContext }) {
      extendContext({ standing: new OperationStanding() });
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue as WatchedContext & Partial<StandingContext>;
      const standing = context.standing;
      if (!(standing instanceof OperationStanding) || context.actor.kind === 'anonymous') return;
      setExecuteFn(async (executeArgs) => {
        standing.open(() => watchOperation(context));
        let result;
        try {
          result = await executeFn(executeArgs);
        } catch (error) {
          standing.close();
          throw error;
        }
        // @defer / @stream: held until the last part is sent.
        if (isAsyncIterable(result)) return withCleanup(result, () => standing.close());
        standing.close();
        return result;
      });
    },
    onSubscribe({ args }) {
      const context = args.contextValue as WatchedContext;
      if (context.actor.kind === 'anonymous') return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const live = watchOperation(context);
          // The last result carries the reason's own code and details (UNAUTHENTICATED, or FORBIDDEN / IP_NOT_ALLOWED).
          const guarded = endOnAbort(result, live.signal, (reason) => {
            const { message, code, details } = reason as CodedError;
            return { errors: [new GraphQLError(message, { extensions: { code, ...details } })] };
          });
          setResult(withCleanup(guarded, live.end));
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

/**
 * One entry per credential as the authenticator reads it, not per spelling of its headers: the
 * secret itself (an API key is the same whether sent as X-API-Key or as a bearer token; the
 * scheme's case and spaces do not count), and the tenant header only for an external identity's
 * token, the one credential it chooses a tenant for. Keyed on the raw headers, one key sent with
 * `X-Sluice-Tenant: x1`, `x2`, … (ignored for it) became as many entries, each re-authenticated
 * every interval (a review as an attacker, 2026-12-07: 800 held streams, 96–157 database
 * transactions a second, other requests up to 1.1 s). Hashed, so the map never holds a secret.
 */
function fingerprint(credential: PresentedCredential, actor: Actor): string {
  const bearer = credential.authorization ? (/^Bearer\s+(\S+)\s*$/i.exec(credential.authorization)?.[1] ?? credential.authorization) : null;
  const secret = credential.apiKey ?? bearer;
  return createHash('sha256')
    .update(JSON.stringify([secret, actor.kind === 'external' ? (credential.tenant ?? null) : null]))
    .digest('base64url');
}

/** Credentials re-authenticated at once in a round. */
const RECHECKS_AT_ONCE = 8;

/** Runs `work` over `items`, at most `atOnce` at a time. */
async function inTurns<T>(items: readonly T[], atOnce: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, items.length) }, lane));
}

/** Runs `cleanup` when the consumer is done with `iterable`, however it ends. */
function withCleanup<T>(iterable: AsyncIterable<T>, cleanup: () => void): AsyncIterableIterator<T> {
  const source = iterable[Symbol.asyncIterator]();
  return {
    next: () =>
      source.next().then(
        (result) => {
          if (result.done) cleanup();
          return result;
        },
        (error: unknown) => {
          cleanup();
          throw error;
        },
      ),
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
