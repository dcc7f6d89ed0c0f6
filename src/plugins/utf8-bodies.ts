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
 */
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { createGraphQLError } from '@graphql-tools/utils';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf } from '../platform/errors/index.js';
import { jsonNestsDeeperThan, TOO_DEEP_MESSAGE } from '../platform/input/json-depth.js';
import { NOT_UTF8_MESSAGE, RefusedBodyError, jsonTextOf, utf8TextOf } from '../platform/input/utf8-text.js';

/** The multipart fields that carry text the server reads (graphql-multipart-request-spec). */
const TEXT_FIELDS = new Set(['operations', 'map']);

interface PartStream extends NodeJS.EventEmitter {
  resume(): void;
}
type DicerConstructor = new (config: { boundary: string }) => Writable & { on(event: 'part', listener: (part: PartStream) => void): void };
// CommonJS inside @fastify/busboy (a dependency of Yoga's own form parser), without an ES entry point.
const Dicer = createRequire(import.meta.url)('@fastify/busboy/deps/dicer/lib/Dicer.js') as DicerConstructor;

/** The refusal as Yoga answers it: 400 with `{ errors: [{ extensions: { code: "BAD_REQUEST" } }] }`. */
function unreadableBody(message: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: httpStatusOf('BAD_REQUEST') } } });
}

export function useUtf8Bodies(): Plugin {
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
          const text = await (json ? jsonTextOf(req) : utf8TextOf(req)).catch((error: unknown) => {
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
        source.pipe(forYoga);
        source.pipe(forCheck);
        const checked = textFieldsRefusal(forCheck, boundary);
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
        if (refusal.status === 'fulfilled' && refusal.value !== null) throw unreadableBody(refusal.value);
        if (result.status === 'rejected') throw result.reason;
        return result.value;
      });
    },
  };
}

/** The boundary of a multipart/form-data body, `undefined` if it has none, `null` if not multipart. */
function multipartBoundaryOf(contentType: string | null): string | null | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
  return /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)?.slice(1).find(Boolean);
}

/**
 * Why a text field of the multipart body is refused (not UTF-8; JSON nested too deeply), or
 * null; file parts are drained unread.
 */
function textFieldsRefusal(body: Readable, boundary: string | undefined): Promise<string | null> {
  if (!boundary) {
    body.resume();
    return Promise.resolve(null); // Yoga's parser refuses it.
  }
  return new Promise((resolve) => {
    let refusal: string | null = null;
    const dicer = new Dicer({ boundary });
    dicer.on('part', (part) => {
      let name: string | undefined;
      const chunks: Buffer[] = [];
      part.on('header', (header: Record<string, string[] | undefined>) => {
        name = /\bname="([^"]*)"/i.exec(header['content-disposition']?.[0] ?? '')?.[1];
      });
      part.on('data', (chunk: Buffer) => {
        if (name !== undefined && TEXT_FIELDS.has(name)) chunks.push(chunk);
      });
      part.on('end', () => {
        if (chunks.length === 0 || refusal !== null) return;
        const bytes = Buffer.concat(chunks);
        if (!isUtf8(bytes)) refusal = NOT_UTF8_MESSAGE;
        else if (jsonNestsDeeperThan(bytes.toString('utf8'))) refusal = TOO_DEEP_MESSAGE;
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
