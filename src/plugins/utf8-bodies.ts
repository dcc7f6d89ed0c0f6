/**
 * Request text must be UTF-8. The body readers decode with replacement characters, so invalid
 * bytes would reach resolvers, the database and the audit trail as U+FFFD, silently changed:
 * a JSON or GraphQL body, and the `operations` and `map` fields of a multipart upload (the
 * files themselves are bytes and are not checked), are refused with 400 `BAD_REQUEST`, Yoga's
 * code for a body it cannot read, before anything is parsed or run.
 *
 * A multipart body is read twice at once (a tee): Yoga's parser gets one copy; the other goes
 * through Dicer (the multipart splitter inside busboy), which hands us each part's raw bytes,
 * where busboy itself would hand over text already decoded.
 *
 * A multipart body may be as large as an upload, but only its files: a form field (`operations`
 * above all) is held to the limit of a plain request body (`maxFieldBytes`), and refused with
 * 413 as soon as it passes it, the rest of the body unread. An upload form with a 98 MB
 * `operations` once went through whole: parsed on the event loop (11 s) into 1.4 GB.
 *
 * JSON (a body, an upload's `operations`) may hold no more values than an operation's variables
 * may (`maxVariableValues`, counted in the text before it is parsed: parsing is the first walk of
 * it), and an upload's `map` must have the shape the multipart spec gives it, within the files
 * limit (platform/http/upload-map.ts): both 400 `BAD_REQUEST`. Yoga's parser applies the map as
 * soon as it has read the body, so its copy of the body ends only once the check has passed.
 */
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { createGraphQLError } from '@graphql-tools/utils';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf } from '../platform/errors/index.js';
import { uploadMapRefusal, type UploadMapBounds } from '../platform/http/upload-map.js';
import { jsonNestsDeeperThan, jsonValuesMoreThan, MAX_JSON_DEPTH, TOO_DEEP_MESSAGE } from '../platform/input/json-depth.js';
import { NOT_UTF8_MESSAGE, RefusedBodyError, TooManyValuesError, jsonTextOf, utf8TextOf } from '../platform/input/utf8-text.js';

/** The multipart fields that carry text the server reads (graphql-multipart-request-spec). */
const TEXT_FIELDS = new Set(['operations', 'map']);

interface PartStream extends NodeJS.EventEmitter {
  resume(): void;
}
type DicerConstructor = new (config: { boundary: string }) => Writable & { on(event: 'part', listener: (part: PartStream) => void): void };
// CommonJS inside @fastify/busboy (a dependency of Yoga's own form parser), without an ES entry point.
const Dicer = createRequire(import.meta.url)('@fastify/busboy/deps/dicer/lib/Dicer.js') as DicerConstructor;

/** Why a body is refused: 400 `BAD_REQUEST` (Yoga's code for a body it cannot read) unless said otherwise. */
interface Refusal {
  message: string;
  code?: 'PAYLOAD_TOO_LARGE';
}

/** The refusal as Yoga answers it: the status with `{ errors: [{ extensions: { code } }] }`. */
function unreadableBody(message: string, code: 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE' = 'BAD_REQUEST') {
  return createGraphQLError(message, { extensions: { code, http: { status: httpStatusOf(code) } } });
}

export interface Utf8BodyOptions {
  /** The most bytes of a form field (a plain body's limit). */
  maxFieldBytes: number;
  /** SLUICE_MAX_VARIABLE_VALUES: what an operation's variables may hold; a JSON body or an upload's `operations`, OPERATION_VALUES more. */
  maxVariableValues: number;
  /** SLUICE_INGEST_MAX_FILES: the most files (and paths) an upload's `map` may name. */
  maxUploadFiles: number;
}

export function useUtf8Bodies({ maxFieldBytes, maxVariableValues, maxUploadFiles }: Utf8BodyOptions): Plugin {
  const limits: FieldLimits = { maxFieldBytes, maxVariableValues, map: { maxFiles: maxUploadFiles, maxSegments: MAX_JSON_DEPTH + 1 } };
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!requestParser || request.method !== 'POST' || request.body == null) return;
      const parse = requestParser;
      const boundary = multipartBoundaryOf(request.headers.get('content-type'));
      if (boundary === null) {
        // JSON (application/json, application/graphql+json) or a GraphQL document: all text.
        // JSON must not nest too deeply either (json-depth.ts); a GraphQL document's nesting is the depth limit's.
        const json = /json/i.test(request.headers.get('content-type') ?? '');
        setRequestParser(async (req) => {
          // The count is the variables' bound plus the operation's own few values, said in the variables' terms.
          const text = await (json ? jsonTextOf(req, maxVariableValues + OPERATION_VALUES) : utf8TextOf(req)).catch((error: unknown) => {
            if (error instanceof TooManyValuesError) throw unreadableBody(tooManyValuesMessage(maxVariableValues));
            throw error instanceof RefusedBodyError ? unreadableBody(error.message) : error;
          });
          return parse(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body: text }));
        });
        return;
      }
      setRequestParser(async (req) => {
        // whatwg-node's streams have no tee(): split the bytes with Node streams (paced by the slower reader).
        const source = Readable.from(req.body as unknown as AsyncIterable<Uint8Array>);
        const forYoga = new PassThrough();
        const forCheck = new PassThrough();
        // pipe() neither ends nor fails its destinations when the source fails (a client that
        // aborts, a socket the request deadline cuts): both readers would wait forever, and the
        // request with them. The failure goes to both.
        source.on('error', (error) => {
          forYoga.destroy(error);
          forCheck.destroy(error);
        });
        // Yoga's copy ends once the check has passed: its parser applies `map` (every segment
        // of every path) as soon as it has the whole body, and must not apply a refused one.
        source.pipe(forYoga, { end: false });
        source.pipe(forCheck);
        const checked = textFieldsRefusal(forCheck, boundary, limits);
        source.on('end', () =>
          void checked.then((found) => {
            if (forYoga.destroyed) return;
            if (found) forYoga.destroy(new Error(found.message));
            else forYoga.end();
          }),
        );
        // A field over its limit is refused at once: the rest of the body is not read.
        void checked.then((found) => found?.code && source.destroy(new Error(found.message)));
        const parsed = Promise.resolve(parse(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body: forYoga, duplex: 'half' } as unknown as RequestInit)));
        // A parser that gave up stops reading its copy, which would hold the tee (and the check)
        // still: the check ends with it.
        parsed.catch(() => {
          source.unpipe(forYoga);
          forYoga.resume();
          forCheck.destroy();
        });
        // Refuse on the check's verdict even when the parser also failed: invalid bytes are the cause to report.
        const [refusal, result] = await Promise.allSettled([checked, parsed]);
        if (refusal.status === 'fulfilled' && refusal.value !== null) throw unreadableBody(refusal.value.message, refusal.value.code);
        if (result.status === 'rejected') throw result.reason;
        return result.value;
      });
    },
  };
}

function mapRefusalOf(text: string, bounds: UploadMapBounds): Refusal | null {
  const message = uploadMapRefusal(text, bounds);
  return message === null ? null : { message };
}

/** The boundary of a multipart/form-data body, `undefined` if it has none, `null` if not multipart. */
function multipartBoundaryOf(contentType: string | null): string | null | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
  return /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)?.slice(1).find(Boolean);
}

/** What a request's JSON holds besides its variables' values: the body, `query`, `operationName`, `variables`, `extensions` and theirs. */
const OPERATION_VALUES = 32;

/** The refusal of a JSON body or `operations` field holding more values than an operation's variables may. */
function tooManyValuesMessage(maxVariableValues: number): string {
  return `The request's JSON holds more values than an operation's variables may: ${maxVariableValues} (SLUICE_MAX_VARIABLE_VALUES), counting every item of every list and field of every object.`;
}

interface FieldLimits {
  maxFieldBytes: number;
  maxVariableValues: number;
  map: UploadMapBounds;
}

const UNREADABLE = Symbol('unreadable');
const UNREADABLE_PART_MESSAGE = 'A multipart part must name itself as Content-Disposition: form-data; name="…" (quoted, once).';

/**
 * A part's field name and whether it is a file, read from its Content-Disposition as this check
 * reads it, or UNREADABLE. Yoga's form parser also takes a name unquoted (`name=map`), escaped
 * or given twice: a part this check named differently, or not at all, skipped every check of
 * `operations` and `map` (an unquoted `name=map` of `{"0":[5]}` was INTERNAL again). So a name
 * must be written the one plain way, else the body is refused. Parts without a name (Yoga
 * ignores them) pass.
 */
function partNameOf(values: string[] | undefined): { name: string | undefined; file: boolean } | typeof UNREADABLE {
  if (values !== undefined && values.length > 1) return UNREADABLE;
  const disposition = values?.[0] ?? '';
  const names = disposition.match(/(?:^|;)\s*name\*?\s*=/gi) ?? [];
  const file = /(?:^|;)\s*filename\*?\s*=/i.test(disposition);
  if (names.length === 0) return { name: undefined, file };
  const quoted = /(?:^|;)\s*name\s*=\s*"([^"\\]*)"\s*(?:;|$)/i.exec(disposition);
  if (names.length > 1 || !quoted) return UNREADABLE;
  return { name: quoted[1], file };
}

/**
 * Why a field of the multipart body is refused (larger than `maxFieldBytes`; for the text
 * fields, not UTF-8, JSON nested too deeply or holding too many values, a `map` not of the
 * spec's shape), or null; file parts are drained unread. A field over its limit ends the check
 * at once.
 */
function textFieldsRefusal(body: Readable, boundary: string | undefined, { maxFieldBytes, maxVariableValues, map }: FieldLimits): Promise<Refusal | null> {
  if (!boundary) {
    body.resume();
    return Promise.resolve(null); // Yoga's parser refuses it.
  }
  return new Promise((resolve) => {
    let refusal: Refusal | null = null;
    const dicer = new Dicer({ boundary });
    dicer.on('part', (part) => {
      let name: string | undefined;
      let file = false;
      let size = 0;
      const chunks: Buffer[] = [];
      part.on('header', (header: Record<string, string[] | undefined>) => {
        const read = partNameOf(header['content-disposition']);
        if (read === UNREADABLE) {
          refusal ??= { message: UNREADABLE_PART_MESSAGE };
          return;
        }
        ({ name, file } = read);
      });
      part.on('data', (chunk: Buffer) => {
        // A text field is checked even when it claims a file name: Yoga reads it by its name.
        if ((file && !(name !== undefined && TEXT_FIELDS.has(name))) || refusal !== null) return;
        size += chunk.length;
        if (size > maxFieldBytes) {
          refusal = { code: 'PAYLOAD_TOO_LARGE', message: `The form field "${(name ?? '').slice(0, 64)}" exceeds the limit of ${maxFieldBytes} bytes (files are limited apart).` };
          chunks.length = 0;
          resolve(refusal);
          return;
        }
        if (name !== undefined && TEXT_FIELDS.has(name)) chunks.push(chunk);
      });
      part.on('end', () => {
        if (chunks.length === 0 || refusal !== null) return;
        const bytes = Buffer.concat(chunks);
        if (!isUtf8(bytes)) {
          refusal = { message: NOT_UTF8_MESSAGE };
          return;
        }
        const text = bytes.toString('utf8');
        if (jsonNestsDeeperThan(text)) refusal = { message: TOO_DEEP_MESSAGE };
        else if (jsonValuesMoreThan(text, maxVariableValues + OPERATION_VALUES)) refusal = { message: tooManyValuesMessage(maxVariableValues) };
        else if (name === 'map') refusal = mapRefusalOf(text, map);
        // One operation (batching is off): anything else failed inside Yoga's parser as INTERNAL.
        else if (name === 'operations' && !text.trimStart().startsWith('{')) refusal = { message: 'The multipart field "operations" must be a JSON object: the operation.' };
      });
      part.resume();
    });
    const done = () => resolve(refusal);
    dicer.on('finish', done);
    // A malformed body is Yoga's parser's to refuse; here it only ends the check.
    dicer.on('error', done);
    body.on('error', done);
    // Destroyed before its end (the parser gave up, the client went away): nothing more to check.
    body.on('close', () => {
      if (!body.readableEnded) done();
    });
    body.pipe(dicer);
  });
}
