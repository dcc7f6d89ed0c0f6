/** The REST query route and the OpenAPI document over real HTTP, for the REST tests. */
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import type { TestServer } from './server.js';

export interface Credential {
  token?: string;
  apiKey?: string;
}

export function restQueryUrl(server: TestServer, reference: string): string {
  return `${server.baseUrl}/api/v1/endpoints/${reference}/query`;
}

const credentialHeaders = ({ token, apiKey }: Credential = {}): Record<string, string> => ({
  ...(token ? { authorization: `Bearer ${token}` } : {}),
  ...(apiKey ? { 'x-api-key': apiKey } : {}),
});

/** POSTs `body` (an object, sent as JSON, or raw bytes/text as they are) and reads the answer as JSON. */
export async function restQuery(
  server: TestServer,
  reference: string,
  body: unknown,
  options: Credential & { headers?: Record<string, string>; method?: string } = {},
) {
  const raw = typeof body === 'string' || body instanceof Uint8Array;
  const response = await fetch(restQueryUrl(server, reference), {
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...credentialHeaders(options), ...options.headers },
    body: options.method === 'GET' ? undefined : raw ? (body as BodyInit) : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

export interface ParsedEvent {
  event: string;
  data: any;
}

/** Server-Sent Events from text: each block's `event` and parsed `data`; comment lines (`:`) skipped. */
export function parseEvents(text: string): ParsedEvent[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      return { event: field('event')!, data: JSON.parse(field('data') ?? 'null') };
    });
}

/** The query as Server-Sent Events, read to the end. */
export async function restQueryEvents(server: TestServer, reference: string, body: unknown, credential: Credential) {
  const response = await fetch(restQueryUrl(server, reference), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...credentialHeaders(credential) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, events: parseEvents(text), raw: text };
}

/**
 * A validator of one of the document's `components.schemas`, its `$ref`s resolved inside the
 * document (Ajv's JSON Schema 2020-12 dialect, which OpenAPI 3.1 schemas are).
 */
export function schemaValidator(document: Record<string, any>) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its default export arrives as the module under NodeNext typing.
  const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (ajv: Ajv2020) => Ajv2020;
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: 'https://sluice.test/openapi.json' });
  return (name: string, value: unknown): string[] => {
    const validate = ajv.getSchema(`https://sluice.test/openapi.json#/components/schemas/${name}`);
    if (!validate) throw new Error(`no schema ${name}`);
    return validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
  };
}
