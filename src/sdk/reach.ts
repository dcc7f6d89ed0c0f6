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

/** fetch, with a failure to connect as a SluiceError (`NETWORK_ERROR`) like any other. */
export async function reach(url: string, init: RequestInit, options: ReachOptions = {}): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (options.idempotent && attempt === 1 && cause?.code && RESET_CODES.has(cause.code)) continue;
      throw new SluiceError('NETWORK_ERROR', `Cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {}, options.requestId ?? null);
    }
  }
}
