/**
 * The id the client gives each request (HTTP `x-request-id`, a subscription's graphql-ws
 * `extensions.requestId`): the server adopts it for its log lines and echoes it, so every
 * SluiceError names its request, even one that never reached the server. 32 hex digits from
 * getRandomValues, which (unlike randomUUID) browsers offer outside secure contexts too.
 */
export function newRequestId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
