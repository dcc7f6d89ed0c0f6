/**
 * `GET /api/v1/audit/events.jsonl?from=…&to=…&action=…`: the tenant's audit events as JSON
 * Lines, oldest first, streamed (ADMIN; the same credentials as /graphql). Through the
 * ConsumerDoor like every REST route: the per-caller limit, the tenant's IP allow-list, and a
 * `rest.audit_export` event recording the export itself (outcome, lines sent). The events are
 * read a batch at a time, each in a short transaction bound to the caller's tenant, so a
 * client that reads slowly holds no database connection.
 */
import type { Plugin } from 'graphql-yoga';
import type { AuditEventFilter } from '../domains/audit/audit.service.js';
import { codedOrMasked, httpHeadersOf, httpStatusOf, requestNamedBy, type CodedError } from '../platform/errors/index.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import type { Logger } from '../platform/logging/logger.js';
import { DATE_TIME_RANGE, isDateTimeInRange } from '../platform/input/date-times.js';
import { describePath, unstorableTextPath, unstorableTextMessage } from '../platform/input/unstorable-text.js';
import { lostStanding, outcomeOf, type ConsumerDoor, type OpenedDoor } from './consumer-door.js';

export const AUDIT_EXPORT_PATH = '/api/v1/audit/events.jsonl';

export function useAuditExport({ door, logger }: { door: ConsumerDoor; logger: Logger }): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== AUDIT_EXPORT_PATH) return;
      const requestId = requestIdOf(request);
      // An unexpected or transient failure names the request id, as GraphQL's do: what to quote to an operator.
      const error = (status: number, code: string, message: string, more: { headers?: Record<string, string>; details?: Record<string, unknown>; requestId?: string } = {}) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code, ...more.details, ...(more.requestId ? { requestId: more.requestId } : {}) } }] }), {
            status,
            headers: { 'content-type': 'application/json', ...more.headers },
          }),
        );
      const refuse = (failure: unknown) => {
        const coded: CodedError = codedOrMasked(failure, (err) => logger.error({ err, requestId }, 'audit export failed'));
        return error(httpStatusOf(coded.code), coded.code, coded.message, { headers: httpHeadersOf(coded), details: coded.details, requestId: requestNamedBy(coded, requestId) });
      };
      if (request.method !== 'GET') return error(405, 'BAD_REQUEST', 'Use GET');
      let opened: OpenedDoor;
      try {
        opened = await door.open({ request, serverContext, action: 'rest.audit_export' });
      } catch (failure) {
        return refuse(failure);
      }
      if (!opened.actor.tenantId) {
        opened.finish('UNAUTHENTICATED');
        return error(401, 'UNAUTHENTICATED', 'Authenticate to export the audit trail');
      }
      let filter: AuditEventFilter;
      try {
        filter = filterOf(url.searchParams);
      } catch (problem) {
        opened.finish('BAD_USER_INPUT');
        return error(400, 'BAD_USER_INPUT', (problem as Error).message);
      }
      const events = opened.services.audit.export(filter);
      let lines = 0;
      try {
        // Asked for before the response starts, so a refusal is a status, not a broken stream.
        let pending: IteratorResult<unknown> | undefined = await events.next();
        const encoder = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            // The credential watch (consumer-door.ts) ends a long export as it ends a
            // subscription: broken off, as a failure mid-stream is, so it never reads as complete.
            opened.standing.addEventListener(
              'abort',
              () => {
                const lost = lostStanding(opened)!;
                opened.finish(lost.code, { lines });
                void events.return(undefined).catch(() => undefined);
                controller.error(lost);
              },
              { once: true },
            );
          },
          async pull(controller) {
            try {
              let chunk = '';
              for (let n = 0; n < 200; n += 1) {
                const next = pending ?? (await events.next());
                pending = undefined;
                if (next.done) {
                  if (chunk) controller.enqueue(encoder.encode(chunk));
                  opened.finish('ok', { lines });
                  controller.close();
                  return;
                }
                chunk += `${JSON.stringify(next.value)}\n`;
                lines += 1;
              }
              controller.enqueue(encoder.encode(chunk));
            } catch (failure) {
              if (opened.standing.aborted) return; // ended by the watch above, not a failure
              logger.error({ err: failure, requestId }, 'audit export failed mid-stream');
              opened.finish(outcomeOf(failure), { lines });
              controller.error(failure);
            }
          },
          async cancel() {
            await events.return(undefined).catch(() => undefined);
            opened.finish('CANCELLED', { lines });
          },
        });
        return endResponse(new fetchAPI.Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' } }));
      } catch (failure) {
        opened.finish(outcomeOf(failure));
        return refuse(failure);
      }
    },
  };
}

function filterOf(params: URLSearchParams): AuditEventFilter {
  for (const [name, value] of params) {
    const nul = unstorableTextPath({ [name]: value });
    if (nul) throw new Error(unstorableTextMessage(`Query parameter "${describePath(nul)}"`));
  }
  const date = (name: string) => {
    const value = params.get(name);
    if (value == null) return null;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) throw new Error(`${name} must be an ISO 8601 date-time`);
    if (!isDateTimeInRange(parsed)) throw new Error(`${name} must be a date-time from ${DATE_TIME_RANGE}`);
    return parsed;
  };
  return { from: date('from'), to: date('to'), action: params.get('action'), actor: params.get('actor'), outcome: params.get('outcome') };
}
