/**
 * How deeply a request's JSON may nest: 128 levels of arrays and objects, far beyond any
 * argument Sluice takes (a document's metadata, a model's config, a policy). Deeper text is
 * refused before it is parsed: every reader after the parser (variable coercion, the NUL check,
 * validation, redaction) walks the value, and 450 000 levels of `[[[…]]]` fit in a 1 MiB body.
 * WebSocket messages are held to the same bound by server/websocket-messages.ts, whose one pass
 * also reads the message's type.
 */
export const MAX_JSON_DEPTH = 128;

export const TOO_DEEP_MESSAGE = `The request body's JSON nests deeper than ${MAX_JSON_DEPTH} levels.`;

/** Whether JSON text nests arrays and objects deeper than `max`: one pass, strings skipped, nothing parsed. */
export function jsonNestsDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (inString) {
      if (code === 0x5c) at += 1; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) {
      depth += 1;
      if (depth > max) return true;
    } else if (code === 0x7d || code === 0x5d) depth -= 1;
  }
  return false;
}

/**
 * Whether JSON text holds more than `max` values (each scalar, array and object; an object's
 * keys are not counted apart from their values): one pass, strings skipped, nothing parsed. What
 * an operation's variables may hold is bounded (plugins/variable-limits.ts), and parsing is the
 * first walk: an object of 90 000 keys in a 1 MiB body took JSON.parse itself 0.2 s.
 */
export function jsonValuesMoreThan(text: string, max: number): boolean {
  return countJsonValues(text, max) > max;
}

/**
 * The values JSON text holds, counted as `jsonValuesMoreThan` does, but only up to one past
 * `stopAbove` (the pass ends there): for readers that share one bound among several texts.
 */
export function countJsonValues(text: string, stopAbove: number): number {
  // For valid JSON: the root, one per comma, and the first element of each non-empty container.
  let values = 1;
  let inString = false;
  let opened = false;
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (inString) {
      if (code === 0x5c) at += 1;
      else if (code === 0x22) inString = false;
      continue;
    }
    if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) continue;
    if (opened && code !== 0x5d && code !== 0x7d) values += 1;
    opened = code === 0x7b || code === 0x5b;
    if (code === 0x22) inString = true;
    else if (code === 0x2c) values += 1;
    if (values > stopAbove) return values;
  }
  return values;
}
