import type { CallCancelBus } from '../../platform/events/event-bus.js';
import { whenAborted } from '../../platform/lifecycle/when-aborted.js';

/**
 * The tool calls running in this process, so that a client's cancellation reaches its call.
 *
 * The server is stateless (a new MCP server per HTTP request, so any API instance answers any
 * request), and MCP sends a cancellation as a request of its own (`notifications/cancelled`
 * naming the JSON-RPC id of the call): the server that answers it is not the one running the
 * call. Calls are therefore registered here under who is calling, the session id the client
 * echoes (routes/mcp.ts hands one out at `initialize` and stores nothing) and the call's id,
 * and the cancellation looks them up. Another caller cannot cancel a call: the key starts with
 * the credential's principal, checked on every request. Anonymous callers at one address are
 * one principal, so routes/mcp.ts honours their cancellations only under a session id it
 * signed for that address, which another client there was never given.
 *
 * A cancellation answered by a process that does not run the call is passed on over the event
 * bus (`CallCancelBus`: Redis with REDIS_URL, so it reaches every API process; without Redis
 * there is one process, and the call is here or nowhere). Every process listens and cancels
 * what it runs; the key is still derived from the caller, so a message can only end that
 * caller's call, and it is a keyed digest (`callKey`), so the bus never carries who called.
 */
export class InFlightCalls {
  private readonly calls = new Map<string, AbortController>();

  /** With a bus, cancellations from other processes reach this one's calls until `stop` aborts. */
  constructor(private readonly bus?: CallCancelBus, stop?: AbortSignal, onError?: (error: unknown) => void) {
    if (bus) void this.follow(bus, stop).catch((error: unknown) => onError?.(error));
  }

  private async follow(bus: CallCancelBus, stop?: AbortSignal): Promise<void> {
    const cancellations = bus.listen();
    whenAborted(stop, () => void cancellations.return?.());
    for await (const { key, reason } of cancellations) this.cancel(key, reason);
  }

  /** Cancels the call here or, when it does not run here, wherever it runs. */
  cancelAnywhere(key: string, reason: string): void {
    if (!this.cancel(key, reason)) this.bus?.publish({ key, reason });
  }

  /** Registers a call; its signal aborts on `cancel(key)` or when `signal` does. Call `end` when the call is over. */
  start(key: string, signal: AbortSignal): { signal: AbortSignal; end(): void } {
    const controller = new AbortController();
    this.calls.set(key, controller);
    return {
      signal: AbortSignal.any([signal, controller.signal]),
      end: () => {
        // A later call under the same key (a client that reuses ids) keeps its own entry.
        if (this.calls.get(key) === controller) this.calls.delete(key);
      },
    };
  }

  /** Aborts the call registered under `key`; false when there is none here. */
  cancel(key: string, reason: string): boolean {
    const controller = this.calls.get(key);
    if (!controller) return false;
    controller.abort(new Error(reason));
    this.calls.delete(key);
    return true;
  }

  /** How many calls run here now (for tests and metrics). */
  get size(): number {
    return this.calls.size;
  }
}

/**
 * The registry key of one call: who, on which route (`tenant` or the endpoint's reference: a
 * cancellation sent to another endpoint's route names none of this one's calls), in which
 * client session, which JSON-RPC id, as a keyed
 * digest (`digest`: an HMAC under the master key, which every API process has). The key is
 * published over the event bus (Redis), which other systems may read: in clear it named the
 * caller's user, tenant or client address.
 */
export function callKey(principal: string, route: string, sessionId: string | null, requestId: string | number, digest: (text: string) => string): string {
  return digest(JSON.stringify([principal, route, sessionId ?? '', typeof requestId, String(requestId)]));
}
