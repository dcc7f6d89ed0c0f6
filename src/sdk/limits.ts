/**
 * What the client will take from a server: an answer of at most `maxResponseBytes` (read as it
 * arrives, never whole first) and, with `timeoutMs`, no longer wait than that. A server that
 * sends without end, or trickles, is not ours to trust: past either bound the call fails as a
 * `NETWORK_ERROR` (reason `TOO_LARGE` or `TIMEOUT`), as a server that cannot be reached does.
 */
import { SluiceError } from './errors.js';

/** The largest answer (and the largest Server-Sent Event) read by default: 16 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The body of `response` as text, refused past `maxBytes` (its declared length, or the bytes
 * received so far): what is left is not read, and the connection is closed.
 */
export async function readBody(response: Response, maxBytes: number, url: string, requestId: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(url, 'an answer', maxBytes, requestId);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(url, 'an answer', maxBytes, requestId);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}

/** `what` (an answer, an event) past `max` (bytes or characters): not read further. */
export function tooLarge(url: string, what: string, max: number, requestId: string | null, unit = 'bytes'): SluiceError {
  return new SluiceError('NETWORK_ERROR', `${url} sent ${what} larger than ${max} ${unit} (maxResponseBytes): the rest was not read`, { reason: 'TOO_LARGE', maxResponseBytes: max }, requestId);
}

/** The server did not answer within `timeoutMs`. */
export function timedOut(url: string, timeoutMs: number, requestId: string | null): SluiceError {
  return new SluiceError('NETWORK_ERROR', `${url} did not answer within ${timeoutMs} ms`, { reason: 'TIMEOUT', timeoutMs }, requestId);
}

/** The longest deadline a timer holds (2^31 - 1 ms, about 24.8 days): past it Node fires at once or throws. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** `timeoutMs` as given to createClient: absent or 0 (no deadline), else 1 to MAX_TIMEOUT_MS; anything else is refused at once. */
export function checkedTimeoutMs(timeoutMs: number | undefined): number | undefined {
  if (timeoutMs === undefined || timeoutMs === 0) return undefined;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RangeError(`timeoutMs must be 0 (no deadline) or a number of milliseconds up to ${MAX_TIMEOUT_MS}, not ${timeoutMs}`);
  }
  return timeoutMs;
}

/** A signal that aborts after `timeoutMs` (none when it is absent or 0: no deadline). */
export function deadline(timeoutMs: number | undefined): AbortSignal | undefined {
  return timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined;
}
