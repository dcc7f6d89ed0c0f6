/**
 * Request text must be UTF-8 (plugins/utf8-bodies.ts says why), and JSON must not nest too
 * deeply (json-depth.ts): the checks, for the GraphQL body parser and for JSON routes outside
 * it (routes/auth-login.ts).
 */
import { isUtf8 } from 'node:buffer';
import { jsonNestsDeeperThan, TOO_DEEP_MESSAGE } from './json-depth.js';

export const NOT_UTF8_MESSAGE = 'The request body is not valid UTF-8.';

/** A body refused before it is parsed (400 BAD_REQUEST on every door); the message says why. */
export class RefusedBodyError extends Error {}

/** Bytes that are not UTF-8 where text was expected. */
export class NotUtf8Error extends RefusedBodyError {
  constructor() {
    super(NOT_UTF8_MESSAGE);
  }
}

/** JSON nested deeper than MAX_JSON_DEPTH (platform/input/json-depth.ts). */
export class TooDeepError extends RefusedBodyError {
  constructor() {
    super(TOO_DEEP_MESSAGE);
  }
}

/** A request's body as text, refusing bytes that are not UTF-8 (for JSON routes outside Yoga's parser). */
export async function utf8TextOf(request: Request): Promise<string> {
  const bytes = Buffer.from(await request.arrayBuffer());
  if (!isUtf8(bytes)) throw new NotUtf8Error();
  return bytes.toString('utf8');
}

/** A request's JSON body as text: UTF-8, and nested no deeper than MAX_JSON_DEPTH. */
export async function jsonTextOf(request: Request): Promise<string> {
  const text = await utf8TextOf(request);
  if (jsonNestsDeeperThan(text)) throw new TooDeepError();
  return text;
}
