/**
 * Refuses request bodies above the configured size before Yoga reads a byte of them.
 *
 * A body must declare its size (Content-Length) to be checked up front: a GraphQL request is a
 * small JSON document every HTTP client sends with a length, and so is a multipart upload. Chunked bodies without one are
 * refused with 411 rather than buffered without bound.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { CodedError, codedErrorResponse, type ErrorCode } from '../errors/index.js';
import { requestIdFromHeader, REQUEST_ID_HEADER } from './request-ids.js';

/** Room a multipart body gets beyond the ingestion limit on its files, for the form's other parts. */
export const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

/**
 * The response a refusal before any route gets on `pathname`: its door's own error shape
 * (routes/door-refusals.ts), so an OpenAI or MCP client reads a 413 as it reads the door's
 * other errors. GraphQL's `{ errors }` when undefined, or when no shape is given.
 */
export type RefusalShape = (pathname: string, requestId: string, error: CodedError, fetchAPI: { Response: typeof Response }) => Response | undefined;

export interface BodyLimits {
  /** Any request. */
  maxBytes: number;
  /** multipart/form-data (file uploads): the ingestion limit plus room for the form's parts. */
  maxMultipartBytes: number;
}

export function withBodyLimit({ maxBytes: plainMax, maxMultipartBytes }: BodyLimits, next: RequestListener, shape?: RefusalShape): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const multipart = /^multipart\/form-data/i.test(req.headers['content-type'] ?? '');
    const maxBytes = multipart ? Math.max(plainMax, maxMultipartBytes) : plainMax;
    const declared = req.headers['content-length'];
    const chunked = declared === undefined && req.headers['transfer-encoding'] !== undefined;
    if (chunked) return refuse(req, res, 'LENGTH_REQUIRED', 'Send the request body with a Content-Length header.', undefined, shape);
    if (declared !== undefined && Number(declared) > maxBytes) {
      return refuse(req, res, 'PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${maxBytes} bytes.`, undefined, shape);
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

/** A refusal at the edge: a code and a message, nothing else known yet. */
class EdgeRefusal extends CodedError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    details: Record<string, unknown>,
  ) {
    super(message, details);
  }
}

/** Answers `code` before the body is read (in the door's shape), reads (a bounded part of) the body, then closes the connection. */
export function refuse(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string, retryAfterSeconds?: number, shape?: RefusalShape): void {
  const error = new EdgeRefusal(code, message, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
  const requestId = requestIdFromHeader(req.headers[REQUEST_ID_HEADER]);
  const pathname = (req.url ?? '/').split('?')[0] ?? '/';
  const response = shape?.(pathname, requestId, error, { Response }) ?? codedErrorResponse({ Response }, error);
  // A Response built from a string yields it at once; the body stays unread (and the client
  // held by backpressure) until the answer is written.
  void response.text().then(
    (body) => answerThenDrain(req, res, response, body, requestId),
    () => res.destroy(),
  );
}

function answerThenDrain(req: IncomingMessage, res: ServerResponse, response: Response, body: string, requestId: string): void {
  // The connection cannot carry another request after an unread body: close it after replying.
  res.writeHead(response.status, {
    ...Object.fromEntries(response.headers),
    'content-length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: requestId,
    connection: 'close',
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
