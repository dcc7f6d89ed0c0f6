/**
 * A refusal an HTTP door makes itself, naming its code (codes.ts): a method or media type the
 * route does not take, a body it cannot read, or the masked INTERNAL of an unexpected failure.
 * What a service refuses arrives as its own coded error instead.
 */
import type { ErrorCode } from './codes.js';
import { CodedError } from './coded-error.js';

export class RequestRefusal extends CodedError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(message, details);
  }
}
