/**
 * Refuses request bodies above the configured size before Yoga reads a byte of them.
 *
 * A body must declare its size (Content-Length) to be checked up front: a GraphQL request is a
 * small JSON document every HTTP client sends with a length, and so is a multipart upload. Chunked bodies without one are
 * refused with 411 rather than buffered without bound.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

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
    if (chunked) return refuse(req, res, 411, 'LENGTH_REQUIRED', 'Send the request body with a Content-Length header.');
    if (declared !== undefined && Number(declared) > maxBytes) {
      return refuse(req, res, 413, 'PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${maxBytes} bytes.`);
    }
    return next(req, res);
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  // The unread body makes the connection unusable for another request: close it after replying.
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
  req.resume();
}
