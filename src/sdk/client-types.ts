/**
 * The client's public types: how it is made (credentials, bounds, transports), what each call
 * takes, and what it offers. Apart from client.ts so the implementation reads on its own.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { SluiceError } from './errors.js';
import type { UploadProgress } from './upload-progress.js';

/** No credential but `Kind`: the types refuse two at once. */
type Only<Kind extends keyof Credentials> = Pick<Credentials, Kind> & { [Other in Exclude<keyof Credentials, Kind>]?: undefined };
interface Credentials {
  apiKey: string;
  token: string;
  credentials: { email: string; password: string; tenant?: string };
  /** A session kept from an earlier log-in (e.g. by the CLI): refreshed as needed, never re-entered. */
  session: Session;
}

export type Auth =
  | Only<'apiKey'>
  | Only<'token'>
  | Only<'credentials'>
  | Only<'session'>
  /** Anonymous: sign-up, log-in, public reads. */
  | { apiKey?: undefined; token?: undefined; credentials?: undefined; session?: undefined };

export type ClientOptions = Auth & {
  /** The GraphQL endpoint, e.g. `http://localhost:4000/graphql`. */
  url: string;
  /** A WebSocket class for graphql-ws subscriptions where there is no global one (Node 20: the `ws` package). */
  webSocketImpl?: unknown;
  /**
   * How subscriptions travel: `ws` (graphql-ws), `sse` (Server-Sent Events over fetch), or
   * `auto`: graphql-ws when a WebSocket implementation is at hand, else SSE. @default 'auto'
   */
  subscriptionTransport?: 'auto' | 'ws' | 'sse';
  /** Retries of a RATE_LIMITED answer, and of a query's UNAVAILABLE answer. @default 2 */
  maxRateLimitRetries?: number;
  /** Refresh a session this many seconds before its token expires. @default 30 */
  refreshSkewSeconds?: number;
  /**
   * Told each time the session changes, to keep it: log-in, refresh (refresh tokens are
   * single-use), and a mutation that moves it (`acceptInvitation`, `switchTenant`), whose tokens
   * the client takes as its own.
   */
  onSession?: (session: Session) => void;
  /**
   * The tenant (slug or id) an external identity provider's `token` acts in, sent as
   * `X-Sluice-Tenant` (and as `tenant` to graphql-ws): needed only when several tenants trust
   * its issuer.
   */
  tenant?: string;
  /**
   * The largest answer read, in bytes (and the largest Server-Sent Event, in characters): past
   * it the call fails with `NETWORK_ERROR` (reason `TOO_LARGE`) and the rest is not read, so a
   * broken or hostile server cannot fill the client's memory. @default 16 MiB
   */
  maxResponseBytes?: number;
  /**
   * The longest wait for one HTTP request, from sending it to its whole answer read; for a
   * subscription, only until its stream opens (SSE) or the server acknowledges the connection
   * (graphql-ws): a stream may then run as long as it likes. Past it the call fails with
   * `NETWORK_ERROR` (reason `TIMEOUT`). `0` or absent: no deadline of the client's own.
   * @default undefined
   */
  timeoutMs?: number;
};

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * The variables argument of an operation: required when the operation declares a required
 * variable (so `mutate(CreateDatasetDocument)` does not compile), optional when all are.
 */
export type VariablesArgument<Variables> = {} extends Variables ? [variables?: Variables] : [variables: Variables];

/** Per-call options of `request`. */
export interface RequestOptions {
  /**
   * Called as the body of a call with files (a multipart upload) is sent, with the bytes sent
   * and the total. Browsers only (it needs XMLHttpRequest); elsewhere the call is made with
   * fetch and this is not called.
   */
  onUploadProgress?: UploadProgress;
  /** The client's `maxResponseBytes` for this call: for an answer known to be large (`ExportMyData`). */
  maxResponseBytes?: number;
  /**
   * Whether a RATE_LIMITED answer to this call is retried after its `retryAfterSeconds` (up to
   * the client's `maxRateLimitRetries`) or thrown at once: for a caller that knows better when to
   * try again, as one waiting for its own ingestion jobs on `reason: QUEUED_JOBS` (docs/sdk.md).
   * @default every RATE_LIMITED answer is retried
   */
  retryRateLimited?: (error: SluiceError) => boolean;
}

/** `request`'s arguments after the document: its variables (required when any is), then options. */
export type RequestArguments<Variables> = {} extends Variables
  ? [variables?: Variables, options?: RequestOptions]
  : [variables: Variables, options?: RequestOptions];

export interface SluiceClient {
  /** Runs a query or mutation; resolves with its data or rejects with a SluiceError. */
  request<Data, Variables extends Record<string, unknown>>(document: TypedDocumentNode<Data, Variables>, ...args: RequestArguments<Variables>): Promise<Data>;
  /** `request`, named for reading. */
  query: SluiceClient['request'];
  /** `request`, named for writing. */
  mutate: SluiceClient['request'];
  /** Every result of a subscription, until it completes; errors reject the iteration. */
  subscribe<Data, Variables extends Record<string, unknown>>(document: TypedDocumentNode<Data, Variables>, ...variables: VariablesArgument<Variables>): AsyncIterableIterator<Data>;
  /** The current session's tokens (with credentials or a kept session), e.g. to store the refresh token. */
  session(): Session | undefined;
  /** Closes the WebSocket, if one was opened. */
  close(): Promise<void>;
}
