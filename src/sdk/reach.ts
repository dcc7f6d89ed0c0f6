import { SluiceError } from './errors.js';

/**
 * What a connection the server closed under the request looks like (a kept-alive socket it
 * shut as we wrote to it: its graceful shutdown, an idle timeout, a proxy in between).
 * A refused connection is not among them: the server is not there, and asking again at once
 * would not change that.
 */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

export interface ReachOptions {
  /**
   * The request may be sent twice (a query): it is, once, when the connection is reset before
   * any answer. A mutation is not: the server may have acted on it before the reset.
   */
  idempotent?: boolean;
  /** The request's id, named by the NETWORK_ERROR when the server cannot be reached. */
  requestId?: string;
}

/**
 * fetch, with a failure to connect, or a redirect, as a SluiceError (`NETWORK_ERROR`) like any
 * other. Redirects are not followed: on a 307/308 fetch would send the body again to the
 * Location, whatever its host or scheme, and our bodies carry passwords (logIn) and single-use
 * refresh tokens (refreshSession). The URL to use is the final one, which the error names.
 */
export async function reach(url: string, init: RequestInit, options: ReachOptions = {}): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    let response: Response;
    try {
      response = await fetch(url, { ...init, redirect: 'manual' });
    } catch (error) {
      // Aborted by the caller or by a deadline (timeoutMs): the caller says what that means.
      if (init.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (options.idempotent && attempt === 1 && cause?.code && RESET_CODES.has(cause.code)) continue;
      throw new SluiceError('NETWORK_ERROR', `Cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {}, options.requestId ?? null);
    }
    if (!isRedirect(response)) return response;
    await response.body?.cancel();
    throw redirectRefused(url, response.status, response.headers.get('location'), options.requestId ?? null);
  }
}

/** A 3xx that points elsewhere (not 304 Not Modified), or a browser's opaque one (status 0, where it went hidden). */
function isRedirect(response: Response): boolean {
  return response.type === 'opaqueredirect' || [301, 302, 303, 307, 308].includes(response.status);
}

/**
 * The refusal of a redirect, naming where it pointed so the caller can use that URL instead.
 * `status` 0: not known (XMLHttpRequest tells only where it ended up; a browser's opaque
 * redirect tells neither).
 */
export function redirectRefused(url: string, status: number, location: string | null, requestId: string | null): SluiceError {
  const target = location ? absolute(location, url) : null;
  const answer = `${status ? `answered ${status}, ` : ''}${target ? `redirecting to ${target}` : 'redirecting elsewhere (where, the server or the browser did not say)'}`;
  return new SluiceError(
    'NETWORK_ERROR',
    `${url} ${answer}: redirects are not followed, since the request would go again with its body (passwords, tokens) to that address; use the final URL instead`,
    { reason: 'REDIRECT', status, location: target },
    requestId,
  );
}

function absolute(location: string, base: string): string {
  try {
    return new URL(location, base).href;
  } catch {
    return location;
  }
}
