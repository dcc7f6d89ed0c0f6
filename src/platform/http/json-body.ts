/**
 * Reading a JSON request body for a REST door outside Yoga's parser, with every refusal a
 * coded error (never a 500): a content type other than JSON (415: a cross-site page can
 * send a simple form or text/plain POST without a preflight, never an application/json one,
 * so JSON only is the route's CSRF defence), a body over the route's own limit (413, checked
 * on the declared length before a byte is read and again on what arrived), bytes that are
 * not UTF-8 or not JSON (400 BAD_REQUEST), a body the route's schema refuses, unknown fields
 * included, or NUL in any string or key (400 BAD_USER_INPUT, `issues` naming where).
 */
import type { z } from 'zod';
import { RequestRefusal } from '../errors/index.js';
import { describePath, unstorableTextMessage, unstorableTextPath } from '../input/unstorable-text.js';
import { jsonTextOf, RefusedBodyError } from '../input/utf8-text.js';

export interface JsonBodyOptions {
  /** Largest body accepted, in bytes (below the server's SLUICE_MAX_BODY_BYTES). */
  maxBytes: number;
}

/** Whether the request says its body is JSON (`application/json`, any parameters). */
export function isJsonContent(request: Request): boolean {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}

export async function readJsonBody<Schema extends z.ZodType>(request: Request, schema: Schema, { maxBytes }: JsonBodyOptions): Promise<z.infer<Schema>> {
  if (!isJsonContent(request)) throw new RequestRefusal('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with Content-Type: application/json.');
  const tooLarge = () => new RequestRefusal('PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${maxBytes} bytes.`, { maxBytes });
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) throw tooLarge();
  let text: string;
  try {
    text = await jsonTextOf(request);
  } catch (error) {
    if (error instanceof RefusedBodyError) throw new RequestRefusal('BAD_REQUEST', error.message);
    throw error;
  }
  if (Buffer.byteLength(text) > maxBytes) throw tooLarge();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RequestRefusal('BAD_REQUEST', 'The request body is not valid JSON.');
  }
  // Before the schema: a NUL in an unknown key is refused for the NUL, like everywhere else.
  const nul = unstorableTextPath(value);
  if (nul) {
    const path = describePath(nul);
    throw new RequestRefusal('BAD_USER_INPUT', unstorableTextMessage(`Field "${path}"`), { issues: [{ path, message: unstorableTextMessage('The value') }] });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    throw new RequestRefusal('BAD_USER_INPUT', `Invalid request body: ${issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ')}`, { issues });
  }
  return parsed.data;
}
