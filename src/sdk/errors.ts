/** Errors the client raises: the API's `extensions.code`, its other extensions, the request id. */
export class SluiceError extends Error {
  constructor(
    /** `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`, `BAD_USER_INPUT`, `RATE_LIMITED`, … (docs/errors.md). */
    readonly code: string,
    message: string,
    /** The error's other extensions (`field`, `reason`, `retryAfterSeconds`, …). */
    readonly details: Record<string, unknown>,
    /** Finds the request in the server's logs. */
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'SluiceError';
  }
}

/** The first GraphQL error of an answer as a SluiceError. */
export function toSluiceError(errors: { message: string; extensions?: Record<string, unknown> }[] | undefined, requestId: string | null): SluiceError {
  const first = errors?.[0];
  const { code, ...details } = first?.extensions ?? {};
  return new SluiceError(typeof code === 'string' ? code : 'INTERNAL', first?.message ?? 'The server answered without data', details, (details.requestId as string | undefined) ?? requestId);
}
