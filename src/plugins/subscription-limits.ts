/**
 * Caps on live subscriptions: at most `perConnection` on one connection (a WebSocket, or the
 * HTTP connection an SSE stream runs on) and `perPrincipal` for one principal (a user, API
 * key or external identity within its tenant; anonymous callers by client address, IPv6 by
 * /64) across every connection to this process. One more is refused with
 * SUBSCRIPTION_LIMIT_EXCEEDED; the socket and the other subscriptions stay open. A slot is
 * given back the moment its subscription ends, however it ends (complete, error, the client's
 * `complete`, the socket closing).
 *
 * Counts are per process: with N API processes a principal may hold up to N × perPrincipal
 * (docs/operations.md).
 */
import type { IncomingMessage } from 'node:http';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { AuthContext, ClientContext } from '../context.js';
import { ipIdentity, principalOf } from '../rate-limits/keys.js';
import { codedErrorToGraphQL, SubscriptionLimitError } from '../platform/errors/index.js';

export interface SubscriptionLimitsOptions {
  /** Live subscriptions one connection may hold. @default 50 */
  perConnection?: number;
  /** Live subscriptions one principal may hold across its connections. @default 100 */
  perPrincipal?: number;
}

export function useSubscriptionLimits({ perConnection = 50, perPrincipal = 100 }: SubscriptionLimitsOptions = {}): Plugin<AuthContext & ClientContext> & {
  /** Live subscriptions this process holds (for metrics and tests). */
  active(): number;
} {
  const byConnection = new WeakMap<object, number>();
  const byPrincipal = new Map<string, number>();
  let active = 0;

  return {
    active: () => active,
    onSubscribe({ args, subscribeFn, setSubscribeFn, setResultAndStopExecution }) {
      const context = args.contextValue as AuthContext & ClientContext & { req?: IncomingMessage; socket?: object };
      // The TCP connection: the upgrade request's socket (WebSocket) or the request's (SSE).
      const connection: object = context.req?.socket ?? context.socket ?? context;
      const principal = principalOf(context.actor) ?? `anonymous/${ipIdentity(context.clientIp ?? 'unknown')}`;
      const onConnection = byConnection.get(connection) ?? 0;
      const ofPrincipal = byPrincipal.get(principal) ?? 0;
      const refusal =
        onConnection >= perConnection
          ? new SubscriptionLimitError(`At most ${perConnection} live subscriptions per connection: end one (or open another connection) first`, { scope: 'connection', limit: perConnection })
          : ofPrincipal >= perPrincipal
            ? new SubscriptionLimitError(`At most ${perPrincipal} live subscriptions per user, API key or address: end one first`, { scope: 'principal', limit: perPrincipal })
            : undefined;
      if (refusal) {
        setResultAndStopExecution({ errors: [codedErrorToGraphQL(refusal)] });
        return;
      }
      byConnection.set(connection, onConnection + 1);
      byPrincipal.set(principal, ofPrincipal + 1);
      active++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        active--;
        const left = (byConnection.get(connection) ?? 1) - 1;
        if (left > 0) byConnection.set(connection, left);
        else byConnection.delete(connection);
        const remaining = (byPrincipal.get(principal) ?? 1) - 1;
        if (remaining > 0) byPrincipal.set(principal, remaining);
        else byPrincipal.delete(principal);
      };
      // A subscribe that throws never reaches onSubscribeResult: give the slot back here.
      setSubscribeFn(async (subscribeArgs) => {
        try {
          return await subscribeFn(subscribeArgs);
        } catch (error) {
          release();
          throw error;
        }
      });
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) return release();
          return { onEnd: release };
        },
      };
    },
  };
}
