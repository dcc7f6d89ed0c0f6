/**
 * Refuses request bodies above the configured size before Yoga reads a byte of them.
 *
 * A body must declare its size (Content-Length) to be checked up front: a GraphQL request is a
 * small JSON document every HTTP client sends with a length, and so is a multipart upload. Chunked bodies without one are
 * refused with 411 rather than buffered without bound.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { httpStatusOf, type ErrorCode } from '../errors/index.js';

/** Room a multipart body gets beyond the ingestion limit on its files, for the form's other parts. */
export const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

export interface BodyLimits {
  /** Any request. */
  maxBytes: number;
  /** multipart/form-data (file uploads): the ingestion limit plus room for the form's parts. */
  maxMultipartBytes: number;
}

export function withBodyLimit({ maxBytes: plainMax, maxMultipartBytes }: BodyLimits, next: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const multipart = /^multipart\/form-data/i.test(req.headers['content-type'] ?? '');
    const maxBytes = multipart ? Math.max(plainMax, maxMultipartBytes) : plainMax;
    const declared = req.headers['content-length'];
    const chunked = declared === undefined && req.headers['transfer-encoding'] !== undefined;
    if (chunked) return refuse(req, res, 'LENGTH_REQUIRED', 'Send the request body with a Content-Length header.');
    if (declared !== undefined && Number(declared) > maxBytes) {
      return refuse(req, res, 'PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${maxBytes} bytes.`);
    }
    return next(req, res);
  };
}

/**
 * How much of a refused body is read and thrown away, and for how long, before the connection
 * is closed. Closing while the client is still sending resets the connection, and a client
 * that writes its whole body before reading (Node's fetch, most HTTP libraries) then sees
 * EPIPE or ECONNRESET instead of the answer; curl happens to read early. A body larger than
 * this, or slower, is cut: reading it all would let anyone make the server receive without end.
 */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
export const DRAIN_MAX_MS = 10_000;

/** Answers `code` before the body is read, reads (a bounded part of) the body, then closes the connection. */
export function refuse(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string, retryAfterSeconds?: number): void {
  const extensions = retryAfterSeconds === undefined ? { code } : { code, retryAfterSeconds };
  const body = JSON.stringify({ errors: [{ message, extensions }] });
  // The connection cannot carry another request after an unread body: close it after replying.
  res.writeHead(httpStatusOf(code), {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
  });
  // The answer goes out at once (the client may read it while still sending); the response
  // ends, and so the connection closes, only once the body is read or a bound is reached.
  res.write(body);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > DRAIN_MAX_BYTES) {
    res.end();
    return;
  }
  let read = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.off('data', count);
    res.end();
  };
  const count = (chunk: Buffer) => {
    read += chunk.length;
    if (read > DRAIN_MAX_BYTES) finish();
  };
  const timer = setTimeout(finish, DRAIN_MAX_MS);
  req.on('data', count);
  req.once('end', finish);
  req.once('error', finish);
  req.once('close', finish);
}
