/**
 * Turns a presented credential into an Actor. One place decides what a credential is worth,
 * for HTTP and WebSocket alike; the auth plugin only finds the credential in the request.
 */
import { ANONYMOUS, type Actor } from '../actor.js';
import { UnauthenticatedError } from '../errors.js';
import type { AccessTokens } from './access-token.js';

export interface Authentication {
  actor: Actor;
  /** When the credential stops being valid; null for anonymous callers. */
  expiresAt: Date | null;
}

export class Authenticator {
  constructor(private readonly tokens: AccessTokens) {}

  /**
   * `authorization` is the raw header value (or its WebSocket equivalent). No credential means
   * anonymous; a credential that is malformed, invalid or expired is an error, never anonymous.
   */
  async authenticate(authorization: string | null | undefined): Promise<Authentication> {
    if (authorization == null || authorization === '') return { actor: ANONYMOUS, expiresAt: null };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) {
      throw new UnauthenticatedError('Malformed Authorization header: expected "Bearer <token>"', { reason: 'malformed' });
    }
    const { expiresAt, ...actor } = await this.tokens.verify(match[1]);
    return { actor, expiresAt };
  }
}
