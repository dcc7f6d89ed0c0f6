// @ts-check
/**
 * The console's only way to Sluice: GraphQL over fetch (JSON, and multipart uploads) and
 * subscriptions over graphql-ws, all to this server's own /graphql.
 *
 * JSON POSTs pass CSRF prevention (a cross-site form cannot send application/json without a
 * preflight); multipart uploads pass because they carry the Authorization header.
 */
import { createClient } from './vendor/graphql-ws/client.js';

/** /graphql of the server that served this page (the page lives at <base>/console/classic/). */
const GRAPHQL_URL = new URL('../../graphql', document.baseURI);
const WS_URL = new URL(GRAPHQL_URL);
WS_URL.protocol = GRAPHQL_URL.protocol === 'https:' ? 'wss:' : 'ws:';

/** An error Sluice answered (or the network raised), ready to show. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string, status?: number, details?: string[] }} [options]
   */
  constructor(message, { code, status, details = [] } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/**
 * One ApiError from a GraphQL `errors` list: the first error's message and code, and the
 * problems it lists (validation `issues`, refused uploads' `problems`), then the other errors.
 * @param {any[]} errors
 * @param {number} [status]
 */
export function errorFrom(errors, status) {
  const [first = {}, ...rest] = errors;
  const extensions = first.extensions ?? {};
  const details = [
    ...(extensions.issues ?? []).map((/** @type {any} */ issue) => `${(issue.path ?? []).join('.') || 'input'}: ${issue.message}`),
    ...(extensions.problems ?? []).map((/** @type {any} */ problem) => `${problem.name}: ${problem.message}`),
    ...rest.map((error) => String(error.message)),
  ];
  let message = String(first.message ?? `Sluice answered HTTP ${status}`);
  const retry = extensions.retryAfterSeconds;
  if (extensions.code === 'RATE_LIMITED' && typeof retry === 'number' && !/retry/i.test(message)) message += ` Try again in ${retry} s.`;
  return new ApiError(message, { code: extensions.code, status, details });
}

/**
 * @typedef {object} Sink
 * @property {(data: any) => void} next
 * @property {(error: ApiError) => void} error
 * @property {() => void} complete
 */

/**
 * @param {{ token: () => string | undefined, onUnauthenticated: (error: ApiError) => void }} session
 */
export function createApi({ token, onUnauthenticated }) {
  /** @type {ReturnType<typeof createClient> | undefined} */
  let socket;

  /** @param {ApiError} error */
  const failed = (error) => {
    // An expired or revoked token: the page asks to sign in again.
    if (error.code === 'UNAUTHENTICATED' && token()) onUnauthenticated(error);
    return error;
  };

  /**
   * @param {BodyInit} body
   * @param {Record<string, string>} headers
   */
  async function post(body, headers) {
    const current = token();
    /** @type {Response} */
    let response;
    try {
      response = await fetch(GRAPHQL_URL, {
        method: 'POST',
        headers: { accept: 'application/graphql-response+json, application/json', ...(current ? { authorization: `Bearer ${current}` } : {}), ...headers },
        body,
      });
    } catch {
      throw new ApiError('Could not reach Sluice: is the server running?', { code: 'NETWORK' });
    }
    /** @type {any} */
    let payload;
    try {
      payload = await response.json();
    } catch {
      throw new ApiError(`Sluice answered HTTP ${response.status} without a GraphQL response`, { status: response.status });
    }
    if (Array.isArray(payload.errors) && payload.errors.length > 0) throw failed(errorFrom(payload.errors, response.status));
    return payload.data;
  }

  function subscriptions() {
    socket ??= createClient({
      url: WS_URL.href,
      lazy: true,
      // Read at each (re)connection: the token of whoever is signed in now.
      connectionParams: () => ({ authorization: `Bearer ${token() ?? ''}` }),
    });
    return socket;
  }

  return {
    /**
     * A query or mutation as application/json.
     * @param {string} query
     * @param {Record<string, unknown>} [variables]
     */
    request(query, variables = {}) {
      return post(JSON.stringify({ query, variables }), { 'content-type': 'application/json' });
    },

    /**
     * A mutation with files, by the GraphQL multipart request spec: `files` go to the list
     * variable `variable` (https://github.com/jaydenseric/graphql-multipart-request-spec).
     * @param {string} query
     * @param {Record<string, unknown>} variables
     * @param {string} variable
     * @param {File[]} files
     */
    upload(query, variables, variable, files) {
      const form = new FormData();
      form.set('operations', JSON.stringify({ query, variables: { ...variables, [variable]: files.map(() => null) } }));
      form.set('map', JSON.stringify(Object.fromEntries(files.map((_, index) => [String(index), [`variables.${variable}.${index}`]]))));
      files.forEach((file, index) => form.set(String(index), file, file.name));
      // No content-type: the browser writes multipart/form-data with its boundary.
      return post(form, {});
    },

    /**
     * A subscription over graphql-ws; returns the function that stops it.
     * @param {string} query
     * @param {Record<string, unknown>} variables
     * @param {Sink} sink
     */
    subscribe(query, variables, sink) {
      let ended = false;
      /** @param {ApiError} error */
      const fail = (error) => {
        if (ended) return;
        ended = true;
        stop();
        sink.error(failed(error));
      };
      const stop = subscriptions().subscribe(
        { query, variables },
        {
          next: (result) => (result.errors?.length ? fail(errorFrom([...result.errors])) : sink.next(result.data)),
          error: (error) => fail(socketError(error)),
          complete: () => {
            if (!ended) sink.complete();
            ended = true;
          },
        },
      );
      return () => {
        ended = true;
        stop();
      };
    },

    /** Closes the WebSocket (at sign-out: the next user connects with their own token). */
    close() {
      socket?.dispose();
      socket = undefined;
    },
  };
}

/**
 * What graphql-ws reports as a subscription's error: the operation's GraphQL errors, the
 * socket's CloseEvent, or an Error.
 * @param {unknown} error
 */
function socketError(error) {
  if (Array.isArray(error)) return errorFrom(error);
  if (error instanceof Error) return new ApiError(error.message);
  if (error && typeof error === 'object' && 'code' in error) {
    const { code, reason } = /** @type {CloseEvent} */ (error);
    return new ApiError(`The live connection closed (${code}${reason ? `: ${reason}` : ''})`, { code: 'CONNECTION_CLOSED' });
  }
  return new ApiError('The live connection to Sluice failed', { code: 'CONNECTION_CLOSED' });
}
