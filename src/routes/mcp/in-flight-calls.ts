/**
 * The tool calls running in this process, so that a client's cancellation reaches its call.
 *
 * The server is stateless (a new MCP server per HTTP request, so any API instance answers any
 * request), and MCP sends a cancellation as a request of its own (`notifications/cancelled`
 * naming the JSON-RPC id of the call): the server that answers it is not the one running the
 * call. Calls are therefore registered here under who is calling, the session id the client
 * echoes (routes/mcp.ts hands one out at `initialize` and stores nothing) and the call's id,
 * and the cancellation looks them up. Another caller cannot cancel a call: the key starts with
 * the credential's principal, checked on every request.
 *
 * Limit: this reaches calls in this process only. A cancellation answered by another instance
 * does nothing there; the call then runs to its end unless the client closes the call's
 * response stream, which aborts it wherever it runs.
 */
export class InFlightCalls {
  private readonly calls = new Map<string, AbortController>();

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

/** The registry key of one call: who, in which client session, which JSON-RPC id. */
export function callKey(principal: string, sessionId: string | null, requestId: string | number): string {
  return JSON.stringify([principal, sessionId ?? '', typeof requestId, String(requestId)]);
}
