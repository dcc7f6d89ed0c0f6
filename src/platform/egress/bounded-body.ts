/**
 * Reading what a called server answers, within bounds. The servers Sluice calls are chosen by
 * tenants (model servers, identity providers' key sets), so an answer's size is theirs to
 * choose too: `response.text()` would hold a 400 MB answer in the serving process before any
 * check, for every call at once. These read the body as it arrives and stop at the bound,
 * closing the connection.
 */

/** The body was larger than the bound: nothing past the bound was read. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number, what: string) {
    super(`${what} is larger than ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** The whole body as UTF-8 text (invalid bytes replaced), or BodyTooLargeError past `maxBytes`. */
export async function boundedText(response: Response, maxBytes: number, what = 'The answer'): Promise<string> {
  return new TextDecoder().decode(await boundedBytes(response, maxBytes, what));
}

/**
 * The whole body's bytes, or BodyTooLargeError past `maxBytes`. `inspect` sees each piece as it
 * arrives and may throw to stop reading there (a bound on what the bytes say, not only their
 * number). The bytes own their ArrayBuffer, so it can be transferred to a worker thread.
 */
export async function boundedBytes(response: Response, maxBytes: number, what = 'The answer', inspect?: (piece: Uint8Array) => void): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(maxBytes, what);
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(maxBytes, what);
    }
    try {
      inspect?.(value);
    } catch (error) {
      await reader.cancel().catch(() => undefined);
      throw error;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/**
 * The body's bytes as they arrive, failing with BodyTooLargeError past `maxBytes` in all, or
 * past `maxLineBytes` without a line break (a line-based stream, such as server-sent events,
 * buffers a line until it ends).
 */
export function boundedStream<Bytes extends Uint8Array>(body: ReadableStream<Bytes>, limits: { maxBytes: number; maxLineBytes: number }, what = 'The answer'): ReadableStream<Bytes> {
  let total = 0;
  let line = 0;
  return body.pipeThrough(
    new TransformStream<Bytes, Bytes>({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > limits.maxBytes) throw new BodyTooLargeError(limits.maxBytes, what);
        // Line breaks are LF, CR or both (server-sent events allow each).
        const isBreak = (byte: number) => byte === 0x0a || byte === 0x0d;
        const first = chunk.findIndex(isBreak);
        if (first === -1) line += chunk.byteLength;
        else {
          line += first;
          if (line <= limits.maxLineBytes) line = chunk.byteLength - 1 - chunk.findLastIndex(isBreak);
        }
        if (line > limits.maxLineBytes) throw new BodyTooLargeError(limits.maxLineBytes, `A line of ${what}`);
        controller.enqueue(chunk);
      },
    }),
  );
}
