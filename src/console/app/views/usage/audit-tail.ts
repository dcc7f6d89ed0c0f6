/**
 * The audit trail's live tail: the API's `auditEvents` subscription over graphql-ws, to this
 * page's own origin (the SDK opens the socket at /graphql of the page's server), while
 * `enabled`. Each new event goes to `onEvent`; a refusal or a lost connection to `onError`, and
 * the tail stops. Ends the subscription when turned off or when the view goes.
 */
import { useEffect, useRef } from 'react';
import { AuditEventsLiveDocument, type AuditEventFieldsFragment, type AuditEventFilter } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';

export type AuditEvent = AuditEventFieldsFragment;

export function useAuditTail(enabled: boolean, onEvent: (event: AuditEvent) => void, onError: (error: unknown) => void): void {
  const { call } = useSession();
  // The latest callbacks, without re-subscribing each time the view re-renders.
  const handlers = useRef({ onEvent, onError });
  handlers.current = { onEvent, onError };

  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let events: AsyncIterableIterator<{ auditEvents: AuditEvent }> | undefined;
    void call(async (client) => {
      events = client.subscribe(AuditEventsLiveDocument, {});
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
  }, [enabled, call]);
}

/** Whether a live event belongs in the list the filter selected (the API's own rules, applied to one event). */
export function matchesFilter(event: AuditEvent, filter: AuditEventFilter): boolean {
  const { action, actor, outcome, from, to } = filter;
  if (action) {
    const prefix = action.endsWith('*') ? action.slice(0, -1) : undefined;
    if (prefix !== undefined ? !event.action.startsWith(prefix) : event.action !== action) return false;
  }
  if (actor && event.actorId !== actor) return false;
  if (outcome && event.outcome !== outcome) return false;
  const at = Date.parse(event.createdAt);
  if (from && at < Date.parse(from)) return false;
  if (to && at >= Date.parse(to)) return false;
  return true;
}
