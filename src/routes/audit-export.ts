/**
 * `GET /api/v1/audit/events.jsonl?from=…&to=…&action=…`: the tenant's audit events as JSON
 * Lines, oldest first, streamed (ADMIN; the same credentials as /graphql). One transaction
 * bound to the caller's tenant reads them, a batch at a time.
 */
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Orm } from '../db/orm.js';
import { TenantScope } from '../db/tenant-scope.js';
import type { AuditEventFilter } from '../domains/audit/audit.service.js';
import { codedOrMasked, httpStatusOf, requestNamedBy } from '../platform/errors/index.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import type { Authenticator } from '../domains/identity/authenticator.js';
import type { ServiceDependencies } from '../domains/service-context.js';
import { createServices } from '../domains/services.js';
import type { Logger } from '../platform/logging/logger.js';
import { DATE_TIME_RANGE, isDateTimeInRange } from '../platform/input/date-times.js';
import { describePath, nulBytePath, nulByteMessage } from '../platform/input/nul-bytes.js';
import { presentedCredential } from '../domains/identity/presented-credential.js';
import { clientIpOf } from '../platform/http/client-address.js';

export const AUDIT_EXPORT_PATH = '/api/v1/audit/events.jsonl';

export function useAuditExport(options: { orm: Orm; deps: ServiceDependencies; authenticator: Authenticator; logger: Logger; trustProxyHops: number }): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== AUDIT_EXPORT_PATH) return;
      // An unexpected or transient failure names the request id, as GraphQL's do: what to quote to an operator.
      const error = (status: number, code: string, message: string, requestId?: string) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code, ...(requestId ? { requestId } : {}) } }] }), {
            status,
            headers: { 'content-type': 'application/json' },
          }),
        );
      if (request.method !== 'GET') return error(405, 'BAD_REQUEST', 'Use GET');
      let filter: AuditEventFilter;
      try {
        filter = filterOf(url.searchParams);
      } catch (problem) {
        return error(400, 'BAD_USER_INPUT', (problem as Error).message);
      }
      let scope: TenantScope | undefined;
      const end = async () => {
        await scope?.rollback().catch(() => undefined);
        scope?.close();
      };
      try {
        const ip = clientIpOf((serverContext as { req?: IncomingMessage } | undefined)?.req, options.trustProxyHops);
        const source = { ip, userAgent: request.headers.get('user-agent'), requestId: null, traceId: null };
        const { actor } = await options.authenticator.authenticate(presentedCredential({ request }), source);
        if (!actor.tenantId) return error(401, 'UNAUTHENTICATED', 'Authenticate to export the audit trail');
        scope = TenantScope.open(options.orm, actor);
        await scope.begin({ readOnly: false });
        const events = createServices({ actor, scope, deps: options.deps }).audit.export(filter);
        const opened = scope;
        // Asked for before the response starts, so a refusal is a status, not a broken stream.
        let pending: IteratorResult<unknown> | undefined = await events.next();
        const encoder = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              let lines = '';
              for (let n = 0; n < 200; n += 1) {
                const next = pending ?? (await events.next());
                pending = undefined;
                if (next.done) {
                  if (lines) controller.enqueue(encoder.encode(lines));
                  await opened.commit();
                  opened.close();
                  controller.close();
                  return;
                }
                lines += `${JSON.stringify(next.value)}\n`;
              }
              controller.enqueue(encoder.encode(lines));
            } catch (failure) {
              options.logger.error({ err: failure, requestId: requestIdOf(request) }, 'audit export failed mid-stream');
              await end();
              controller.error(failure);
            }
          },
          async cancel() {
            await events.return(undefined);
            await end();
          },
        });
        return endResponse(new fetchAPI.Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' } }));
      } catch (failure) {
        await end();
        // Logged with the request id the response's x-request-id header carries.
        const requestId = requestIdOf(request);
        const coded = codedOrMasked(failure, (err) => options.logger.error({ err, requestId }, 'audit export failed'));
        return error(httpStatusOf(coded.code), coded.code, coded.message, requestNamedBy(coded, requestId));
      }
    },
  };
}

function filterOf(params: URLSearchParams): AuditEventFilter {
  for (const [name, value] of params) {
    const nul = nulBytePath({ [name]: value });
    if (nul) throw new Error(nulByteMessage(`Query parameter "${describePath(nul)}"`));
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
