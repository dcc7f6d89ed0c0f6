/**
 * What every OpenAI-protocol provider shares (chat completions, embeddings): one POST through
 * the egress guard with the failure rules of docs/endpoints.md. Each attempt must answer within
 * `requestTimeoutMs` (a `Deadline` the caller may `touch()` as pieces arrive); 429, 500, 502, 503, 504 and
 * network errors before the first byte are retried up to `maxRetries` times with exponential
 * backoff and jitter, honouring `Retry-After`; anything else fails at once. Errors never carry
 * the API key or the server's body.
 */
import { EventSourceParserStream, ParseError, type EventSourceMessage } from 'eventsource-parser/stream';
import { UpstreamError, ValidationError } from '../../errors.js';
import { BodyTooLargeError, boundedBytes, boundedStream, boundedText } from '../../../platform/egress/bounded-body.js';
import { egressFor } from '../../../platform/egress/guard.js';
import { HOP_HEADER } from '../../../platform/http/call-loops.js';
import { assertCallableUrl, EgressRefusedError } from '../../../platform/egress/policy.js';
import { countJsonValues, jsonNestsDeeperThan } from '../../../platform/input/json-depth.js';
import type { ProviderSettings } from '../provider.js';
import { whenAborted } from '../../../platform/lifecycle/when-aborted.js';

const MAX_RETRY_DELAY_MS = 8_000;

/**
 * What a model server may send (its address is a tenant's choice, and so are its answer's size
 * and shape): a JSON answer up to `jsonBytes`; a streamed one up to `streamBytes` in all, each
 * line up to `lineBytes` and each event (its `data:` lines up to a blank line) up to
 * `eventChars`; the answer's text up to `answerChars` (SLUICE_MODEL_ANSWER_MAX_CHARS's default); a `testModel` or health check answer (one
 * token asked) up to `probeBytes`; and each JSON text (a body, an event) holding at most
 * `jsonValues` values, counted before it is parsed. Past a bound the answer is a BAD_RESPONSE,
 * read no further. The work on the event loop is bounded by the shape, not only the bytes: 4 MiB
 * of `{},{},…` in a JSON answer held the loop 1.5 to 3.5 s, one 60 MiB event of 900 KB `data:`
 * lines 50 to 110 s, 58 MiB of `[1][1]…` searched for citations 70 to 170 s. A real answer is a
 * few dozen values per body or event, and at most some 100 000 tokens (400 KB) of text.
 * Embeddings answers have a bound of their own, from the texts and dimension asked for.
 */
export const ANSWER_LIMITS = {
  jsonBytes: 2 * 1024 * 1024,
  streamBytes: 64 * 1024 * 1024,
  lineBytes: 256 * 1024,
  eventChars: 256 * 1024,
  answerChars: 1024 * 1024,
  probeBytes: 64 * 1024,
  jsonValues: 10_000,
};

/**
 * An abort signal for one attempt: fires when the caller aborts, or when `timeoutMs` passes
 * without `touch()` (the answer's start, then each piece, must arrive in time).
 */
/**
 * A model's `config.baseUrl`, checked when the model is stored: no credentials and no query or
 * fragment in it (a model's config is shown to every member and written to the audit trail,
 * while a key given as `apiKey` is sealed and never shown; the API's path is appended to the
 * URL, which a query or fragment would swallow), and allowed by the egress policy (checked
 * again by the guard on every call).
 */
export function checkBaseUrl(baseUrl: string, settings: ProviderSettings): void {
  const url = new URL(baseUrl);
  if (url.username !== '' || url.password !== '') {
    throw new ValidationError('config.baseUrl must not carry credentials (user:password@): give the key as apiKey, which is stored sealed and never shown', {
      field: 'config.baseUrl',
      reason: 'CREDENTIALS_IN_URL',
    });
  }
  if (url.search !== '' || url.hash !== '' || baseUrl.includes('?') || baseUrl.includes('#')) {
    throw new ValidationError('config.baseUrl must not have a query string or fragment: the API path (/chat/completions, /embeddings) is appended to it; give a key as apiKey', {
      field: 'config.baseUrl',
      reason: 'QUERY_IN_URL',
    });
  }
  try {
    assertCallableUrl(settings.privateNetworks, baseUrl);
  } catch (error) {
    if (error instanceof EgressRefusedError) throw new ValidationError(`config.baseUrl: ${error.message}`, { field: 'config.baseUrl', reason: error.reason });
    throw error;
  }
}

export class Deadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly wholeTimer: NodeJS.Timeout | undefined;
  private readonly stopCallerWatch: () => void;
  timedOut = false;
  /** Ended by `wholeMs`, not by a wait between pieces. */
  overran = false;

  /** `timeoutMs` for each wait (`touch` starts it again); `wholeMs`, if given, for everything, however often touched. */
  constructor(private readonly timeoutMs: number, caller: AbortSignal, readonly wholeMs?: number) {
    this.onCallerAbort = this.onCallerAbort.bind(this);
    this.touch();
    // A caller gone already (it left while the call was being set up) ends the call now.
    this.stopCallerWatch = whenAborted(caller, this.onCallerAbort);
    if (wholeMs !== undefined) {
      this.wholeTimer = setTimeout(() => {
        this.timedOut = true;
        this.overran = true;
        this.controller.abort();
      }, wholeMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** While waiting to retry, only the caller can end the attempt. */
  pause(): void {
    clearTimeout(this.timer);
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.timeoutMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.wholeTimer);
    this.stopCallerWatch();
    // Closes the upstream connection if we stopped reading early.
    this.controller.abort();
  }

  private onCallerAbort(): void {
    this.controller.abort();
  }
}

/** One logical call to a model server: counts its attempts, which every error reports. */
export class UpstreamCall {
  attempts = 0;

  constructor(private readonly settings: ProviderSettings, private readonly apiKey: string | null) {}

  /** The successful response, after retries; undefined when the caller went away. */
  async post(url: string, body: string, accept: string, deadline: Deadline): Promise<Response | undefined> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    // A call that comes back to this deployment is refused at its door (platform/http/call-loops.ts).
    if (this.settings.hopMark) headers[HOP_HEADER] = this.settings.hopMark;
    for (;;) {
      this.attempts += 1;
      let response: Response | undefined;
      try {
        // Never followed (the address is what the tenant configured and the guard checked), but
        // seen: a redirect is said as one, not as a server that could not be reached.
        response = await egressFor(this.settings.privateNetworks).fetch(url, { method: 'POST', headers, body, signal: deadline.signal, redirect: 'manual' });
      } catch (error) {
        if (error instanceof EgressRefusedError && !error.afterLookup) throw new UpstreamError(error.message, { reason: error.reason, attempts: this.attempts });
        if (error instanceof EgressRefusedError) {
          // Refused for what a name resolved to: the caller hears what an unknown name gets (a
          // network error, retried alike), or a tenant could map internal names through the
          // answers (egress/guard.ts). The operator's log says why.
          this.settings.log?.warn({ host: error.host, reason: error.reason, attempt: this.attempts }, `model call refused by the egress guard: ${error.message}`);
        }
        if (deadline.signal.aborted || this.attempts > this.settings.maxRetries) throw error instanceof EgressRefusedError ? new Error('The model server could not be reached') : error;
      }
      if (response?.ok) return response;
      if (response && response.status >= 300 && response.status < 400) throw this.redirected(response);
      if (response && !retryable(response.status)) throw this.httpError(response);
      if (this.attempts > this.settings.maxRetries) throw this.httpError(response!);
      await response?.body?.cancel();
      if (!(await sleep(this.retryDelay(response), deadline))) return undefined;
    }
  }

  /** The answer's body as text, a BAD_RESPONSE past `maxBytes` (read as it arrives, never whole first). */
  async text(response: Response, maxBytes: number): Promise<string> {
    try {
      return await boundedText(response, maxBytes, "The model server's answer");
    } catch (error) {
      throw error instanceof BodyTooLargeError ? this.badResponse(error.message) : error;
    }
  }

  /** The answer's body as bytes, like `text`; `inspect` sees each piece as it arrives and may throw to stop there. */
  async bytes(response: Response, maxBytes: number, inspect?: (piece: Uint8Array) => void): Promise<Uint8Array<ArrayBuffer>> {
    try {
      return await boundedBytes(response, maxBytes, "The model server's answer", inspect);
    } catch (error) {
      throw error instanceof BodyTooLargeError ? this.badResponse(error.message) : error;
    }
  }

  /**
   * The answer's server-sent events, within ANSWER_LIMITS: in all, per line, and per event (the
   * parser stops once the event it is building passes `eventChars`); past them the read fails,
   * and `failure` says BAD_RESPONSE.
   */
  events(response: Response): ReadableStreamDefaultReader<EventSourceMessage> {
    return boundedStream(response.body!, { maxBytes: ANSWER_LIMITS.streamBytes, maxLineBytes: ANSWER_LIMITS.lineBytes }, "the model server's answer")
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream({ maxBufferSize: ANSWER_LIMITS.eventChars }))
      .getReader();
  }

  /**
   * JSON text from the server, parsed once its values are counted (nothing parsed past the
   * count, or past MAX_JSON_DEPTH): a BAD_RESPONSE beyond `budget.values`, which is spent by
   * what this text holds. One budget is given to the pieces of one answer that share a bound;
   * by default each text has ANSWER_LIMITS.jsonValues of its own.
   */
  json(text: string, budget = { values: ANSWER_LIMITS.jsonValues }): unknown {
    const values = countJsonValues(text, budget.values);
    if (values > budget.values || jsonNestsDeeperThan(text)) {
      throw this.badResponse(`The model server's answer holds more than ${ANSWER_LIMITS.jsonValues} JSON values, or nests deeper than a chat completion`);
    }
    budget.values -= values;
    try {
      return JSON.parse(text);
    } catch {
      throw this.badResponse('The model server sent something that is not JSON');
    }
  }

  /** The server answered, but not with what the protocol promises. */
  badResponse(message: string): UpstreamError {
    return new UpstreamError(message, { reason: 'BAD_RESPONSE', attempts: this.attempts });
  }

  /** Any failure of the call as the UpstreamError the client sees. */
  failure(error: unknown, deadline: Deadline): UpstreamError {
    if (error instanceof UpstreamError) return error;
    if (error instanceof BodyTooLargeError) return this.badResponse(error.message);
    if (error instanceof ParseError && error.type === 'max-buffer-size-exceeded') {
      return this.badResponse(`An event of the model server's answer is larger than ${ANSWER_LIMITS.eventChars} characters`);
    }
    if (deadline.overran) {
      return new UpstreamError(`The model server's answer took longer than ${deadline.wholeMs} ms in all (SLUICE_MODEL_ANSWER_TIMEOUT_MS)`, { reason: 'TIMEOUT', attempts: this.attempts });
    }
    if (deadline.timedOut) {
      return new UpstreamError(`The model server did not answer within ${this.settings.requestTimeoutMs} ms`, { reason: 'TIMEOUT', attempts: this.attempts });
    }
    return new UpstreamError('The model server could not be reached', { reason: 'NETWORK', attempts: this.attempts });
  }

  private retryDelay(response: Response | undefined): number {
    const exponential = Math.min(MAX_RETRY_DELAY_MS, this.settings.retryBaseDelayMs * 2 ** (this.attempts - 1));
    const jittered = exponential / 2 + Math.random() * (exponential / 2);
    const retryAfter = retryAfterMs(response?.headers.get('retry-after'));
    return Math.min(MAX_RETRY_DELAY_MS, Math.max(jittered, retryAfter ?? 0));
  }

  private redirected(response: Response): UpstreamError {
    void response.body?.cancel().catch(() => undefined);
    return new UpstreamError(
      `The model server answered HTTP ${response.status}, a redirect to another address, which is not followed: set the model's baseUrl to the address it redirects to`,
      { reason: 'REDIRECT', status: response.status, attempts: this.attempts },
    );
  }

  private httpError(response: Response): UpstreamError {
    void response.body?.cancel().catch(() => undefined);
    return new UpstreamError(`The model server answered HTTP ${response.status}`, { reason: 'HTTP_ERROR', status: response.status, attempts: this.attempts });
  }
}

/** Busy or briefly failing: 429, 500, 502, 503, 504. Not 501, 505, 508 (a loop: call-loops.ts) and the like, which no retry mends. */
function retryable(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
function retryAfterMs(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Waits, unless the caller goes away first (false then). The deadline does not run while waiting. */
function sleep(ms: number, deadline: Deadline): Promise<boolean> {
  deadline.pause();
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      deadline.signal.removeEventListener('abort', onAbort);
      deadline.touch();
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    whenAborted(deadline.signal, onAbort);
  });
}

