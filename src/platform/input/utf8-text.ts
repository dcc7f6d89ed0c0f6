/**
 * Request text must be UTF-8 (plugins/utf8-bodies.ts says why), and JSON must not nest too
 * deeply (json-depth.ts): the checks, for the GraphQL body parser and for JSON routes outside
 * it (routes/auth-login.ts).
 */
import { isUtf8 } from 'node:buffer';
import { jsonNestsDeeperThan, jsonValuesMoreThan, TOO_DEEP_MESSAGE } from './json-depth.js';

/**
 * The most JSON values (each scalar, list and object) a door's body may hold: a chat request, a
 * REST query, an MCP message, a login are a few dozen. 450 000 zeros in an OpenAI message's
 * `content` (900 KB) made its schema check record an issue per element: 3 to 15 s of the event
 * loop per anonymous request. GraphQL bodies have their own bound (SLUICE_MAX_VARIABLE_VALUES).
 */
export const MAX_BODY_JSON_VALUES = 10_000;

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

/** JSON holding more values than its reader allows (counted in the text, before it is parsed). */
export class TooManyValuesError extends RefusedBodyError {
  constructor(max: number) {
    super(`The request body's JSON holds more than ${max} values (every item of every list and field of every object counts one).`);
  }
}

/** A request's JSON body as text: UTF-8, nested no deeper than MAX_JSON_DEPTH, holding at most `maxValues` values. */
export async function jsonTextOf(request: Request, maxValues = MAX_BODY_JSON_VALUES): Promise<string> {
  const text = await utf8TextOf(request);
  if (jsonNestsDeeperThan(text)) throw new TooDeepError();
  if (jsonValuesMoreThan(text, maxValues)) throw new TooManyValuesError(maxValues);
  return text;
}
