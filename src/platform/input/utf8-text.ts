/**
 * Request text must be UTF-8 (plugins/utf8-bodies.ts says why): the check, for the GraphQL
 * body parser and for JSON routes outside it (routes/auth-login.ts).
 */
import { isUtf8 } from 'node:buffer';

export const NOT_UTF8_MESSAGE = 'The request body is not valid UTF-8.';

/** Bytes that are not UTF-8 where text was expected. */
export class NotUtf8Error extends Error {
  constructor() {
    super(NOT_UTF8_MESSAGE);
  }
}

/** A request's body as text, refusing bytes that are not UTF-8 (for JSON routes outside Yoga's parser). */
export async function utf8TextOf(request: Request): Promise<string> {
  const bytes = Buffer.from(await request.arrayBuffer());
  if (!isUtf8(bytes)) throw new NotUtf8Error();
  return bytes.toString('utf8');
}
