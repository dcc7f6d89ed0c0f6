/**
 * A percent-encoded part of a request path as text. `decodeURIComponent` throws `URIError` on
 * malformed encoding (`%zz`, a lone `%`, bytes that are not UTF-8 such as `%ff`): thrown from a
 * route's `onRequest`, it escaped to @whatwg-node/server, which answered 500 with the stack
 * trace. Every route that decodes a path goes through here, so a malformed path is always the
 * caller's mistake (BAD_USER_INPUT, 400) naming the part, in the route's own error shape.
 */
import { RequestRefusal } from '../errors/index.js';
import { unstorableTextMessage } from '../input/unstorable-text.js';

/** `segment` decoded, or a BAD_USER_INPUT refusal naming `name` (the path's `{name}`); NUL is refused as everywhere. */
export function decodePathSegment(segment: string, name: string): string {
  let value: string;
  try {
    value = decodeURIComponent(segment);
  } catch {
    throw new RequestRefusal('BAD_USER_INPUT', `The path's {${name}} is not valid percent-encoding.`, { field: name, issues: [{ path: name, message: 'not valid percent-encoding' }] });
  }
  if (value.includes('\u0000')) throw new RequestRefusal('BAD_USER_INPUT', unstorableTextMessage(`The path's {${name}}`), { field: name, issues: [{ path: name, message: unstorableTextMessage('The value') }] });
  return value;
}
