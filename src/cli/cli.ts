/**
 * What every end-user command shares: the server's URL, an SDK client signed in the way the
 * user chose (SLUICE_API_KEY, or what `sluice login` stored), output as text or `--json`,
 * and failures as one line on stderr with an exit code that says what kind of failure.
 */
import { createRequire } from 'node:module';
import type { ParseArgsConfig } from 'node:util';
import type WebSocket from 'ws';
import { createClient, DEFAULT_MAX_RESPONSE_BYTES, MAX_TIMEOUT_MS, SluiceError, type SluiceClient } from '../sdk/index.js';
import { readLogin, UnreadableLogin, writeLogin, type StoredLogin } from './credentials.js';
import { isPlainHttpBeyondLoopback, plainHttpAllowed } from './plain-http.js';
import { UnsafeConfigFile } from './private-files.js';
import { terminalText, writeJson, writeText } from './terminal-text.js';

/** 0 success; the rest by what went wrong (docs/cli.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unauthenticated: 3, unreachable: 4 } as const;

export const DEFAULT_URL = 'http://localhost:4000/graphql';

/**
 * How long one request may take (sending it, and reading its whole answer; a subscription
 * only until it opens) unless --timeout or SLUICE_TIMEOUT says otherwise: a server that
 * trickles or never answers must not hold a script forever. Two minutes, above the server's own
 * 60 s wait for a model, so a request that waits on one still gets its answer.
 */
export const DEFAULT_TIMEOUT_SECONDS = 120;

/** A failure the user can act on: printed as one line, exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export interface Cli {
  env: NodeJS.ProcessEnv;
  json: boolean;
  /** The GraphQL endpoint: --url, else SLUICE_URL, else the logged-in server, else localhost. */
  url: string;
  /** Each request's deadline (ms): --timeout, else SLUICE_TIMEOUT (seconds), else DEFAULT_TIMEOUT_SECONDS; 0: none. */
  timeoutMs: number;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  /** The stored login; `unreadable` when the file is there but cannot be read. */
  stored: StoredLogin | 'unreadable' | undefined;
  /** Why nothing may be sent to `url` (plain http beyond loopback, not allowed), for a command that defers it. */
  plainHttpRefusal: CliError | undefined;
  /** A client authenticated as the user; refreshed sessions are stored again. Throws `plainHttpRefusal`. */
  client(): SluiceClient;
  /** Prints `text` (text mode) or `value` as one JSON document (--json). */
  print(text: string, value: unknown): void;
  /** One line on stderr (what is going on, what failed), made safe for a terminal like `print`'s text. */
  note(line: string): void;
  /** Closes the client's connections, if it made any. */
  close(): Promise<void>;
}

export interface Command {
  /** e.g. `keys create`. */
  name: string;
  summary: string;
  /** Everything after `sluice <name>` in the usage line. */
  usage: string;
  /** Further help: what it does, its options. */
  help: string;
  options?: ParseArgsConfig['options'];
  /**
   * The command has something to do without the server (logout forgets the local login), so a
   * plain-http refusal is left to it (`cli.plainHttpRefusal`, and `client()` throws it) instead of
   * stopping it before it starts.
   */
  defersPlainHttpRefusal?: boolean;
  run(cli: Cli, args: string[], values: Record<string, string | boolean | string[] | undefined>): Promise<number | void>;
}

/** `http://host:4000` and `http://host:4000/graphql` both mean the GraphQL endpoint. */
export function graphqlUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`"${raw}" is not a URL (e.g. ${DEFAULT_URL})`, EXIT.usage);
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new CliError(`"${raw}" must be an http or https URL`, EXIT.usage);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url.toString();
}

/** `--timeout`/`SLUICE_TIMEOUT` in seconds (0: no deadline) as milliseconds. */
export function timeoutMs(raw: string | undefined, name: string): number {
  if (raw === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = Number(raw);
  // A timer holds at most 2^31 - 1 ms (about 24.8 days): past it every request would fail at once.
  if (raw.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds * 1000 > MAX_TIMEOUT_MS) {
    throw new CliError(`${name} must be a number of seconds up to ${Math.floor(MAX_TIMEOUT_MS / 1000)} (0: wait as long as it takes)`, EXIT.usage);
  }
  return Math.round(seconds * 1000);
}

export function createCli(options: {
  env: NodeJS.ProcessEnv;
  json: boolean;
  url?: string;
  /** --insecure-http: plain http to a host other than loopback is allowed (with a warning). */
  insecureHttp?: boolean;
  /** --timeout, in seconds (else SLUICE_TIMEOUT, else the default). */
  timeout?: string;
  /** Command['defersPlainHttpRefusal']. */
  defersPlainHttpRefusal?: boolean;
  stdout: Cli['stdout'];
  stderr: Cli['stderr'];
  stdin: Cli['stdin'];
}): Cli {
  // An unreadable file stops only the commands that need the login (logout removes it).
  let stored: StoredLogin | undefined;
  let unreadable: UnreadableLogin | undefined;
  try {
    stored = readLogin(options.env);
  } catch (error) {
    if (!(error instanceof UnreadableLogin)) throw error;
    unreadable = error;
  }
  const url = graphqlUrl(options.url ?? options.env.SLUICE_URL ?? stored?.url ?? DEFAULT_URL);
  // Checked before any request, whichever way the URL came (--url, SLUICE_URL, the stored
  // login, whose refresh token would go too): every command sends a credential if it has one.
  const { host } = new URL(url);
  let plainHttpRefusal: CliError | undefined;
  if (isPlainHttpBeyondLoopback(new URL(url))) {
    if (!plainHttpAllowed(Boolean(options.insecureHttp), options.env)) {
      plainHttpRefusal = new CliError(
        `refusing plain http to ${host}: your password, session tokens or API key would cross the network unencrypted; use https, or --insecure-http (SLUICE_ALLOW_INSECURE_HTTP=1) to send them anyway`,
        EXIT.usage,
      );
      if (!options.defersPlainHttpRefusal) throw plainHttpRefusal;
    } else {
      writeText(options.stderr, `sluice: warning: plain http to ${host}: your password, session tokens or API key cross the network unencrypted\n`);
    }
  }
  // An empty SLUICE_TIMEOUT is an unset one (as `SLUICE_TIMEOUT= sluice …` means); an empty --timeout= is a mistake.
  const timeout = options.timeout !== undefined ? timeoutMs(options.timeout, '--timeout') : timeoutMs(options.env.SLUICE_TIMEOUT || undefined, 'SLUICE_TIMEOUT');
  let client: SluiceClient | undefined;
  return {
    ...options,
    url,
    timeoutMs: timeout,
    stored: unreadable ? 'unreadable' : stored,
    plainHttpRefusal,
    client() {
      if (plainHttpRefusal) throw plainHttpRefusal;
      if (unreadable && !options.env.SLUICE_API_KEY) throw new CliError(unreadable.message, EXIT.unauthenticated);
      client ??= clientFor(url, timeout, options.env, stored);
      return client;
    },
    print(text, value) {
      const shown = terminalText(text);
      if (options.json) writeJson(options.stdout, value);
      else writeText(options.stdout, shown.endsWith('\n') || shown === '' ? shown : `${shown}\n`);
    },
    note(line) {
      writeText(options.stderr, `${line}\n`);
    },
    close: async () => client?.close(),
  };
}

/**
 * `ws`'s WebSocket class, loaded when graphql-ws first touches it (a subscription): loading it up
 * front cost every command about 0.1 s of its start (issue 22), and most commands never subscribe.
 * Its sockets give up an opening handshake after `timeoutMs` (the SDK's deadline starts only
 * once the socket is open) and refuse a message past the SDK's answer bound.
 */
function lazyWebSocket(timeoutMs: number) {
  const bounds = { maxPayload: DEFAULT_MAX_RESPONSE_BYTES, ...(timeoutMs ? { handshakeTimeout: timeoutMs } : {}) };
  return new Proxy(function WebSocket() {}, {
    construct: (_target, [address, protocols]) => new (loadWebSocket())(address as string, protocols as string | string[] | undefined, bounds),
    get: (_target, key) => loadWebSocket()[key as keyof typeof WebSocket],
    // graphql-ws checks the class with `'OPEN' in impl`.
    has: (_target, key) => key in loadWebSocket(),
  });
}

function loadWebSocket(): typeof WebSocket {
  return createRequire(import.meta.url)('ws') as typeof WebSocket;
}

function clientFor(url: string, timeoutMs: number, env: NodeJS.ProcessEnv, stored: StoredLogin | undefined): SluiceClient {
  const common = { url, timeoutMs, webSocketImpl: lazyWebSocket(timeoutMs), maxRateLimitRetries: 3 };
  if (env.SLUICE_API_KEY) return createClient({ ...common, apiKey: env.SLUICE_API_KEY });
  // A login is for the server it was made with; another --url goes anonymous (and says so on 401).
  if (!stored || graphqlUrl(stored.url) !== url) return createClient(common);
  if (stored.apiKey) return createClient({ ...common, apiKey: stored.apiKey });
  if (stored.session) return createClient({ ...common, session: stored.session, onSession: (session) => writeLogin({ ...stored, session }, env) });
  return createClient(common);
}

/** A failure as one line and an exit code. */
export function explain(error: unknown, cli: Pick<Cli, 'url'> | undefined, command: string): { line: string; exitCode: number } {
  if (error instanceof CliError) return { line: error.message, exitCode: error.exitCode };
  if (error instanceof UnsafeConfigFile) return { line: error.message, exitCode: EXIT.failed };
  if (error instanceof SluiceError) {
    const hint = command === 'login' ? '' : ' (run `sluice login`)';
    if (error.code === 'UNAUTHENTICATED') return { line: `${error.message}${hint}`, exitCode: EXIT.unauthenticated };
    // A refused redirect says what to use instead; "is Sluice running there?" would mislead.
    if (error.code === 'NETWORK_ERROR' && error.details.reason === 'REDIRECT') return { line: `${error.message} (--url or SLUICE_URL)`, exitCode: EXIT.unreachable };
    if (error.code === 'NETWORK_ERROR' && error.details.reason === 'TIMEOUT') return { line: `${error.message}: is Sluice running there? (--url or SLUICE_URL; --timeout or SLUICE_TIMEOUT to wait longer)`, exitCode: EXIT.unreachable };
    if (error.code === 'NETWORK_ERROR') return { line: `${error.message}: is Sluice running there? (--url or SLUICE_URL)`, exitCode: EXIT.unreachable };
    // The API's message names its own field (embeddingModelId); the fix here is a command.
    const fix = error.details.reason === 'NO_EMBEDDING_MODEL' ? '; give the dataset an embedding model: `sluice datasets update <dataset> --embedding-model <model>`' : '';
    const retry = typeof error.details.retryAfterSeconds === 'number' ? ` (retry in ${error.details.retryAfterSeconds} s)` : '';
    const request = error.requestId ? ` [request ${error.requestId}]` : '';
    return { line: `${error.code}: ${error.message}${fix}${retry}${request}`, exitCode: EXIT.failed };
  }
  return { line: `unexpected error talking to ${cli?.url ?? 'Sluice'}: ${(error as Error)?.message ?? String(error)}`, exitCode: EXIT.failed };
}
