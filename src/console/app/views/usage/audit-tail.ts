/**
 * The audit trail's live tail: the API's `auditEvents` subscription over graphql-ws, to this
 * page's own origin (the SDK opens the socket at /graphql of the page's server), while
 * `enabled`, with the view's filter (the server sends only the events it selects). Each new
 * event goes to `onEvent`; a refusal or a lost connection to `onError`, and the tail stops.
 * Subscribes again when the filter changes; ends when turned off or when the view goes.
 */
import { useEffect, useRef } from 'react';
import { AuditEventsLiveDocument, type AuditEventFieldsFragment, type AuditEventFilter } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';

export type AuditEvent = AuditEventFieldsFragment;

export function useAuditTail(enabled: boolean, filter: AuditEventFilter, onEvent: (event: AuditEvent) => void, onError: (error: unknown) => void): void {
  const { call } = useSession();
  // The latest callbacks, without re-subscribing each time the view re-renders.
  const handlers = useRef({ onEvent, onError });
  handlers.current = { onEvent, onError };
  // By value: a new filter object with the same fields keeps the subscription.
  const filterKey = JSON.stringify(filter);

  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let events: AsyncIterableIterator<{ auditEvents: AuditEvent }> | undefined;
    void call(async (client) => {
      events = client.subscribe(AuditEventsLiveDocument, { filter: JSON.parse(filterKey) as AuditEventFilter });
      if (stopped) await events.return?.();
      for await (const { auditEvents } of events) {
        if (stopped) break;
        handlers.current.onEvent(auditEvents);
      }
    }).catch((error: unknown) => {
      if (!stopped) handlers.current.onError(error);
    });
    return () => {
      stopped = true;
      void events?.return?.();
    };
  }, [enabled, filterKey, call]);
}
