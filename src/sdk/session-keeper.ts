/**
 * The session a client keeps (with credentials, or a session kept from an earlier log-in): its
 * tokens, renewed before the access token expires and once the server refuses it, and replaced
 * by the tokens of an answer that continues it (session-changes.ts).
 *
 * Every change to the session takes its turn, one after another: a renewal (refresh, or log-in
 * again) and a mutation that moves the session. A refresh sent while acceptInvitation was on its
 * way presented the refresh token the move spends; arriving after it, that is reuse, and the
 * server ends the session. In turn, the renewal starts once the move's tokens are kept, and finds
 * nothing to do. A request with a fresh token does not wait for any turn.
 */
import type { Session } from './client-types.js';
import { SluiceError, toSluiceError } from './errors.js';
import type { HandedTokens } from './session-changes.js';

type Answer<Field extends string> = {
  payload: { data?: { [name in Field]: Required<HandedTokens> } | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  requestId: string;
};

export interface KeeperOptions {
  session: Session | undefined;
  credentials: { email: string; password: string; tenant?: string } | undefined;
  skewMs: number;
  onSession: ((session: Session) => void) | undefined;
  refresh(refreshToken: string): Promise<Answer<'refreshSession'>>;
  logIn(credentials: { email: string; password: string; tenant?: string }): Promise<Answer<'logIn'>>;
}

export interface SessionKeeper {
  current(): Session | undefined;
  /** The session to send: renewed first when its token expires within the skew or was refused. */
  session(): Promise<Session>;
  /** The server refused this access token (UNAUTHENTICATED): the next `session()` renews, unless it was renewed meanwhile. */
  refused(accessToken: string): void;
  /**
   * Runs `change` (a call that may move the session) in its turn, with no renewal before it
   * ends; `send` gives the session to send it with, `keep` takes the tokens it returned.
   */
  changing<T>(change: (send: () => Promise<Session>, keep: (tokens: HandedTokens) => void) => Promise<T>): Promise<T>;
}

export function sessionKeeper(options: KeeperOptions): SessionKeeper {
  let session = options.session;
  let refusedToken: string | undefined;
  let turn: Promise<unknown> = Promise.resolve();
  let renewing: Promise<Session> | undefined;

  const fresh = () => (session && session.accessToken !== refusedToken && session.expiresAt - options.skewMs > Date.now() ? session : undefined);

  /** A session change's tokens, kept: without a refresh token (switchTenant), the one held stays. */
  function keep(tokens: HandedTokens): Session {
    const refreshToken = tokens.refreshToken ?? session?.refreshToken;
    if (!refreshToken) throw new SluiceError('INTERNAL', 'A session change returned no refresh token, and none is held', {});
    session = { accessToken: tokens.accessToken, refreshToken, expiresAt: Date.parse(tokens.expiresAt) };
    options.onSession?.(session);
    return session;
  }

  /** Runs `work` after every session change queued before it. */
  function inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = turn.then(work);
    turn = result.catch(() => undefined);
    return result;
  }

  /** Refreshes, or logs in again when the refresh is refused; only in a turn. */
  async function renew(): Promise<Session> {
    const refreshed = session ? await options.refresh(session.refreshToken) : undefined;
    const next = refreshed?.payload.data?.refreshSession;
    if (next) return keep(next);
    // Only a refused refresh ends the session; any other failure is said as it is.
    const refusal = refreshed && toSluiceError(refreshed.payload.errors, refreshed.requestId);
    if (refusal && refusal.code !== 'UNAUTHENTICATED') throw refusal;
    if (!options.credentials) throw new SluiceError('UNAUTHENTICATED', 'The session has ended (expired, logged out or revoked): sign in again', {}, refreshed?.requestId ?? null);
    const { payload, requestId } = await options.logIn(options.credentials);
    if (!payload.data) throw toSluiceError(payload.errors, requestId);
    return keep(payload.data.logIn);
  }

  /** In a turn: the session as it is if fresh (a turn before this one may have renewed it), else renewed. */
  const sendable = async () => fresh() ?? (await renew());

  return {
    current: () => session,
    async session() {
      const kept = fresh();
      if (kept) return kept;
      // Callers that find it stale meanwhile wait for the same renewal.
      renewing ??= inTurn(sendable).finally(() => {
        renewing = undefined;
      });
      return renewing;
    },
    refused(accessToken) {
      refusedToken = accessToken;
    },
    changing(change) {
      return inTurn(() => change(sendable, keep));
    },
  };
}
