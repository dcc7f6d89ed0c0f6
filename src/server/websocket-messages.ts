/**
 * What a graphql-ws message must be before graphql-ws parses it: the checks HTTP applies to a
 * request body (json-depth.ts, utf8-text.ts), plus a size per message type and a pace per
 * socket. graphql-ws runs `JSON.parse` on every message the moment it arrives, on the event loop
 * every caller shares, and echoes a `ping`'s payload back (`JSON.stringify`, which recurses):
 * twenty 900 KB `pong` messages of `[[[…]]]` once held every request for 15 s, and the socket
 * stayed open to send twenty more.
 *
 * Nothing here parses: one pass over the text finds the nesting depth and the top-level `type`
 * and `id` members, read as `JSON.parse` would read them (escapes decoded, the last of repeated
 * members), so the size allowed can follow the type.
 */
import { isUtf8 } from 'node:buffer';
import { MessageType } from 'graphql-ws';
import { jsonValuesMoreThan, MAX_JSON_DEPTH } from '../platform/input/json-depth.js';
import { takeToken, type BucketRule, type BucketState } from '../platform/rate-limits/token-bucket.js';

/**
 * Bytes a message may have, by type; a `subscribe` may be as large as a request body
 * (SLUICE_MAX_BODY_BYTES, which `ws` enforces for every message with 1009). `connection_init`
 * carries the credential: 16 KiB, Node's limit on an HTTP request's headers, where the same
 * credential travels. `ping`, `pong`, `complete` and anything else: 4 KiB (an id, a small payload).
 */
export const MESSAGE_BYTES = { connectionInit: 16_384, other: 4_096 } as const;

/** Messages one socket may send: 200 at once, then 100 a second (graphql-ws's own client sends a handful per operation). */
export const SOCKET_MESSAGE_RATE: BucketRule = { perSecond: 100, burst: 200 };

/** graphql-ws's close code for a message it cannot accept (its "Invalid message received"). */
export const BAD_MESSAGE_CLOSE = 4400;
/** The WebSocket close code "policy violation": a socket sending faster than SOCKET_MESSAGE_RATE. */
export const TOO_MANY_MESSAGES_CLOSE = 1008;

export type RefusalReason = 'too_many' | 'not_utf8' | 'too_deep' | 'too_large' | 'too_many_values' | 'no_id';

/** A message graphql-ws may parse: its text, and the top-level `type` and `id` it will find there. */
export interface ScreenedMessage {
  text: string;
  type: string | undefined;
  id: string | undefined;
}

/** A message refused: the socket is closed with `code` and `message` (at most 123 bytes, a close reason's limit). */
export interface MessageRefusal {
  reason: RefusalReason;
  code: number;
  message: string;
  /** The type the message named, if it is one of the protocol's (for the log line). */
  type?: string;
  bytes: number;
}

const KNOWN_TYPES = new Set<string>(Object.values(MessageType));

/** One socket's messages, screened in the order they arrive. */
export class SocketMessages {
  private pace: BucketState | undefined;

  constructor(
    private readonly maxBytes: number,
    /** The most JSON values a `subscribe` may hold (its variables' bound and the message's own few), or no bound. */
    private readonly maxValues = Number.POSITIVE_INFINITY,
    private readonly now: () => number = Date.now,
  ) {}

  screen(data: Buffer, isBinary: boolean): ScreenedMessage | MessageRefusal {
    const bytes = data.length;
    const { state, result } = takeToken(this.pace, SOCKET_MESSAGE_RATE, this.now());
    this.pace = state;
    if (!result.allowed) {
      const { burst, perSecond } = SOCKET_MESSAGE_RATE;
      return { reason: 'too_many', code: TOO_MANY_MESSAGES_CLOSE, message: `Too many messages: at most ${burst} at once, then ${perSecond} a second`, bytes };
    }
    // `ws` refuses a text frame that is not UTF-8 (1007); a binary one it hands over as bytes,
    // which graphql-ws would decode with replacement characters.
    if (isBinary && !isUtf8(data)) return { reason: 'not_utf8', code: BAD_MESSAGE_CLOSE, message: 'The message is not valid UTF-8', bytes };
    const text = data.toString('utf8');
    const scanned = scanMessage(text);
    const type = scanned.type !== undefined && KNOWN_TYPES.has(scanned.type) ? scanned.type : undefined;
    if (scanned.tooDeep) return { reason: 'too_deep', code: BAD_MESSAGE_CLOSE, message: `The message's JSON nests deeper than ${MAX_JSON_DEPTH} levels`, type, bytes };
    const allowed = type === MessageType.Subscribe ? this.maxBytes : type === MessageType.ConnectionInit ? MESSAGE_BYTES.connectionInit : MESSAGE_BYTES.other;
    if (bytes > allowed) return { reason: 'too_large', code: BAD_MESSAGE_CLOSE, message: `A ${type ?? 'message'} message may have at most ${allowed} bytes`, type, bytes };
    // Its id is what the per-address limit's verdict is kept under until graphql-ws reads it (websocket.ts).
    // As an HTTP body's values are counted before it is parsed (utf8-bodies.ts): 90 000 keys of
    // variables in a 1 MiB subscribe were parsed whole before the variables' bound refused them.
    if (type === MessageType.Subscribe && jsonValuesMoreThan(text, this.maxValues)) {
      return { reason: 'too_many_values', code: BAD_MESSAGE_CLOSE, message: `A subscribe message may hold at most ${this.maxValues} JSON values`, type, bytes };
    }
    if (type === MessageType.Subscribe && scanned.id === undefined) return { reason: 'no_id', code: BAD_MESSAGE_CLOSE, message: `A subscribe message needs a string id of at most ${MEMBER_CHARS} characters`, type, bytes };
    return { text, type: scanned.type, id: scanned.id };
  }
}

export const isRefusal = (screened: ScreenedMessage | MessageRefusal): screened is MessageRefusal => 'reason' in screened;

/** Members longer than this (as written) are not read: no `type` or `id` a client sends is. */
const MEMBER_CHARS = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * One pass over JSON text, nothing parsed: whether it nests arrays and objects deeper than
 * `maxDepth` (the scan stops there), and the string values of its top-level `type` and `id`
 * members as JSON.parse would give them (undefined when absent, not a string, or too long).
 * For text that is not JSON the answer means nothing: graphql-ws refuses that text anyway.
 */
export function scanMessage(text: string, maxDepth = MAX_JSON_DEPTH): { tooDeep: boolean; type: string | undefined; id: string | undefined } {
  const found: { type: string | undefined; id: string | undefined } = { type: undefined, id: undefined };
  let depth = 0;
  /** The last token at depth 1 was this string (a member's name if a colon follows). */
  let lastString: string | undefined;
  /** The last tokens at depth 1 were `"type":` or `"id":`: the value comes next. */
  let member: 'type' | 'id' | undefined;
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const start = at + 1;
      let escaped = false;
      for (at = start; at < text.length; at += 1) {
        const inner = text.charCodeAt(at);
        if (inner === BACKSLASH) {
          escaped = true;
          at += 1;
        } else if (inner === QUOTE) break;
      }
      if (depth !== 1) continue;
      const value = at - start <= MEMBER_CHARS ? decoded(text.slice(start, at), escaped) : undefined;
      if (member) found[member] = value;
      member = undefined;
      lastString = value;
      continue;
    }
    // JSON's whitespace.
    if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) continue;
    if (depth === 1) {
      if (code === COLON && (lastString === 'type' || lastString === 'id')) {
        member = lastString;
        lastString = undefined;
        continue;
      }
      // A value that is not a string: JSON.parse's member is not one either.
      if (member) found[member] = undefined;
      member = undefined;
      lastString = undefined;
    }
    if (code === 0x7b || code === 0x5b) {
      depth += 1;
      if (depth > maxDepth) return { tooDeep: true, ...found };
    } else if (code === 0x7d || code === 0x5d) depth -= 1;
  }
  return { tooDeep: false, ...found };
}

/** A JSON string's contents as JSON.parse reads them; undefined when its escapes are malformed. */
function decoded(raw: string, escaped: boolean): string | undefined {
  if (!escaped) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined;
  }
}
